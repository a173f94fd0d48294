//! The official Vidu platform API: `POST /ent/v2/img2video`,
//! `GET /ent/v2/tasks/<id>/creations`, `POST /ent/v2/tasks/<id>/cancel`, the task list
//! `GET /ent/v2/tasks` and the account's `GET /ent/v2/credits`. `Token` auth.

use serde::Serialize;
use serde_json::{Map, Value};

use super::wire::*;
use super::{CreditsCall, Field, Spec, TaskListCall};
use crate::account::{CreditRemain, Credits, TaskPage, TaskQuery};
use crate::auth::AuthScheme;
use crate::error::{Error, Result};
use crate::model::{classic, q1, q2, q3, BodyLimits, ModelSpec};
use crate::status::{State, TaskStatus};

const MB: u64 = 1024 * 1024;

/// Longest `payload`, in characters.
pub(crate) const MAX_PAYLOAD_CHARS: usize = 1_048_576;

const MODELS: &[ModelSpec] = &[
    q3("viduq3-pro"),
    q3("viduq3-turbo"),
    q2("viduq2-pro"),
    q2("viduq2-turbo"),
    q1("viduq1"),
    classic("vidu2.0"),
    classic("vidu1.5"),
];

pub(crate) const SPEC: Spec = Spec {
    name: "vidu",
    base_url: "https://api.vidu.com",
    auth_scheme: AuthScheme::Token,
    default_model: "viduq2-pro",
    models: MODELS,
    model_prefix: None,
    body_limits: BodyLimits {
        max_body: Some(20 * MB),
        max_decoded_image: Some(10 * MB),
    },
    accepts: &[
        Field::Seed,
        Field::Bgm,
        Field::CallbackUrl,
        Field::Payload,
        Field::Audio,
        Field::VoiceId,
        Field::IsRec,
        Field::OffPeak,
        Field::Watermark,
        Field::WmPosition,
        Field::WmUrl,
        Field::MetaData,
    ],
    own_fields: &[
        "model",
        "images",
        "prompt",
        "duration",
        "seed",
        "resolution",
        "movement_amplitude",
        "bgm",
        "payload",
        "callback_url",
        "audio",
        "voice_id",
        "is_rec",
        "off_peak",
        "watermark",
        "wm_position",
        "wm_url",
        "meta_data",
    ],
    max_payload_chars: MAX_PAYLOAD_CHARS,
    request_id_headers: &["x-md-trace-id", "x-request-id"],
    submit_request,
    parse_submit,
    status_request,
    parse_status,
    parse_error,
    cancel_request: Some(cancel_request),
    task_list: Some(TaskListCall {
        request: tasks_request,
        parse: parse_tasks,
    }),
    credits: Some(CreditsCall {
        request: credits_request,
        parse: parse_credits,
    }),
};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    audio: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_rec: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    off_peak: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watermark: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wm_position: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wm_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta_data: Option<&'a str>,
    #[serde(flatten)]
    extra: Option<&'a Map<String, Value>>,
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
        audio: p.audio,
        voice_id: p.voice_id,
        is_rec: p.is_rec,
        off_peak: p.off_peak,
        watermark: p.watermark,
        wm_position: p.wm_position,
        wm_url: p.wm_url,
        meta_data: p.meta_data,
        extra: p.extra,
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
        payload: v.get("payload").and_then(Value::as_str).map(str::to_owned),
        created_at: text(v.get("created_at")),
        ..TaskStatus::default()
    })
}

/// The task list. Array filters repeat the key (`task_ids=a&task_ids=b`): the documents do not
/// say how arrays are encoded, and repeating the key is what Go and gRPC-gateway servers (which
/// the `pager.` and `created_at.` dotted names point to) read as an array.
pub(crate) fn tasks_request(q: &TaskQuery) -> Result<WireRequest> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    for id in &q.task_ids {
        check_task_id(id)?;
        query.push(("task_ids", id));
    }
    if let Some(from) = &q.created_from {
        query.push(("created_at.from", from));
    }
    if let Some(to) = &q.created_to {
        query.push(("created_at.to", to));
    }
    let size;
    if let Some(n) = q.page_size {
        if !(1..=100).contains(&n) {
            return Err(Error::invalid("page_size", n, "1 to 100"));
        }
        size = n.to_string();
        query.push(("pager.pagesz", &size));
    }
    let page;
    if let Some(n) = q.page {
        page = n.to_string();
        query.push(("pager.page", &page));
    }
    if let Some(token) = &q.page_token {
        query.push(("pager.page_token", token));
    }
    Ok(get(with_query("/ent/v2/tasks", &query)))
}

pub(crate) fn parse_tasks(body: &[u8]) -> Result<TaskPage> {
    let v = parse_json("task list", None, body)?;
    let Some(tasks) = v.get("tasks").and_then(Value::as_array) else {
        return Err(protocol_error(
            "task list",
            None,
            format!("no tasks array in the answer: {}", excerpt(body)),
        ));
    };
    let mut page = TaskPage::default();
    for t in tasks {
        let Some(id) = text(t.get("id")).or_else(|| text(t.get("task_id"))) else {
            continue; // a task without an id cannot be acted on
        };
        page.tasks
            .push(task_status(&id, t).unwrap_or_else(|| TaskStatus {
                task_id: id.clone(),
                state: State::Unknown,
                payload: t.get("payload").and_then(Value::as_str).map(str::to_owned),
                created_at: text(t.get("created_at")),
                ..TaskStatus::default()
            }));
    }
    page.next_page_token = text(v.get("next_page_token"));
    Ok(page)
}

pub(crate) fn credits_request() -> WireRequest {
    get("/ent/v2/credits")
}

