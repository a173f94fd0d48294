//! The official Vidu platform API: `POST /ent/v2/img2video`,
//! `GET /ent/v2/tasks/<id>/creations`, `POST /ent/v2/tasks/<id>/cancel`.

use serde::Serialize;
use serde_json::Value;

use super::*;
use crate::status::State;

#[derive(Serialize)]
struct Submit<'a> {
    model: &'a str,
    images: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
}

pub(crate) fn submit_request(p: &SubmitParams<'_>) -> WireRequest {
    let body = json_body(p.image_url, |image| Submit {
        model: p.model,
        images: [image],
        prompt: p.prompt,
        duration: p.duration,
        seed: p.seed,
        resolution: p.resolution,
        movement_amplitude: p.movement_amplitude,
        bgm: p.bgm,
        payload: p.payload,
        callback_url: p.callback_url,
    });
    post("/ent/v2/img2video", body)
}

/// The submit answer echoes the task: `task_id`, `state`, `credits`, ...
pub(crate) fn parse_submit(body: &[u8]) -> Result<Submitted> {
    let v = parse_json("submit", None, body)?;
    let task_id = text(v.get("task_id")).ok_or_else(|| missing_task_id(body))?;
    let status = task_status(&task_id, &v);
    Ok(Submitted { task_id, status })
}

pub(crate) fn status_request(task_id: &str) -> WireRequest {
    get(format!("/ent/v2/tasks/{task_id}/creations"))
}

const STATES: &[(&str, State)] = &[
    ("created", State::Queued),
    ("queueing", State::Queued),
    ("processing", State::Running),
    ("success", State::Succeeded),
    ("failed", State::Failed),
    ("cancelled", State::Cancelled),
    ("canceled", State::Cancelled),
];

pub(crate) fn parse_status(task_id: &str, body: &[u8]) -> Result<TaskStatus> {
    let v = parse_json("status", Some(task_id), body)?;
    task_status(task_id, &v).ok_or_else(|| missing_state(task_id, body))
}

/// The task object as a status; `None` when it has no `state`.
fn task_status(task_id: &str, v: &Value) -> Option<TaskStatus> {
    let raw_state = text(v.get("state"))?;
    let creations = v.get("creations").and_then(Value::as_array);
    let creations = creations.map(Vec::as_slice).unwrap_or_default();
    Some(TaskStatus {
        task_id: task_id.to_owned(),
        state: map_state(&raw_state, STATES),
        raw_state,
        progress: progress(v.get("progress"), 100.0),
        video_urls: creations
            .iter()
            .filter_map(|c| text(c.get("url")))
            .collect(),
        cover_url: creations.first().and_then(|c| text(c.get("cover_url"))),
        error_code: text(v.get("err_code")),
        error_message: text(v.get("err_msg")).or_else(|| text(v.get("message"))),
        credits: count(v.get("credits")),
        request_id: request_id(v),
        ..TaskStatus::default()
    })
}

pub(crate) fn cancel_request(task_id: &str) -> WireRequest {
    #[derive(Serialize)]
    struct Cancel<'a> {
        id: &'a str,
    }
    let body = json_body(Some(""), |_| Cancel { id: task_id });
    post(format!("/ent/v2/tasks/{task_id}/cancel"), body)
}

