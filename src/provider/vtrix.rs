//! The Vtrix gateway: `POST /model/v1/generation`, `GET /model/v1/generation/task/<id>`.
//! The customer-facing model id goes at the top, the upstream model and every generation
//! parameter inside `input[0].params`. No seed, bgm or payload; no remote cancel.

use serde::Serialize;
use serde_json::{Map, Value};

use super::wire::*;
use super::{Field, Spec};
use crate::auth::AuthScheme;
use crate::error::Result;
use crate::model::{q1, BodyLimits};
use crate::status::{State, TaskStatus};

/// The customer-facing prefix Vtrix puts before the upstream model name.
pub(crate) const MODEL_PREFIX: &str = "vidu-cn-img2video-";

pub(crate) const SPEC: Spec = Spec {
    name: "vtrix",
    base_url: "https://cloud.vtrix.ai",
    auth_scheme: AuthScheme::Bearer,
    default_model: "viduq1-classic",
    models: &[q1("viduq1-classic")],
    model_prefix: Some(MODEL_PREFIX),
    body_limits: BodyLimits {
        max_body: Some(20 * 1024 * 1024),
        max_decoded_image: None,
    },
    accepts: &[Field::CallbackUrl],
    own_fields: &[
        "model",
        "images",
        "prompt",
        "duration",
        "resolution",
        "movement_amplitude",
        "callback_url",
    ],
    max_payload_chars: 0,
    request_id_headers: &["x-request-id"],
    submit_request,
    parse_submit,
    status_request,
    parse_status,
    parse_error,
    cancel_request: None,
    task_list: None,
    credits: None,
};

#[derive(Serialize)]
struct Submit<'a> {
    model: String,
    input: [Item<'a>; 1],
}

#[derive(Serialize)]
struct Item<'a> {
    params: Params<'a>,
}

#[derive(Serialize)]
struct Params<'a> {
    model: &'a str,
    images: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    movement_amplitude: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
    /// Extra fields go with the generation parameters.
    #[serde(flatten)]
    extra: Option<&'a Map<String, Value>>,
}

pub(crate) fn submit_request(p: &SubmitParams<'_>) -> WireRequest {
    let body = json_body(p.image_url, |image| Submit {
        model: format!("{MODEL_PREFIX}{}", p.model),
        input: [Item {
            params: Params {
                model: p.model,
                images: [image],
                prompt: p.prompt,
                duration: p.duration,
                resolution: p.resolution,
                movement_amplitude: p.movement_amplitude,
                callback_url: p.callback_url,
                extra: p.extra,
            },
        }],
    });
    post("/model/v1/generation", body)
}

/// The submit answer is the task object itself: its id, and its status when it has one.
pub(crate) fn parse_submit(body: &[u8]) -> Result<Submitted> {
    let v = parse_json("submit", None, body)?;
    let task_id = text(v.get("id")).ok_or_else(|| missing_task_id(body))?;
    let status = task_status(&task_id, &v);
    Ok(Submitted { task_id, status })
}

pub(crate) fn status_request(task_id: &str) -> WireRequest {
    get(format!("/model/v1/generation/task/{task_id}"))
}

const STATES: &[(&str, State)] = &[
    ("pending", State::Queued),
    ("queued", State::Queued),
    ("in_progress", State::Running),
    ("processing", State::Running),
    ("running", State::Running),
    ("completed", State::Succeeded),
    ("succeeded", State::Succeeded),
    ("failed", State::Failed),
    ("cancelled", State::Cancelled),
    ("canceled", State::Cancelled),
    ("expired", State::Expired),
];

pub(crate) fn parse_status(task_id: &str, body: &[u8]) -> Result<TaskStatus> {
    let v = parse_json("status", Some(task_id), body)?;
    task_status(task_id, &v).ok_or_else(|| missing_state(task_id, body))
}

/// The task object as a status; `None` when it has no `status`.
fn task_status(task_id: &str, v: &Value) -> Option<TaskStatus> {
    let raw_state = text(v.get("status"))?;
    let mut video_urls = Vec::new();
    for item in v
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for content in item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let is_video = content
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| t.eq_ignore_ascii_case("video"));
            if let Some(url) = text(content.get("url")).filter(|_| is_video) {
                video_urls.push(url);
            }
        }
    }
    let (error_code, error_message) = code_and_message(v.get("error"));
    Some(TaskStatus {
        task_id: task_id.to_owned(),
        state: map_state(&raw_state, STATES),
        raw_state,
        progress: progress(v.get("progress"), 1.0),
        video_urls,
        error_code,
        error_message,
        cost: text(v.pointer("/usage/cost")),
        request_id: request_id(v),
        ..TaskStatus::default()
    })
}

