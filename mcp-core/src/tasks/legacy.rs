//! Tasks as 2025-11-25 defines them.

use serde::{Deserialize, Serialize};

use super::TaskStatus;
use crate::result::Cursor;
use crate::{JsonObject, Meta};

/// A task's state as `tasks/get`, `tasks/cancel` and
/// `notifications/tasks/status` carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Task {
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
    pub ttl: Option<u64>,
    /// Suggested polling interval in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<u64>,
    /// Result or notification metadata.
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
            task_id: task_id.into(),
            status,
            status_message: None,
            created_at: created_at.into(),
            last_updated_at: last_updated_at.into(),
            ttl: None,
            poll_interval: None,
            meta: None,
        }
    }
}

/// The answer to `tasks/get`.
pub type GetTaskResult = Task;
/// The answer to `tasks/cancel`.
pub type CancelTaskResult = Task;
/// Params of `notifications/tasks/status`.
pub type TaskStatusParams = Task;

/// The immediate answer to a task-augmented request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateTaskResult {
    /// The created task.
    pub task: Task,
    /// Result metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl CreateTaskResult {
    /// The result for `task`.
    pub fn new(task: Task) -> Self {
        Self { task, meta: None }
    }
}

/// The answer to `tasks/result`: the original request's result, as sent.
pub type GetTaskPayloadResult = JsonObject;

/// The answer to `tasks/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListTasksResult {
    /// The tasks on this page.
    pub tasks: Vec<Task>,
    /// The next page's cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Cursor>,
    /// Result metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ListTasksResult {
    /// A page of `tasks`.
    pub fn new(tasks: Vec<Task>) -> Self {
        Self {
            tasks,
            ..Self::default()
        }
    }
}
