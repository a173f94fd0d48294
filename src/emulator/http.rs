//! A tiny HTTP/1.1 server on std: one thread per connection, keep-alive, Content-Length and
//! chunked request bodies, answers always framed with Content-Length.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest request body accepted at the HTTP layer; larger bodies get 413.
pub(crate) const MAX_BODY: u64 = 100 * 1024 * 1024;
/// Longest request line or header line.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines in one request.
const MAX_HEADERS: usize = 100;
/// How often a connection thread blocked in a read looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);

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

    /// The first query parameter with this name (no percent-decoding beyond `%XX`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
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

/// What the connection does once the handler has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Write the whole response; keep the connection unless the request asked to close.
    Normal,
    /// Write the headers and only this many body bytes, then close the connection.
    CutBody(usize),
    /// Write nothing at all and close the connection.
    Reset,
}

/// One response. `Content-Length` is added when written.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub after: After,
}

impl Response {
    /// A response with a body and a content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            after: After::Normal,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", value.to_string())
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

/// Answers one request.
pub(crate) type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A listening server; dropping it stops the accept loop and every connection thread.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves with `handler`; `on_accept` runs once per connection.
    pub fn start(
        handler: Arc<Handler>,
        on_accept: Arc<dyn Fn() + Send + Sync>,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept_thread = {
            let stop = stop.clone();
            let connections = connections.clone();
            std::thread::Builder::new()
                .name(format!("vidu-emulator-{}", addr.port()))
                .spawn(move || accept_loop(listener, stop, connections, handler, on_accept))?
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

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    handler: Arc<Handler>,
    on_accept: Arc<dyn Fn() + Send + Sync>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors and the like: back off a little.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        on_accept();
        let stop = stop.clone();
        let handler = handler.clone();
        let spawned = std::thread::Builder::new()
            .name("vidu-emulator-conn".into())
            .spawn(move || serve_connection(stream, &stop, &*handler));
        let mut list = lock(&connections);
        list.retain(|h| !h.is_finished());
        if let Ok(h) = spawned {
            list.push(h);
        }
    }
}

/// A reader that retries read timeouts until the server is stopped.
struct StopAware<'a> {
    stream: &'a TcpStream,
    stop: &'a AtomicBool,
}

impl Read for StopAware<'_> {
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
                    continue
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// Why reading a request failed.
enum ReadError {
    /// The peer closed (or the server stops) between requests: close quietly.
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

fn serve_connection(stream: TcpStream, stop: &AtomicBool, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(STOP_CHECK));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(StopAware {
        stream: &stream,
        stop,
    });
    loop {
        let (request, keep_alive) = match read_request(&mut reader, &stream) {
            Ok(r) => r,
            Err(ReadError::Closed) => break,
            Err(ReadError::Bad(why)) => {
                let r = Response::new(400, "text/plain", format!("bad request: {why}\n"));
                let _ = write_response(&stream, &r, false, false);
                break;
            }
            Err(ReadError::TooLarge) => {
                let r = Response::new(413, "text/plain", "request body too large\n");
                let _ = write_response(&stream, &r, false, false);
                break;
            }
        };
        let response = handler(&request);
        let head_only = request.method == "HEAD";
        match response.after {
            After::Reset => break,
            After::CutBody(n) => {
                let _ = write_head(&stream, &response, false)
                    .and_then(|_| (&stream).write_all(&response.body[..n.min(response.body.len())]))
                    .and_then(|_| (&stream).flush());
                break;
            }
            After::Normal => {
                if write_response(&stream, &response, keep_alive, head_only).is_err() || !keep_alive
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
) -> io::Result<()> {
    write_head(stream, r, keep_alive)?;
    if !head_only {
        stream.write_all(&r.body)?;
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

fn read_request(
    reader: &mut impl BufRead,
    stream: &TcpStream,
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
        let _ = (&*stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
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
                let mut body = Vec::with_capacity(len.min(1 << 20) as usize);
                reader.take(len).read_to_end(&mut body)?;
                if (body.len() as u64) < len {
                    return Err(ReadError::Closed);
                }
                body
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
        if body.len() as u64 + size > MAX_BODY {
            return Err(ReadError::TooLarge);
        }
        let before = body.len();
        reader.take(size).read_to_end(&mut body)?;
        if ((body.len() - before) as u64) < size {
            return Err(ReadError::Closed);
        }
        match read_line(reader)? {
            Some(l) if l.is_empty() => {}
            Some(_) => return Err(ReadError::Bad("chunk not followed by CRLF")),
            None => return Err(ReadError::Closed),
        }
    }
}
