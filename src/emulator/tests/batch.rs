//! Batch realism: time pace, the concurrency limit, the task list, credits, a large video.

use super::*;

pub(super) fn vidu_submit(conn: &mut Conn, prompt: &str, payload: &str) -> String {
    let mut b = body(Provider::Vidu, IMAGE_URL);
    b["prompt"] = json!(prompt);
    b["payload"] = json!(payload);
    let reply = submit(conn, Provider::Vidu, &b);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    task_id(Provider::Vidu, &reply)
}

pub(super) fn vidu_state(conn: &mut Conn, id: &str) -> String {
    state_of(Provider::Vidu, &poll(conn, Provider::Vidu, id).json())
}

pub(super) fn list(conn: &mut Conn, query: &str) -> Reply {
    conn.call(
        "GET",
        &format!("/ent/v2/tasks?{query}"),
        &[auth(Provider::Vidu)],
        b"",
    )
}

pub(super) fn listed_ids(reply: &Reply) -> Vec<String> {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

fn credits(conn: &mut Conn) -> Value {
    let r = conn.call("GET", "/ent/v2/credits", &[auth(Provider::Vidu)], b"");
    assert_eq!(r.status, 200);
    r.json()["remains"][0].clone()
}

#[test]
fn time_pace_ignores_polls() {
    let emu =
        Emulator::start_with(EmulatorOptions::new().state_duration(Duration::from_secs(3600)))
            .unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let id = vidu_submit(&mut conn, "", "");
    for _ in 0..5 {
        assert_eq!(vidu_state(&mut conn, &id), "created");
    }
    let emu = Emulator::start_with(EmulatorOptions::new().state_duration(Duration::from_millis(1)))
        .unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let id = vidu_submit(&mut conn, "", "");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        vidu_state(&mut conn, &id),
        "success",
        "time moved it, not polls"
    );
}

#[test]
fn time_pace_queues_beyond_the_concurrency_limit() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .state_duration(Duration::from_millis(1))
            .concurrency_limit(2)
            .fault(Fault::tasks().effect(Effect::NeverFinish)),
    )
    .unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let ids: Vec<String> = (0..4).map(|_| vidu_submit(&mut conn, "", "")).collect();
    std::thread::sleep(Duration::from_millis(50));
    let states: Vec<String> = ids.iter().map(|id| vidu_state(&mut conn, id)).collect();
    assert_eq!(states, ["processing", "processing", "queueing", "queueing"]);
    let c = credits(&mut conn);
    assert_eq!(c["concurrency_limit"], 2);
    assert_eq!(c["current_concurrency"], 2);
    assert_eq!(c["queue_count"], 2);
}

#[test]
fn poll_pace_queues_beyond_the_concurrency_limit() {
    let emu = Emulator::start_with(EmulatorOptions::new().concurrency_limit(1)).unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let first = vidu_submit(&mut conn, "", "");
    let second = vidu_submit(&mut conn, "", "");
    assert_eq!(vidu_state(&mut conn, &first), "created");
    assert_eq!(vidu_state(&mut conn, &first), "queueing");
    assert_eq!(vidu_state(&mut conn, &first), "processing");
    let waiting: Vec<String> = (0..4).map(|_| vidu_state(&mut conn, &second)).collect();
    assert_eq!(waiting, ["created", "queueing", "queueing", "queueing"]);
    assert_eq!(vidu_state(&mut conn, &first), "success");
    assert_eq!(vidu_state(&mut conn, &second), "processing");
}

