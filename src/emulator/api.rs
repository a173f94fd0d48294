//! The API origin: the three providers' routes, request validation, task responses and
//! provider-shaped errors. Written from `PROTOCOLS.md` and the seed documents.

use std::fmt;

use serde_json::{json, Map, Value};

use super::http::{Request, Response};
use super::image_check::{self, ImageProblem};
use super::{
    rfc3339_now, unix_now, Outcome, Phase, Provider, Scenario, Shared, SubmitRecord, Task,
};

const MIB: u64 = 1024 * 1024;
/// Vidu and Vtrix: largest request body.
const MAX_GATEWAY_BODY: u64 = 20 * MIB;
/// Vidu: largest decoded base64 image.
const MAX_VIDU_DECODED: u64 = 10 * MIB;
/// UModelVerse (and the file limit everywhere): largest image.
const MAX_IMAGE_FILE: u64 = 50 * MIB;
/// Vidu: longest `payload`.
const MAX_PAYLOAD_CHARS: usize = 1_048_576;

/// What went wrong, before it is put in a provider's shape.
#[derive(Debug)]
struct ApiError {
    status: u16,
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auth,
    Lacking,
    Invalid,
    ImageFormat,
    TooLarge,
    BadRequest,
    NotFound,
    Throttled,
    Unavailable,
}

impl ApiError {
    fn new(status: u16, kind: Kind, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    fn lacking(field: &str) -> ApiError {
        ApiError::new(400, Kind::Lacking, format!("{field} is required"))
    }

    fn invalid(field: &str, why: impl fmt::Display) -> ApiError {
        ApiError::new(400, Kind::Invalid, format!("{field}: {why}"))
    }

    fn image(field: &str, problem: ImageProblem) -> ApiError {
        let kind = match problem {
            ImageProblem::Format(_) | ImageProblem::NotAnImage(_) => Kind::ImageFormat,
            ImageProblem::TooLarge(_) | ImageProblem::Dimensions(_) => Kind::Invalid,
        };
        ApiError::new(400, kind, format!("{field}: {}", problem.message()))
    }
}

/// Renders an error in the provider's shape.
fn error_response(shared: &Shared, provider: Provider, e: ApiError) -> Response {
    let request_id = next_request_id(shared);
    let response = match provider {
        Provider::UModelVerse => {
            let (ty, code) = match e.kind {
                Kind::Auth => ("auth_error", "invalid_api_key"),
                Kind::NotFound => ("invalid_request_error", "task_not_found"),
                Kind::Throttled => ("rate_limit_error", "rate_limit_error"),
                Kind::Unavailable => ("internal_error", "service_unavailable"),
                _ => ("invalid_request_error", "param_error"),
            };
            Response::json(
                e.status,
                &json!({
                    "error": {"type": ty, "code": code, "message": e.message},
                    "request_id": request_id,
                }),
            )
        }
        Provider::Vtrix => {
            let code = match e.kind {
                Kind::Auth => "unauthorized",
                Kind::NotFound => "task_not_found",
                Kind::Throttled => "rate_limited",
                Kind::Unavailable => "service_unavailable",
                Kind::TooLarge => "request_too_large",
                _ => "invalid_parameter",
            };
            Response::json(
                e.status,
                &json!({"error": {"code": code, "message": e.message}}),
            )
        }
        Provider::Vidu => {
            let reason = match e.kind {
                Kind::Auth => "Unauthorized",
                Kind::Lacking => "FieldLacking",
                Kind::Invalid => "FieldInvalid",
                Kind::ImageFormat => "ImageFormatInvalid",
                Kind::TooLarge | Kind::BadRequest => "BadRequest",
                Kind::NotFound => "TaskNotFound",
                Kind::Throttled => "TooManyRequests",
                Kind::Unavailable => "InternalServiceFailure",
            };
            Response::json(
                e.status,
                &json!({
                    "code": e.status,
                    "reason": reason,
                    "message": e.message,
                    "metadata": {"trace_id": request_id},
                }),
            )
            .with_header("x-md-trace-id", request_id)
        }
    };
    if e.kind == Kind::Auth && provider != Provider::UModelVerse {
        let scheme = if provider == Provider::Vidu {
            "Token"
        } else {
            "Bearer"
        };
        return response.with_header("WWW-Authenticate", scheme);
    }
    response
}

fn next_request_id(shared: &Shared) -> String {
    let mut state = shared.lock();
    state.next_serial += 1;
    format!("req-{:08x}", state.next_serial)
}

/// Dispatches one request of the API origin.
pub(crate) fn handle(shared: &Shared, req: &Request) -> Response {
    let path = req.path.as_str();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        ("POST", ["v1", "tasks", "submit"]) => submit(shared, req, Provider::UModelVerse),
        ("GET", ["v1", "tasks", "status"]) => {
            let id = req.query_param("task_id").unwrap_or_default();
            status(shared, req, Provider::UModelVerse, &id)
        }
        ("POST", ["model", "v1", "generation"]) => submit(shared, req, Provider::Vtrix),
        ("GET", ["model", "v1", "generation", "task", id]) => {
            status(shared, req, Provider::Vtrix, id)
        }
        ("POST", ["ent", "v2", "img2video"]) => submit(shared, req, Provider::Vidu),
        ("GET", ["ent", "v2", "tasks", id, "creations"]) => status(shared, req, Provider::Vidu, id),
        ("POST", ["ent", "v2", "tasks", id, "cancel"]) => cancel(shared, req, id),
        ("GET" | "HEAD", ["videos", _]) if shared.options.scenario == Scenario::RedirectVideo => {
            let query = if req.query.is_empty() {
                String::new()
            } else {
                format!("?{}", req.query)
            };
            let location = format!("{}{}{}", shared.video_base(), req.path, query);
            Response::new(302, "text/plain", format!("Found: {location}\n"))
                .with_header("Location", location)
        }
        (
            _,
            ["v1", "tasks", "submit" | "status"]
            | ["model", "v1", "generation"]
            | ["model", "v1", "generation", "task", _]
            | ["ent", "v2", "img2video"]
            | ["ent", "v2", "tasks", _, "creations" | "cancel"],
        ) => Response::json(405, &json!({"error": "method not allowed"})),
        _ => Response::json(404, &json!({"error": "not found", "path": path})),
    }
}

