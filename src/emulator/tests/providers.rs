//! Each provider's routes, auth, validation and answer shapes.

use super::*;
use crate::emulator::image_check::tests::{data_uri, png};

#[test]
fn umodelverse_happy_path_with_ureq() {
    let emu = Emulator::start().unwrap();
    let agent = agent();
    let base = emu.base_url();
    let mut resp = agent
        .post(format!("{base}/v1/tasks/submit"))
        .header("Authorization", "secret-key")
        .content_type("application/json")
        .send(body(Provider::UModelVerse, IMAGE_URL).to_string())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    let id = v["output"]["task_id"].as_str().unwrap().to_string();
    assert!(v["request_id"].is_string());
    let mut states = Vec::new();
    let last = loop {
        let mut resp = agent
            .get(format!("{base}/v1/tasks/status?task_id={id}"))
            .header("Authorization", "Bearer secret-key")
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
        states.push(v["output"]["task_status"].as_str().unwrap().to_string());
        if states.len() == 3 {
            break v;
        }
    };
    assert_eq!(states, ["Pending", "Running", "Success"]);
    assert_eq!(last["usage"]["duration"], 5);
    assert!(last["output"]["finish_time"].as_u64().unwrap() > 0);
    let url = last["output"]["urls"][0].as_str().unwrap();
    assert!(url.starts_with(&emu.video_base_url()), "{url}");
    let mut resp = agent.get(url).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(
        resp.body_mut().read_to_vec().unwrap(),
        Emulator::video_bytes()
    );

    let stats = emu.stats();
    assert_eq!(stats.submits, 1);
    assert_eq!(stats.status_polls, 3);
    assert_eq!(stats.api_connections, 1, "ureq reuses one connection");
    assert_eq!(stats.video_connections, 1);
    assert_eq!(stats.video_requests.len(), 1);
    assert_eq!(stats.video_requests[0].status, 200);
    let record = stats.last_submit.unwrap();
    assert_eq!(record.provider, "umodelverse");
    assert_eq!(record.authorization, "secret-key");
    assert_eq!(record.image, format!("url:{IMAGE_URL}"));
    assert_eq!(record.json["input"]["first_frame_url"], "<image>");
    assert_eq!(record.header("content-type"), Some("application/json"));
}

#[test]
fn vtrix_happy_path() {
    let emu = Emulator::start().unwrap();
    let p = Provider::Vtrix;
    let mut conn = Conn::open(&emu.base_url());
    let reply = submit(&mut conn, p, &body(p, IMAGE_URL));
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["status"], "pending");
    assert_eq!(v["model"], "vidu-cn-img2video-viduq1-classic");
    let id = task_id(p, &reply);
    let (states, last) = walk(&mut conn, p, &id);
    assert_eq!(states, ["pending", "in_progress", "completed"]);
    assert_eq!(last["progress"], 1.0);
    assert_eq!(last["usage"]["cost"], "0.30");
    assert!(last["output"][0]["content"][0]["jobId"].is_string());
    assert_eq!(last["output"][0]["content"][0]["type"], "video");
    assert!(last.get("error").is_none());
    let video = get(&url_of(p, &last), &[]);
    assert_eq!(video.body, Emulator::video_bytes());
}

#[test]
fn vidu_happy_path_with_data_uri() {
    let emu = Emulator::start().unwrap();
    let p = Provider::Vidu;
    let mut conn = Conn::open(&emu.base_url());
    let image = data_uri("image/png", &png(512, 512));
    let reply = submit(&mut conn, p, &body(p, &image));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let v = reply.json();
    assert_eq!(v["state"], "created");
    assert_eq!(v["model"], "viduq2-pro");
    assert!(v["credits"].is_number());
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
    let id = task_id(p, &reply);
    let (states, last) = walk(&mut conn, p, &id);
    assert_eq!(states, ["created", "queueing", "processing", "success"]);
    assert_eq!(last["payload"], "p-1");
    assert_eq!(last["err_code"], "");
    assert!(last["creations"][0]["cover_url"].is_string());
    let url = url_of(p, &last);
    assert!(url.contains(&format!("/videos/{id}.mp4?sig=")));
    let video = get(&url, &[]);
    assert_eq!(video.status, 200);
    assert_eq!(video.header("accept-ranges"), Some("bytes"));
    assert_eq!(video.body, Emulator::video_bytes());
    let record = emu.stats().last_submit.unwrap();
    assert_eq!(record.image, "data:image/png;33");
    assert_eq!(record.json["images"][0], "<image>");
}

