//! Downloading the video: streamed to a temporary file beside the target, synced, renamed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::retry::{self, Backoff, Next, RetryPolicy};
use crate::status::TaskStatus;
use crate::transport::{self, header};

/// Redirect hops followed per request.
const MAX_REDIRECTS: u32 = 5;
/// Attempts per download, counting resumed connections and transient failures.
const MAX_ATTEMPTS: u32 = 8;

fn fail(detail: impl Into<String>) -> Error {
    Error::Download {
        task_id: None,
        detail: detail.into(),
    }
}

/// The target path must name a file in an existing directory. Checked before submitting.
pub(crate) fn check_output_path(path: &Path) -> Result<()> {
    let allowed = "a file path in an existing directory";
    if path.as_os_str().is_empty() || path.file_name().is_none() || path.is_dir() {
        return Err(Error::invalid("output", path.display(), allowed));
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(Error::invalid(
            "output",
            path.display(),
            format!("{allowed}; {} does not exist", dir.display()),
        ));
    }
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
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

/// The temporary file, removed on drop unless persisted.
struct Partial {
    path: PathBuf,
    file: Option<File>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn io_error<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
        task_id: None,
    }
}

/// `bytes START-END/TOTAL` → (START, TOTAL if known). Numbers that do not fit a u64 make the
/// header invalid.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
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
fn partial_total(start: u64, total: Option<u64>, declared_len: Option<u64>) -> Result<Option<u64>> {
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
    /// The signed URL expired.
    Expired,
    /// The cancel token was triggered.
    Cancelled,
}

/// Downloads the first video URL of `status` to `target`. `refresh` fetches the task's status
/// again, for a fresh URL when the signed one expired.
pub(crate) fn download(
    agent: &ureq::Agent,
    policy: &RetryPolicy,
    status: &TaskStatus,
    target: &Path,
    cancel: &CancelToken,
    refresh: &mut dyn FnMut() -> Result<TaskStatus>,
) -> Result<u64> {
    check_output_path(target)?;
    let mut url = status
        .video_urls
        .first()
        .cloned()
        .ok_or_else(|| fail(format!("task is {} and has no video URL", status.state)))?;
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.{}.{:08x}.part",
        std::process::id(),
        (retry::random_fraction() * 1e9) as u64
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io_error("creating", &temp))?;
    let mut partial = Partial {
        path: temp,
        file: Some(file),
    };

    let mut written = 0u64;
    let mut refreshed = false;
    let mut backoff = Backoff::new(policy, None).with_max_attempts(MAX_ATTEMPTS);
    loop {
        if cancel.is_cancelled() {
            return Err(Error::cancelled(&status.task_id));
        }
        let file = partial.file.as_mut().expect("open until persisted");
        match fetch(agent, &url, file, &partial.path, &mut written, cancel)? {
            Outcome::Done => break,
            Outcome::Cancelled => return Err(Error::cancelled(&status.task_id)),
            Outcome::Expired if !refreshed => {
                refreshed = true;
                let fresh = refresh()?;
                url = fresh.video_urls.first().cloned().ok_or_else(|| {
                    fail("the video URL expired and the task no longer lists one")
                })?;
                written = 0;
                restart(file, &partial.path)?;
            }
            Outcome::Expired => {
                return Err(fail(
                    "the video URL was refused (403) again after fetching a fresh one",
                ))
            }
            Outcome::Retry(retry_after) => match backoff.after_failure(retry_after, cancel) {
                Next::Retry => {}
                Next::Cancelled => return Err(Error::cancelled(&status.task_id)),
                Next::GiveUp => {
                    return Err(fail(format!(
                        "gave up after {} attempts ({written} bytes received)",
                        backoff.failures()
                    )))
                }
            },
        }
    }
    let mut file = partial.file.take().expect("open until persisted");
    file.flush().map_err(io_error("writing", &partial.path))?;
    file.sync_all()
        .map_err(io_error("syncing", &partial.path))?;
    drop(file);
    if let Err(e) = fs::rename(&partial.path, target) {
        let _ = fs::remove_file(&partial.path);
        return Err(Error::Io {
            action: "renaming the download to",
            path: target.to_owned(),
            source: e,
            task_id: None,
        });
    }
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all(); // best effort: makes the rename durable on Linux
    }
    Ok(written)
}

