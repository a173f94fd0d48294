//! The official Vidu platform API, `PROTOCOLS.md` §3: `Token` key, `POST /ent/v2/img2video`,
//! `GET /ent/v2/tasks/<id>/creations`, `POST /ent/v2/tasks/<id>/cancel`, the task list
//! `GET /ent/v2/tasks` and the account's `GET /ent/v2/credits`; states `created`,
//! `queueing`, `processing`, `success`, `failed` (and `cancelled`); errors
//! `{"code", "reason", "message", "metadata"}` with `x-md-trace-id`.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::faults::Route;
use super::http::{Request, Response};
use super::provider::{
    auth_key, duration_resolution, vidu_rule, Api, ApiError, Fields, Kind, Routed, Submitted, MIB,
};
use super::tasks::{parse_rfc3339, rfc3339, unix, Outcome, Phase, Task};
use super::Shared;

const MAX_BODY: u64 = 20 * MIB;
/// Largest decoded base64 image.
const MAX_DECODED: u64 = 10 * MIB;
const MAX_PAYLOAD_CHARS: usize = 1_048_576;
/// The task list's default and largest page.
const DEFAULT_PAGE: usize = 10;
const MAX_PAGE: usize = 100;
/// The task list's default window.
const LIST_WINDOW: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug)]
pub(crate) struct Vidu;

fn state_name(task: &Task) -> &'static str {
    match task.phase {
        Phase::Running(i) => Vidu.states()[i],
        Phase::Done(Outcome::Success) => "success",
        Phase::Done(Outcome::Failed) => "failed",
        Phase::Done(Outcome::Cancelled) => "cancelled",
    }
}

fn creations(shared: &Shared, task: &Task) -> Value {
    if task.phase != Phase::Done(Outcome::Success) {
        return json!([]);
    }
    json!([{
        "id": format!("{}", 870_000_000_000_000_000u64 + task.serial),
        "url": shared.video_url(task),
        "cover_url": format!("{}/covers/{}.jpg?sig={}", shared.video_base(), task.id, task.sig),
    }])
}

fn err_code(task: &Task) -> &'static str {
    if task.phase == Phase::Done(Outcome::Failed) {
        "InternalServiceFailure"
    } else {
        ""
    }
}

