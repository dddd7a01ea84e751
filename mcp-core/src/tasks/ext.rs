//! The `io.modelcontextprotocol/tasks` extension (2026-07-28).

use serde::{Deserialize, Serialize};

use super::TaskStatus;
use crate::error::ErrorObject;
use crate::meta::RequestMeta;
use crate::mrtr::{InputRequests, InputResponses};
use crate::result::ResultType;
use crate::{JsonObject, Meta};

/// A task with the details its status calls for. The same object is the
/// `tools/call` answer that creates a task (`resultType: "task"`), the
/// `tasks/get` answer (`"complete"`) and the `notifications/tasks` params
/// (no `resultType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Task {
    /// `"task"` when creating, `"complete"` from `tasks/get`, absent in a
    /// notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// The task id.
    pub task_id: String,
    /// Its state.
    pub status: TaskStatus,
    /// A message about the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 time of the last change.
    pub last_updated_at: String,
    /// Retention in ms; `null` means unlimited (always sent).
    pub ttl_ms: Option<u64>,
    /// Suggested polling interval in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    /// `input_required`: what the task needs; answer with `tasks/update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<InputRequests>,
    /// `completed`: the original request's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JsonObject>,
    /// `failed`: the JSON-RPC error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl Task {
    /// A task in `status`, created and updated at the given times.
    pub fn new(
        task_id: impl Into<String>,
        status: TaskStatus,
        created_at: impl Into<String>,
        last_updated_at: impl Into<String>,
    ) -> Self {
        Self {
            result_type: None,
            task_id: task_id.into(),
            status,
            status_message: None,
            created_at: created_at.into(),
            last_updated_at: last_updated_at.into(),
            ttl_ms: None,
            poll_interval_ms: None,
            input_requests: None,
            result: None,
            error: None,
            meta: None,
        }
    }
}

/// The `tools/call` answer that creates a task.
pub type CreateTaskResult = Task;
/// The answer to `tasks/get`.
pub type GetTaskResult = Task;
/// Params of `notifications/tasks`.
pub type TaskNotificationParams = Task;

/// Params of `tasks/update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UpdateTaskParams {
    /// The task.
    pub task_id: String,
    /// Answers to its outstanding input requests.
    pub input_responses: InputResponses,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

impl UpdateTaskParams {
    /// Answers for `task_id`.
    pub fn new(task_id: impl Into<String>, input_responses: InputResponses) -> Self {
        Self {
            task_id: task_id.into(),
            input_responses,
            meta: None,
        }
    }
}
