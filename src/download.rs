//! Downloading the video: streamed to a partial file beside the target, named after the target
//! and the task so that a later run (another process) resumes it with `Range`; locked while
//! written; synced and renamed at the end.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::retry::{Backoff, Next};
use crate::status::TaskStatus;
use crate::transport::{self, header};

/// Redirect hops followed per request.
const MAX_REDIRECTS: u32 = 5;
/// Attempts per download, counting resumed connections and transient failures.
const MAX_ATTEMPTS: u32 = 8;
/// The longest file name most file systems take (Linux `NAME_MAX`, in bytes).
const NAME_MAX: usize = 255;
/// What the partial file's name adds to the output's: `.` before, `.<8 hex>.part` after.
const PARTIAL_EXTRA: usize = 1 + 1 + 8 + 5;

fn fail(detail: impl Into<String>) -> Error {
    Error::Download {
        task_id: None,
        detail: detail.into(),
    }
}

/// The target path must name a new or regular file in an existing directory, with a name
/// short enough for the partial file beside it. Symlinks are not followed: a symlink at the
/// path is refused, never written through. Checked before submitting.
pub(crate) fn check_output_path(path: &Path) -> Result<()> {
    let allowed = "a file path in an existing directory";
    let text = path.as_os_str().to_string_lossy();
    let name = match path.file_name() {
        Some(name) if !text.ends_with(std::path::is_separator) => name,
        _ => return Err(Error::invalid("output", path.display(), allowed)),
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => {}
        Ok(meta) => {
            return Err(Error::invalid(
                "output",
                path.display(),
                format!(
                    "a regular file or a new name; this is a {} (symlinks are not followed)",
                    describe(meta.file_type())
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::invalid(
                "output",
                path.display(),
                format!("{allowed}; it cannot be inspected: {e}"),
            ))
        }
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(Error::invalid(
            "output",
            path.display(),
            format!("{allowed}; {} does not exist", dir.display()),
        ));
    }
    if name.len() + PARTIAL_EXTRA > NAME_MAX {
        return Err(Error::invalid(
            "output",
            path.display(),
            format!(
                "a file name of at most {} bytes (this one has {}): the download's partial \
                 file adds {PARTIAL_EXTRA} to it, and file systems take {NAME_MAX}",
                NAME_MAX - PARTIAL_EXTRA,
                name.len()
            ),
        ));
    }
    Ok(())
}

fn describe(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// `.<name>.<8 hex digits of the task id's FNV-1a hash>.part`: the same in every process, so
/// a rerun finds what an interrupted one left, and different for another task's video.
fn partial_name(name: &OsStr, task_id: &str) -> OsString {
    let hash = task_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let mut out = OsString::from(".");
    out.push(name);
    out.push(format!(".{hash:08x}.part"));
    out
}

/// Only `https`, or `http` to a loopback host (local testing), is followed.
pub(crate) fn check_video_url(url: &str) -> Result<()> {
    if transport::is_https_or_loopback(url) {
        return Ok(());
    }
    Err(fail(format!(
        "refusing to follow video URL {:?}: only https (or http to loopback) is allowed",
        crate::error::shorten(url, 120)
    )))
}

fn io_error<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
        task_id: None,
    }
}

/// The partial file, open, locked, positioned at its end.
struct Partial {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Partial {
    /// Opens the partial file left by an earlier run, or creates it. Never follows a symlink:
    /// a new file is created with `create_new` (which refuses one), and an existing file must
    /// be the regular file the path names. Fails at once when another process holds it.
    fn open(path: PathBuf, task_id: &str) -> Result<Partial> {
        let existing = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => Some(meta),
            Ok(meta) => {
                return Err(fail(format!(
                    "{} is a {}, not a partial download",
                    path.display(),
                    describe(meta.file_type())
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error("inspecting", &path)(e)),
        };
        let mut file = match existing {
            None => OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io_error("creating", &path))?,
            Some(before) => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_error("opening", &path))?;
                let opened = file.metadata().map_err(io_error("inspecting", &path))?;
                if !same_file(&before, &opened) {
                    return Err(fail(format!(
                        "{} changed while it was opened",
                        path.display()
                    )));
                }
                file
            }
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(fail(format!(
                    "another download of task {task_id} to the same file is running (it holds {})",
                    path.display()
                )))
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error("locking", &path)(e)),
        }
        // A winner may have renamed the file between our open and our lock: then the path
        // no longer names what we hold.
        let now = fs::symlink_metadata(&path).map_err(io_error("inspecting", &path))?;
        let held = file.metadata().map_err(io_error("inspecting", &path))?;
        if !same_file(&now, &held) {
            return Err(fail(format!(
                "another download of task {task_id} finished with {} while this one started",
                path.display()
            )));
        }
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(io_error("opening", &path))?;
        Ok(Partial { path, file, len })
    }

    fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .map_err(io_error("truncating", &self.path))?;
        self.file
            .rewind()
            .map_err(io_error("truncating", &self.path))?;
        self.len = 0;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .map_err(io_error("writing", &self.path))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Removes the file, then releases the lock (closing it).
    fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }

    /// Syncs the file and renames it to `target` while still holding the lock.
    fn finish(self, target: &Path) -> Result<u64> {
        let Partial {
            path,
            mut file,
            len,
        } = self;
        let synced = file.flush().and_then(|_| file.sync_all());
        if let Err(e) = synced {
            let _ = fs::remove_file(&path);
            return Err(io_error("syncing", &path)(e));
        }
        if let Err(e) = fs::rename(&path, target) {
            let _ = fs::remove_file(&path);
            return Err(io_error("renaming the download to", target)(e));
        }
        drop(file);
        remove_stale_partials(target);
        if let Ok(d) = File::open(parent_dir(target)) {
            let _ = d.sync_all(); // best effort: makes the rename durable on Linux
        }
        Ok(len)
    }
}

