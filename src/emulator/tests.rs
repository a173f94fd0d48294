//! End-to-end tests over real sockets: a raw HTTP/1.1 client for exact control, and ureq for
//! a real client's view. Never the crate's own provider code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::image_check::tests::{data_uri, png};
use super::*;

const IMAGE_URL: &str = "https://example.com/cat.jpg";

fn start(scenario: Scenario) -> Emulator {
    Emulator::start_with(EmulatorOptions {
        scenario,
        ..EmulatorOptions::default()
    })
    .expect("emulator starts")
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// A response read by [`Conn`].
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Body bytes announced by Content-Length.
    announced: usize,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One raw keep-alive connection.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(base: &str) -> Conn {
        let stream = TcpStream::connect(host_port(base)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: emulator\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        self.send_raw(&all);
    }

    /// Reads one response; `None` when the connection closed before a status line.
    fn read(&mut self) -> Option<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            self.reader.read_line(&mut l).ok()?;
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':')?;
            headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
        }
        let announced: usize = find_header(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = Vec::new();
        let _ = (&mut self.reader)
            .take(announced as u64)
            .read_to_end(&mut body);
        Some(Reply {
            status,
            headers,
            body,
            announced,
        })
    }

    fn call(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.request(method, path, headers, body);
        self.read().expect("a response")
    }

    /// True when the server has closed the connection (EOF).
    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

/// Auth header per provider with a valid scheme.
fn auth(p: Provider) -> (&'static str, &'static str) {
    match p {
        Provider::UModelVerse => ("Authorization", "key-1"),
        Provider::Vtrix => ("Authorization", "Bearer key-1"),
        Provider::Vidu => ("Authorization", "Token key-1"),
    }
}

fn submit_path(p: Provider) -> &'static str {
    match p {
        Provider::UModelVerse => "/v1/tasks/submit",
        Provider::Vtrix => "/model/v1/generation",
        Provider::Vidu => "/ent/v2/img2video",
    }
}

fn status_path(p: Provider, id: &str) -> String {
    match p {
        Provider::UModelVerse => format!("/v1/tasks/status?task_id={id}"),
        Provider::Vtrix => format!("/model/v1/generation/task/{id}"),
        Provider::Vidu => format!("/ent/v2/tasks/{id}/creations"),
    }
}

fn body(p: Provider, image: &str) -> Value {
    match p {
        Provider::UModelVerse => json!({
            "model": "viduq2-pro",
            "input": {"first_frame_url": image, "prompt": "make it dance."},
            "parameters": {"vidu_type": "img2video", "duration": 5, "resolution": "1080p",
                           "movement_amplitude": "auto", "bgm": true},
        }),
        Provider::Vtrix => json!({
            "model": "vidu-cn-img2video-viduq1-classic",
            "input": [{"params": {"model": "viduq1-classic", "images": [image],
                                   "prompt": "the cat turns its head", "duration": 5,
                                   "resolution": "1080p", "movement_amplitude": "auto"}}],
        }),
        Provider::Vidu => json!({
            "model": "viduq2-pro", "images": [image], "prompt": "the cat turns its head",
            "duration": 5, "seed": 0, "resolution": "720p", "movement_amplitude": "auto",
            "bgm": false, "payload": "p-1",
        }),
    }
}