/// Checks the `Authorization` header with the provider's scheme.
fn check_auth(shared: &Shared, provider: Provider, req: &Request) -> Result<(), ApiError> {
    let fail = |why: &str| ApiError::new(401, Kind::Auth, why.to_string());
    let Some(header) = req.header("authorization") else {
        return Err(fail("missing Authorization header"));
    };
    let split = header
        .split_once(' ')
        .map(|(scheme, key)| (Some(scheme), key))
        .unwrap_or((None, header));
    let key = match (provider, split) {
        (Provider::UModelVerse, (None, key)) => key,
        (Provider::UModelVerse, (Some(s), key)) if s.eq_ignore_ascii_case("bearer") => key,
        (Provider::Vtrix, (Some(s), key)) if s.eq_ignore_ascii_case("bearer") => key,
        (Provider::Vidu, (Some(s), key)) if s.eq_ignore_ascii_case("token") => key,
        (Provider::UModelVerse, _) => {
            return Err(fail(
                "Authorization must be `<API_KEY>` or `Bearer <API_KEY>`",
            ))
        }
        (Provider::Vtrix, _) => return Err(fail("Authorization must be `Bearer <API_KEY>`")),
        (Provider::Vidu, _) => return Err(fail("Authorization must be `Token <API_KEY>`")),
    };
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(fail("invalid API key"));
    }
    match &shared.options.api_key {
        Some(expected) if expected != key => Err(fail("invalid API key")),
        _ => Ok(()),
    }
}

/// A validated submit.
struct Submitted {
    model: String,
    duration: u32,
    payload: String,
    /// The echo fields of a Vidu submit response.
    echo: Map<String, Value>,
}

