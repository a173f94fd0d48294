//! The transport: a tiny HTTP/1.1 server on std. One thread per connection (at most
//! [`Limits::max_connections`] at once), keep-alive with an idle timeout, Content-Length and
//! chunked request bodies (size checked without overflow), answers framed with Content-Length
//! and streamed, so a large synthetic video is never held in memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest request body accepted at the HTTP layer; larger bodies get 413.
pub(crate) const MAX_BODY: u64 = 100 * 1024 * 1024;
/// Longest request line or header line.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines in one request.
const MAX_HEADERS: usize = 100;
/// How often a connection thread blocked in a read looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// Bytes written per `write` call when streaming a body.
const WRITE_CHUNK: usize = 64 * 1024;

/// Bounds on what clients can make the server hold.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Response bodies are sent at most this many bytes per second per connection.
    pub body_rate: Option<u64>,
}

/// Holds a connection's body writes to `rate` bytes per second (a distant CDN), in slices of
/// 20 ms; cut short when the server stops.
struct Paced<'a> {
    stream: &'a TcpStream,
    rate: u64,
    start: Instant,
    sent: u64,
    stop: &'a AtomicBool,
}

impl Write for Paced<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let slice = usize::try_from(self.rate / 50).unwrap_or(usize::MAX).max(1);
        let n = self.stream.write(&buf[..buf.len().min(slice)])?;
        self.sent = self.sent.saturating_add(n as u64);
        let due = self
            .start
            .checked_add(Duration::from_secs_f64(self.sent as f64 / self.rate as f64));
        while let Some(left) = due.map(|d| d.saturating_duration_since(Instant::now())) {
            if left.is_zero() || self.stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(left.min(STOP_CHECK));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

/// Writes the first `limit` bytes of `body`, paced when the server is.
fn write_body(stream: &TcpStream, body: &Body, limit: u64, ctx: &Ctx) -> io::Result<()> {
    match ctx.limits.body_rate.filter(|&r| r > 0) {
        None => body.write_to(stream, limit),
        Some(rate) => body.write_to(
            Paced {
                stream,
                rate,
                start: Instant::now(),
                sent: 0,
                stop: &ctx.stop,
            },
            limit,
        ),
    }
}

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string (without `?`), empty when absent.
    pub query: String,
    /// Header names lower-case, values trimmed, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every query parameter, percent-decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    /// The first query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find_map(|(k, v)| (k == name).then_some(v))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response body.
#[derive(Debug)]
pub(crate) enum Body {
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    /// `len` bytes of the synthetic video from `offset` on, generated while written.
    Synthetic {
        offset: u64,
        len: u64,
    },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Static(b) => b.len() as u64,
            Body::Synthetic { len, .. } => *len,
        }
    }

    /// Writes the first `limit` bytes.
    fn write_to(&self, mut w: impl Write, limit: u64) -> io::Result<()> {
        let n = limit.min(self.len());
        match self {
            Body::Bytes(b) => w.write_all(&b[..n as usize]),
            Body::Static(b) => w.write_all(&b[..n as usize]),
            Body::Synthetic { offset, .. } => {
                let mut buf = vec![0u8; WRITE_CHUNK];
                let mut done = 0u64;
                while done < n {
                    let take = (n - done).min(WRITE_CHUNK as u64) as usize;
                    for (i, b) in buf[..take].iter_mut().enumerate() {
                        *b = synthetic_byte(offset.saturating_add(done).saturating_add(i as u64));
                    }
                    w.write_all(&buf[..take])?;
                    done += take as u64;
                }
                Ok(())
            }
        }
    }
}

/// Byte `offset` of the synthetic video: a pattern that catches shifted or repeated ranges.
pub(crate) fn synthetic_byte(offset: u64) -> u8 {
    (offset % 251) as u8 ^ (offset >> 20) as u8
}

/// What the connection does once the handler has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Write the whole response; keep the connection unless the request asked to close.
    Normal,
    /// Write the headers and only this many body bytes, then close the connection.
    CutBody(u64),
    /// Write nothing at all and close the connection.
    Reset,
}

/// One response. `Content-Length` is added when written.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub after: After,
}

