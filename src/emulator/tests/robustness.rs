//! Bounds on hostile clients (issue 9 defect 9): body size without overflow, idle
//! connections, a cap on connections.

use super::*;

fn chunked_submit(conn: &mut Conn, chunks: &str) {
    conn.send_raw(
        format!(
            "POST /ent/v2/img2video HTTP/1.1\r\nHost: x\r\nAuthorization: Token k\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}"
        )
        .as_bytes(),
    );
}

#[test]
fn a_huge_chunk_size_is_413_not_an_overflow() {
    let emu = Emulator::start().unwrap();
    for chunks in ["FFFFFFFFFFFFFFFF\r\n", "5\r\nhello\r\nFFFFFFFFFFFFFFFF\r\n"] {
        let mut conn = Conn::open(&emu.base_url());
        chunked_submit(&mut conn, chunks);
        let reply = conn
            .read()
            .expect("an answer, not a dead connection thread");
        assert_eq!(reply.status, 413, "{chunks:?}");
        assert!(conn.closed());
    }
    // A chunk size that does not even fit in 64 bits is a bad request.
    let mut conn = Conn::open(&emu.base_url());
    chunked_submit(&mut conn, "1FFFFFFFFFFFFFFFF\r\n");
    assert_eq!(conn.read().unwrap().status, 400);
    // The server is still serving.
    let (_, id) = submitted(&emu, Provider::Vidu);
    assert!(!id.is_empty());
}

#[test]
fn chunks_summing_past_the_limit_are_413() {
    let emu = Emulator::start().unwrap();
    let mut conn = Conn::open(&emu.base_url());
    // 100 MiB announced in the second chunk after one byte: refused before it is read.
    chunked_submit(&mut conn, "1\r\n{\r\n6400000\r\n");
    assert_eq!(conn.read().unwrap().status, 413);
}

#[test]
fn idle_connections_are_closed() {
    let emu = Emulator::start_with(EmulatorOptions::new().idle_timeout(Duration::from_millis(200)))
        .unwrap();
    let mut conn = Conn::open(&emu.base_url());
    assert_eq!(conn.call("GET", "/nope", &[], b"").status, 404);
    std::thread::sleep(Duration::from_millis(600));
    assert!(conn.closed(), "an idle keep-alive connection is closed");
    // A request that stops half-way is cut off the same way.
    let mut conn = Conn::open(&emu.video_base_url());
    conn.send_raw(b"GET /videos/x.mp4 HTTP/1.1\r\nHost: x\r\n");
    std::thread::sleep(Duration::from_millis(600));
    assert!(conn.closed());
}

#[test]
fn connections_beyond_the_cap_are_refused() {
    let emu = Emulator::start_with(EmulatorOptions::new().max_connections(2)).unwrap();
    let mut open: Vec<Conn> = (0..2).map(|_| Conn::open(&emu.base_url())).collect();
    for conn in &mut open {
        assert_eq!(conn.call("GET", "/nope", &[], b"").status, 404);
    }
    let mut third = Conn::open(&emu.base_url());
    let refused = third.read().expect("a 503 before the close");
    assert_eq!(refused.status, 503);
    assert!(third.closed());
    assert_eq!(emu.stats().refused_connections, 1);
    assert_eq!(emu.stats().api_connections, 2);
    // Closing one frees its slot (its thread notices the close within a moment).
    drop(open.pop());
    let served = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        let mut conn = Conn::open(&emu.base_url());
        conn.request("GET", "/nope", &[], b"");
        conn.read().is_some_and(|r| r.status == 404)
    });
    assert!(served);
}

/// Counts the bytes live on the current thread while tracking is on, and their peak.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub(super) struct Counting;

    thread_local! {
        static TRACKING: Cell<bool> = const { Cell::new(false) };
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(delta: isize) {
        let _ = TRACKING.try_with(|on| {
            if on.get() {
                let live = LIVE.with(|l| {
                    l.set(l.get() + delta);
                    l.get()
                });
                PEAK.with(|p| p.set(p.get().max(live)));
            }
        });
    }

    // SAFETY: every call is forwarded unchanged to `System`; the counting touches only
    // const-initialized thread-locals, which never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            add(layout.size() as isize);
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            add(-(layout.size() as isize));
            System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // A moving realloc briefly holds both blocks.
            add(new_size as isize);
            let p = System.realloc(ptr, layout, new_size);
            add(-(layout.size() as isize));
            p
        }
    }

    /// Runs `f` and returns the peak of bytes allocated on this thread meanwhile.
    pub(super) fn peak_during(f: impl FnOnce()) -> isize {
        LIVE.with(|l| l.set(0));
        PEAK.with(|p| p.set(0));
        TRACKING.with(|t| t.set(true));
        f();
        TRACKING.with(|t| t.set(false));
        PEAK.with(|p| p.get())
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

#[test]
fn a_submit_holds_about_one_copy_of_its_body() {
    use crate::emulator::image_check::tests::{data_uri, png};
    let emu = Emulator::start().unwrap();
    // A 12 MB PNG inline: a 16 MB body.
    let mut image = png(512, 512);
    image.resize(12 * 1024 * 1024, 0);
    let body = body(Provider::UModelVerse, &data_uri("image/png", &image)).to_string();
    drop(image);
    let body_len = body.len() as isize;
    let request = http::Request {
        method: "POST".into(),
        path: "/v1/tasks/submit".into(),
        query: String::new(),
        headers: vec![
            ("authorization".into(), "key".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.into_bytes(),
    };
    let shared = emu.shared.clone();
    let mut status = 0;
    // Measured from the moment the body exists: the parsed JSON is the one more copy, for
    // as long as the body is still alive (before: the body, the JSON, a clone of it and two
    // decoded images, about four copies).
    let peak = counting::peak_during(|| status = routes::handle(&shared, request).status);
    assert_eq!(status, 200);
    assert!(
        peak < body_len * 5 / 4,
        "{peak} bytes allocated beyond the {body_len} of the body"
    );
}