fn submit(shared: &Shared, req: &Request, provider: Provider) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
    let (json, image) = redact_image(provider, parsed.clone());
    let record = SubmitRecord {
        provider: provider.name(),
        authorization: req.header("authorization").unwrap_or_default().to_string(),
        json,
        image,
        body_len: req.body.len() as u64,
        headers: req.headers.clone(),
    };
    let result = check_auth(shared, provider, req)
        .and_then(|()| check_body(provider, req, parsed.as_ref()))
        .and_then(|body| match provider {
            Provider::UModelVerse => validate_umodelverse(body),
            Provider::Vtrix => validate_vtrix(body),
            Provider::Vidu => validate_vidu(body),
        });
    let submitted = match result {
        Ok(s) => s,
        Err(e) => {
            {
                let mut state = shared.lock();
                state.stats.last_submit = Some(record);
                if e.status < 500 {
                    state.stats.rejected_submits += 1;
                }
            }
            return error_response(shared, provider, e);
        }
    };
    let task = {
        let mut state = shared.lock();
        state.stats.last_submit = Some(record);
        state.stats.submits += 1;
        state.next_serial += 1;
        let serial = state.next_serial;
        let id = match provider {
            Provider::UModelVerse => format!("umv-{serial:06}-{:08x}", mix(serial)),
            Provider::Vtrix => format!("vtx{serial:05}{:012x}", mix(serial) & 0xffff_ffff_ffff),
            Provider::Vidu => format!("{}", 860_000_000_000_000_000u64 + serial),
        };
        let task = Task {
            provider,
            id: id.clone(),
            model: submitted.model.clone(),
            duration: submitted.duration,
            payload: submitted.payload.clone(),
            phase: Phase::Running(0),
            polls_in_phase: 0,
            created_unix: unix_now(),
            finished_unix: 0,
            sig: 1,
            serial,
        };
        state.tasks.insert(id, task.clone());
        task
    };
    if shared.options.scenario == Scenario::ResetAfterSubmit {
        return Response {
            after: super::http::After::Reset,
            ..Response::new(200, "application/json", "")
        };
    }
    let request_id = next_request_id(shared);
    match provider {
        Provider::UModelVerse => Response::json(
            200,
            &json!({"output": {"task_id": task.id}, "request_id": request_id}),
        ),
        Provider::Vtrix => Response::json(200, &task_json(shared, &task, Phase::Running(0))),
        Provider::Vidu => {
            let mut body = Map::new();
            body.insert("task_id".into(), json!(task.id));
            body.insert("state".into(), json!("created"));
            for (k, v) in submitted.echo {
                body.insert(k, v);
            }
            body.insert("credits".into(), json!(credits(&task)));
            body.insert("created_at".into(), json!(rfc3339_now()));
            Response::json(200, &Value::Object(body)).with_header("x-md-trace-id", request_id)
        }
    }
}

