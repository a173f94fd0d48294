//! The API origin's request flow, the same for every provider: find the provider and route,
//! count it, check the key, apply the faults, then let the provider shape the answer.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value};

use super::faults::{Effect, Route, TaskView};
use super::http::{Request, Response};
use super::image_check;
use super::provider::{Api, ApiError, Kind, Submitted, PROVIDERS};
use super::tasks::{Phase, Task};
use super::{Shared, SubmitRecord};

/// Dispatches one request of the API origin.
pub(crate) fn handle(shared: &Shared, req: Request) -> Response {
    let Some((api, routed)) = PROVIDERS
        .iter()
        .find_map(|api| api.route(&req).map(|r| (*api, r)))
    else {
        if (req.method == "GET" || req.method == "HEAD") && req.path.starts_with("/videos/") {
            return redirect_to_video(shared, &req);
        }
        return Response::json(404, &json!({"error": "not found", "path": req.path}));
    };
    count(shared, routed.route);
    if req.method != routed.method {
        return Response::json(405, &json!({"error": "method not allowed"}))
            .with_header("Allow", routed.method);
    }
    let response = match routed.route {
        Route::Submit => submit(shared, api, req),
        Route::Status => status(shared, api, &req, &routed.task_id),
        route => extra(shared, api, route, &req, &routed.task_id),
    };
    match api.trace_header() {
        Some(name) if !response.headers.iter().any(|(n, _)| n == name) => {
            response.with_header(name, shared.request_id())
        }
        _ => response,
    }
}

fn count(shared: &Shared, route: Route) {
    let mut state = shared.lock();
    // Time pace: every request sees tasks as they are now.
    state.tasks.catch_up(Instant::now());
    let stats = &mut state.stats;
    match route {
        Route::Submit => stats.submit_requests += 1,
        Route::Status => stats.status_polls += 1,
        Route::Cancel => stats.cancels += 1,
        Route::List => stats.list_calls += 1,
        Route::Credits => stats.credits_calls += 1,
        Route::Video => {}
    }
}

/// [`Effect::RedirectUrl`]: the API origin sends video requests on to the video origin.
fn redirect_to_video(shared: &Shared, req: &Request) -> Response {
    let query = if req.query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.query)
    };
    let location = format!("{}{}{}", shared.video_base(), req.path, query);
    Response::new(302, "text/plain", format!("Found: {location}\n"))
        .with_header("Location", location)
}

/// The provider's scheme, then the one key the emulator accepts, if set.
fn authenticate(shared: &Shared, api: &dyn Api, req: &Request) -> Result<(), ApiError> {
    let key = api.check_auth(req.header("authorization"))?;
    match &shared.options.api_key {
        Some(expected) if *expected != key => {
            Err(ApiError::new(401, Kind::Auth, "invalid API key"))
        }
        _ => Ok(()),
    }
}

/// An error answer, with `WWW-Authenticate` on a 401 where the provider sends one.
fn error(shared: &Shared, api: &dyn Api, e: ApiError) -> Response {
    let response = api.error(shared, &e);
    match (e.kind, api.auth_challenge()) {
        (Kind::Auth, Some(scheme)) => response.with_header("WWW-Authenticate", scheme),
        _ => response,
    }
}

/// The answer of a fault that replaces the handling, if it is one.
pub(crate) fn replacement(
    shared: &Shared,
    api: Option<&dyn Api>,
    effect: &Effect,
) -> Option<Response> {
    match effect {
        Effect::Respond {
            status,
            headers,
            body,
        } => {
            let mut r = Response::new(*status, "application/json", body.as_bytes());
            for (name, value) in headers {
                if name.eq_ignore_ascii_case("content-type") {
                    r.headers
                        .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
                }
                r = r.with_header(name, value.as_str());
            }
            Some(r)
        }
        Effect::Error {
            status,
            reason,
            retry_after_secs,
        } => {
            let e = ApiError::injected(*status, reason.clone());
            let r = match api {
                Some(api) => error(shared, api, e),
                None => Response::new(*status, "text/plain", format!("{}\n", e.message)),
            };
            Some(match retry_after_secs {
                Some(s) => r.with_header("Retry-After", s.to_string()),
                None => r,
            })
        }
        Effect::Stall(d) => {
            stall(shared, *d);
            None
        }
        _ => None,
    }
}