pub(crate) fn parse_error(http_status: u16, body: &[u8]) -> ApiError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (code, message) = match v.get("error") {
        Some(e @ (Value::Object(_) | Value::String(_))) => code_and_message(Some(e)),
        _ => (None, None),
    };
    api_error(
        http_status,
        body,
        code.or_else(|| text(v.get("code"))),
        message.or_else(|| text(v.get("message"))),
        request_id(&v),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde_json::json;

    #[test]
    fn submit_matches_the_protocol_sample() {
        let r = submit_request(&SubmitParams {
            model: "viduq1-classic",
            image_url: Some("https://example.com/cat.jpg"),
            prompt: Some("the cat turns its head"),
            duration: Some(5),
            resolution: Some("1080p"),
            movement_amplitude: Some("auto"),
            callback_url: Some("https://example.com/hook"),
            ..SubmitParams::default()
        });
        assert_eq!(
            (r.method, r.path.as_str()),
            (Method::Post, "/model/v1/generation")
        );
        let expected = json!({
          "model": "vidu-cn-img2video-viduq1-classic",
          "input": [{"params": {
              "model": "viduq1-classic",
              "images": ["https://example.com/cat.jpg"],
              "prompt": "the cat turns its head",
              "duration": 5,
              "resolution": "1080p",
              "movement_amplitude": "auto",
              "callback_url": "https://example.com/hook"
          }}]
        });
        assert_eq!(assembled(&r.body.unwrap(), ""), expected);
    }

    #[test]
    fn submit_never_sends_seed_bgm_or_payload() {
        let r = submit_request(&SubmitParams {
            model: "viduq1-classic",
            image_url: Some("https://e/x.png"),
            seed: Some(3),
            bgm: Some(true),
            payload: Some("p"),
            ..SubmitParams::default()
        });
        let expected = json!({
            "model": "vidu-cn-img2video-viduq1-classic",
            "input": [{"params": {"model": "viduq1-classic", "images": ["https://e/x.png"]}}]
        });
        assert_eq!(assembled(&r.body.unwrap(), ""), expected);
    }

    #[test]
    fn inline_image_slot() {
        let uri = "data:image/png;base64,AAAA";
        for prompt in ["a", "b", "viduq1-classic", "\"a\"]}"] {
            let r = submit_request(&SubmitParams {
                model: "viduq1-classic",
                prompt: Some(prompt),
                ..SubmitParams::default()
            });
            let body = r.body.unwrap();
            assert!(
                body.inline_image && body.head.ends_with(b"\"") && body.tail.starts_with(b"\"")
            );
            let v = assembled(&body, uri);
            assert_eq!(v["input"][0]["params"]["images"], json!([uri]));
            assert_eq!(v["input"][0]["params"]["prompt"], prompt);
        }
    }

    const SAMPLE: &[u8] = br#"{
      "id": "d758n65e878c73cmdg20",
      "status": "completed",
      "model": "vidu-cn-img2video-viduq1-classic",
      "created_at": 1760000000,
      "progress": 1.0,
      "output": [{"content": [{"type": "video", "url": "https://cdn.example.com/out.mp4", "jobId": "9025"}]}],
      "usage": {"cost": "0.30", "discount": 0},
      "metadata": {}
    }"#;

    #[test]
    fn status_sample() {
        let expected = TaskStatus {
            task_id: "d758n65e878c73cmdg20".into(),
            state: State::Succeeded,
            raw_state: "completed".into(),
            progress: Some(1.0),
            video_urls: vec!["https://cdn.example.com/out.mp4".into()],
            cost: Some("0.30".into()),
            ..TaskStatus::default()
        };
        assert_eq!(
            parse_status("d758n65e878c73cmdg20", SAMPLE).unwrap(),
            expected
        );
        let s = parse_submit(SAMPLE).unwrap();
        assert_eq!(s.task_id, "d758n65e878c73cmdg20");
        assert_eq!(s.status, Some(expected));
    }

    #[test]
    fn status_request_path() {
        let r = status_request("d758n65e878c73cmdg20");
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/model/v1/generation/task/d758n65e878c73cmdg20");
    }

    #[test]
    fn submit_without_status_or_id() {
        let s = parse_submit(br#"{"id": "abc"}"#).unwrap();
        assert_eq!((s.task_id.as_str(), s.status), ("abc", None));
        for bad in [
            &br#"{"id": ""}"#[..],
            br#"{"status": "pending"}"#,
            b"oops",
            b"",
        ] {
            assert!(matches!(
                parse_submit(bad),
                Err(Error::Protocol {
                    operation: "submit",
                    task_id: None,
                    ..
                })
            ));
        }
    }

    #[test]
    fn lenient_fields() {
        let body = br#"{"status": "in_progress", "progress": "0.5", "usage": {"cost": 0.3},
            "output": [{"content": [{"type": "image", "url": "https://x/cover.jpg"},
                                    {"url": "https://x/a.mp4"}, {"type": "VIDEO", "url": "https://x/b.mp4"},
                                    {"type": "text", "text": "hi"}]}, {"content": null}, 7],
            "metadata": {"trace_id": "tr"}, "extra": {"ignored": true}}"#;
        let s = parse_status("t", body).unwrap();
        assert_eq!(s.state, State::Running);
        assert_eq!(s.progress, Some(0.5));
        assert_eq!(s.cost.as_deref(), Some("0.3"));
        assert_eq!(s.video_urls, ["https://x/a.mp4", "https://x/b.mp4"]);
        assert_eq!(s.request_id.as_deref(), Some("tr"));
        let s = parse_status("t", br#"{"status": "processing", "progress": 7}"#).unwrap();
        assert_eq!(s.progress, Some(1.0));
        let s = parse_status("t", br#"{"status": "failed", "error": "upstream timeout"}"#).unwrap();
        assert_eq!(
            (s.state, s.error_code, s.error_message.as_deref()),
            (State::Failed, None, Some("upstream timeout"))
        );
        let s = parse_status(
            "t",
            br#"{"status": "failed", "error": {"code": "002014001", "message": "Video generation failed"}}"#,
        )
        .unwrap();
        assert_eq!(s.error_code.as_deref(), Some("002014001"));
        assert_eq!(s.error_message.as_deref(), Some("Video generation failed"));
    }

    #[test]
    fn states() {
        for (raw, state) in [
            ("pending", State::Queued),
            ("queued", State::Queued),
            ("in_progress", State::Running),
            ("processing", State::Running),
            ("running", State::Running),
            ("completed", State::Succeeded),
            ("succeeded", State::Succeeded),
            ("failed", State::Failed),
            ("cancelled", State::Cancelled),
            ("canceled", State::Cancelled),
            ("expired", State::Expired),
            ("Completed", State::Succeeded),
            ("IN_PROGRESS", State::Running),
            ("warming_up", State::Unknown),
        ] {
            let body = json!({"status": raw}).to_string();
            let s = parse_status("t", body.as_bytes()).unwrap();
            assert_eq!((s.state, s.raw_state.as_str()), (state, raw));
        }
    }

    #[test]
    fn malformed_status() {
        for bad in [
            &b"<html>502</html>"[..],
            b"",
            &SAMPLE[..40],
            b"{}",
            br#"{"status": null}"#,
            b"[]",
        ] {
            match parse_status("t9", bad).unwrap_err() {
                Error::Protocol {
                    operation, task_id, ..
                } => {
                    assert_eq!((operation, task_id.as_deref()), ("status", Some("t9")))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn errors() {
        let e = parse_error(401, br#"{"error": "invalid api key"}"#);
        assert_eq!((e.code, e.message.as_str()), (None, "invalid api key"));
        let e = parse_error(
            403,
            br#"{"error": {"code": "insufficient_balance", "message": "top up"}}"#,
        );
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("insufficient_balance"), "top up")
        );
        let e = parse_error(429, br#"{"message": "rate limited"}"#);
        assert_eq!(e.message, "rate limited");
        let e = parse_error(500, b"Internal Server Error");
        assert_eq!(e.message, "Internal Server Error");
        assert_eq!(parse_error(500, b"").message, "HTTP 500 with an empty body");
        assert_eq!(parse_error(500, b"{}").message, "{}");
    }
}
