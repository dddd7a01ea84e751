//! The error a handler returns, and what becomes of it.

use mcp_core::ErrorObject;

/// What a handler (or a tool) can fail with.
///
/// How the failure reaches the client depends on the variant:
///
/// | variant | tools/call | other requests |
/// |---|---|---|
/// | [`Error::Protocol`] | JSON-RPC error | JSON-RPC error |
/// | [`Error::Tool`] | result with `isError: true`, so the model sees it | -32603 internal error |
/// | input required (from [`RequestContext::elicit`] and friends) | `InputRequiredResult` on 2026-07-28 | same |
///
/// Match on the variant, not on the `Display` text.
///
/// [`RequestContext::elicit`]: crate::RequestContext::elicit
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Answer with this JSON-RPC error.
    #[error("{0}")]
    Protocol(ErrorObject),
    /// The tool ran and failed; the model is told, the protocol is not.
    #[error("tool error: {0}")]
    Tool(String),
    /// The request needs input from the client first. Produced by the
    /// request context on 2026-07-28 requests; propagate it with `?`.
    #[error("input required from the client")]
    InputRequired,
    /// The connection to the client is gone.
    #[error("connection closed")]
    Closed,
    /// A request to the client got no answer in time.
    #[error("the client did not answer in time")]
    Timeout,
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] mcp_core::Error),
    /// A backing store (of HTTP sessions or events) failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    /// A tool failure with `message`, reported to the model as an
    /// `isError` result.
    pub fn tool(message: impl std::fmt::Display) -> Self {
        Self::Tool(message.to_string())
    }

    /// -32602 with `message`.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::Protocol(ErrorObject::invalid_params(message))
    }

    /// The JSON-RPC error object for a non-tool request.
    pub(crate) fn into_error_object(self) -> ErrorObject {
        match self {
            Self::Protocol(e) => e,
            Self::Tool(message) => ErrorObject::internal_error(message),
            Self::InputRequired => ErrorObject::internal_error("input required"),
            Self::Closed => ErrorObject::internal_error("connection closed"),
            Self::Timeout => ErrorObject::internal_error("the client did not answer in time"),
            Self::Transport(e) => ErrorObject::internal_error(e.to_string()),
            Self::Unavailable(why) => ErrorObject::internal_error(why),
        }
    }
}

impl From<ErrorObject> for Error {
    fn from(e: ErrorObject) -> Self {
        Self::Protocol(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Tool(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Tool(e.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