fn mix(n: u64) -> u64 {
    // splitmix64: ids that do not look sequential.
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn credits(task: &Task) -> u64 {
    u64::from(task.duration) * 2
}

/// Replaces the image string with `"<image>"` and describes it.
fn redact_image(provider: Provider, json: Option<Value>) -> (Value, String) {
    let Some(mut json) = json else {
        return (Value::Null, String::new());
    };
    let slot = match provider {
        Provider::UModelVerse => json.pointer_mut("/input/first_frame_url"),
        Provider::Vtrix => json.pointer_mut("/input/0/params/images/0"),
        Provider::Vidu => json.pointer_mut("/images/0"),
    };
    let mut image = String::new();
    if let Some(slot) = slot {
        if let Value::String(s) = slot {
            image = image_check::describe(s);
        }
        *slot = json!("<image>");
    }
    (json, image)
}

/// Content type, body size and JSON object.
fn check_body<'a>(
    provider: Provider,
    req: &Request,
    parsed: Option<&'a Value>,
) -> Result<&'a Map<String, Value>, ApiError> {
    let len = req.body.len() as u64;
    if provider != Provider::UModelVerse && len > MAX_GATEWAY_BODY {
        return Err(ApiError::new(
            413,
            Kind::TooLarge,
            format!("request body is {len} bytes, at most {MAX_GATEWAY_BODY} (20 MB) accepted; pass the image as a URL"),
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

/// Typed field access with errors naming the field by its full path.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Fields { map, prefix }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(&self.name(key), "must be a string")),
        }
    }

    fn req_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.opt_str(key)?
            .ok_or_else(|| ApiError::lacking(&self.name(key)))
    }

    fn opt_int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(&self.name(key), "must be an integer")),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(&self.name(key), "must be a boolean")),
        }
    }

    fn req_object(&self, key: &str) -> Result<&'a Map<String, Value>, ApiError> {
        match self.get(key) {
            None => Err(ApiError::lacking(&self.name(key))),
            Some(Value::Object(m)) => Ok(m),
            Some(_) => Err(ApiError::invalid(&self.name(key), "must be an object")),
        }
    }

    /// An array holding exactly one string.
    fn one_image(&self, key: &str) -> Result<&'a str, ApiError> {
        let name = self.name(key);
        match self.get(key) {
            None => Err(ApiError::lacking(&name)),
            Some(Value::Array(items)) => match items.as_slice() {
                [Value::String(s)] => Ok(s),
                [_] => Err(ApiError::invalid(&name, "items must be strings")),
                _ => Err(ApiError::invalid(
                    &name,
                    format!(
                        "must hold exactly one image for image-to-video, got {}",
                        items.len()
                    ),
                )),
            },
            Some(_) => Err(ApiError::invalid(&name, "must be an array of strings")),
        }
    }

    fn prompt(&self, max_chars: usize) -> Result<String, ApiError> {
        let prompt = self.opt_str("prompt")?.unwrap_or("");
        let n = prompt.chars().count();
        if n > max_chars {
            return Err(ApiError::invalid(
                &self.name("prompt"),
                format!("{n} characters, at most {max_chars} allowed"),
            ));
        }
        Ok(prompt.to_string())
    }

    fn seed(&self) -> Result<Option<i64>, ApiError> {
        let seed = self.opt_int("seed")?;
        if seed.is_some_and(|s| !(0..=i64::from(u32::MAX)).contains(&s)) {
            return Err(ApiError::invalid(
                &self.name("seed"),
                "must be a non-negative 32-bit integer",
            ));
        }
        Ok(seed)
    }

    fn movement_amplitude(&self) -> Result<&'a str, ApiError> {
        let m = self.opt_str("movement_amplitude")?.unwrap_or("auto");
        if !["auto", "small", "medium", "large"].contains(&m) {
            return Err(ApiError::invalid(
                &self.name("movement_amplitude"),
                format!("{m:?} is not one of auto, small, medium, large"),
            ));
        }
        Ok(m)
    }

    fn callback_url(&self) -> Result<Option<&'a str>, ApiError> {
        let url = self.opt_str("callback_url")?;
        if let Some(u) = url {
            if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
                return Err(ApiError::invalid(
                    &self.name("callback_url"),
                    "must be an http(s) URL",
                ));
            }
        }
        Ok(url)
    }

    fn image(&self, field: &str, value: &str, max_decoded: u64) -> Result<(), ApiError> {
        image_check::check(value, max_decoded).map_err(|p| ApiError::image(&self.name(field), p))
    }
}

/// Limits of one upstream Vidu model.
struct ModelRule {
    durations: &'static [u32],
    default_duration: u32,
    resolutions: &'static [&'static str],
    default_resolution: &'static str,
    max_prompt: usize,
}

const Q_RES: &[&str] = &["540p", "720p", "1080p"];
const CLASSIC_RES: &[&str] = &["360p", "720p", "1080p"];

fn vidu_rule(model: &str) -> Option<ModelRule> {
    Some(match model {
        "viduq3-pro" | "viduq3-turbo" => ModelRule {
            durations: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            default_duration: 5,
            resolutions: Q_RES,
            default_resolution: "720p",
            max_prompt: 5000,
        },
        "viduq2-pro" | "viduq2-turbo" => ModelRule {
            durations: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            default_duration: 5,
            resolutions: Q_RES,
            default_resolution: "720p",
            max_prompt: 2000,
        },
        "viduq1" | "viduq1-classic" => ModelRule {
            durations: &[5],
            default_duration: 5,
            resolutions: &["1080p"],
            default_resolution: "1080p",
            max_prompt: 2000,
        },
        "vidu2.0" | "vidu1.5" => ModelRule {
            durations: &[4, 8],
            default_duration: 4,
            resolutions: CLASSIC_RES,
            default_resolution: "360p",
            max_prompt: 2000,
        },
        _ => return None,
    })
}

