//! What lets the emulator carry a batch of 100,000 tasks: slots handed on without scans,
//! pages that cost only their own tasks, counters instead of counts, a paced video origin.

use super::batch::{list, listed_ids, vidu_state, vidu_submit};
use super::*;

fn cancel(conn: &mut Conn, id: &str) {
    let body = json!({ "id": id }).to_string();
    let r = conn.call(
        "POST",
        &format!("/ent/v2/tasks/{id}/cancel"),
        &[auth(Provider::Vidu), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Polls until `id` shows `state`; panics after 5 s (time pace moves on its own).
fn until_state(conn: &mut Conn, id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = vidu_state(conn, id);
        if seen == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} stays {seen:?}, not {state:?}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn time_pace_hands_a_cancelled_tasks_slot_to_the_first_queued_task() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .state_duration(Duration::from_millis(1))
            .concurrency_limit(1)
            .fault(Fault::tasks().effect(Effect::NeverFinish)),
    )
    .unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let ids: Vec<String> = (0..3).map(|_| vidu_submit(&mut conn, "", "")).collect();
    until_state(&mut conn, &ids[0], "processing");
    until_state(&mut conn, &ids[1], "queueing");
    until_state(&mut conn, &ids[2], "queueing");
    assert_eq!(emu.stats().unfinished_tasks, 3);

    cancel(&mut conn, &ids[0]);
    until_state(&mut conn, &ids[1], "processing");
    assert_eq!(
        vidu_state(&mut conn, &ids[2]),
        "queueing",
        "one slot, one task"
    );

    // A cancelled queued task gives its turn on.
    let fourth = vidu_submit(&mut conn, "", "");
    until_state(&mut conn, &fourth, "queueing");
    cancel(&mut conn, &ids[2]);
    cancel(&mut conn, &ids[1]);
    until_state(&mut conn, &fourth, "processing");
    assert_eq!(emu.stats().unfinished_tasks, 1);
}

#[test]
fn task_list_pages_walk_every_task_once_and_report_only_their_own() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let ids: Vec<String> = (0..25)
        .map(|i| vidu_submit(&mut conn, "", &format!("tag-{i}")))
        .collect();
    let mut walked = Vec::new();
    let mut query = "pager.pagesz=10".to_string();
    for page in 0.. {
        assert!(page < 3, "25 tasks in pages of 10 are 3 pages");
        let r = list(&mut conn, &query);
        walked.extend(listed_ids(&r));
        let token = r.json()["next_page_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
        query = format!("pager.pagesz=10&pager.page_token={token}");
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(walked, newest_first);

    // Poll pace: a second report moves a task on; the pages above reported each task once.
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let ids: Vec<String> = (0..25).map(|_| vidu_submit(&mut conn, "", "")).collect();
    assert_eq!(listed_ids(&list(&mut conn, "pager.pagesz=10")).len(), 10);
    assert_eq!(
        vidu_state(&mut conn, &ids[24]),
        "queueing",
        "listed: a report"
    );
    assert_eq!(vidu_state(&mut conn, &ids[0]), "created", "not on the page");

    // A task named twice is listed once.
    let r = list(&mut conn, &format!("task_ids={0}&task_ids={0}", ids[3]));
    assert_eq!(listed_ids(&r), [ids[3].clone()]);
    let r = list(&mut conn, "pager.page_token=o10");
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("page token"));
}

#[test]
fn stats_tell_unfinished_tasks_and_the_longest_gap_between_reports() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    let a = vidu_submit(&mut conn, "", "");
    let b = vidu_submit(&mut conn, "", "");
    let stats = emu.stats();
    assert_eq!(stats.unfinished_tasks, 2);
    assert_eq!(
        stats.longest_report_gap,
        Duration::ZERO,
        "no task reported twice"
    );

    let t0 = Instant::now();
    assert_eq!(vidu_state(&mut conn, &a), "created");
    let answered = Instant::now();
    std::thread::sleep(Duration::from_millis(30)); // the gap being measured, not a wait
    let asked = Instant::now();
    assert_eq!(vidu_state(&mut conn, &a), "queueing");
    let gap = emu.stats().longest_report_gap;
    assert!(gap >= asked - answered, "{gap:?}");
    assert!(gap <= t0.elapsed(), "{gap:?}");

    walk(&mut conn, Provider::Vidu, &b);
    assert_eq!(emu.stats().unfinished_tasks, 1);
    // Reports of a finished task are no poll that came late.
    std::thread::sleep(Duration::from_millis(2 * 30 + 10));
    poll(&mut conn, Provider::Vidu, &b);
    assert_eq!(emu.stats().longest_report_gap, gap);
}

#[test]
fn a_paced_video_origin_sends_no_faster_than_its_rate() {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .polls_per_state(0)
            .video_size(100_000)
            .video_rate(200_000),
    )
    .unwrap();
    let (_, _, url) = finished_url(&emu, Provider::Vidu);
    let t0 = Instant::now();
    let reply = get(&url, &[]);
    let took = t0.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 100_000);
    assert!(reply
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == Emulator::synthetic_video_byte(i as u64)));
    // Slices of 4,000 bytes every 20 ms: the last one leaves at 480 ms at the earliest.
    assert!(took >= Duration::from_millis(480), "{took:?}");
}

#[test]
fn video_requests_keep_the_first_thousand_and_count_them_all() {
    let emu = Emulator::start_with(EmulatorOptions::new().polls_per_state(0)).unwrap();
    let (_, _, url) = finished_url(&emu, Provider::Vidu);
    let path = format!(
        "/{}",
        url.trim_start_matches("http://").split_once('/').unwrap().1
    );
    let mut conn = Conn::open(&url);
    for _ in 0..=MAX_RECORDED_VIDEO_REQUESTS {
        assert_eq!(conn.call("GET", &path, &[], b"").status, 200);
    }
    let stats = emu.stats();
    assert_eq!(stats.video_requests.len(), MAX_RECORDED_VIDEO_REQUESTS);
    assert_eq!(stats.video_gets as usize, MAX_RECORDED_VIDEO_REQUESTS + 1);
    assert_eq!(stats.video_requests[0].path, path);
}
