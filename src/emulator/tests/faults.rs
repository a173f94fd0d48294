//! The scenario presets and composed faults.

use super::*;

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
fn a_canned_answer_to_the_first_submit_then_success() {
    let emu = Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::on(Route::Submit)
                .provider("vidu")
                .nth(1)
                .respond(
                    429,
                    r#"{"code":429,"reason":"TooManyRequests","message":"slow down"}"#,
                )
                .header("Retry-After", "1"),
        ),
    )
    .unwrap();
    let p = Provider::Vidu;
    let mut conn = Conn::open(&emu.base_url());
    let r = submit(&mut conn, p, &body(p, IMAGE_URL));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["message"], "slow down");
    assert_eq!(submit(&mut conn, p, &body(p, IMAGE_URL)).status, 200);
    // Another provider's submit is not matched.
    assert_eq!(
        submit(
            &mut conn,
            Provider::Vtrix,
            &body(Provider::Vtrix, IMAGE_URL)
        )
        .status,
        200
    );
    let stats = emu.stats();
    assert_eq!((stats.submits, stats.submit_requests), (2, 3));
}

#[test]
fn one_task_fails_among_many() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .concurrency_limit(u32::MAX)
            .fault(Fault::tasks().nth_task(3).effect(Effect::FailTask))
            .fault(
                Fault::tasks()
                    .prompt_contains("storm")
                    .effect(Effect::FailTask),
            ),
    )
    .unwrap();
    let p = Provider::Vidu;
    let mut conn = Conn::open(&emu.base_url());
    let mut ends = Vec::new();
    for i in 1..=6 {
        let mut b = body(p, IMAGE_URL);
        b["prompt"] = json!(if i == 5 { "a storm at sea" } else { "calm" });
        let id = task_id(p, &submit(&mut conn, p, &b));
        let (_, last) = walk(&mut conn, p, &id);
        ends.push(state_of(p, &last));
    }
    assert_eq!(
        ends,
        ["success", "success", "failed", "success", "failed", "success"]
    );
}

#[test]
fn faults_compose_per_route_and_provider() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .fault(
                Fault::on(Route::Status)
                    .provider("vtrix")
                    .times(2)
                    .error(503),
            )
            .fault(
                Fault::on(Route::Status)
                    .provider("vidu")
                    .per_task()
                    .times(1)
                    .effect(Effect::State("scheduled".into())),
            ),
    )
    .unwrap();
    let (mut conn, umv) = submitted(&emu, Provider::UModelVerse);
    assert_eq!(poll(&mut conn, Provider::UModelVerse, &umv).status, 200);
    let (mut conn, vtx) = submitted(&emu, Provider::Vtrix);
    let r = poll(&mut conn, Provider::Vtrix, &vtx);
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["code"], "service_unavailable");
    assert_eq!(poll(&mut conn, Provider::Vtrix, &vtx).status, 503);
    assert_eq!(poll(&mut conn, Provider::Vtrix, &vtx).status, 200);
    for _ in 0..2 {
        let (mut conn, id) = submitted(&emu, Provider::Vidu);
        let (states, _) = walk(&mut conn, Provider::Vidu, &id);
        assert_eq!(
            states,
            ["scheduled", "created", "queueing", "processing", "success"]
        );
    }
}

#[test]
fn a_stall_delays_the_answer() {
    let emu = Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::on(Route::Status)
                .times(1)
                .effect(Effect::Stall(Duration::from_millis(300))),
        ),
    )
    .unwrap();
    let (mut conn, id) = submitted(&emu, Provider::Vidu);
    let started = Instant::now();
    assert_eq!(poll(&mut conn, Provider::Vidu, &id).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn faults_on_video_and_reset_after_status() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .fault(Fault::on(Route::Video).nth(1).error(403))
            .fault(Fault::on(Route::Status).nth(1).effect(Effect::Reset)),
    )
    .unwrap();
    let p = Provider::UModelVerse;
    let (mut conn, id) = submitted(&emu, p);
    conn.request("GET", &status_path(p, &id), &[auth(p)], b"");
    assert!(conn.read().is_none(), "reset without an answer");
    let mut conn = Conn::open(&emu.base_url());
    let (states, last) = walk(&mut conn, p, &id);
    assert_eq!(
        states,
        ["Running", "Success"],
        "the reset poll still counted"
    );
    let url = url_of(p, &last);
    assert_eq!(get(&url, &[]).status, 403);
    assert_eq!(get(&url, &[]).body, Emulator::video_bytes());
}