/// Checks duration and resolution against a rule; returns them with defaults filled in.
fn duration_resolution<'a>(
    f: &Fields<'a>,
    model: &str,
    rule: &ModelRule,
) -> Result<(u32, &'a str), ApiError> {
    let duration = match f.opt_int("duration")? {
        None => rule.default_duration,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| rule.durations.contains(d))
            .ok_or_else(|| {
                ApiError::invalid(
                    &f.name("duration"),
                    format!(
                        "{d} is not allowed for {model}: allowed {:?}",
                        rule.durations
                    ),
                )
            })?,
    };
    let resolution = match f.opt_str("resolution")? {
        None if duration == 8 && rule.durations == [4, 8] => "720p",
        None => rule.default_resolution,
        Some(r) => r,
    };
    if !rule.resolutions.contains(&resolution) {
        return Err(ApiError::invalid(
            &f.name("resolution"),
            format!(
                "{resolution:?} is not allowed for {model}: allowed {:?}",
                rule.resolutions
            ),
        ));
    }
    if rule.durations == [4, 8] && duration == 8 && resolution != "720p" {
        return Err(ApiError::invalid(
            &f.name("resolution"),
            format!("{model} makes 8 s videos in 720p only"),
        ));
    }
    Ok((duration, resolution))
}

fn validate_umodelverse(body: &Map<String, Value>) -> Result<Submitted, ApiError> {
    let top = Fields::new(body, "");
    let model = top.req_str("model")?;
    if !["viduq2-pro", "viduq2-turbo"].contains(&model) {
        return Err(ApiError::invalid(
            "model",
            format!("{model:?} is not one of viduq2-pro, viduq2-turbo"),
        ));
    }
    let input = Fields::new(top.req_object("input")?, "input.");
    let image = input.req_str("first_frame_url")?;
    input.image("first_frame_url", image, MAX_IMAGE_FILE)?;
    input.prompt(2000)?;
    let params = Fields::new(top.req_object("parameters")?, "parameters.");
    let vidu_type = params.req_str("vidu_type")?;
    if vidu_type != "img2video" {
        return Err(ApiError::invalid(
            "parameters.vidu_type",
            format!("{vidu_type:?} is not \"img2video\""),
        ));
    }
    let rule = vidu_rule(model).ok_or_else(|| ApiError::invalid("model", "unknown model"))?;
    let (duration, _) = duration_resolution(&params, model, &rule)?;
    params.seed()?;
    params.movement_amplitude()?;
    params.opt_bool("bgm")?;
    Ok(Submitted {
        model: model.to_string(),
        duration,
        payload: String::new(),
        echo: Map::new(),
    })
}

const VTRIX_PREFIX: &str = "vidu-cn-img2video-";
const VTRIX_PARAMS: &[&str] = &[
    "model",
    "images",
    "prompt",
    "duration",
    "resolution",
    "movement_amplitude",
    "callback_url",
];

fn validate_vtrix(body: &Map<String, Value>) -> Result<Submitted, ApiError> {
    let top = Fields::new(body, "");
    let model = top.req_str("model")?;
    let Some(upstream) = model.strip_prefix(VTRIX_PREFIX) else {
        return Err(ApiError::invalid(
            "model",
            format!("{model:?} is not a model id of the form {VTRIX_PREFIX}<model>"),
        ));
    };
    let Some(rule) = vidu_rule(upstream) else {
        return Err(ApiError::invalid(
            "model",
            format!("unknown model {model:?}"),
        ));
    };
    let params = match top.get("input") {
        None => return Err(ApiError::lacking("input")),
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::Object(item)] => match item.get("params") {
                Some(Value::Object(p)) => p,
                None => return Err(ApiError::lacking("input[0].params")),
                Some(_) => return Err(ApiError::invalid("input[0].params", "must be an object")),
            },
            _ => {
                return Err(ApiError::invalid(
                    "input",
                    "must be an array holding one object",
                ))
            }
        },
        Some(_) => return Err(ApiError::invalid("input", "must be an array")),
    };
    let f = Fields::new(params, "input[0].params.");
    if let Some(unknown) = params.keys().find(|k| !VTRIX_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            &f.name(unknown),
            format!("unknown parameter; accepted: {}", VTRIX_PARAMS.join(", ")),
        ));
    }
    let inner = f.req_str("model")?;
    if inner != upstream {
        return Err(ApiError::invalid(
            "input[0].params.model",
            format!("{inner:?} does not match the model id {model:?} (expected {upstream:?})"),
        ));
    }
    let image = f.one_image("images")?;
    f.image("images[0]", image, MAX_IMAGE_FILE)?;
    f.prompt(rule.max_prompt)?;
    let (duration, _) = duration_resolution(&f, upstream, &rule)?;
    f.movement_amplitude()?;
    f.callback_url()?;
    Ok(Submitted {
        model: model.to_string(),
        duration,
        payload: String::new(),
        echo: Map::new(),
    })
}