impl Response {
    /// A response with a body and a content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::with_body(status, content_type, Body::Bytes(body.into()))
    }

    pub fn with_body(status: u16, content_type: &str, body: Body) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            after: After::Normal,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", value.to_string())
    }

    /// Nothing written; the connection is closed.
    pub fn reset() -> Response {
        Response {
            after: After::Reset,
            ..Response::new(200, "text/plain", "")
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Answers one request (it owns the request, so it can drop the body as soon as parsed).
pub(crate) type Handler = dyn Fn(Request) -> Response + Send + Sync;

/// What the server reports about its connections.
pub(crate) trait Observer: Send + Sync {
    fn accepted(&self);
    fn refused(&self);
}

/// A listening server; dropping it stops the accept loop and every connection thread.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

struct Ctx {
    stop: Arc<AtomicBool>,
    handler: Arc<Handler>,
    observer: Arc<dyn Observer>,
    limits: Limits,
    live: AtomicUsize,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves with `handler`.
    pub fn start(
        handler: Arc<Handler>,
        observer: Arc<dyn Observer>,
        limits: Limits,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let ctx = Arc::new(Ctx {
            stop: stop.clone(),
            handler,
            observer,
            limits,
            live: AtomicUsize::new(0),
        });
        let accept_thread = {
            let connections = connections.clone();
            std::thread::Builder::new()
                .name(format!("vidu-emulator-{}", addr.port()))
                .spawn(move || accept_loop(listener, ctx, connections))?
        };
        Ok(Server {
            addr,
            stop,
            accept_thread: Some(accept_thread),
            connections,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() up; it sees the flag and returns.
        let woken = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(t) = self.accept_thread.take() {
            // Should the wake-up connect ever fail, leave the accept thread detached rather
            // than hang here; it ends at the next connection attempt.
            if woken {
                let _ = t.join();
            }
        }
        let handles = std::mem::take(&mut *lock(&self.connections));
        for h in handles {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Decrements the live-connection count when a connection thread ends, however it ends.
struct Live<'a>(&'a AtomicUsize);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(listener: TcpListener, ctx: Arc<Ctx>, connections: Arc<Mutex<Vec<JoinHandle<()>>>>) {
    for stream in listener.incoming() {
        if ctx.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else {
            // Out of file descriptors and the like: back off a little.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if ctx.live.load(Ordering::SeqCst) >= ctx.limits.max_connections {
            ctx.observer.refused();
            // A fresh socket's send buffer takes these few bytes without blocking.
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        ctx.observer.accepted();
        ctx.live.fetch_add(1, Ordering::SeqCst);
        let conn_ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("vidu-emulator-conn".into())
            .spawn(move || {
                let _live = Live(&conn_ctx.live);
                serve_connection(stream, &conn_ctx);
            });
        let mut list = lock(&connections);
        list.retain(|h| !h.is_finished());
        match spawned {
            Ok(h) => list.push(h),
            // The closure (and its guard) never ran.
            Err(_) => {
                ctx.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// A reader that retries read timeouts until the server is stopped or the peer has sent
/// nothing for the idle timeout.
struct Patient<'a> {
    stream: &'a TcpStream,
    stop: &'a AtomicBool,
    idle_timeout: Duration,
    last_progress: Instant,
}

impl Read for Patient<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "server stopped",
                ));
            }
            match (&*self.stream).read(buf) {
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    if self.last_progress.elapsed() >= self.idle_timeout {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) => {
                    self.last_progress = Instant::now();
                    return Ok(n);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Why reading a request failed.
enum ReadError {
    /// The peer closed (or the server stops, or the connection idled) between requests.
    Closed,
    /// Malformed request: answer 400 and close.
    Bad(&'static str),
    /// Body larger than [`MAX_BODY`]: answer 413 and close.
    TooLarge,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

fn serve_connection(stream: TcpStream, ctx: &Ctx) {
    let _ = stream.set_read_timeout(Some(STOP_CHECK.min(ctx.limits.idle_timeout)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(Patient {
        stream: &stream,
        stop: &ctx.stop,
        idle_timeout: ctx.limits.idle_timeout,
        last_progress: Instant::now(),
    });
    loop {
        let (request, keep_alive) = match read_request(&mut reader, &mut &stream) {
            Ok(r) => r,
            Err(ReadError::Closed) => break,
            Err(ReadError::Bad(why)) => {
                let r = Response::new(400, "text/plain", format!("bad request: {why}\n"));
                let _ = write_response(&stream, &r, false, false, ctx);
                break;
            }
            Err(ReadError::TooLarge) => {
                let r = Response::new(413, "text/plain", "request body too large\n");
                let _ = write_response(&stream, &r, false, false, ctx);
                break;
            }
        };
        let head_only = request.method == "HEAD";
        let response = (ctx.handler)(request);
        match response.after {
            After::Reset => break,
            After::CutBody(n) => {
                let _ = write_head(&stream, &response, false)
                    .and_then(|_| write_body(&stream, &response.body, n, ctx))
                    .and_then(|_| (&stream).flush());
                break;
            }
            After::Normal => {
                if write_response(&stream, &response, keep_alive, head_only, ctx).is_err()
                    || !keep_alive
                {
                    break;
                }
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn write_head(mut stream: &TcpStream, r: &Response, keep_alive: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (name, value) in &r.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

fn write_response(
    mut stream: &TcpStream,
    r: &Response,
    keep_alive: bool,
    head_only: bool,
    ctx: &Ctx,
) -> io::Result<()> {
    write_head(stream, r, keep_alive)?;
    if !head_only {
        write_body(stream, &r.body, u64::MAX, ctx)?;
    }
    stream.flush()
}

/// Reads one line (without CRLF). `Ok(None)` means a clean EOF before any byte.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            ReadError::Bad("line too long")
        } else {
            ReadError::Closed
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Bad("line is not UTF-8"))
}

/// Reads one request; an `Expect: 100-continue` is answered on `interim`.
fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<(Request, bool), ReadError> {
    // Tolerate empty lines before a request line (RFC 9112 section 2.2).
    let line = loop {
        match read_line(reader)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Bad("malformed method"));
    }
    if !target.starts_with('/') {
        return Err(ReadError::Bad("request target must be an absolute path"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad("unsupported HTTP version")),
    };
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(ReadError::Closed);
        };
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad("too many headers"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad("malformed header line"));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(ReadError::Bad("malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect()
    };
    let connection = values("connection").join(",");
    let keep_alive = if http10 {
        connection.split(',').any(|t| t.trim() == "keep-alive")
    } else {
        !connection.split(',').any(|t| t.trim() == "close")
    };
    if values("expect").iter().any(|v| v == "100-continue") {
        let _ = interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let te = values("transfer-encoding");
    let body = if !te.is_empty() {
        if te.join(",").split(',').map(str::trim).next_back() != Some("chunked") {
            return Err(ReadError::Bad("unsupported transfer-encoding"));
        }
        read_chunked(reader)?
    } else {
        let lengths = values("content-length");
        match lengths.first() {
            None => Vec::new(),
            Some(first) => {
                if lengths.iter().any(|l| l != first) {
                    return Err(ReadError::Bad("conflicting content-length"));
                }
                let len: u64 = first
                    .parse()
                    .map_err(|_| ReadError::Bad("invalid content-length"))?;
                if len > MAX_BODY {
                    return Err(ReadError::TooLarge);
                }
                read_exact_body(reader, Vec::new(), len)?
            }
        }
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok((
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body,
        },
        keep_alive,
    ))
}

/// Appends exactly `len` more bytes to `body`, reserving them once (no doubling copies; the
/// reservation is only address space until the bytes arrive).
fn read_exact_body(
    reader: &mut impl BufRead,
    mut body: Vec<u8>,
    len: u64,
) -> Result<Vec<u8>, ReadError> {
    let want = usize::try_from(len).map_err(|_| ReadError::TooLarge)?;
    // Exact for a Content-Length body; amortized across chunks of a chunked one.
    let reserved = if body.is_empty() {
        body.try_reserve_exact(want)
    } else {
        body.try_reserve(want)
    };
    reserved.map_err(|_| ReadError::TooLarge)?;
    let before = body.len();
    reader.take(len).read_to_end(&mut body)?;
    if body.len() - before < want {
        return Err(ReadError::Closed);
    }
    Ok(body)
}

/// Parses one request from `data` as a connection would; for the fuzz targets.
pub(crate) fn parse_request(data: &[u8]) -> Option<(Request, bool)> {
    read_request(&mut io::BufReader::new(data), &mut io::sink()).ok()
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(ReadError::Closed);
        };
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(size_text, 16).map_err(|_| ReadError::Bad("invalid chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                match read_line(reader)? {
                    None => return Err(ReadError::Closed),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        // A chunk size near u64::MAX must not wrap around the limit.
        match (body.len() as u64).checked_add(size) {
            Some(total) if total <= MAX_BODY => {}
            _ => return Err(ReadError::TooLarge),
        }
        body = read_exact_body(reader, body, size)?;
        match read_line(reader)? {
            Some(l) if l.is_empty() => {}
            Some(_) => return Err(ReadError::Bad("chunk not followed by CRLF")),
            None => return Err(ReadError::Closed),
        }
    }
}