#[test]
fn polls_per_state_holds_each_state() {
    let emu = Emulator::start_with(EmulatorOptions {
        polls_per_state: 2,
        ..EmulatorOptions::default()
    })
    .unwrap();
    let (mut conn, id) = submitted(&emu, Provider::UModelVerse);
    let (states, _) = walk(&mut conn, Provider::UModelVerse, &id);
    assert_eq!(
        states,
        ["Pending", "Pending", "Running", "Running", "Success"]
    );
}

#[test]
fn auth_is_checked_per_provider() {
    let emu = Emulator::start_with(EmulatorOptions {
        api_key: Some("right".into()),
        ..EmulatorOptions::default()
    })
    .unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let cases: &[(Provider, &str, u16)] = &[
        (Provider::UModelVerse, "right", 200),
        (Provider::UModelVerse, "Bearer right", 200),
        (Provider::UModelVerse, "Token right", 401),
        (Provider::UModelVerse, "wrong", 401),
        (Provider::Vtrix, "Bearer right", 200),
        (Provider::Vtrix, "right", 401),
        (Provider::Vtrix, "Token right", 401),
        (Provider::Vidu, "Token right", 200),
        (Provider::Vidu, "Bearer right", 401),
        (Provider::Vidu, "Token wrong", 401),
    ];
    for &(p, header, expected) in cases {
        let reply = conn.call(
            "POST",
            submit_path(p),
            &[
                ("Authorization", header),
                ("Content-Type", "application/json"),
            ],
            body(p, IMAGE_URL).to_string().as_bytes(),
        );
        assert_eq!(reply.status, expected, "{p:?} {header:?}");
        if expected == 401 {
            let v = reply.json();
            match p {
                Provider::UModelVerse => assert_eq!(v["error"]["type"], "auth_error"),
                Provider::Vtrix => assert!(v["error"]["message"].is_string()),
                Provider::Vidu => assert_eq!(v["reason"], "Unauthorized"),
            }
        }
    }
    // No header at all.
    let reply = conn.call(
        "POST",
        submit_path(Provider::Vidu),
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(reply.status, 401);
    let stats = emu.stats();
    assert_eq!(stats.submits, 4);
    assert_eq!(stats.rejected_submits, 7);
    assert_eq!(stats.last_submit.unwrap().authorization, "");
    // Status polls are checked too.
    let reply = conn.call("GET", &status_path(Provider::Vidu, "1"), &[], b"");
    assert_eq!(reply.status, 401);
}

#[test]
fn bad_fields_get_provider_shaped_400() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());

    let mut b = body(Provider::UModelVerse, IMAGE_URL);
    b["parameters"]["duration"] = json!(11);
    let r = submit(&mut conn, Provider::UModelVerse, &b);
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "param_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("parameters.duration"));
    assert!(v["request_id"].is_string());

    let mut b = body(Provider::UModelVerse, IMAGE_URL);
    b["parameters"]["vidu_type"] = json!("text2video");
    assert_eq!(submit(&mut conn, Provider::UModelVerse, &b).status, 400);

    let mut b = body(Provider::Vtrix, IMAGE_URL);
    b["input"][0]["params"]["model"] = json!("viduq2-pro");
    let r = submit(&mut conn, Provider::Vtrix, &b);
    assert_eq!(r.status, 400);
    let v = r.json();
    assert!(v["error"]["code"].is_string());
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("input[0].params.model"));

    let mut b = body(Provider::Vtrix, IMAGE_URL);
    b["input"][0]["params"]["duration"] = json!(8);
    assert_eq!(submit(&mut conn, Provider::Vtrix, &b).status, 400);
    let mut b = body(Provider::Vtrix, IMAGE_URL);
    b["input"][0]["params"]["images"] = json!([IMAGE_URL, IMAGE_URL]);
    assert_eq!(submit(&mut conn, Provider::Vtrix, &b).status, 400);

    let mut b = body(Provider::Vidu, IMAGE_URL);
    b["resolution"] = json!("4k");
    let r = submit(&mut conn, Provider::Vidu, &b);
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["code"], 400);
    assert_eq!(v["reason"], "FieldInvalid");
    assert!(v["message"].as_str().unwrap().contains("resolution"));
    let trace = v["metadata"]["trace_id"].as_str().unwrap();
    assert_eq!(r.header("x-md-trace-id"), Some(trace));

    let mut b = body(Provider::Vidu, IMAGE_URL);
    b.as_object_mut().unwrap().remove("model");
    let v = submit(&mut conn, Provider::Vidu, &b).json();
    assert_eq!(v["reason"], "FieldLacking");

    let mut b = body(Provider::Vidu, IMAGE_URL);
    b["prompt"] = json!("x".repeat(2001));
    assert_eq!(submit(&mut conn, Provider::Vidu, &b).status, 400);
    b["model"] = json!("viduq3-pro");
    assert_eq!(submit(&mut conn, Provider::Vidu, &b).status, 200);

    // vidu2.0: 8 s only in 720p.
    let mut b = body(Provider::Vidu, IMAGE_URL);
    b["model"] = json!("vidu2.0");
    b["duration"] = json!(8);
    b["resolution"] = json!("1080p");
    assert_eq!(submit(&mut conn, Provider::Vidu, &b).status, 400);
    b["resolution"] = json!("720p");
    assert_eq!(submit(&mut conn, Provider::Vidu, &b).status, 200);

    // Wrong content type.
    let r = conn.call(
        "POST",
        submit_path(Provider::Vidu),
        &[auth(Provider::Vidu), ("Content-Type", "text/plain")],
        body(Provider::Vidu, IMAGE_URL).to_string().as_bytes(),
    );
    assert_eq!(r.status, 400);
    // Not JSON.
    let r = conn.call(
        "POST",
        submit_path(Provider::UModelVerse),
        &[
            auth(Provider::UModelVerse),
            ("Content-Type", "application/json"),
        ],
        b"{not json",
    );
    assert_eq!(r.status, 400);
    assert_eq!(emu.stats().last_submit.unwrap().json, Value::Null);
}