fn validate_vidu(body: &Map<String, Value>) -> Result<Submitted, ApiError> {
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
    let image = f.one_image("images")?;
    f.image("images[0]", image, MAX_VIDU_DECODED)?;
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
        duration,
        payload: payload.to_string(),
        echo,
    })
}

/// A state string no document lists, per provider.
fn unknown_state(provider: Provider) -> &'static str {
    match provider {
        Provider::UModelVerse => "Waiting",
        Provider::Vtrix => "queued",
        Provider::Vidu => "preparing",
    }
}

/// A status body for `task` in `phase` (`state_override` replaces the state string).
fn status_json(shared: &Shared, task: &Task, phase: Phase, state_override: Option<&str>) -> Value {
    let mut v = match task.provider {
        Provider::UModelVerse => {
            let (state, urls, finish, message) = match phase {
                Phase::Running(i) => (task.provider.intermediate_states()[i], vec![], 0, ""),
                Phase::Done(Outcome::Success) => (
                    "Success",
                    vec![shared.video_url(task)],
                    task.finished_unix,
                    "",
                ),
                Phase::Done(_) => (
                    "Failure",
                    vec![],
                    task.finished_unix,
                    "model_server_error: video generation failed",
                ),
            };
            json!({
                "output": {
                    "task_id": task.id,
                    "task_status": state,
                    "urls": urls,
                    "submit_time": task.created_unix,
                    "finish_time": finish,
                    "error_message": message,
                },
                "usage": {"duration": task.duration},
                "request_id": next_request_id(shared),
            })
        }
        Provider::Vtrix => task_json(shared, task, phase),
        Provider::Vidu => {
            let (state, err_code, creations) = match phase {
                Phase::Running(i) => (task.provider.intermediate_states()[i], "", json!([])),
                Phase::Done(Outcome::Success) => (
                    "success",
                    "",
                    json!([{
                        "id": format!("{}", 870_000_000_000_000_000u64 + task.serial),
                        "url": shared.video_url(task),
                        "cover_url": format!("{}/covers/{}.jpg?sig={}", shared.video_base(), task.id, task.sig),
                    }]),
                ),
                Phase::Done(Outcome::Failed) => ("failed", "InternalServiceFailure", json!([])),
                Phase::Done(Outcome::Cancelled) => ("cancelled", "", json!([])),
            };
            json!({
                "id": task.id,
                "state": state,
                "err_code": err_code,
                "credits": credits(task),
                "payload": task.payload,
                "creations": creations,
            })
        }
    };
    if let Some(state) = state_override {
        let slot = match task.provider {
            Provider::UModelVerse => v.pointer_mut("/output/task_status"),
            Provider::Vtrix => v.pointer_mut("/status"),
            Provider::Vidu => v.pointer_mut("/state"),
        };
        if let Some(slot) = slot {
            *slot = json!(state);
        }
    }
    v
}

/// The Vtrix task object (submit and status share it).
fn task_json(shared: &Shared, task: &Task, phase: Phase) -> Value {
    let (status, progress) = match phase {
        Phase::Running(0) => ("pending", 0.0),
        Phase::Running(i) => (
            task.provider.intermediate_states()[i.min(1)],
            // 0.1, 0.2, ... while polls go on, never 1.0 before the end.
            (f64::from(task.polls_in_phase.min(9)) / 10.0).max(0.1),
        ),
        Phase::Done(Outcome::Success) => ("completed", 1.0),
        Phase::Done(_) => ("failed", 1.0),
    };
    let mut v = json!({
        "id": task.id,
        "status": status,
        "model": task.model,
        "created_at": task.created_unix,
        "progress": progress,
        "usage": {"cost": "0.30", "discount": 0},
        "metadata": {},
    });
    match phase {
        Phase::Done(Outcome::Success) => {
            v["output"] = json!([{"content": [{
                "type": "video",
                "url": shared.video_url(task),
                "jobId": format!("{}", 9000 + task.serial),
            }]}]);
        }
        Phase::Done(_) => {
            v["error"] = json!({"code": "002014001", "message": "Video generation failed"});
        }
        Phase::Running(_) => {}
    }
    v
}