pub(crate) fn parse_error(http_status: u16, body: &[u8]) -> ApiError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = text(v.get("reason")).or_else(|| text(v.get("code")));
    api_error(
        http_status,
        body,
        code,
        text(v.get("message")),
        request_id(&v),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn submit_matches_the_protocol_sample() {
        let r = submit_request(&SubmitParams {
            model: "viduq2-pro",
            image_url: Some("https://example.com/cat.jpg"),
            prompt: Some("the cat turns its head"),
            duration: Some(5),
            seed: Some(0),
            resolution: Some("720p"),
            movement_amplitude: Some("auto"),
            bgm: Some(false),
            payload: Some(""),
            callback_url: Some("https://example.com/hook"),
        });
        assert_eq!(
            (r.method, r.path.as_str()),
            (Method::Post, "/ent/v2/img2video")
        );
        let expected = json!({
          "model": "viduq2-pro",
          "images": ["https://example.com/cat.jpg"],
          "prompt": "the cat turns its head",
          "duration": 5,
          "seed": 0,
          "resolution": "720p",
          "movement_amplitude": "auto",
          "bgm": false,
          "payload": "",
          "callback_url": "https://example.com/hook"
        });
        assert_eq!(assembled(&r.body.unwrap(), ""), expected);
    }

    #[test]
    fn submit_omits_unset_fields() {
        let r = submit_request(&SubmitParams {
            model: "viduq3-pro",
            image_url: Some("https://e/x.webp"),
            ..SubmitParams::default()
        });
        let expected = json!({"model": "viduq3-pro", "images": ["https://e/x.webp"]});
        assert_eq!(assembled(&r.body.unwrap(), ""), expected);
    }

    #[test]
    fn inline_image_slot() {
        let uri = "data:image/jpeg;base64,AAAA";
        for (prompt, payload) in [("a", "b"), ("b", "a"), ("\"a\"", "[\"b\"]"), ("", "")] {
            let r = submit_request(&SubmitParams {
                model: "viduq2-pro",
                prompt: Some(prompt),
                payload: Some(payload),
                ..SubmitParams::default()
            });
            let body = r.body.unwrap();
            assert!(
                body.inline_image && body.head.ends_with(b"\"") && body.tail.starts_with(b"\"")
            );
            let v = assembled(&body, uri);
            assert_eq!(v["images"], json!([uri]));
            assert_eq!(
                (v["prompt"].as_str(), v["payload"].as_str()),
                (Some(prompt), Some(payload))
            );
        }
    }

    #[test]
    fn submit_answer_echoes_the_task() {
        let s = parse_submit(
            br#"{"task_id": "824870", "state": "created", "model": "viduq2-pro",
                 "credits": 10, "created_at": "2025-01-01T15:41:31.968916Z", "images": ["x"]}"#,
        )
        .unwrap();
        assert_eq!(s.task_id, "824870");
        let st = s.status.unwrap();
        assert_eq!(
            (st.state, st.raw_state.as_str(), st.credits),
            (State::Queued, "created", Some(10))
        );
        let s = parse_submit(br#"{"task_id": 824870}"#).unwrap();
        assert_eq!((s.task_id.as_str(), s.status), ("824870", None));
        for bad in [
            &br#"{"task_id": ""}"#[..],
            br#"{"id": "x"}"#,
            b"{",
            b"",
            b"\"x\"",
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
    fn status_sample() {
        let body = br#"{
          "id": "t1", "state": "success", "err_code": "", "credits": 4, "payload": "",
          "creations": [{"id": "c1", "url": "https://cdn.example.com/out.mp4", "cover_url": "https://cdn.example.com/out.jpg"}]
        }"#;
        assert_eq!(
            parse_status("t1", body).unwrap(),
            TaskStatus {
                task_id: "t1".into(),
                state: State::Succeeded,
                raw_state: "success".into(),
                video_urls: vec!["https://cdn.example.com/out.mp4".into()],
                cover_url: Some("https://cdn.example.com/out.jpg".into()),
                credits: Some(4),
                ..TaskStatus::default()
            }
        );
    }

    #[test]
    fn lenient_fields() {
        let s = parse_status(
            "t",
            br#"{"state": "failed", "err_code": "TaskPromptPolicyViolation", "credits": "4",
                 "progress": "50", "creations": [], "unknown": [1, 2]}"#,
        )
        .unwrap();
        assert_eq!(s.state, State::Failed);
        assert_eq!(s.error_code.as_deref(), Some("TaskPromptPolicyViolation"));
        assert_eq!((s.credits, s.progress), (Some(4), Some(0.5)));
        assert_eq!((s.video_urls.len(), s.cover_url), (0, None));
        let s = parse_status(
            "t",
            br#"{"state": "processing", "creations": null, "credits": null}"#,
        )
        .unwrap();
        assert_eq!(
            (s.state, s.credits, s.progress),
            (State::Running, None, None)
        );
    }

    #[test]
    fn states() {
        for (raw, state) in [
            ("created", State::Queued),
            ("queueing", State::Queued),
            ("processing", State::Running),
            ("success", State::Succeeded),
            ("failed", State::Failed),
            ("cancelled", State::Cancelled),
            ("canceled", State::Cancelled),
            ("SUCCESS", State::Succeeded),
            ("scheduled", State::Unknown),
        ] {
            let body = json!({"state": raw}).to_string();
            let s = parse_status("t", body.as_bytes()).unwrap();
            assert_eq!((s.state, s.raw_state.as_str()), (state, raw));
        }
    }

    #[test]
    fn malformed_status() {
        for bad in [
            &b"Bad Gateway"[..],
            b"",
            br#"{"state": "succ"#,
            br#"{"id": "t1"}"#,
            b"42",
        ] {
            match parse_status("t9", bad).unwrap_err() {
                Error::Protocol {
                    operation,
                    task_id,
                    detail,
                } => {
                    assert_eq!((operation, task_id.as_deref()), ("status", Some("t9")));
                    assert!(detail.len() < 400, "{detail}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn requests() {
        let r = status_request("t1");
        assert_eq!(
            (r.method, r.path.as_str(), r.body),
            (Method::Get, "/ent/v2/tasks/t1/creations", None)
        );
        let r = cancel_request("t1");
        assert_eq!(
            (r.method, r.path.as_str()),
            (Method::Post, "/ent/v2/tasks/t1/cancel")
        );
        assert_eq!(assembled(&r.body.unwrap(), ""), json!({"id": "t1"}));
    }

    #[test]
    fn errors() {
        let e = parse_error(
            400,
            br#"{"code": 400, "reason": "BadRequest", "message": "task state is scheduled, can not cancel", "metadata": {"trace_id": "abc"}}"#,
        );
        assert_eq!(
            e,
            ApiError {
                code: Some("BadRequest".into()),
                message: "task state is scheduled, can not cancel".into(),
                request_id: Some("abc".into()),
            }
        );
        let e = parse_error(401, br#"{"code": 401, "message": "unauthorized"}"#);
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("401"), "unauthorized")
        );
        let e = parse_error(429, br#"{"reason": "TooManyRequests"}"#);
        assert_eq!(
            (e.code.as_deref(), e.message.as_str()),
            (Some("TooManyRequests"), r#"{"reason": "TooManyRequests"}"#)
        );
        assert_eq!(
            parse_error(503, b"\n").message,
            "HTTP 503 with an empty body"
        );
        assert_eq!(
            parse_error(500, &[0xFF, 0xFE, b'x']).message,
            "\u{FFFD}\u{FFFD}x"
        );
    }
}