fn submit(conn: &mut Conn, p: Provider, body: &Value) -> Reply {
    conn.call(
        "POST",
        submit_path(p),
        &[auth(p), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn task_id(p: Provider, reply: &Reply) -> String {
    let v = reply.json();
    let id = match p {
        Provider::UModelVerse => &v["output"]["task_id"],
        Provider::Vtrix => &v["id"],
        Provider::Vidu => &v["task_id"],
    };
    id.as_str().expect("a task id").to_string()
}

fn poll(conn: &mut Conn, p: Provider, id: &str) -> Reply {
    conn.call("GET", &status_path(p, id), &[auth(p)], b"")
}

fn state_of(p: Provider, v: &Value) -> String {
    let s = match p {
        Provider::UModelVerse => &v["output"]["task_status"],
        Provider::Vtrix => &v["status"],
        Provider::Vidu => &v["state"],
    };
    s.as_str().unwrap_or("?").to_string()
}

fn url_of(p: Provider, v: &Value) -> String {
    let u = match p {
        Provider::UModelVerse => &v["output"]["urls"][0],
        Provider::Vtrix => &v["output"][0]["content"][0]["url"],
        Provider::Vidu => &v["creations"][0]["url"],
    };
    u.as_str().expect("a video URL").to_string()
}

/// Submits a task with a URL image and returns the connection and its id.
fn submitted(emu: &Emulator, p: Provider) -> (Conn, String) {
    let mut conn = Conn::open(&emu.base_url());
    let reply = submit(&mut conn, p, &body(p, IMAGE_URL));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let id = task_id(p, &reply);
    (conn, id)
}

/// Polls until terminal (at most 20 polls), returning the states seen and the last body.
fn walk(conn: &mut Conn, p: Provider, id: &str) -> (Vec<String>, Value) {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let reply = poll(conn, p, id);
        assert_eq!(reply.status, 200);
        let v = reply.json();
        let s = state_of(p, &v);
        seen.push(s.clone());
        if [
            "Success",
            "Failure",
            "completed",
            "failed",
            "success",
            "cancelled",
        ]
        .contains(&s.as_str())
        {
            return (seen, v);
        }
    }
    panic!("never terminal: {seen:?}");
}

fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    let path = format!(
        "/{}",
        url.trim_start_matches("http://").split_once('/').unwrap().1
    );
    let mut conn = Conn::open(url);
    conn.call("GET", &path, headers, b"")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .new_agent()
}

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
fn keep_alive_chunked_and_connection_close() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let p = Provider::Vidu;
    let body = body(p, IMAGE_URL).to_string();
    let (a, b) = body.split_at(body.len() / 2);
    let chunked = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Token k\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        submit_path(p),
        a.len(),
        b.len()
    );
    conn.send_raw(chunked.as_bytes());
    let r = conn.read().unwrap();
    assert_eq!(r.status, 200);
    let id = task_id(p, &r);
    assert_eq!(poll(&mut conn, p, &id).status, 200);
    assert_eq!(emu.stats().api_connections, 1);
    assert_eq!(emu.stats().last_submit.unwrap().body_len, body.len() as u64);
    let r = conn.call(
        "GET",
        &status_path(p, &id),
        &[auth(p), ("Connection", "close")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.closed());
    assert_eq!(emu.stats().api_connections, 1);
    assert_eq!(emu.stats().status_polls, 2);
}

#[test]
fn bad_http_gets_400_and_unknown_paths_404() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    conn.send_raw(b"this is not http\r\n\r\n");
    assert_eq!(conn.read().unwrap().status, 400);
    assert!(conn.closed());

    let mut conn = Conn::open(&emu.base_url());
    conn.send_raw(b"POST /v1/tasks/submit HTTP/1.1\r\nContent-Length: nope\r\n\r\n");
    assert_eq!(conn.read().unwrap().status, 400);

    let mut conn = Conn::open(&emu.base_url());
    conn.send_raw(b"POST /v1/tasks/submit HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n");
    assert_eq!(conn.read().unwrap().status, 413);

    let mut conn = Conn::open(&emu.base_url());
    assert_eq!(conn.call("GET", "/nope", &[], b"").status, 404);
    assert_eq!(conn.call("GET", "/v1/tasks/submit", &[], b"").status, 405);
    let r = conn.call(
        "GET",
        &status_path(Provider::Vidu, "404404"),
        &[auth(Provider::Vidu)],
        b"",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["reason"], "TaskNotFound");
    let r = conn.call(
        "GET",
        &status_path(Provider::UModelVerse, "nope"),
        &[auth(Provider::UModelVerse)],
        b"",
    );
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"].is_string());
    let r = conn.call(
        "GET",
        &status_path(Provider::Vtrix, "nope"),
        &[auth(Provider::Vtrix)],
        b"",
    );
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["code"].is_string());

    let mut video = Conn::open(&emu.video_base_url());
    assert_eq!(video.call("GET", "/nope.mp4", &[], b"").status, 404);
    assert_eq!(
        video.call("GET", "/videos/none.mp4?sig=1", &[], b"").status,
        404
    );
    assert_eq!(emu.stats().video_requests.len(), 2);
    assert_eq!(emu.stats().video_requests[1].path, "/videos/none.mp4?sig=1");
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