impl Api for Vidu {
    fn name(&self) -> &'static str {
        "vidu"
    }

    fn route(&self, req: &Request) -> Option<Routed> {
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let (route, method, id) = match segments.as_slice() {
            ["ent", "v2", "img2video"] => (Route::Submit, "POST", ""),
            ["ent", "v2", "tasks", id, "creations"] => (Route::Status, "GET", *id),
            ["ent", "v2", "tasks", id, "cancel"] => (Route::Cancel, "POST", *id),
            ["ent", "v2", "tasks"] => (Route::List, "GET", ""),
            ["ent", "v2", "credits"] => (Route::Credits, "GET", ""),
            _ => return None,
        };
        Some(Routed {
            route,
            method,
            task_id: id.to_string(),
        })
    }

    fn check_auth(&self, header: Option<&str>) -> Result<String, ApiError> {
        auth_key(header, &["token"], "`Token <API_KEY>`")
    }

    fn auth_challenge(&self) -> Option<&'static str> {
        Some("Token")
    }

    fn max_body(&self) -> Option<u64> {
        Some(MAX_BODY)
    }

    fn image_pointer(&self) -> &'static str {
        "/images/0"
    }

    fn validate(&self, body: &Map<String, Value>, image: &str) -> Result<Submitted, ApiError> {
        let f = Fields::new(body, "");
        let model = f.req_str("model")?;
        if model == "viduq1-classic" {
            return Err(ApiError::invalid(
                "model",
                "unknown model \"viduq1-classic\"",
            ));
        }
        let Some(rule) = vidu_rule(model) else {
            return Err(ApiError::invalid(
                "model",
                format!("unknown model {model:?}"),
            ));
        };
        f.one_image("images")?;
        f.image("images[0]", image, MAX_DECODED)?;
        let prompt = f.prompt(rule.max_prompt)?;
        let (duration, resolution) = duration_resolution(&f, model, &rule)?;
        let seed = f.seed()?;
        let movement = f.movement_amplitude()?;
        let bgm = f.opt_bool("bgm")?.unwrap_or(false);
        let payload = f.opt_str("payload")?.unwrap_or("");
        if payload.chars().count() > MAX_PAYLOAD_CHARS {
            return Err(ApiError::invalid(
                "payload",
                format!("at most {MAX_PAYLOAD_CHARS} characters"),
            ));
        }
        let callback = f.callback_url()?;
        let mut echo = Map::new();
        echo.insert("model".into(), json!(model));
        echo.insert("images".into(), json!(["<image>"]));
        echo.insert("prompt".into(), json!(prompt));
        echo.insert("duration".into(), json!(duration));
        echo.insert("seed".into(), json!(seed.unwrap_or(0)));
        echo.insert("resolution".into(), json!(resolution));
        echo.insert("movement_amplitude".into(), json!(movement));
        echo.insert("bgm".into(), json!(bgm));
        echo.insert("payload".into(), json!(payload));
        if let Some(c) = callback {
            echo.insert("callback_url".into(), json!(c));
        }
        Ok(Submitted {
            model: model.to_string(),
            prompt,
            duration,
            resolution: resolution.to_string(),
            payload: payload.to_string(),
            echo,
        })
    }

    fn task_id(&self, serial: u64) -> String {
        format!("{}", 860_000_000_000_000_000u64 + serial)
    }

    fn states(&self) -> &'static [&'static str] {
        &["created", "queueing", "processing"]
    }

    fn queue_state(&self) -> usize {
        1
    }

    fn unknown_state(&self) -> &'static str {
        "preparing"
    }

    fn state_pointer(&self) -> &'static str {
        "/state"
    }

    fn submit_answer(&self, _: &Shared, task: &Task, echo: Map<String, Value>) -> Response {
        let mut body = Map::new();
        body.insert("task_id".into(), json!(task.id));
        body.insert("state".into(), json!("created"));
        body.extend(echo);
        body.insert("credits".into(), json!(task.credits));
        body.insert("created_at".into(), json!(rfc3339(task.created)));
        Response::json(200, &Value::Object(body))
    }

    fn status_json(&self, shared: &Shared, task: &Task) -> Value {
        json!({
            "id": task.id,
            "state": state_name(task),
            "err_code": err_code(task),
            "credits": task.credits,
            "payload": task.payload,
            "creations": creations(shared, task),
        })
    }

    fn error(&self, shared: &Shared, e: &ApiError) -> Response {
        let reason = e.reason.as_deref().unwrap_or(match e.kind {
            Kind::Auth => "Unauthorized",
            Kind::Forbidden => "Forbidden",
            Kind::Lacking => "FieldLacking",
            Kind::Invalid => "FieldInvalid",
            Kind::ImageFormat => "ImageFormatInvalid",
            Kind::TooLarge | Kind::BadRequest => "BadRequest",
            Kind::NotFound => "TaskNotFound",
            Kind::Throttled => "TooManyRequests",
            Kind::Unavailable => "InternalServiceFailure",
        });
        let trace = shared.request_id();
        Response::json(
            e.status,
            &json!({
                "code": e.status,
                "reason": reason,
                "message": e.message,
                "metadata": {"trace_id": trace},
            }),
        )
        .with_header("x-md-trace-id", trace)
    }

    fn trace_header(&self) -> Option<&'static str> {
        Some("x-md-trace-id")
    }

    fn extra(&self, shared: &Shared, route: Route, req: &Request, id: &str) -> Response {
        let result = match route {
            Route::Cancel => cancel(shared, req, id),
            Route::List => list(shared, req),
            Route::Credits => Ok(credits(shared)),
            _ => Err(ApiError::new(404, Kind::NotFound, "not found")),
        };
        match result {
            Ok(v) => Response::json(200, &v),
            Err(e) => self.error(shared, &e),
        }
    }
}

