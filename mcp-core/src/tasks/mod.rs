//! Tasks: long-running requests the client polls.
//!
//! Two designs share the name. [`legacy`] is the experimental core feature
//! of 2025-11-25 (task-augmented requests, `tasks/result`, `tasks/list`).
//! [`ext`] is the `io.modelcontextprotocol/tasks` extension for 2026-07-28
//! (a `tools/call` answered with `resultType: "task"`, polled with
//! `tasks/get`, fed with `tasks/update`).

pub mod ext;
pub mod legacy;

use serde::{Deserialize, Serialize};

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskStatus {
    /// Running.
    Working,
    /// Waiting for input from the requestor.
    InputRequired,
    /// Finished; the result is available.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// Asks for a request to run as a task (2025-11-25 `task` param).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskMetadata {
    /// Requested retention after creation, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

impl TaskMetadata {
    /// Retain the task for `ttl` ms.
    pub fn new(ttl: u64) -> Self {
        Self { ttl: Some(ttl) }
    }
}

/// Params naming one task (`tasks/get`, `tasks/cancel`, legacy `tasks/result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TaskIdParams {
    /// The task.
    pub task_id: String,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<crate::meta::RequestMeta>,
}

impl TaskIdParams {
    /// Params naming `task_id`.
    pub fn new(task_id: impl Into<String>) -> Self {
        Self {
            task_id: task_id.into(),
            meta: None,
        }
    }
}

/// The extension identifier of the 2026-07-28 tasks extension.
pub const EXTENSION_ID: &str = "io.modelcontextprotocol/tasks";
