//! A fake server with canned answers, for what the emulator cannot express yet.

use std::sync::atomic::{AtomicU32, Ordering};

/// A server answering each request (any connection) with the next canned response, and
/// counting the requests it read in full. Stops after the last response.
pub fn canned_server(responses: Vec<String>) -> (String, std::sync::Arc<AtomicU32>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut responses = responses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let (mut line, mut body_len) = (String::new(), 0usize);
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        body_len = v.trim().parse().unwrap();
                    }
                    line.clear();
                }
                if line.is_empty()
                    || reader
                        .by_ref()
                        .take(body_len as u64)
                        .read_to_end(&mut Vec::new())
                        .is_err()
                {
                    break;
                }
                seen.fetch_add(1, Ordering::SeqCst);
                let Some(response) = responses.next() else {
                    return;
                };
                if stream.write_all(response.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    (addr, count)
}

pub fn http_response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
}