fn cancel(shared: &Shared, req: &Request, id: &str) -> Result<Value, ApiError> {
    let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
    let body = super::routes::check_body(&Vidu, req, req.body.len() as u64, parsed.as_ref())?;
    let body_id = Fields::new(body, "").req_str("id")?;
    if body_id != id {
        return Err(ApiError::invalid(
            "id",
            format!("{body_id:?} does not match the task id {id:?} of the path"),
        ));
    }
    let mut state = shared.lock();
    let task = state
        .tasks
        .get(id)
        .filter(|t| t.api.name() == "vidu")
        .ok_or_else(|| ApiError::new(404, Kind::NotFound, format!("task {id:?} not found")))?;
    if let Phase::Done(_) = task.phase {
        return Err(ApiError::new(
            400,
            Kind::BadRequest,
            format!("task state is {}, can not cancel", state_name(task)),
        ));
    }
    state.tasks.cancel(id);
    Ok(json!({}))
}

fn credits(shared: &Shared) -> Value {
    let state = shared.lock();
    let spent = state.tasks.credits_spent();
    let running = state.tasks.running();
    json!({
        "remains": [{
            "type": "metered",
            "credit_remain": shared.options.credits.saturating_sub(spent),
            "concurrency_limit": state.tasks.concurrency_limit(),
            "current_concurrency": running,
            "queue_count": state.tasks.in_flight().saturating_sub(running),
        }],
        "packages": [],
    })
}

/// The values of an array parameter, in any of the common encodings: repeated `k=a&k=b`,
/// `k[]=a`, comma-separated `k=a,b`, or a JSON array `k=["a","b"]`.
fn array_param(pairs: &[(String, String)], key: &str) -> Result<Option<Vec<String>>, ApiError> {
    let mut out: Option<Vec<String>> = None;
    for (k, v) in pairs {
        let base = k.strip_suffix("[]").unwrap_or(k);
        let base = match base.split_once('[') {
            // `k[0]=a`
            Some((b, rest)) if rest.ends_with(']') => b,
            _ => base,
        };
        if base != key {
            continue;
        }
        let list = out.get_or_insert_with(Vec::new);
        let v = v.trim();
        if v.starts_with('[') {
            let items: Vec<Value> = serde_json::from_str(v).map_err(|_| {
                ApiError::invalid(key, format!("{v:?} is not a JSON array of strings"))
            })?;
            for item in items {
                match item {
                    Value::String(s) => list.push(s),
                    Value::Number(n) => list.push(n.to_string()),
                    _ => return Err(ApiError::invalid(key, "items must be strings")),
                }
            }
        } else {
            list.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
    }
    Ok(out)
}

/// `pager.<name>`, also spelled `paper.<name>` as in the document.
fn pager<'a>(pairs: &'a [(String, String)], name: &str) -> Option<(String, &'a str)> {
    ["pager", "paper"].iter().find_map(|p| {
        let key = format!("{p}.{name}");
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (key, v.as_str()))
    })
}

fn number(pairs: &[(String, String)], name: &str) -> Result<Option<usize>, ApiError> {
    match pager(pairs, name) {
        None => Ok(None),
        Some((key, v)) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(&key, format!("{v:?} is not a non-negative integer"))),
    }
}

fn time(pairs: &[(String, String)], key: &str) -> Result<Option<i64>, ApiError> {
    match pairs.iter().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, v)) => parse_rfc3339(v)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(key, format!("{v:?} is not an RFC 3339 time"))),
    }
}