#[test]
fn gif_data_uri_is_rejected() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let gif = data_uri("image/png", b"GIF89a\x00\x02\x00\x02\x00\x00\x00\x00");
    let r = submit(&mut conn, Provider::Vidu, &body(Provider::Vidu, &gif));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["reason"], "ImageFormatInvalid");
    let r = submit(
        &mut conn,
        Provider::UModelVerse,
        &body(Provider::UModelVerse, &gif),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("GIF"));
    let r = submit(&mut conn, Provider::Vtrix, &body(Provider::Vtrix, &gif));
    assert_eq!(r.status, 400);
    assert_eq!(emu.stats().submits, 0);
    assert_eq!(emu.stats().rejected_submits, 3);
}

#[test]
fn gateway_body_limit_is_20_mb() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let big = vec![b' '; 20 * 1024 * 1024 + 1];
    let r = conn.call(
        "POST",
        submit_path(Provider::Vidu),
        &[auth(Provider::Vidu), ("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(r.status, 413);
    assert!(r.json()["message"].as_str().unwrap().contains("20 MB"));
    let r = conn.call(
        "POST",
        submit_path(Provider::Vtrix),
        &[auth(Provider::Vtrix), ("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(r.status, 413);
    assert_eq!(emu.stats().last_submit.unwrap().body_len, big.len() as u64);
}

#[test]
fn task_ids_are_per_provider_and_unique() {
    let emu = Emulator::start().unwrap();
    let (mut conn, id1) = submitted(&emu, Provider::Vidu);
    let (_, id2) = submitted(&emu, Provider::Vidu);
    assert_ne!(id1, id2);
    assert_eq!(poll(&mut conn, Provider::Vtrix, &id1).status, 404);
}

#[test]
fn vidu_cancel() {
    let emu = Emulator::start().unwrap();
    let p = Provider::Vidu;
    let (mut conn, id) = submitted(&emu, p);
    let cancel = |conn: &mut Conn, id: &str, body: &str| {
        conn.call(
            "POST",
            &format!("/ent/v2/tasks/{id}/cancel"),
            &[auth(p), ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };
    let r = cancel(&mut conn, &id, &json!({"id": id}).to_string());
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({}));
    let v = poll(&mut conn, p, &id).json();
    assert_eq!(v["state"], "cancelled");
    let r = cancel(&mut conn, &id, &json!({"id": id}).to_string());
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["reason"], "BadRequest");
    assert!(v["message"].as_str().unwrap().contains("can not cancel"));
    let r = cancel(&mut conn, "123", &json!({"id": "123"}).to_string());
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["reason"], "TaskNotFound");
    let r = cancel(&mut conn, &id, &json!({"id": "other"}).to_string());
    assert_eq!(r.status, 400);
    assert_eq!(emu.stats().cancels, 4);
}