pub(crate) fn parse_credits(body: &[u8]) -> Result<Credits> {
    let v = parse_json("credits", None, body)?;
    let Some(remains) = v.get("remains").and_then(Value::as_array) else {
        return Err(protocol_error(
            "credits",
            None,
            format!("no remains array in the answer: {}", excerpt(body)),
        ));
    };
    let mut credits = Credits::default();
    for r in remains {
        credits.remains.push(CreditRemain {
            kind: text(r.get("type")),
            credit_remain: count(r.get("credit_remain")),
            concurrency_limit: count(r.get("concurrency_limit")),
            current_concurrency: count(r.get("current_concurrency")),
            queue_count: count(r.get("queue_count")),
        });
    }
    Ok(credits)
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
            ..SubmitParams::default()
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
                payload: Some(String::new()),
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

    #[test]
    fn newer_fields_and_extra_fields_reach_the_body() {
        let extra = json!({"future_knob": 3}).as_object().cloned().unwrap();
        let r = submit_request(&SubmitParams {
            model: "viduq3-pro",
            image_url: Some("https://e/x.png"),
            audio: Some(true),
            voice_id: Some("v1"),
            is_rec: Some(false),
            off_peak: Some(false),
            watermark: Some(true),
            wm_position: Some(3),
            wm_url: Some("https://e/wm.png"),
            meta_data: Some("{\"k\":1}"),
            extra: Some(&extra),
            ..SubmitParams::default()
        });
        let expected = json!({
            "model": "viduq3-pro", "images": ["https://e/x.png"], "audio": true, "voice_id": "v1",
            "is_rec": false, "off_peak": false, "watermark": true, "wm_position": 3,
            "wm_url": "https://e/wm.png", "meta_data": "{\"k\":1}", "future_knob": 3
        });
        assert_eq!(assembled(&r.body.unwrap(), ""), expected);
    }

    #[test]
    fn task_list_request() {
        let r = tasks_request(&TaskQuery::default()).unwrap();
        assert_eq!((r.method, r.path.as_str()), (Method::Get, "/ent/v2/tasks"));
        let q = TaskQuery::new()
            .task_ids(["a1", "b2"])
            .created_from("2025-01-01T00:00:00Z")
            .created_to("2025-01-02T00:00:00+08:00")
            .page_size(100)
            .page_token("tok/=+");
        assert_eq!(
            tasks_request(&q).unwrap().path,
            "/ent/v2/tasks?task_ids=a1&task_ids=b2&created_at.from=2025-01-01T00%3A00%3A00Z\
             &created_at.to=2025-01-02T00%3A00%3A00%2B08%3A00&pager.pagesz=100\
             &pager.page_token=tok%2F%3D%2B"
        );
        for bad in [0, 101] {
            let e = tasks_request(&TaskQuery::new().page_size(bad)).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidInput {
                        field: "page_size",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        let e = tasks_request(&TaskQuery::new().task_ids(["../x"])).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: "task_id",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn task_list_answer() {
        let page = parse_tasks(
            br#"{"tasks": [
                {"id": "t1", "state": "success", "model": "viduq2-pro", "prompt": "p",
                 "images": ["https://e/x.png"], "duration": 5, "resolution": "720p",
                 "payload": "row-7", "created_at": "2025-01-01T15:41:31.968916Z",
                 "creations": [{"id": "c1", "url": "https://cdn/v.mp4", "cover_url": "https://cdn/c.jpg", "video": {}}]},
                {"id": 42, "state": "queueing"},
                {"id": "t3"},
                {"state": "success"}
              ], "next_page_token": "n2"}"#,
        )
        .unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("n2"));
        assert_eq!(page.tasks.len(), 3, "a task without an id is skipped");
        let t = &page.tasks[0];
        assert_eq!((t.task_id.as_str(), t.state), ("t1", State::Succeeded));
        assert_eq!(t.video_urls, ["https://cdn/v.mp4"]);
        assert_eq!(t.payload.as_deref(), Some("row-7"));
        assert_eq!(t.created_at.as_deref(), Some("2025-01-01T15:41:31.968916Z"));
        assert_eq!(
            (page.tasks[1].task_id.as_str(), page.tasks[1].state),
            ("42", State::Queued)
        );
        assert_eq!(page.tasks[2].state, State::Unknown);
        let last = parse_tasks(br#"{"tasks": [], "next_page_token": ""}"#).unwrap();
        assert_eq!((last.tasks.len(), last.next_page_token), (0, None));
        for bad in [&b"{}"[..], b"[]", b"<html>", br#"{"tasks": {}}"#] {
            assert!(
                matches!(
                    parse_tasks(bad),
                    Err(Error::Protocol {
                        operation: "task list",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn credits_answer() {
        assert_eq!(credits_request().path, "/ent/v2/credits");
        let c = parse_credits(
            br#"{"remains": [{"type": "metered", "credit_remain": 1200, "concurrency_limit": 5,
                 "current_concurrency": 2, "queue_count": 0}, {"type": "pkg"}], "packages": []}"#,
        )
        .unwrap();
        assert_eq!(c.remains.len(), 2);
        let m = &c.remains[0];
        assert_eq!(m.kind.as_deref(), Some("metered"));
        assert_eq!(
            (
                m.credit_remain,
                m.concurrency_limit,
                m.current_concurrency,
                m.queue_count
            ),
            (Some(1200), Some(5), Some(2), Some(0))
        );
        assert_eq!(c.remains[1].credit_remain, None);
        assert!(matches!(
            parse_credits(b"{}"),
            Err(Error::Protocol {
                operation: "credits",
                ..
            })
        ));
    }
}