#[test]
fn scenario_task_fails() {
    let emu = start(Scenario::TaskFails);
    for p in [Provider::UModelVerse, Provider::Vtrix, Provider::Vidu] {
        let (mut conn, id) = submitted(&emu, p);
        let (_, last) = walk(&mut conn, p, &id);
        match p {
            Provider::UModelVerse => {
                assert_eq!(last["output"]["task_status"], "Failure");
                assert_ne!(last["output"]["error_message"], "");
            }
            Provider::Vtrix => {
                assert_eq!(last["status"], "failed");
                assert_eq!(last["error"]["code"], "002014001");
                assert_eq!(last["error"]["message"], "Video generation failed");
            }
            Provider::Vidu => {
                assert_eq!(last["state"], "failed");
                assert_ne!(last["err_code"], "");
                assert_eq!(last["creations"], json!([]));
            }
        }
    }
}

#[test]
fn scenario_throttled_and_unavailable() {
    let emu = start(Scenario::Throttled {
        times: 2,
        retry_after_secs: 7,
    });
    let p = Provider::Vidu;
    let (mut conn, id) = submitted(&emu, p);
    for _ in 0..2 {
        let r = poll(&mut conn, p, &id);
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.json()["reason"], "TooManyRequests");
    }
    let (states, _) = walk(&mut conn, p, &id);
    assert_eq!(states[0], "created", "throttled polls do not move the task");

    let emu = start(Scenario::Unavailable { times: 2 });
    let p = Provider::UModelVerse;
    let (mut conn, id) = submitted(&emu, p);
    assert_eq!(poll(&mut conn, p, &id).status, 503);
    assert_eq!(poll(&mut conn, p, &id).status, 503);
    assert_eq!(poll(&mut conn, p, &id).status, 200);
    assert_eq!(emu.stats().status_polls, 3);
    assert_eq!(emu.stats().api_connections, 1);
}

#[test]
fn scenario_reset_after_submit() {
    let emu = start(Scenario::ResetAfterSubmit);
    let p = Provider::Vtrix;
    let mut conn = Conn::open(&emu.base_url());
    conn.request(
        "POST",
        submit_path(p),
        &[auth(p), ("Content-Type", "application/json")],
        body(p, IMAGE_URL).to_string().as_bytes(),
    );
    assert!(conn.read().is_none(), "no answer");
    let stats = emu.stats();
    assert_eq!(stats.submits, 1);
    assert_eq!(stats.rejected_submits, 0);
    // A bad submit is still answered.
    let mut conn = Conn::open(&emu.base_url());
    assert_eq!(submit(&mut conn, p, &json!({})).status, 400);
}

#[test]
fn scenario_never_finishes() {
    let emu = start(Scenario::NeverFinishes);
    let p = Provider::Vtrix;
    let (mut conn, id) = submitted(&emu, p);
    let mut last = String::new();
    let mut progress = 0.0;
    for _ in 0..12 {
        let v = poll(&mut conn, p, &id).json();
        last = state_of(p, &v);
        let now = v["progress"].as_f64().unwrap();
        assert!(now >= progress && now < 1.0);
        progress = now;
    }
    assert_eq!(last, "in_progress");
}