#[test]
fn task_list_filters_pages_and_echoes_payload() {
    let emu = Emulator::start_with(EmulatorOptions::new().polls_per_state(100)).unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let ids: Vec<String> = (0..12)
        .map(|i| vidu_submit(&mut conn, &format!("prompt {i}"), &format!("tag-{i}")))
        .collect();
    // Some other provider's task is never listed.
    submit(
        &mut conn,
        Provider::Vtrix,
        &body(Provider::Vtrix, IMAGE_URL),
    );

    let (a, b) = (&ids[3], &ids[7]);
    for query in [
        format!("task_ids={a}&task_ids={b}"),
        format!("task_ids[]={a}&task_ids[]={b}"),
        format!("task_ids={a},{b}"),
        format!("task_ids=%5B%22{a}%22,%22{b}%22%5D"),
        format!("task_ids=[\"{a}\",\"{b}\"]"),
    ] {
        let mut got = listed_ids(&list(&mut conn, &query));
        got.sort();
        assert_eq!(got, [a.clone(), b.clone()], "{query}");
    }
    let r = list(&mut conn, &format!("task_ids={a}"));
    let task = &r.json()["tasks"][0];
    assert_eq!(task["payload"], "tag-3");
    assert_eq!(task["prompt"], "prompt 3");
    assert_eq!(task["state"], "created");
    assert_eq!(task["model"], "viduq2-pro");
    assert_eq!(task["images"], json!([IMAGE_URL]));
    assert_eq!(task["duration"], 5);
    assert_eq!(task["resolution"], "720p");
    assert!(task["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(task["creations"], json!([]));

    // Default page of 10, newest first, then the token for the rest.
    let r = list(&mut conn, "");
    let page = listed_ids(&r);
    assert_eq!(page.len(), 10);
    assert_eq!(page[0], ids[11]);
    let token = r.json()["next_page_token"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let r = list(&mut conn, &format!("pager.page_token={token}"));
    assert_eq!(listed_ids(&r), [ids[1].clone(), ids[0].clone()]);
    assert_eq!(r.json()["next_page_token"], "");
    // Numbered pages, also under the document's `paper.` spelling.
    assert_eq!(
        listed_ids(&list(&mut conn, "pager.pagesz=5&pager.page=2")),
        [ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(listed_ids(&list(&mut conn, "paper.pagesz=3")).len(), 3);
    let r = list(&mut conn, "pager.pagesz=101");
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("pager.pagesz"));
    // Time window and states.
    assert!(listed_ids(&list(&mut conn, "created_at.from=2999-01-01T00:00:00Z")).is_empty());
    assert_eq!(
        listed_ids(&list(
            &mut conn,
            "created_at.to=2999-01-01T00:00:00%2B01:00&pager.pagesz=100"
        ))
        .len(),
        12
    );
    let r = list(&mut conn, "created_at.from=yesterday");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["reason"], "FieldInvalid");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("created_at.from"));
    assert!(listed_ids(&list(&mut conn, "states=success")).is_empty());
    assert_eq!(list(&mut conn, "states=done").status, 400);
    assert_eq!(emu.stats().list_calls, 16);
    // Auth is checked.
    assert_eq!(conn.call("GET", "/ent/v2/tasks", &[], b"").status, 401);
}

#[test]
fn listing_a_task_reports_it_like_a_poll() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let id = vidu_submit(&mut conn, "", "p");
    let mut states = Vec::new();
    for _ in 0..4 {
        let r = list(&mut conn, &format!("task_ids={id}"));
        states.push(r.json()["tasks"][0]["state"].as_str().unwrap().to_string());
    }
    assert_eq!(states, ["created", "queueing", "processing", "success"]);
    let r = list(&mut conn, &format!("task_ids={id}&states=success"));
    let url = r.json()["tasks"][0]["creations"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get(&url, &[]).body, Emulator::video_bytes());
    assert_eq!(emu.stats().status_polls, 0);
}

#[test]
fn credits_decrease_per_task() {
    let emu = Emulator::start_with(EmulatorOptions::new().credits(1000)).unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let before = credits(&mut conn);
    assert_eq!(before["type"], "metered");
    assert_eq!(before["credit_remain"], 1000);
    assert_eq!(before["concurrency_limit"], 5);
    vidu_submit(&mut conn, "", "");
    vidu_submit(&mut conn, "", "");
    let after = credits(&mut conn);
    assert_eq!(
        after["credit_remain"], 980,
        "5 s tasks cost 10 credits each"
    );
    assert_eq!(after["queue_count"], 2);
    assert_eq!(emu.stats().credits_calls, 2);
}

#[test]
fn quota_exceeded_beyond_in_flight_tasks() {
    let emu = start(Scenario::QuotaExceeded {
        in_flight: 2,
        retry_after_secs: 3,
    });
    let mut conn = Conn::open(&emu.base_url());
    let first = vidu_submit(&mut conn, "", "");
    vidu_submit(&mut conn, "", "");
    let r = submit(&mut conn, Provider::Vidu, &body(Provider::Vidu, IMAGE_URL));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    let v = r.json();
    assert_eq!(v["code"], 429);
    assert_eq!(v["reason"], "QuotaExceeded");
    walk(&mut conn, Provider::Vidu, &first);
    vidu_submit(&mut conn, "", "");
    let stats = emu.stats();
    assert_eq!((stats.submits, stats.submit_requests), (3, 4));
    assert_eq!(
        "quota-exceeded".parse::<Scenario>().unwrap(),
        Scenario::QuotaExceeded {
            in_flight: 5,
            retry_after_secs: 1
        }
    );
}

#[test]
fn a_large_synthetic_video_streams_with_ranges() {
    let size = 3 * 1024 * 1024 + 17;
    let emu = Emulator::start_with(EmulatorOptions::new().video_size(size)).unwrap();
    assert_eq!(emu.video_len(), size);
    let (_, _, url) = finished_url(&emu, Provider::Vidu);
    let whole = get(&url, &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.len() as u64, size);
    assert!(whole
        .body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == Emulator::synthetic_video_byte(i as u64)));
    let start = 2 * 1024 * 1024 + 5;
    let part = get(&url, &[("Range", &format!("bytes={start}-"))]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body.len() as u64, size - start);
    assert_eq!(part.body[0], Emulator::synthetic_video_byte(start));
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes {start}-{}/{size}", size - 1).as_str())
    );
    assert_eq!(emu.stats().video_gets, 2);
}
