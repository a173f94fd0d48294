//! What every provider file shares: the pure request/response types and the lenient JSON
//! readers. No I/O and no provider knowledge here.

use crate::error::{Error, Result};
use crate::status::{State, TaskStatus};

/// HTTP method of a [`WireRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// A request to send, relative to the base URL. Pure data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WireRequest {
    pub method: Method,
    /// Path and query, starting with `/`, already percent-encoded.
    pub path: String,
    /// JSON body for POST requests.
    pub body: Option<JsonBody>,
}

/// A JSON body, possibly with a slot for an inline image. When `inline_image` is true the client
/// streams the `data:image/...;base64,...` text (which needs no JSON escaping) between `head` and
/// `tail`, so the image is never held in memory as base64 or JSON text. Otherwise `head` is the
/// whole body and `tail` is empty.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JsonBody {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    pub inline_image: bool,
}

/// Validated job parameters in provider-neutral form, ready to be written on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SubmitParams<'a> {
    /// The upstream Vidu model name, e.g. `"viduq2-pro"` or `"viduq1-classic"`.
    pub model: &'a str,
    /// The image URL; `None` means an inline data URI goes in the body's image slot.
    pub image_url: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub duration: Option<u32>,
    pub seed: Option<u64>,
    pub resolution: Option<&'a str>,
    pub movement_amplitude: Option<&'a str>,
    pub bgm: Option<bool>,
    pub callback_url: Option<&'a str>,
    pub payload: Option<&'a str>,
    pub audio: Option<bool>,
    pub voice_id: Option<&'a str>,
    pub is_rec: Option<bool>,
    pub off_peak: Option<bool>,
    pub watermark: Option<bool>,
    pub wm_position: Option<u32>,
    pub wm_url: Option<&'a str>,
    pub meta_data: Option<&'a str>,
    /// Extra JSON fields, merged where the provider keeps its generation parameters; checked
    /// for collisions with [`super::Spec::own_fields`] before.
    pub extra: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// The parsed answer to a submit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Submitted {
    pub task_id: String,
    /// The task as the submit answer described it, when it did (Vtrix, official API).
    pub status: Option<TaskStatus>,
}

/// The provider's description of an HTTP error, parsed from the body.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ApiError {
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

/// Task ids come from servers; they go into URL paths, so only a safe alphabet is accepted.
pub(crate) fn check_task_id(task_id: &str) -> Result<()> {
    let ok = !task_id.is_empty()
        && task_id.len() <= 256
        && task_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        // `.` and `..` would walk up the URL path.
        && task_id.bytes().any(|b| b != b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "task_id",
            task_id,
            "1 to 256 characters from A-Z a-z 0-9 - _ . : (not only dots)",
        ))
    }
}

/// Serializes a submit body. With an image URL the body is complete; without one, the image
/// slot is cut out: `head` ends right after the opening quote of the image string and `tail`
/// starts with its closing quote.
///
/// The slot is found by serializing twice with two different one-character images: the first
/// byte where the two outputs differ is the image, whatever the other fields contain.
pub(crate) fn json_body<'s, T: serde::Serialize>(
    image_url: Option<&'s str>,
    build: impl Fn(&'s str) -> T,
) -> JsonBody {
    // Plain structs of strings, numbers and bools always serialize.
    let write = |image: &'s str| serde_json::to_vec(&build(image)).expect("serializable body");
    if let Some(url) = image_url {
        return JsonBody {
            head: write(url),
            tail: Vec::new(),
            inline_image: false,
        };
    }
    let a = write("a");
    let b = write("b");
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .expect("the body contains the image");
    debug_assert!(a[at - 1] == b'"' && a[at + 1] == b'"');
    JsonBody {
        head: a[..at].to_vec(),
        tail: a[at + 1..].to_vec(),
        inline_image: true,
    }
}

/// A POST request with a JSON body.
pub(crate) fn post(path: impl Into<String>, body: JsonBody) -> WireRequest {
    WireRequest {
        method: Method::Post,
        path: path.into(),
        body: Some(body),
    }
}

/// A GET request.
pub(crate) fn get(path: impl Into<String>) -> WireRequest {
    WireRequest {
        method: Method::Get,
        path: path.into(),
        body: None,
    }
}

/// `path?k=v&k=v`, each value percent-encoded (every byte but the unreserved ones).
pub(crate) fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    let mut out = path.to_owned();
    for (i, (key, value)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The start of a body, for error messages: one line, at most 200 characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty body".to_owned();
    }
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::error::shorten(&one_line, 200)
}

pub(crate) fn protocol_error(
    operation: &'static str,
    task_id: Option<&str>,
    detail: String,
) -> Error {
    Error::Protocol {
        operation,
        task_id: task_id.map(str::to_owned),
        detail,
    }
}