/// Waits, in short naps, until `d` passes or the emulator stops.
fn stall(shared: &Shared, d: Duration) {
    let Some(until) = Instant::now().checked_add(d) else {
        while !shared.stopping() {
            std::thread::sleep(Duration::from_millis(20));
        }
        return;
    };
    while !shared.stopping() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Content type, body size and JSON object.
pub(crate) fn check_body<'a>(
    api: &dyn Api,
    req: &Request,
    len: u64,
    parsed: Option<&'a Value>,
) -> Result<&'a Map<String, Value>, ApiError> {
    if let Some(max) = api.max_body().filter(|max| len > *max) {
        return Err(ApiError::new(
            413,
            Kind::TooLarge,
            format!(
                "request body is {len} bytes, at most {max} ({} MB) accepted; pass the image as a URL",
                max / super::provider::MIB
            ),
        ));
    }
    let content_type = req.header("content-type").unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            400,
            Kind::BadRequest,
            format!("Content-Type must be application/json, got {content_type:?}"),
        ));
    }
    match parsed {
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(ApiError::new(
            400,
            Kind::BadRequest,
            "request body must be a JSON object",
        )),
        None => Err(ApiError::new(
            400,
            Kind::BadRequest,
            "request body is not valid JSON",
        )),
    }
}

fn submit(shared: &Shared, api: &'static dyn Api, mut req: Request) -> Response {
    let body_len = req.body.len() as u64;
    // One copy of the body at a time: parse it, drop it, and take the image string out of
    // the parsed JSON instead of cloning it.
    let mut parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
    req.body = Vec::new();
    let image = match parsed
        .as_mut()
        .and_then(|v| v.pointer_mut(api.image_pointer()))
    {
        Some(slot @ Value::String(_)) => match std::mem::replace(slot, json!("<image>")) {
            Value::String(s) => Some(s),
            _ => None,
        },
        _ => None,
    };
    let record = SubmitRecord {
        provider: api.name(),
        authorization: req.header("authorization").unwrap_or_default().to_string(),
        json: parsed.clone().unwrap_or(Value::Null),
        image: image
            .as_deref()
            .map(image_check::describe)
            .unwrap_or_default(),
        body_len,
        headers: req.headers.clone(),
    };
    let checked = authenticate(shared, api, &req).and_then(|_| {
        let body = check_body(api, &req, body_len, parsed.as_ref())?;
        api.validate(body, image.as_deref().unwrap_or(""))
    });
    // The task list shows URLs as sent, inline images as a placeholder.
    let listed = match image {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => url,
        _ => "<image>".to_string(),
    };
    let submitted = match checked {
        Ok(s) => s,
        Err(e) => {
            let mut state = shared.lock();
            state.stats.last_submit = Some(record);
            if e.status < 500 {
                state.stats.rejected_submits += 1;
            }
            drop(state);
            return error(shared, api, e);
        }
    };
    let effect = {
        let mut state = shared.lock();
        state.stats.last_submit = Some(record);
        let number = state.tasks.len() as u64 + 1;
        let view = TaskView {
            id: "",
            number,
            prompt: &submitted.prompt,
        };
        let in_flight = state.tasks.in_flight();
        state
            .faults
            .pick(Route::Submit, api.name(), Some(view), in_flight)
    };
    if let Some(answer) = effect
        .as_ref()
        .and_then(|e| replacement(shared, Some(api), e))
    {
        return answer;
    }
    let (task, echo) = create(shared, api, submitted, listed);
    if effect == Some(Effect::Reset) {
        return Response::reset();
    }
    api.submit_answer(shared, &task, echo)
}