/// `GET /ent/v2/tasks`: newest first. A page token `c<n>` continues with the tasks created
/// before the `n`-th, so each page costs its own tasks, not those of the pages before it.
fn list(shared: &Shared, req: &Request) -> Result<Value, ApiError> {
    const STATES: &[&str] = &["created", "queueing", "processing", "success", "failed"];
    let pairs = req.query_pairs();
    let ids = array_param(&pairs, "task_ids")?;
    let states = array_param(&pairs, "states")?;
    if let Some(bad) = states
        .iter()
        .flatten()
        .find(|s| !STATES.contains(&s.as_str()))
    {
        return Err(ApiError::invalid(
            "states",
            format!("{bad:?} is not one of {}", STATES.join(", ")),
        ));
    }
    let models = array_param(&pairs, "model_versions")?;
    let resolutions = array_param(&pairs, "resolutions")?;
    let now = unix(SystemTime::now()) as i64;
    let from = time(&pairs, "created_at.from")?.unwrap_or(now - LIST_WINDOW.as_secs() as i64);
    let to = time(&pairs, "created_at.to")?.unwrap_or(i64::MAX);
    let size = number(&pairs, "pagesz")?.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&size) {
        let key = pager(&pairs, "pagesz").map(|(k, _)| k).unwrap_or_default();
        return Err(ApiError::invalid(
            &key,
            format!("{size} is not within 1..={MAX_PAGE}"),
        ));
    }
    // Tasks are numbered from 1 in creation order; `before`: only tasks numbered below it.
    let (before, offset) = match pager(&pairs, "page_token") {
        Some((key, token)) if !token.is_empty() => {
            let n = token
                .strip_prefix("c")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| ApiError::invalid(&key, format!("{token:?} is not a page token")))?;
            (n, 0)
        }
        _ => (
            u64::MAX,
            number(&pairs, "page")?.unwrap_or(0).saturating_mul(size),
        ),
    };
    let mut state = shared.lock();
    let tasks = &mut state.tasks;
    // Newest first: named tasks are looked up, not searched for.
    let candidates: Vec<u64> = match &ids {
        Some(ids) => {
            let mut numbers: Vec<u64> = ids
                .iter()
                .filter_map(|id| tasks.get(id).map(|t| t.number))
                .filter(|&n| n < before)
                .collect();
            numbers.sort_unstable_by(|a, b| b.cmp(a));
            numbers.dedup();
            numbers
        }
        None => Vec::new(),
    };
    let all = (1..=(tasks.len() as u64).min(before.saturating_sub(1))).rev();
    let candidates: Box<dyn Iterator<Item = u64>> = match ids {
        Some(_) => Box::new(candidates.into_iter()),
        None => Box::new(all),
    };
    let mut page: Vec<Task> = Vec::new();
    let mut skipped = 0;
    let mut next = None;
    for n in candidates {
        let Some(t) = tasks.numbered(n) else { continue };
        let wanted = t.api.name() == "vidu"
            && models
                .as_ref()
                .is_none_or(|m| m.iter().any(|m| **m == *t.model))
            && resolutions
                .as_ref()
                .is_none_or(|r| r.iter().any(|r| **r == *t.resolution))
            && (from..=to).contains(&(t.created_unix() as i64));
        if !wanted {
            continue;
        }
        // Listing a task is a status report of it, as a poll is.
        let Some(t) = tasks.report_numbered(n) else {
            continue;
        };
        if states
            .as_ref()
            .is_some_and(|s| !s.iter().any(|s| s == state_name(t)))
        {
            continue;
        }
        if skipped < offset {
            skipped += 1;
        } else if page.len() == size {
            next = Some(n + 1);
            break;
        } else {
            page.push(t.clone());
        }
    }
    drop(state);
    let page: Vec<Value> = page
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "state": state_name(t),
                "model": &*t.model,
                "prompt": t.prompt,
                "images": [t.image],
                "duration": t.duration,
                "resolution": &*t.resolution,
                "payload": t.payload,
                "credits": t.credits,
                "err_code": err_code(t),
                "created_at": rfc3339(t.created),
                "creations": creations(shared, t),
            })
        })
        .collect();
    let token = next.map(|n| format!("c{n}")).unwrap_or_default();
    Ok(json!({"tasks": page, "next_page_token": token}))
}