fn restart(file: &mut File, path: &Path) -> Result<()> {
    use std::io::Seek;
    file.set_len(0).map_err(io_error("truncating", path))?;
    file.rewind().map_err(io_error("truncating", path))?;
    Ok(())
}

/// One GET of the video (following redirects by hand, so every hop is checked), appending to
/// `file` from `written` on.
fn fetch(
    agent: &ureq::Agent,
    start_url: &str,
    file: &mut File,
    path: &Path,
    written: &mut u64,
    cancel: &CancelToken,
) -> Result<Outcome> {
    let mut url = start_url.to_owned();
    let mut hops = 0;
    let response = loop {
        check_video_url(&url)?;
        // No Authorization header: the key never goes to the video host.
        let mut request = agent.get(&url).header("accept", "*/*");
        if *written > 0 {
            request = request.header("range", format!("bytes={written}-"));
        }
        let response = match request.call() {
            Ok(r) => r,
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
            url = resolve(&url, &location);
            continue;
        }
        break response;
    };
    let status = response.status().as_u16();
    let header = |name: &str| header(&response, name);
    let declared_len: Option<u64> = header("content-length").and_then(|v| v.trim().parse().ok());
    let total = match status {
        200 => {
            if *written > 0 {
                // The server ignored Range: start over.
                *written = 0;
                restart(file, path)?;
            }
            declared_len
        }
        206 => {
            let (start, total) = header("content-range")
                .as_deref()
                .and_then(parse_content_range)
                .ok_or_else(|| fail("206 answer without a valid Content-Range"))?;
            if start != *written {
                *written = 0;
                restart(file, path)?;
                return Ok(Outcome::Retry(None));
            }
            partial_total(start, total, declared_len)?
        }
        403 => return Ok(Outcome::Expired),
        s if transport::is_transient_status(s) => {
            return Ok(Outcome::Retry(transport::retry_after(&response)));
        }
        s => return Err(fail(format!("the video host answered HTTP {s}"))),
    };
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
            Err(_) => return Ok(Outcome::Retry(None)), // dropped mid-body: resume with Range
        };
        file.write_all(&buf[..n])
            .map_err(io_error("writing", path))?;
        *written += n as u64;
    }
    match total {
        Some(t) if *written < t => Ok(Outcome::Retry(None)),
        Some(t) if *written > t => Err(fail(format!(
            "received {written} bytes, more than the {t} declared",
            written = *written
        ))),
        _ => Ok(Outcome::Done),
    }
}

/// Resolves a `Location` against the URL it came from.
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if location.starts_with("//") {
        format!("{}{location}", &base[..scheme_end - 2])
    } else if location.starts_with('/') {
        format!("{}{location}", &base[..origin_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= origin_end)
            .map_or(base.len(), |i| i + 1);
        let prefix = &base[..dir_end];
        if dir_end == base.len() && !prefix.ends_with('/') {
            format!("{prefix}/{location}")
        } else {
            format!("{prefix}{location}")
        }
    }
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

    #[test]
    fn redirect_resolution() {
        assert_eq!(
            resolve("http://a:1/x/y.mp4", "http://b:2/z"),
            "http://b:2/z"
        );
        assert_eq!(resolve("http://a:1/x/y.mp4", "/z.mp4"), "http://a:1/z.mp4");
        assert_eq!(resolve("https://a/x/y.mp4", "//b/z"), "https://b/z");
        assert_eq!(resolve("http://a:1/x/y.mp4", "z.mp4"), "http://a:1/x/z.mp4");
    }

    #[test]
    fn output_path_must_be_a_file_in_an_existing_dir() {
        assert!(check_output_path(Path::new("/no/such/dir/v.mp4")).is_err());
        assert!(check_output_path(Path::new("")).is_err());
        assert!(check_output_path(&std::env::temp_dir()).is_err());
        assert!(check_output_path(&std::env::temp_dir().join("v.mp4")).is_ok());
        assert!(check_output_path(Path::new("v.mp4")).is_ok());
    }
}
