//! The emulator's capacity: fills a `bench_server` (another process) with N official-API
//! tasks, then measures the server's CPU per request for status polls, task lists by 100 ids
//! and a walk through every page of the task list, and its memory, from the `cpu_ms` and
//! `rss_kb` its stats file reports. Prints `key=value` lines.
//!
//! ```text
//! emu_load --base-url URL --stats-file PATH --tasks N
//! ```

use std::collections::HashMap;
use std::time::Duration;

fn main() {
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        flags.insert(flag.trim_start_matches("--").to_owned(), value);
    }
    let base = flags["base-url"].clone();
    let stats_file = flags["stats-file"].clone();
    let n: usize = flags["tasks"].parse().expect("--tasks");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .build()
        .into();
    // The stats file is rewritten every 100 ms: wait for a fresh one.
    let stats = || -> HashMap<String, f64> {
        std::thread::sleep(Duration::from_millis(250));
        std::fs::read_to_string(&stats_file)
            .expect("stats file")
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.to_owned(), v.parse().ok()?))
            })
            .collect()
    };
    let get = |path: &str| -> serde_json::Value {
        let body = agent
            .get(format!("{base}{path}"))
            .header("Authorization", "Token bench")
            .call()
            .expect("GET")
            .body_mut()
            .read_to_string()
            .expect("body");
        serde_json::from_str(&body).expect("json")
    };
    let empty = stats();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body = serde_json::json!({
            "model": "viduq2-pro",
            "images": [format!("https://example.com/images/{i}.png")],
            "payload": format!("bench-tag-{i:08}-0123456789abcdef0123"),
        });
        let answer: serde_json::Value = agent
            .post(format!("{base}/ent/v2/img2video"))
            .header("Authorization", "Token bench")
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("submit")
            .body_mut()
            .read_to_string()
            .map(|b| serde_json::from_str(&b).expect("submit json"))
            .expect("submit answer");
        ids.push(answer["task_id"].as_str().expect("task_id").to_owned());
    }
    let full = stats();
    println!("tasks={n}");
    println!("rss_mb={:.1}", full["rss_kb"] * 1024.0 / 1e6);
    println!(
        "bytes_per_task={:.0}",
        (full["rss_kb"] - empty["rss_kb"]) * 1024.0 / n as f64
    );
    println!(
        "submit_cpu_us={:.1}",
        (full["cpu_ms"] - empty["cpu_ms"]) * 1000.0 / n as f64
    );

    // Status polls of tasks spread over the whole store.
    let polls: u32 = 2000;
    let before = stats();
    for k in 0..polls {
        let id = &ids[(k as usize * 7919) % n];
        get(&format!("/ent/v2/tasks/{id}/creations"));
    }
    let after = stats();
    println!(
        "status_cpu_us={:.1}",
        (after["cpu_ms"] - before["cpu_ms"]) * 1000.0 / f64::from(polls)
    );

    // Lists by 100 ids, as the batch polls.
    let lists: u32 = 200;
    let before = stats();
    for k in 0..lists {
        let start = (k as usize * 100 * 37) % n.saturating_sub(100).max(1);
        let query: Vec<String> = ids[start..(start + 100).min(n)]
            .iter()
            .map(|id| format!("task_ids={id}"))
            .collect();
        let page = get(&format!(
            "/ent/v2/tasks?pager.pagesz=100&{}",
            query.join("&")
        ));
        assert_eq!(page["tasks"].as_array().map(Vec::len), Some(100.min(n)));
    }
    let after = stats();
    println!(
        "list_by_ids_cpu_us={:.1}",
        (after["cpu_ms"] - before["cpu_ms"]) * 1000.0 / f64::from(lists)
    );

    // Every page of the list, newest first, by page token (the search for a lost submit).
    let before = stats();
    let mut pages = 0u32;
    let mut seen = 0usize;
    let mut token = String::new();
    loop {
        let page = get(&format!(
            "/ent/v2/tasks?pager.pagesz=100&pager.page_token={token}"
        ));
        pages += 1;
        seen += page["tasks"].as_array().map_or(0, Vec::len);
        token = page["next_page_token"].as_str().unwrap_or("").to_owned();
        if token.is_empty() {
            break;
        }
    }
    let after = stats();
    assert_eq!(seen, n, "the pages list every task once");
    println!("pages={pages}");
    println!(
        "page_cpu_us={:.1}",
        (after["cpu_ms"] - before["cpu_ms"]) * 1000.0 / f64::from(pages)
    );
    println!("hwm_mb={:.1}", after["hwm_kb"] * 1024.0 / 1e6);
}