/// Creates the task of an accepted submit.
fn create(
    shared: &Shared,
    api: &'static dyn Api,
    s: Submitted,
    image: String,
) -> (Task, Map<String, Value>) {
    let mut state = shared.lock();
    state.stats.submits += 1;
    let serial = shared.serial();
    let number = state.tasks.len() as u64 + 1;
    let id = api.task_id(serial);
    let mut task = Task {
        api,
        number,
        id: id.into(),
        model: state.tasks.intern(&s.model),
        prompt: s.prompt.into(),
        image: image.into(),
        duration: s.duration,
        resolution: state.tasks.intern(&s.resolution),
        payload: s.payload.into(),
        phase: Phase::Running(0),
        polls_in_phase: 0,
        entered: Instant::now(),
        created: SystemTime::now(),
        finished_unix: 0,
        sig: 1,
        serial,
        credits: u64::from(s.duration) * 2,
        fate: Default::default(),
        reported: None,
    };
    task.fate = state.faults.fate(api.name(), task.view());
    state.tasks.insert(task.clone());
    (task, s.echo)
}

fn status(shared: &Shared, api: &'static dyn Api, req: &Request, id: &str) -> Response {
    if let Err(e) = authenticate(shared, api, req) {
        return error(shared, api, e);
    }
    let effect = {
        let mut state = shared.lock();
        let in_flight = state.tasks.in_flight();
        let state = &mut *state;
        let view = state
            .tasks
            .get(id)
            .filter(|t| t.api.name() == api.name())
            .map(Task::view);
        state
            .faults
            .pick(Route::Status, api.name(), view, in_flight)
    };
    if let Some(answer) = effect
        .as_ref()
        .and_then(|e| replacement(shared, Some(api), e))
    {
        return answer;
    }
    if id.is_empty() {
        return error(shared, api, ApiError::lacking("task_id"));
    }
    // Faults that report something else do not move the task on.
    let frozen = matches!(
        effect,
        Some(Effect::Malformed | Effect::UnknownState | Effect::State(_))
    );
    let task = {
        let mut state = shared.lock();
        let known = state
            .tasks
            .get(id)
            .is_some_and(|t| t.api.name() == api.name());
        if known && !frozen {
            state.tasks.report(id);
        }
        state.tasks.get(id).filter(|_| known).cloned()
    };
    let Some(task) = task else {
        let e = ApiError::new(404, Kind::NotFound, format!("task {id:?} not found"));
        return error(shared, api, e);
    };
    let mut body = api.status_json(shared, &task);
    let state_override = match &effect {
        Some(Effect::UnknownState) => Some(api.unknown_state().to_string()),
        Some(Effect::State(s)) => Some(s.clone()),
        _ => None,
    };
    if let Some(s) = state_override {
        if let Some(slot) = body.pointer_mut(api.state_pointer()) {
            *slot = json!(s);
        }
    }
    match effect {
        Some(Effect::Malformed) => {
            let full = body.to_string();
            Response::new(200, "application/json", &full.as_bytes()[..full.len() / 2])
        }
        Some(Effect::Reset) => Response::reset(),
        _ => Response::json(200, &body),
    }
}

/// Cancel, task list, credits: counted, authenticated and faulted here, answered by the
/// provider.
fn extra(
    shared: &Shared,
    api: &'static dyn Api,
    route: Route,
    req: &Request,
    id: &str,
) -> Response {
    if let Err(e) = authenticate(shared, api, req) {
        return error(shared, api, e);
    }
    let effect = {
        let mut state = shared.lock();
        let in_flight = state.tasks.in_flight();
        let state = &mut *state;
        let view = state.tasks.get(id).map(Task::view);
        state.faults.pick(route, api.name(), view, in_flight)
    };
    if let Some(answer) = effect
        .as_ref()
        .and_then(|e| replacement(shared, Some(api), e))
    {
        return answer;
    }
    let response = api.extra(shared, route, req, id);
    if effect == Some(Effect::Reset) {
        return Response::reset();
    }
    response
}
