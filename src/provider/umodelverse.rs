//! UModelVerse (UCloud): `POST /v1/tasks/submit`, `GET /v1/tasks/status?task_id=<id>`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::wire::*;
use super::{Field, Spec};
use crate::auth::AuthScheme;
use crate::error::Result;
use crate::model::{q2, BodyLimits};
use crate::status::{State, TaskStatus};

pub(crate) const SPEC: Spec = Spec {
    name: "umodelverse",
    base_url: "https://api.umodelverse.ai",
    // The Vidu page shows the bare key; the general auth page shows Bearer.
    auth_scheme: AuthScheme::Bare,
    default_model: "viduq2-pro",
    models: &[q2("viduq2-pro"), q2("viduq2-turbo")],
    model_prefix: None,
    // No body limit documented: inline images up to the 50 MB file limit (a 67 MB body).
    body_limits: BodyLimits {
        max_body: None,
        max_decoded_image: None,
    },
    accepts: &[Field::Seed, Field::Bgm],
    own_fields: &[
        "vidu_type",
        "duration",
        "seed",
        "resolution",
        "movement_amplitude",
        "bgm",
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
    model: &'a str,
    input: Input<'a>,
    parameters: Parameters<'a>,
}

#[derive(Serialize)]
struct Input<'a> {
    first_frame_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
}

#[derive(Serialize)]
struct Parameters<'a> {
    vidu_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    movement_amplitude: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bgm: Option<bool>,
    /// Extra fields go with the generation parameters.
    #[serde(flatten)]
    extra: Option<&'a Map<String, Value>>,
}

pub(crate) fn submit_request(p: &SubmitParams<'_>) -> WireRequest {
    let body = json_body(p.image_url, |image| Submit {
        model: p.model,
        input: Input {
            first_frame_url: image,
            prompt: p.prompt,
        },
        parameters: Parameters {
            vidu_type: "img2video",
            duration: p.duration,
            seed: p.seed,
            resolution: p.resolution,
            movement_amplitude: p.movement_amplitude,
            bgm: p.bgm,
            extra: p.extra,
        },
    });
    post("/v1/tasks/submit", body)
}

pub(crate) fn parse_submit(body: &[u8]) -> Result<Submitted> {
    let v = parse_json("submit", None, body)?;
    let task_id = text(v.pointer("/output/task_id")).ok_or_else(|| missing_task_id(body))?;
    Ok(Submitted {
        task_id,
        status: None,
    })
}

pub(crate) fn status_request(task_id: &str) -> WireRequest {
    get(format!("/v1/tasks/status?task_id={task_id}"))
}

const STATES: &[(&str, State)] = &[
    ("pending", State::Queued),
    ("running", State::Running),
    ("success", State::Succeeded),
    ("failure", State::Failed),
    ("expired", State::Expired),
];

pub(crate) fn parse_status(task_id: &str, body: &[u8]) -> Result<TaskStatus> {
    let v = parse_json("status", Some(task_id), body)?;
    let output = v.get("output").unwrap_or(&Value::Null);
    let raw_state = text(output.get("task_status")).ok_or_else(|| missing_state(task_id, body))?;
    let video_urls = match output.get("urls") {
        Some(Value::Array(urls)) => urls.iter().filter_map(|u| text(Some(u))).collect(),
        Some(Value::String(u)) if !u.is_empty() => vec![u.clone()],
        _ => Vec::new(),
    };
    Ok(TaskStatus {
        task_id: task_id.to_owned(),
        state: map_state(&raw_state, STATES),
        raw_state,
        video_urls,
        error_code: text(output.get("error_code")),
        error_message: text(output.get("error_message")),
        cost: text(v.pointer("/usage/cost")),
        request_id: request_id(&v),
        ..TaskStatus::default()
    })
}

