//! The video origin: `/videos/<task id>.mp4?sig=<n>` with ranges, expiry, cut bodies and, with
//! [`super::EmulatorOptions::video_size`], a large synthetic video streamed as it is written.

use super::faults::{Effect, Route};
use super::http::{After, Body, Request, Response};
use super::routes::replacement;
use super::tasks::{Outcome, Phase};
use super::{RecordedRequest, Shared, SAMPLE_MP4};

/// Answers one request of the video origin and records it.
pub(crate) fn handle(shared: &Shared, req: Request) -> Response {
    let response = answer(shared, &req);
    let mut state = shared.lock();
    if req.method == "GET" {
        state.stats.video_gets += 1;
    }
    if state.stats.video_requests.len() >= super::MAX_RECORDED_VIDEO_REQUESTS {
        return response;
    }
    let path = if req.query.is_empty() {
        req.path
    } else {
        format!("{}?{}", req.path, req.query)
    };
    state.stats.video_requests.push(RecordedRequest {
        method: req.method,
        path,
        headers: req.headers,
        status: response.status,
    });
    response
}

fn not_found() -> Response {
    Response::new(404, "text/plain", "not found\n")
}

/// `len` bytes of the served video from `start` on.
fn body(shared: &Shared, start: u64, len: u64) -> Body {
    match shared.options.video_size {
        Some(_) => Body::Synthetic { offset: start, len },
        // The sample is a few KB: these casts cannot truncate.
        None => Body::Static(&SAMPLE_MP4[start as usize..(start + len) as usize]),
    }
}

fn answer(shared: &Shared, req: &Request) -> Response {
    let Some(id) = req
        .path
        .strip_prefix("/videos/")
        .and_then(|rest| rest.strip_suffix(".mp4"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
    else {
        return not_found();
    };
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "method not allowed\n")
            .with_header("Allow", "GET, HEAD");
    }
    let sig: Option<u32> = req.query_param("sig").and_then(|s| s.parse().ok());
    let effect = {
        let mut state = shared.lock();
        let in_flight = state.tasks.in_flight();
        let state = &mut *state;
        let Some(task) = state.tasks.get_mut(id) else {
            return not_found();
        };
        if task.phase != Phase::Done(Outcome::Success) {
            return not_found();
        }
        if sig != Some(task.sig) {
            return expired();
        }
        let effect = state
            .faults
            .pick(Route::Video, task.api.name(), Some(task.view()), in_flight);
        if effect == Some(Effect::Expire) {
            // This URL has "expired"; the next status poll has a new one.
            task.sig = task.sig.saturating_add(1);
            return expired();
        }
        effect
    };
    if let Some(answer) = effect.as_ref().and_then(|e| replacement(shared, None, e)) {
        return answer;
    }
    if effect == Some(Effect::Reset) {
        return Response::reset();
    }
    let total = shared.video_len();
    let cut = req.method == "GET" && effect == Some(Effect::CutBody);
    let ranged = !cut && effect != Some(Effect::IgnoreRange);
    let mut response = match req.header("range").filter(|_| ranged) {
        None => Response::with_body(200, "video/mp4", body(shared, 0, total)),
        Some(range) => match parse_range(range, total) {
            Range::Ignore => Response::with_body(200, "video/mp4", body(shared, 0, total)),
            Range::Unsatisfiable => Response::new(416, "text/plain", "range not satisfiable\n")
                .with_header("Content-Range", format!("bytes */{total}")),
            Range::Part(start, end) => {
                Response::with_body(206, "video/mp4", body(shared, start, end - start + 1))
                    .with_header("Content-Range", format!("bytes {start}-{end}/{total}"))
            }
        },
    };
    response = response.with_header("Accept-Ranges", "bytes");
    if cut {
        response.after = After::CutBody(response.body.len() / 2);
    }
    response
}

fn expired() -> Response {
    Response::new(
        403,
        "application/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>Request has expired</Message></Error>\n",
    )
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Not a single byte range we understand: send the whole body (RFC 9110 allows it).
    Ignore,
    Unsatisfiable,
    /// Inclusive bounds.
    Part(u64, u64),
}

/// Parses `bytes=N-`, `bytes=N-M` and `bytes=-N`.
fn parse_range(header: &str, total: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (false, _) => {
            let Some(start) = parse(a) else {
                return Range::Ignore;
            };
            let end = if b.is_empty() {
                total.saturating_sub(1)
            } else {
                match parse(b) {
                    Some(e) if e >= start => e.min(total.saturating_sub(1)),
                    _ => return Range::Ignore,
                }
            };
            if start >= total {
                Range::Unsatisfiable
            } else {
                Range::Part(start, end)
            }
        }
        (true, false) => match parse(b) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if total > 0 => Range::Part(total.saturating_sub(n), total - 1),
            _ => Range::Ignore,
        },
        (true, true) => Range::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(parse_range("bytes=10-", 100), Range::Part(10, 99));
        assert_eq!(parse_range("bytes=10-19", 100), Range::Part(10, 19));
        assert_eq!(parse_range("bytes=10-500", 100), Range::Part(10, 99));
        assert_eq!(parse_range("bytes=-10", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), Range::Part(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=1-2,4-5", 100), Range::Ignore);
        assert_eq!(parse_range("items=1-2", 100), Range::Ignore);
        assert_eq!(parse_range("bytes=x-", 100), Range::Ignore);
        assert_eq!(parse_range("bytes=5-2", 100), Range::Ignore);
    }
}
