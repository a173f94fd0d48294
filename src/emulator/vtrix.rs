//! The Vtrix gateway, `PROTOCOLS.md` §2: `Bearer` key, `POST /model/v1/generation` with the
//! parameters in `input[0].params`, `GET /model/v1/generation/task/<id>`; submit and status
//! share one task object; states `pending`, `in_progress`, `completed`, `failed`.

use serde_json::{json, Map, Value};

use super::faults::Route;
use super::http::{Request, Response};
use super::provider::{
    auth_key, duration_resolution, vidu_rule, Api, ApiError, Fields, Kind, Routed, Submitted, MIB,
};
use super::tasks::{Outcome, Phase, Task};
use super::Shared;

const MAX_BODY: u64 = 20 * MIB;
const MAX_IMAGE: u64 = 50 * MIB;
const PREFIX: &str = "vidu-cn-img2video-";
/// The only parameters the seed document lists.
const PARAMS: &[&str] = &[
    "model",
    "images",
    "prompt",
    "duration",
    "resolution",
    "movement_amplitude",
    "callback_url",
];

#[derive(Debug)]
pub(crate) struct Vtrix;

impl Vtrix {
    /// The task object submit and status share.
    fn task_json(&self, shared: &Shared, task: &Task) -> Value {
        let (status, progress) = match task.phase {
            Phase::Running(0) => ("pending", 0.0),
            Phase::Running(i) => (
                self.states()[i.min(1)],
                // 0.1, 0.2, ... while polls go on, never 1.0 before the end.
                (f64::from(task.polls_in_phase.min(9)) / 10.0).max(0.1),
            ),
            Phase::Done(Outcome::Success) => ("completed", 1.0),
            Phase::Done(_) => ("failed", 1.0),
        };
        let mut v = json!({
            "id": task.id,
            "status": status,
            "model": &*task.model,
            "created_at": task.created_unix(),
            "progress": progress,
            "usage": {"cost": "0.30", "discount": 0},
            "metadata": {},
        });
        match task.phase {
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
}

impl Api for Vtrix {
    fn name(&self) -> &'static str {
        "vtrix"
    }

    fn route(&self, req: &Request) -> Option<Routed> {
        let rest = req.path.strip_prefix("/model/v1/generation")?;
        let (route, method, task_id) = match rest.strip_prefix("/task/") {
            None if rest.is_empty() => (Route::Submit, "POST", ""),
            Some(id) if !id.is_empty() && !id.contains('/') => (Route::Status, "GET", id),
            _ => return None,
        };
        Some(Routed {
            route,
            method,
            task_id: task_id.to_string(),
        })
    }

    fn check_auth(&self, header: Option<&str>) -> Result<String, ApiError> {
        auth_key(header, &["bearer"], "`Bearer <API_KEY>`")
    }

    fn auth_challenge(&self) -> Option<&'static str> {
        Some("Bearer")
    }

    fn max_body(&self) -> Option<u64> {
        Some(MAX_BODY)
    }

    fn image_pointer(&self) -> &'static str {
        "/input/0/params/images/0"
    }

    fn validate(&self, body: &Map<String, Value>, image: &str) -> Result<Submitted, ApiError> {
        let top = Fields::new(body, "");
        let model = top.req_str("model")?;
        let Some(upstream) = model.strip_prefix(PREFIX) else {
            return Err(ApiError::invalid(
                "model",
                format!("{model:?} is not a model id of the form {PREFIX}<model>"),
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
                    Some(_) => {
                        return Err(ApiError::invalid("input[0].params", "must be an object"))
                    }
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
        if let Some(unknown) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(ApiError::invalid(
                &f.name(unknown),
                format!("unknown parameter; accepted: {}", PARAMS.join(", ")),
            ));
        }
        let inner = f.req_str("model")?;
        if inner != upstream {
            return Err(ApiError::invalid(
                "input[0].params.model",
                format!("{inner:?} does not match the model id {model:?} (expected {upstream:?})"),
            ));
        }
        f.one_image("images")?;
        f.image("images[0]", image, MAX_IMAGE)?;
        let prompt = f.prompt(rule.max_prompt)?;
        let (duration, resolution) = duration_resolution(&f, upstream, &rule)?;
        f.movement_amplitude()?;
        f.callback_url()?;
        Ok(Submitted {
            model: model.to_string(),
            prompt,
            duration,
            resolution: resolution.to_string(),
            ..Submitted::default()
        })
    }

    fn task_id(&self, serial: u64) -> String {
        format!(
            "vtx{serial:05}{:012x}",
            super::mix(serial) & 0xffff_ffff_ffff
        )
    }

    fn states(&self) -> &'static [&'static str] {
        &["pending", "in_progress"]
    }

    fn queue_state(&self) -> usize {
        0
    }

    fn unknown_state(&self) -> &'static str {
        "queued"
    }

    fn state_pointer(&self) -> &'static str {
        "/status"
    }

    fn submit_answer(&self, shared: &Shared, task: &Task, _: Map<String, Value>) -> Response {
        Response::json(200, &self.task_json(shared, task))
    }

    fn status_json(&self, shared: &Shared, task: &Task) -> Value {
        self.task_json(shared, task)
    }

    fn error(&self, _: &Shared, e: &ApiError) -> Response {
        let code = match e.kind {
            Kind::Auth => "unauthorized",
            Kind::Forbidden => "forbidden",
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
}