fn finished_url(emu: &Emulator, p: Provider) -> (Conn, String, String) {
    let (mut conn, id) = submitted(emu, p);
    let (_, last) = walk(&mut conn, p, &id);
    let url = url_of(p, &last);
    (conn, id, url)
}

#[test]
fn scenario_cut_download_then_range() {
    let emu = start(Scenario::CutDownload);
    let (_, _, url) = finished_url(&emu, Provider::Vidu);
    let total = Emulator::video_bytes().len();
    let first = get(&url, &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.announced, total);
    assert_eq!(first.body.len(), total / 2);
    let start = first.body.len();
    let rest = get(&url, &[("Range", &format!("bytes={start}-"))]);
    assert_eq!(rest.status, 206);
    assert_eq!(
        rest.header("content-range"),
        Some(format!("bytes {start}-{}/{total}", total - 1).as_str())
    );
    let mut whole = first.body.clone();
    whole.extend_from_slice(&rest.body);
    assert_eq!(whole, Emulator::video_bytes());
    let recorded = emu.stats().video_requests;
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[1].header("range"),
        Some(format!("bytes={start}-").as_str())
    );
    assert_eq!(recorded[1].status, 206);
}

#[test]
fn scenario_cut_download_ignores_range() {
    let emu = start(Scenario::CutDownloadIgnoresRange);
    let (_, _, url) = finished_url(&emu, Provider::UModelVerse);
    let first = get(&url, &[]);
    assert!(first.body.len() < first.announced);
    let again = get(&url, &[("Range", "bytes=100-")]);
    assert_eq!(again.status, 200);
    assert_eq!(again.header("content-range"), None);
    assert_eq!(again.body, Emulator::video_bytes());
}

#[test]
fn scenario_redirect_video() {
    let emu = start(Scenario::RedirectVideo);
    let (_, _, url) = finished_url(&emu, Provider::Vtrix);
    assert!(url.starts_with(&emu.base_url()), "{url}");
    let r = get(&url, &[]);
    assert_eq!(r.status, 302);
    let location = r.header("location").unwrap().to_string();
    assert!(location.starts_with(&emu.video_base_url()), "{location}");
    let video = get(&location, &[]);
    assert_eq!(video.status, 200);
    assert_eq!(video.body, Emulator::video_bytes());
    assert_eq!(emu.stats().video_requests.len(), 1);
}

#[test]
fn scenario_expired_url() {
    let emu = start(Scenario::ExpiredUrl);
    let p = Provider::Vidu;
    let (mut conn, id, url) = finished_url(&emu, p);
    let r = get(&url, &[]);
    assert_eq!(r.status, 403);
    let fresh = url_of(p, &poll(&mut conn, p, &id).json());
    assert_ne!(fresh, url);
    assert_eq!(get(&fresh, &[]).body, Emulator::video_bytes());
    assert_eq!(get(&url, &[]).status, 403, "the old URL stays expired");
}

#[test]
fn scenario_malformed_status() {
    let emu = start(Scenario::MalformedStatus { times: 1 });
    let p = Provider::UModelVerse;
    let (mut conn, id) = submitted(&emu, p);
    let r = poll(&mut conn, p, &id);
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    let (states, _) = walk(&mut conn, p, &id);
    assert_eq!(states, ["Pending", "Running", "Success"]);

    let emu = start("malformed-status".parse().unwrap());
    let (mut conn, id) = submitted(&emu, Provider::Vidu);
    for _ in 0..5 {
        let r = poll(&mut conn, Provider::Vidu, &id);
        assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    }
}