/// Once `target` holds its video, the partial files other tasks (an earlier attempt of the
/// same job) or older versions (`.<name>.<pid>.<rand>.part`) left for it are of no use.
/// Removes those that are regular files no other process is writing (lockable). Best effort.
fn remove_stale_partials(target: &Path) {
    let (Some(name), Ok(entries)) = (target.file_name(), fs::read_dir(parent_dir(target))) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(middle) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix.as_str()))
            .and_then(|rest| rest.strip_suffix(".part"))
        else {
            continue;
        };
        let ours = middle
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ours || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        if let Ok(file) = OpenOptions::new().write(true).open(&path) {
            if file.try_lock().is_ok() {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.is_file() && b.is_file()
}

/// `bytes START-END/TOTAL` → (START, TOTAL if known). Numbers that do not fit a u64 make the
/// header invalid.
pub(crate) fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// The full size of a video from a `206` answer: the `Content-Range` total, or the start plus
/// `Content-Length`, which must not overflow.
pub(crate) fn partial_total(
    start: u64,
    total: Option<u64>,
    declared_len: Option<u64>,
) -> Result<Option<u64>> {
    match (total, declared_len) {
        (Some(t), _) => Ok(Some(t)),
        (None, Some(len)) => len.checked_add(start).map(Some).ok_or_else(|| {
            fail(format!(
                "206 answer with an impossible Content-Length {len} from offset {start}"
            ))
        }),
        (None, None) => Ok(None),
    }
}

enum Outcome {
    Done,
    /// The connection ended early or failed transiently: resume (or restart) and try again.
    Retry(Option<std::time::Duration>),
    /// No data came for `timeouts.receive`, before or within the body: try again, up to
    /// `max_download_stalls` times in a row.
    Stalled,
    /// The signed URL expired.
    Expired,
    /// The cancel token was triggered.
    Cancelled,
}

/// How a download that did not finish leaves its partial file.
enum Stop {
    /// Kept for a later resume: the call was cancelled, or the host kept failing transiently.
    Keep(Error),
    /// Removed: the bytes are of no further use (too large, refused, an error answer).
    Remove(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Remove(e)
    }
}

/// Downloads the first video URL of `status` to `target`, resuming the partial file an
/// earlier call for the same task and target left. `refresh` fetches the task's status again,
/// for a fresh URL when the signed one expired. Every error carries the task id.
pub(crate) fn download(
    agent: &ureq::Agent,
    config: &Config,
    status: &TaskStatus,
    target: &Path,
    cancel: &CancelToken,
    refresh: &mut dyn FnMut() -> Result<TaskStatus>,
) -> Result<u64> {
    let task_id = status.task_id.as_str();
    // A task exists by now: a bad output path is a download error that carries its id
    // (and never says "nothing was sent").
    let check_target = || {
        check_output_path(target).map_err(|e| match e {
            Error::InvalidInput { value, allowed, .. } => fail(format!(
                "cannot write the video to output {value:?}: {allowed}"
            )),
            e => e,
        })
    };
    let mut run = || {
        check_target()?;
        let url = status
            .video_urls
            .first()
            .cloned()
            .ok_or_else(|| fail(format!("task is {} and has no video URL", status.state)))?;
        let name = target.file_name().unwrap_or_default();
        let path = parent_dir(target).join(partial_name(name, task_id));
        let mut partial = Partial::open(path, task_id)?;
        match transfer(agent, config, task_id, url, &mut partial, cancel, refresh) {
            // Checked again just before the rename, which would replace whatever is there;
            // if that fails, the whole video stays in the partial file for a rerun.
            Ok(()) => check_target().and_then(|_| partial.finish(target)),
            Err(Stop::Keep(e)) => Err(e), // closing the file releases the lock
            Err(Stop::Remove(e)) => {
                partial.remove();
                Err(e)
            }
        }
    };
    run().map_err(|e| e.with_task_id(task_id))
}

fn transfer(
    agent: &ureq::Agent,
    config: &Config,
    task_id: &str,
    mut url: String,
    partial: &mut Partial,
    cancel: &CancelToken,
    refresh: &mut dyn FnMut() -> Result<TaskStatus>,
) -> std::result::Result<(), Stop> {
    let mut refreshed = false;
    let mut stalls = 0u32;
    let mut backoff = Backoff::new(&config.retry, None).with_max_attempts(MAX_ATTEMPTS);
    loop {
        if cancel.is_cancelled() {
            return Err(Stop::Keep(Error::cancelled(task_id)));
        }
        let retry_after = match fetch(agent, config, &url, partial, cancel)? {
            Outcome::Done => return Ok(()),
            Outcome::Cancelled => return Err(Stop::Keep(Error::cancelled(task_id))),
            Outcome::Expired if !refreshed => {
                refreshed = true;
                // Same task, same video: the bytes so far stay and the fresh URL resumes them.
                let fresh = refresh().map_err(Stop::Keep)?;
                url = fresh.video_urls.first().cloned().ok_or_else(|| {
                    fail("the video URL expired and the task no longer lists one")
                })?;
                continue;
            }
            Outcome::Expired => {
                return Err(Stop::Keep(fail(
                    "the video URL was refused (403) again after fetching a fresh one",
                )))
            }
            Outcome::Stalled => {
                stalls += 1;
                if stalls >= config.max_download_stalls {
                    return Err(Stop::Keep(fail(format!(
                        "the video host stalled {stalls} times in a row (no data for {:?} each \
                         time; Config::max_download_stalls, Config::timeouts.receive); {} bytes \
                         kept in {} for a later resume",
                        config.timeouts.receive,
                        partial.len,
                        partial.path.display()
                    ))));
                }
                None
            }
            Outcome::Retry(retry_after) => {
                stalls = 0;
                retry_after
            }
        };
        match backoff.after_failure(retry_after, cancel) {
            Next::Retry => {}
            Next::Cancelled => return Err(Stop::Keep(Error::cancelled(task_id))),
            Next::GiveUp => {
                return Err(Stop::Keep(fail(format!(
                    "gave up after {} attempts; {} bytes kept in {} for a later resume",
                    backoff.failures(),
                    partial.len,
                    partial.path.display()
                ))))
            }
        }
    }
}

fn is_stall(e: &ureq::Error) -> bool {
    use ureq::Timeout as T;
    matches!(
        e,
        ureq::Error::Timeout(T::PerRead | T::RecvResponse | T::RecvBody | T::PerCall | T::Global)
    )
}

/// ureq wraps its own errors, timeouts among them, in the `io::Error` of a body read.
fn is_stalled_read(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(is_stall)
}

/// The video passes `Config::max_video_bytes`: declared so (`Some(size)`), or growing past it.
fn too_large(declared: Option<u64>, config: &Config) -> Error {
    let cap = config.max_video_bytes;
    fail(match declared {
        Some(size) => format!(
            "the video host declares {size} bytes, more than the {cap} allowed \
             (Config::max_video_bytes)"
        ),
        None => format!(
            "the video grew past the {cap} bytes allowed (Config::max_video_bytes); stopped"
        ),
    })
}

/// One GET of the video (following redirects by hand, so every hop is checked), appending to
/// the partial file from its end.
fn fetch(
    agent: &ureq::Agent,
    config: &Config,
    start_url: &str,
    partial: &mut Partial,
    cancel: &CancelToken,
) -> Result<Outcome> {
    let mut url = start_url.to_owned();
    let mut hops = 0;
    let response = loop {
        check_video_url(&url)?;
        // No Authorization header: the key never goes to the video host.
        let mut request = agent.get(&url).header("accept", "*/*");
        if partial.len > 0 {
            request = request.header("range", format!("bytes={}-", partial.len));
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(e) if is_stall(&e) => return Ok(Outcome::Stalled),
            Err(e) if transport::is_transient_error(&e) => return Ok(Outcome::Retry(None)),
            Err(e) => return Err(fail(format!("{e}"))),
        };
        let status = response.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(fail(format!("more than {MAX_REDIRECTS} redirects")));
            }
            let location = header(&response, "location")
                .ok_or_else(|| fail(format!("HTTP {status} redirect without a Location")))?;
            url = resolve(&url, &location).ok_or_else(|| {
                fail(format!(
                    "cannot resolve the redirect {:?} from {:?}",
                    crate::error::shorten(&location, 120),
                    crate::error::shorten(&url, 120)
                ))
            })?;
            continue;
        }
        break response;
    };
    let status = response.status().as_u16();
    let header = |name: &str| header(&response, name);
    let declared_len: Option<u64> = header("content-length").and_then(|v| v.trim().parse().ok());
    let total = match status {
        200 => {
            if partial.len > 0 {
                // The server ignored Range: start over.
                partial.restart()?;
            }
            declared_len
        }
        206 => {
            let (start, total) = header("content-range")
                .as_deref()
                .and_then(parse_content_range)
                .ok_or_else(|| fail("206 answer without a valid Content-Range"))?;
            if start != partial.len {
                partial.restart()?;
                return Ok(Outcome::Retry(None));
            }
            partial_total(start, total, declared_len)?
        }
        416 => {
            // The partial file is as long as the video, or longer (not this video's bytes).
            let total = header("content-range").as_deref().and_then(|v| {
                v.trim()
                    .strip_prefix("bytes */")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
            if partial.len > 0 && total == Some(partial.len) {
                return Ok(Outcome::Done);
            }
            partial.restart()?;
            return Ok(Outcome::Retry(None));
        }
        403 => return Ok(Outcome::Expired),
        s if transport::is_transient_status(s) => {
            return Ok(Outcome::Retry(transport::retry_after(&response)));
        }
        s => return Err(fail(format!("the video host answered HTTP {s}"))),
    };
    if let Some(t) = total.filter(|t| *t > config.max_video_bytes) {
        return Err(too_large(Some(t), config));
    }
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cancel.is_cancelled() {
            return Ok(Outcome::Cancelled);
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Dropped or stalled mid-body: resume with Range.
            Err(e) if is_stalled_read(&e) => return Ok(Outcome::Stalled),
            Err(_) => return Ok(Outcome::Retry(None)),
        };
        if partial.len.saturating_add(n as u64) > config.max_video_bytes {
            return Err(too_large(None, config));
        }
        partial.write(&buf[..n])?;
    }
    match total {
        Some(t) if partial.len < t => Ok(Outcome::Retry(None)),
        Some(t) if partial.len > t => Err(fail(format!(
            "received {} bytes, more than the {t} declared",
            partial.len
        ))),
        _ => Ok(Outcome::Done),
    }
}

