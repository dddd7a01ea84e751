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
/// | [`Error::Internal`] | -32603 "internal error", the cause logged, not sent | same |
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
    /// The server's setup is wrong (a secret missing or too short), found
    /// at startup. Names what is wrong, never a secret's value.
    #[error("configuration: {0}")]
    Config(String),
    /// Something failed that the client cannot act on (an I/O error, a
    /// value that would not serialize). The client gets -32603 with a
    /// generic message; the cause is logged on the server, never sent,
    /// since it may describe the server's insides. I/O and JSON errors
    /// convert to it, so `?` works on them in a handler.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
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
            Self::Config(why) => {
                tracing::error!(target: "mcp_server", error = %why, "misconfigured");
                ErrorObject::internal_error("internal error")
            }
            Self::Internal(cause) => {
                tracing::error!(target: "mcp_server", error = %cause, "a handler failed");
                ErrorObject::internal_error("internal error")
            }
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
        Self::Internal(Box::new(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self::Internal(e)
    }
}

/// A message for the model: `Err("no such city".to_owned())` in a tool
/// is an `isError` result saying so.
impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::Tool(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::Tool(message.to_owned())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