fn status(shared: &Shared, req: &Request, provider: Provider, id: &str) -> Response {
    shared.lock().stats.status_polls += 1;
    if let Err(e) = check_auth(shared, provider, req) {
        return error_response(shared, provider, e);
    }
    // Faults that come before the task is even looked up.
    let scenario = shared.options.scenario;
    let fault = {
        let mut state = shared.lock();
        let limit = match scenario {
            Scenario::Throttled { times, .. }
            | Scenario::Unavailable { times }
            | Scenario::MalformedStatus { times }
            | Scenario::UnknownState { times } => times,
            _ => 0,
        };
        let fault = state.faulted_polls < limit;
        if fault {
            state.faulted_polls += 1;
        }
        fault
    };
    match scenario {
        Scenario::Throttled {
            retry_after_secs, ..
        } if fault => {
            let e = ApiError::new(429, Kind::Throttled, "too many requests, retry later");
            return error_response(shared, provider, e)
                .with_header("Retry-After", retry_after_secs.to_string());
        }
        Scenario::Unavailable { .. } if fault => {
            let e = ApiError::new(503, Kind::Unavailable, "service temporarily unavailable");
            return error_response(shared, provider, e);
        }
        _ => {}
    }
    if id.is_empty() {
        return error_response(shared, provider, ApiError::lacking("task_id"));
    }
    let task = {
        let mut state = shared.lock();
        match state.tasks.get_mut(id) {
            Some(t) if t.provider == provider => {
                let phase = if fault {
                    // Malformed or unknown-state polls do not move the task on.
                    t.phase
                } else {
                    t.poll(&shared.options)
                };
                Some((t.clone(), phase))
            }
            _ => None,
        }
    };
    let Some((task, phase)) = task else {
        let e = ApiError::new(404, Kind::NotFound, format!("task {id:?} not found"));
        return error_response(shared, provider, e);
    };
    let response = match scenario {
        Scenario::MalformedStatus { .. } if fault => {
            let full = status_json(shared, &task, phase, None).to_string();
            Response::new(200, "application/json", &full.as_bytes()[..full.len() / 2])
        }
        Scenario::UnknownState { .. } if fault => Response::json(
            200,
            &status_json(shared, &task, phase, Some(unknown_state(provider))),
        ),
        _ => Response::json(200, &status_json(shared, &task, phase, None)),
    };
    if provider == Provider::Vidu {
        return response.with_header("x-md-trace-id", next_request_id(shared));
    }
    response
}

fn cancel(shared: &Shared, req: &Request, id: &str) -> Response {
    let provider = Provider::Vidu;
    shared.lock().stats.cancels += 1;
    let result = check_auth(shared, provider, req).and_then(|()| {
        let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
        let body = check_body(provider, req, parsed.as_ref())?;
        let f = Fields::new(body, "");
        let body_id = f.req_str("id")?;
        if body_id != id {
            return Err(ApiError::invalid(
                "id",
                format!("{body_id:?} does not match the task id {id:?} of the path"),
            ));
        }
        let mut state = shared.lock();
        let task = state
            .tasks
            .get_mut(id)
            .filter(|t| t.provider == provider)
            .ok_or_else(|| ApiError::new(404, Kind::NotFound, format!("task {id:?} not found")))?;
        match task.phase {
            Phase::Running(_) => {
                task.phase = Phase::Done(Outcome::Cancelled);
                task.finished_unix = unix_now();
                Ok(())
            }
            Phase::Done(outcome) => {
                let state = match outcome {
                    Outcome::Success => "success",
                    Outcome::Failed => "failed",
                    Outcome::Cancelled => "cancelled",
                };
                Err(ApiError::new(
                    400,
                    Kind::BadRequest,
                    format!("task state is {state}, can not cancel"),
                ))
            }
        }
    });
    match result {
        Ok(()) => {
            Response::json(200, &json!({})).with_header("x-md-trace-id", next_request_id(shared))
        }
        Err(e) => error_response(shared, provider, e),
    }
}
