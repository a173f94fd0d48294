//! TODO(provider helper)
#![allow(unused)]
use super::*;
pub(crate) fn submit_request(p: &SubmitParams<'_>) -> WireRequest {
    todo!()
}
pub(crate) fn parse_submit(body: &[u8]) -> Result<Submitted> {
    todo!()
}
pub(crate) fn status_request(task_id: &str) -> WireRequest {
    todo!()
}
pub(crate) fn parse_status(task_id: &str, body: &[u8]) -> Result<TaskStatus> {
    todo!()
}
pub(crate) fn cancel_request(task_id: &str) -> WireRequest {
    todo!()
}
pub(crate) fn parse_error(http_status: u16, body: &[u8]) -> ApiError {
    todo!()
}
