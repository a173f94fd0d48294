//! End-to-end tests over real sockets: a raw HTTP/1.1 client for exact control, and ureq for
//! a real client's view. Never the crate's own provider code. Shared helpers here; tests by
//! topic in the submodules.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;

mod batch;
mod faults;
mod providers;
mod robustness;
mod scale;
mod transport;

/// The provider a test talks to (the emulator's own routing is under test, so tests name
/// their routes themselves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provider {
    UModelVerse,
    Vtrix,
    Vidu,
}

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

fn finished_url(emu: &Emulator, p: Provider) -> (Conn, String, String) {
    let (mut conn, id) = submitted(emu, p);
    let (_, last) = walk(&mut conn, p, &id);
    let url = url_of(p, &last);
    (conn, id, url)
}