pub(crate) fn parse_error(http_status: u16, body: &[u8]) -> ApiError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (code, message) = match v.get("error") {
        Some(e @ Value::Object(_)) => code_and_message(Some(e)),
        Some(e @ Value::String(_)) => (text(v.get("code")), text(Some(e))),
        _ => (text(v.get("code")), text(v.get("message"))),
    };
    api_error(http_status, body, code, message, request_id(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde_json::json;

    #[test]
    fn submit_matches_the_protocol_sample() {
        let r = submit_request(&SubmitParams {
            model: "viduq2-pro",
            image_url: Some("https://example.com/cat.jpg"),
            prompt: Some("make it dance."),
            duration: Some(5),
            seed: Some(0),
            resolution: Some("1080p"),
            movement_amplitude: Some("auto"),
            bgm: Some(true),
            ..SubmitParams::default()
        });
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/v1/tasks/submit");
        let body = r.body.unwrap();
        assert!(!body.inline_image && body.tail.is_empty());
        let expected = json!({
          "model": "viduq2-pro",
          "input": {"first_frame_url": "https://example.com/cat.jpg", "prompt": "make it dance."},
          "parameters": {"vidu_type": "img2video", "duration": 5, "seed": 0,
                         "resolution": "1080p", "movement_amplitude": "auto", "bgm": true}
        });
        assert_eq!(assembled(&body, ""), expected);
    }

    #[test]
    fn submit_omits_unset_fields_and_ignores_callback_and_payload() {
        let r = submit_request(&SubmitParams {
            model: "viduq2-turbo",
            image_url: Some("https://e/x.png"),
            callback_url: Some("https://e/hook"),
            payload: Some("p"),
            ..SubmitParams::default()
        });
        let expected = json!({
            "model": "viduq2-turbo",
            "input": {"first_frame_url": "https://e/x.png"},
            "parameters": {"vidu_type": "img2video"}
        });
        assert_eq!(assembled(&r.body.unwrap(), ""), expected);
    }

    #[test]
    fn inline_image_slot() {
        let uri = "data:image/png;base64,AAAA";
        for prompt in ["make it dance.", "a", "b", "\"a\""] {
            let r = submit_request(&SubmitParams {
                model: "viduq2-pro",
                prompt: Some(prompt),
                ..SubmitParams::default()
            });
            let body = r.body.unwrap();
            assert!(body.inline_image);
            assert!(body.head.ends_with(b"\"") && body.tail.starts_with(b"\""));
            let v = assembled(&body, uri);
            assert_eq!(v["input"]["first_frame_url"], uri);
            assert_eq!(v["input"]["prompt"], prompt);
        }
    }

    #[test]
    fn submit_answer() {
        let s = parse_submit(br#"{"output": {"task_id": "task_id"}, "request_id": "request_id"}"#)
            .unwrap();
        assert_eq!(s.task_id, "task_id");
        assert_eq!(s.status, None);
        for bad in [
            &br#"{"output": {"task_id": ""}}"#[..],
            b"{}",
            b"[1]",
            b"<html>",
            b"",
        ] {
            match parse_submit(bad).unwrap_err() {
                Error::Protocol {
                    operation, task_id, ..
                } => {
                    assert_eq!((operation, task_id), ("submit", None))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn status_request_path() {
        let r = status_request("t-1");
        assert_eq!(
            (r.method, r.path.as_str(), r.body),
            (Method::Get, "/v1/tasks/status?task_id=t-1", None)
        );
    }

    #[test]
    fn status_samples() {
        let protocol = br#"{
          "output": {"task_id": "t1", "task_status": "Success",
                     "urls": ["https://cdn.example.com/out.mp4"],
                     "submit_time": 1756959000, "finish_time": 1756959050, "error_message": ""},
          "usage": {"duration": 5}, "request_id": "r1"}"#;
        assert_eq!(
            parse_status("t1", protocol).unwrap(),
            TaskStatus {
                task_id: "t1".into(),
                state: State::Succeeded,
                raw_state: "Success".into(),
                video_urls: vec!["https://cdn.example.com/out.mp4".into()],
                request_id: Some("r1".into()),
                ..TaskStatus::default()
            }
        );
        let seed = br#"{"output": {"task_id": "task_id", "task_status": "Success",
            "urls": ["https://xxxxx/xxxx.mp4"], "submit_time": 1756959000,
            "finish_time": 1756959050}, "usage": {"duration": 5}, "request_id": ""}"#;
        let s = parse_status("task_id", seed).unwrap();
        assert_eq!(s.video_urls, ["https://xxxxx/xxxx.mp4"]);
        assert_eq!(s.request_id, None);
        let failed =
            br#"{"output": {"task_status": "Failure", "error_message": "sensitive content"}}"#;
        let s = parse_status("t", failed).unwrap();
        assert_eq!(
            (s.state, s.error_message.as_deref()),
            (State::Failed, Some("sensitive content"))
        );
    }

    #[test]
    fn states() {
        for (raw, state) in [
            ("Pending", State::Queued),
            ("Running", State::Running),
            ("Success", State::Succeeded),
            ("Failure", State::Failed),
            ("Expired", State::Expired),
            ("RUNNING", State::Running),
            ("success", State::Succeeded),
            ("Paused", State::Unknown),
        ] {
            let body = json!({"output": {"task_status": raw}}).to_string();
            let s = parse_status("t", body.as_bytes()).unwrap();
            assert_eq!((s.state, s.raw_state.as_str()), (state, raw));
        }
    }

    #[test]
    fn malformed_status() {
        for bad in [
            &b"not json"[..],
            b"",
            b"{\"output\": {\"task_status\": \"Run",
            b"{}",
            br#"{"output": {}}"#,
            b"null",
        ] {
            match parse_status("t9", bad).unwrap_err() {
                Error::Protocol {
                    operation,
                    task_id,
                    detail,
                } => {
                    assert_eq!((operation, task_id.as_deref()), ("status", Some("t9")));
                    assert!(!detail.is_empty());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn errors() {
        let e = parse_error(
            400,
            br#"{"error": {"type": "invalid_request_error", "code": "param_error", "message": "bad duration"}, "request_id": "r9"}"#,
        );
        assert_eq!(
            e,
            ApiError {
                code: Some("param_error".into()),
                message: "bad duration".into(),
                request_id: Some("r9".into())
            }
        );
        let e = parse_error(
            401,
            br#"{"error": {"type": "auth_error", "message": "no key"}}"#,
        );
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("auth_error"), "no key")
        );
        let e = parse_error(
            429,
            br#"{"code": "rate_limit_error", "message": "slow down"}"#,
        );
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("rate_limit_error"), "slow down")
        );
        let e = parse_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(
            (e.code, e.message.as_str()),
            (None, "<html>Bad Gateway</html>")
        );
        assert_eq!(parse_error(504, b"").message, "HTTP 504 with an empty body");
    }
}