/// Parses a body as JSON, or says that it is not JSON.
pub(crate) fn parse_json(
    operation: &'static str,
    task_id: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Value> {
    serde_json::from_slice(body).map_err(|e| {
        protocol_error(
            operation,
            task_id,
            format!("not JSON ({e}): {}", excerpt(body)),
        )
    })
}

/// A string or a number as text; `None` for anything else and for empty strings.
pub(crate) fn text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number, or a string holding one.
pub(crate) fn number(v: Option<&serde_json::Value>) -> Option<f64> {
    match v? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

/// A non-negative whole number, or a string holding one.
pub(crate) fn count(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Progress as a fraction in 0..=1, from a value on a scale of `full` (1 or 100).
pub(crate) fn progress(v: Option<&serde_json::Value>, full: f64) -> Option<f32> {
    number(v).map(|x| (x / full).clamp(0.0, 1.0) as f32)
}

/// An error field that is either a message string or a `{code, message}` object.
pub(crate) fn code_and_message(v: Option<&serde_json::Value>) -> (Option<String>, Option<String>) {
    match v {
        Some(serde_json::Value::Object(o)) => (
            text(o.get("code")).or_else(|| text(o.get("type"))),
            text(o.get("message")).or_else(|| text(o.get("msg"))),
        ),
        other => (None, text(other)),
    }
}

/// The request or trace id of an answer: `request_id` or `metadata.trace_id`.
pub(crate) fn request_id(v: &serde_json::Value) -> Option<String> {
    text(v.get("request_id")).or_else(|| text(v.pointer("/metadata/trace_id")))
}

/// The unified state for a provider state string, from a table of lower-case names.
pub(crate) fn map_state(raw: &str, table: &[(&str, State)]) -> State {
    let raw = raw.trim();
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(raw))
        .map_or(State::Unknown, |(_, s)| *s)
}

/// The error of a status answer that has no task state.
pub(crate) fn missing_state(task_id: &str, body: &[u8]) -> Error {
    protocol_error(
        "status",
        Some(task_id),
        format!("no task state in the answer: {}", excerpt(body)),
    )
}

/// The error of a submit answer that has no task id.
pub(crate) fn missing_task_id(body: &[u8]) -> Error {
    protocol_error(
        "submit",
        None,
        format!("no task id in the answer: {}", excerpt(body)),
    )
}

/// An [`ApiError`] from what a provider's error body gave; the message falls back to the body.
pub(crate) fn api_error(
    http_status: u16,
    body: &[u8],
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
) -> ApiError {
    let message = message.unwrap_or_else(|| {
        if body.iter().all(u8::is_ascii_whitespace) {
            format!("HTTP {http_status} with an empty body")
        } else {
            excerpt(body)
        }
    });
    ApiError {
        code,
        message,
        request_id,
    }
}

/// The JSON a body makes with `image` in its image slot (tests).
#[cfg(test)]
pub(crate) fn assembled(body: &JsonBody, image: &str) -> serde_json::Value {
    let mut full = body.head.clone();
    if body.inline_image {
        full.extend_from_slice(image.as_bytes());
    }
    full.extend_from_slice(&body.tail);
    serde_json::from_slice(&full).unwrap()
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_ids_are_checked_before_they_go_into_a_path() {
        for ok in [
            "t1",
            "d758n65e878c73cmdg20",
            "860000000000000001",
            "a.b:c-d_e",
        ] {
            assert!(super::check_task_id(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(257);
        for bad in ["", ".", "..", "a/b", "a?b", "a b", "%2e%2e", long.as_str()] {
            assert!(super::check_task_id(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[derive(serde::Serialize)]
    struct Body<'a> {
        prompt: &'a str,
        image: &'a str,
    }

    #[test]
    fn json_body_splits_at_the_image_whatever_the_prompt() {
        for prompt in ["", "a", "b", "\"a\"", "ab", "x\"\\a"] {
            let body = json_body(None, |image| Body { prompt, image });
            assert!(body.inline_image);
            let mut full = body.head.clone();
            full.extend_from_slice(b"data:image/png;base64,AAAA");
            full.extend_from_slice(&body.tail);
            let v: serde_json::Value = serde_json::from_slice(&full).unwrap();
            assert_eq!(v["image"], "data:image/png;base64,AAAA");
            assert_eq!(v["prompt"], prompt);
        }
        let body = json_body(Some("https://x/a.png"), |image| Body { prompt: "p", image });
        assert!(!body.inline_image && body.tail.is_empty());
        assert_eq!(body.head, br#"{"prompt":"p","image":"https://x/a.png"}"#);
    }

    #[test]
    fn lenient_values() {
        use serde_json::json;
        assert_eq!(text(Some(&json!("x"))), Some("x".into()));
        assert_eq!(text(Some(&json!(""))), None);
        assert_eq!(text(Some(&json!(4))), Some("4".into()));
        assert_eq!(text(Some(&json!(null))), None);
        assert_eq!(number(Some(&json!("0.5"))), Some(0.5));
        assert_eq!(number(Some(&json!("NaN"))), None);
        assert_eq!(count(Some(&json!("4"))), Some(4));
        assert_eq!(count(Some(&json!(-1))), None);
        assert_eq!(progress(Some(&json!(1.5)), 1.0), Some(1.0));
        assert_eq!(progress(Some(&json!("50")), 100.0), Some(0.5));
        assert_eq!(
            code_and_message(Some(&json!({"code": 7, "message": "m"}))),
            (Some("7".into()), Some("m".into()))
        );
        assert_eq!(
            code_and_message(Some(&json!("m"))),
            (None, Some("m".into()))
        );
        assert_eq!(excerpt(b"  \n"), "empty body");
        assert_eq!(excerpt(b"a\nb"), "a b");
        assert!(excerpt(&[b'x'; 1000]).len() < 300);
    }
}
