//! The HTTP layer: keep-alive, chunked bodies, bad requests, ranges, shutdown.

use super::*;
use crate::emulator::image_check::tests::{data_uri, png};

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
