//! UModelVerse (UCloud), `PROTOCOLS.md` §1: bare or `Bearer` key, `POST /v1/tasks/submit`,
//! `GET /v1/tasks/status?task_id=<id>`, states `Pending`, `Running`, `Success`, `Failure`.

use serde_json::{json, Map, Value};

use super::faults::Route;
use super::http::{Request, Response};
use super::provider::{
    auth_key, duration_resolution, vidu_rule, Api, ApiError, Fields, Kind, Routed, Submitted, MIB,
};
use super::tasks::{Outcome, Phase, Task};
use super::Shared;

/// Largest image (no body limit is documented; the file limit applies).
const MAX_IMAGE: u64 = 50 * MIB;

#[derive(Debug)]
pub(crate) struct UModelVerse;

impl Api for UModelVerse {
    fn name(&self) -> &'static str {
        "umodelverse"
    }

    fn route(&self, req: &Request) -> Option<Routed> {
        let (route, method) = match req.path.as_str() {
            "/v1/tasks/submit" => (Route::Submit, "POST"),
            "/v1/tasks/status" => (Route::Status, "GET"),
            _ => return None,
        };
        let task_id = match route {
            Route::Status => req.query_param("task_id").unwrap_or_default(),
            _ => String::new(),
        };
        Some(Routed {
            route,
            method,
            task_id,
        })
    }

    fn check_auth(&self, header: Option<&str>) -> Result<String, ApiError> {
        auth_key(header, &["", "bearer"], "`<API_KEY>` or `Bearer <API_KEY>`")
    }

    fn auth_challenge(&self) -> Option<&'static str> {
        None
    }

    fn max_body(&self) -> Option<u64> {
        None
    }

    fn image_pointer(&self) -> &'static str {
        "/input/first_frame_url"
    }

    fn validate(&self, body: &Map<String, Value>, image: &str) -> Result<Submitted, ApiError> {
        let top = Fields::new(body, "");
        let model = top.req_str("model")?;
        if !["viduq2-pro", "viduq2-turbo"].contains(&model) {
            return Err(ApiError::invalid(
                "model",
                format!("{model:?} is not one of viduq2-pro, viduq2-turbo"),
            ));
        }
        let input = Fields::new(top.req_object("input")?, "input.");
        input.req_str("first_frame_url")?;
        input.image("first_frame_url", image, MAX_IMAGE)?;
        let prompt = input.prompt(2000)?;
        let params = Fields::new(top.req_object("parameters")?, "parameters.");
        let vidu_type = params.req_str("vidu_type")?;
        if vidu_type != "img2video" {
            return Err(ApiError::invalid(
                "parameters.vidu_type",
                format!("{vidu_type:?} is not \"img2video\""),
            ));
        }
        let rule = vidu_rule(model).ok_or_else(|| ApiError::invalid("model", "unknown model"))?;
        let (duration, resolution) = duration_resolution(&params, model, &rule)?;
        params.seed()?;
        params.movement_amplitude()?;
        params.opt_bool("bgm")?;
        Ok(Submitted {
            model: model.to_string(),
            prompt,
            duration,
            resolution: resolution.to_string(),
            ..Submitted::default()
        })
    }

    fn task_id(&self, serial: u64) -> String {
        format!("umv-{serial:06}-{:08x}", super::mix(serial))
    }

    fn states(&self) -> &'static [&'static str] {
        &["Pending", "Running"]
    }

    fn queue_state(&self) -> usize {
        0
    }

    fn unknown_state(&self) -> &'static str {
        "Waiting"
    }

    fn state_pointer(&self) -> &'static str {
        "/output/task_status"
    }

    fn submit_answer(&self, shared: &Shared, task: &Task, _: Map<String, Value>) -> Response {
        Response::json(
            200,
            &json!({"output": {"task_id": task.id}, "request_id": shared.request_id()}),
        )
    }

    fn status_json(&self, shared: &Shared, task: &Task) -> Value {
        let (state, urls, finish, message) = match task.phase {
            Phase::Running(i) => (self.states()[i], vec![], 0, ""),
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
                "submit_time": task.created_unix(),
                "finish_time": finish,
                "error_message": message,
            },
            "usage": {"duration": task.duration},
            "request_id": shared.request_id(),
        })
    }

    fn error(&self, shared: &Shared, e: &ApiError) -> Response {
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
                "request_id": shared.request_id(),
            }),
        )
    }
}