#[test]
fn scenario_unknown_state() {
    let emu = start(Scenario::UnknownState { times: 2 });
    let p = Provider::Vidu;
    let (mut conn, id) = submitted(&emu, p);
    let mut states = Vec::new();
    for _ in 0..2 {
        states.push(state_of(p, &poll(&mut conn, p, &id).json()));
    }
    let (rest, _) = walk(&mut conn, p, &id);
    states.extend(rest);
    assert_eq!(
        states,
        [
            "preparing",
            "preparing",
            "created",
            "queueing",
            "processing",
            "success"
        ]
    );
}

#[test]
fn scenario_names_round_trip() {
    for name in Scenario::names() {
        let s: Scenario = name.parse().unwrap();
        let _ = s;
    }
    assert_eq!(
        "throttled".parse::<Scenario>().unwrap(),
        Scenario::Throttled {
            times: 1,
            retry_after_secs: 1
        }
    );
    let err = "nope".parse::<Scenario>().unwrap_err().to_string();
    for name in Scenario::names() {
        assert!(err.contains(name));
    }
}

#[test]
fn drop_frees_ports_and_threads() {
    let emu = start(Scenario::Normal);
    let (api, video) = (host_port(&emu.base_url()), host_port(&emu.video_base_url()));
    // An idle keep-alive connection must not keep the emulator alive.
    let mut idle = Conn::open(&emu.base_url());
    let mut idle_video = Conn::open(&emu.video_base_url());
    assert_eq!(idle.call("GET", "/nope", &[], b"").status, 404);
    let started = Instant::now();
    drop(emu);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(idle.closed());
    assert!(idle_video.closed());
    for addr in [api, video] {
        assert!(TcpStream::connect(&addr).is_err(), "{addr} still accepts");
        std::net::TcpListener::bind(&addr).expect("port is free again");
    }
}

#[test]
fn video_origin_ranges_and_head() {
    let emu = Emulator::start().unwrap();
    let (_, id, url) = finished_url(&emu, Provider::Vtrix);
    let total = Emulator::video_bytes().len();
    let r = get(&url, &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &Emulator::video_bytes()[..10]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-9/{total}").as_str())
    );
    let r = get(&url, &[("Range", &format!("bytes={total}-"))]);
    assert_eq!(r.status, 416);
    let expected = format!("bytes */{total}");
    assert_eq!(r.header("content-range"), Some(expected.as_str()));
    let mut conn = Conn::open(&emu.video_base_url());
    let path = format!("/videos/{id}.mp4?sig=1");
    conn.request("HEAD", &path, &[], b"");
    let mut line = String::new();
    let mut head = String::new();
    while line != "\r\n" {
        line.clear();
        conn.reader.read_line(&mut line).unwrap();
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains(&format!("Content-Length: {total}\r\n")));
    // No body came after the HEAD answer: the connection serves the next request.
    let r = conn.call("GET", &path, &[], b"");
    assert_eq!(r.body, Emulator::video_bytes());
    assert_eq!(
        conn.call("GET", "/videos/x.mp4?sig=2", &[], b"").status,
        404
    );
    assert_eq!(get(&url.replace("sig=1", "sig=9"), &[]).status, 403);
    assert_eq!(emu.stats().video_connections, 4);
}

#[test]
fn expect_100_continue_and_declared_type_mismatch() {
    let emu = Emulator::start().unwrap();
    let p = Provider::Vidu;
    let image = data_uri("image/jpeg", &png(256, 256));
    let body = body(p, &image).to_string();
    let mut conn = Conn::open(&emu.base_url());
    conn.send_raw(
        format!(
            "POST {} HTTP/1.1\r\nAuthorization: Token k\r\nContent-Type: application/json\r\n\
             Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            submit_path(p),
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(conn.read().unwrap().status, 100);
    conn.send_raw(body.as_bytes());
    let r = conn.read().unwrap();
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["reason"], "ImageFormatInvalid");
    assert!(v["message"].as_str().unwrap().contains("image/jpeg"));
    assert_eq!(emu.stats().last_submit.unwrap().image, "data:image/jpeg;33");
}
