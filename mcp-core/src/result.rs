//! Pieces shared by many requests and results: `resultType`, cache hints,
//! pagination, the empty result.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::meta::{RequestMeta, ResultMeta};

/// An opaque pagination cursor.
pub type Cursor = String;

/// What kind of result this is (2026-07-28: required on every result).
///
/// Open: extensions add values (the tasks extension adds `"task"`); a value
/// neither side advertised must be treated as invalid by the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ResultType {
    /// `"complete"`: the final result. A missing `resultType` (legacy
    /// servers) means this.
    #[default]
    Complete,
    /// `"input_required"`: the server needs input; see
    /// [`InputRequiredResult`](crate::InputRequiredResult).
    InputRequired,
    /// `"task"`: the tasks extension created a task.
    Task,
    /// Any other value.
    Other(String),
}

impl ResultType {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Complete => "complete",
            Self::InputRequired => "input_required",
            Self::Task => "task",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ResultType {
    fn from(s: &str) -> Self {
        match s {
            "complete" => Self::Complete,
            "input_required" => Self::InputRequired,
            "task" => Self::Task,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for ResultType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = crate::meta::MetaKey::deserialize(d)?;
        Ok(Self::from(s.as_str()))
    }
}

/// Who may cache a cacheable result (2026-07-28).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CacheScope {
    /// Only the requesting user's client.
    Private,
    /// Any client.
    Public,
}

/// Params of requests that take nothing but `_meta` (`server/discover`,
/// `ping`, `roots/list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestParams {
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

impl RequestParams {
    /// Params with the given `_meta`.
    pub fn new(meta: RequestMeta) -> Self {
        Self { meta: Some(meta) }
    }
}

/// Params of list requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaginatedParams {
    /// Where to continue from, as returned in `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    /// Request metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

impl PaginatedParams {
    /// The first page.
    pub fn first_page() -> Self {
        Self::default()
    }

    /// The page after `cursor`.
    pub fn after(cursor: impl Into<Cursor>) -> Self {
        Self {
            cursor: Some(cursor.into()),
            meta: None,
        }
    }

    /// Sets `_meta`.
    #[must_use]
    pub fn with_meta(mut self, meta: RequestMeta) -> Self {
        self.meta = Some(meta);
        self
    }
}

/// A result with no content: `ping`, `logging/setLevel`, subscribe,
/// `tasks/update`, `tasks/cancel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EmptyResult {
    /// `"complete"` on 2026-07-28; absent on legacy revisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_type: Option<ResultType>,
    /// Result metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

impl EmptyResult {
    /// The legacy form: `{}`.
    pub fn legacy() -> Self {
        Self::default()
    }

    /// The modern form: `{"resultType": "complete"}`.
    pub fn complete() -> Self {
        Self {
            result_type: Some(ResultType::Complete),
            meta: None,
        }
    }
}