/// A URL split as RFC 3986 section 3 does, fragment dropped (it is never sent).
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn split_url(url: &str) -> Parts<'_> {
    let url = url.split('#').next().unwrap_or("");
    // A scheme is letters, digits, `+-.` before the first `:`, and only when that `:` comes
    // before any `/?`: so `/b?from=https://x` is a path, not an absolute URL.
    let scheme_end = url.find([':', '/', '?']).filter(|&i| {
        url[i..].starts_with(':')
            && url[..i].starts_with(|c: char| c.is_ascii_alphabetic())
            && url[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (Some(&url[..i]), &url[i + 1..]),
        None => (None, url),
    };
    let (authority, rest) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?']).unwrap_or(r.len());
            (Some(&r[..end]), &r[end..])
        }
        None => (None, rest),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Parts {
        scheme,
        authority,
        path,
        query,
    }
}

/// RFC 3986 section 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').skip(usize::from(absolute)).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                if last {
                    out.push(""); // `a/b/..` ends as the directory `a/`
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Resolves a `Location` against the URL it came from (RFC 3986 section 5.2): absolute,
/// scheme-relative (`//host/x`), absolute-path (`/x?from=https://y`), relative (`../x`,
/// `x`) and query-only (`?x`) references. `None` when `base` is not an absolute URL.
pub(crate) fn resolve(base: &str, location: &str) -> Option<String> {
    let b = split_url(base.trim());
    let scheme = b.scheme?;
    let r = split_url(location.trim());
    let (scheme, authority, path, query) = if let Some(s) = r.scheme {
        (s, r.authority, remove_dot_segments(r.path), r.query)
    } else if r.authority.is_some() {
        (scheme, r.authority, remove_dot_segments(r.path), r.query)
    } else if r.path.is_empty() {
        (scheme, b.authority, b.path.to_owned(), r.query.or(b.query))
    } else if r.path.starts_with('/') {
        (scheme, b.authority, remove_dot_segments(r.path), r.query)
    } else {
        let merged = if b.authority.is_some() && b.path.is_empty() {
            format!("/{}", r.path)
        } else {
            let dir = b.path.rfind('/').map_or("", |i| &b.path[..=i]);
            format!("{dir}{}", r.path)
        };
        (scheme, b.authority, remove_dot_segments(&merged), r.query)
    };
    let mut out = format!("{scheme}:");
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://cdn.example.com/a.mp4",
            "http://127.0.0.1:8080/v.mp4",
            "http://localhost/v",
            "http://[::1]:9/v",
        ] {
            assert!(check_video_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://cdn.example.com/a.mp4",
            "ftp://x/y",
            "file:///etc/passwd",
            "http://127.0.0.1.evil.com/x",
            "http://user@evil.com/x",
        ] {
            assert!(check_video_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        // Numbers past u64 make the header invalid, never a wrapped or panicking number.
        assert_eq!(parse_content_range("bytes 99999999999999999999-1/*"), None);
        assert_eq!(parse_content_range("bytes 5-9/99999999999999999999"), None);
    }

    #[test]
    fn a_partial_answer_cannot_overflow_the_size() {
        assert_eq!(partial_total(5, None, Some(5)).unwrap(), Some(10));
        assert_eq!(
            partial_total(5, Some(10), Some(u64::MAX)).unwrap(),
            Some(10)
        );
        assert_eq!(partial_total(5, None, None).unwrap(), None);
        let err = partial_total(5, None, Some(u64::MAX)).unwrap_err();
        assert!(
            err.to_string().contains("impossible Content-Length"),
            "{err}"
        );
    }

    fn r(base: &str, location: &str) -> String {
        resolve(base, location).unwrap()
    }

    #[test]
    fn redirect_resolution() {
        let base = "http://a:1/x/y.mp4?sig=1";
        assert_eq!(r(base, "http://b:2/z"), "http://b:2/z");
        assert_eq!(r(base, "HTTPS://b/z#frag"), "HTTPS://b/z");
        assert_eq!(r(base, "/z.mp4"), "http://a:1/z.mp4");
        assert_eq!(r("https://a/x/y.mp4", "//b/z"), "https://b/z");
        assert_eq!(r(base, "z.mp4"), "http://a:1/x/z.mp4");
        assert_eq!(r(base, "../z.mp4"), "http://a:1/z.mp4");
        assert_eq!(r(base, "../../../z.mp4"), "http://a:1/z.mp4");
        assert_eq!(r(base, "./w/../z.mp4?q"), "http://a:1/x/z.mp4?q");
        assert_eq!(r(base, "?sig=2"), "http://a:1/x/y.mp4?sig=2");
        assert_eq!(r(base, ""), "http://a:1/x/y.mp4?sig=1");
        assert_eq!(r(base, ".."), "http://a:1/");
        assert_eq!(r("http://a", "z"), "http://a/z");
        // A `://` in the query does not make a relative reference absolute (issue 9.7).
        assert_eq!(
            r(base, "/b/v.mp4?from=https://cdn.example"),
            "http://a:1/b/v.mp4?from=https://cdn.example"
        );
        assert_eq!(
            r(base, "v.mp4?next=//evil/x"),
            "http://a:1/x/v.mp4?next=//evil/x"
        );
        // A colon after the first slash is part of a path, not a scheme.
        assert_eq!(r(base, "b/c:d"), "http://a:1/x/b/c:d");
        assert_eq!(resolve("/relative/base", "x"), None);
    }

    #[test]
    fn redirect_resolution_follows_rfc_3986_examples() {
        // RFC 3986 section 5.4.1 and 5.4.2.
        let base = "http://a/b/c/d;p?q";
        for (reference, expected) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
        ] {
            assert_eq!(r(base, reference), expected, "{reference:?}");
        }
    }

    #[test]
    fn partial_names_are_stable_and_per_task() {
        let a = partial_name(OsStr::new("v.mp4"), "task-1");
        assert_eq!(a, partial_name(OsStr::new("v.mp4"), "task-1"));
        assert_ne!(a, partial_name(OsStr::new("v.mp4"), "task-2"));
        let a = a.to_str().unwrap();
        assert!(a.starts_with(".v.mp4.") && a.ends_with(".part"), "{a}");
        assert_eq!(a.len(), "v.mp4".len() + PARTIAL_EXTRA);
        // FNV-1a of the empty string is the offset basis.
        assert_eq!(partial_name(OsStr::new("v"), ""), ".v.811c9dc5.part");
    }

    #[test]
    fn output_path_must_be_a_file_in_an_existing_dir() {
        assert!(check_output_path(Path::new("/no/such/dir/v.mp4")).is_err());
        assert!(check_output_path(Path::new("")).is_err());
        assert!(check_output_path(&std::env::temp_dir()).is_err());
        assert!(check_output_path(&std::env::temp_dir().join("v.mp4")).is_ok());
        assert!(check_output_path(Path::new("v.mp4")).is_ok());
        assert!(check_output_path(Path::new("v.mp4/")).is_err());
        let longest = "x".repeat(NAME_MAX - PARTIAL_EXTRA);
        assert!(check_output_path(Path::new(&longest)).is_ok());
        let err = check_output_path(Path::new(&format!("{longest}x"))).unwrap_err();
        assert!(err.to_string().contains("at most 240 bytes"), "{err}");
    }
}
