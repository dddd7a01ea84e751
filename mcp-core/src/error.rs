//! Error codes, the wire error object, and this crate's Rust error.
//!
//! Two different things share the word "error" here, and keeping them apart
//! matters: an [`ErrorObject`] is *data* that crosses the wire inside an error
//! response; [`Error`] is what a call into this crate returns. A local
//! problem (a frame too large, a parse failure) is never an `ErrorObject`
//! until the caller decides to tell the peer about it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::capabilities::ClientCapabilities;
use crate::jsonrpc::{ErrorResponse, RequestId};

/// A JSON-RPC error code.
///
/// An open set: codes this crate does not name still round-trip, and the
/// named ones are associated constants rather than enum variants, so new
/// codes in later protocol revisions are not a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[expect(clippy::exhaustive_structs, reason = "a code is an i32 by definition")]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// The method does not exist or is not available.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// Invalid method parameters. In 2026-07-28 also: resource not found,
    /// invalid cursor, unknown tool or prompt, missing required `_meta`.
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// Internal error.
    pub const INTERNAL_ERROR: Self = Self(-32603);
    /// Resource not found, as legacy revisions (2025-11-25 and earlier) send it.
    /// Modern peers must not emit it but should still accept it.
    pub const RESOURCE_NOT_FOUND: Self = Self(-32002);
    /// An HTTP header is missing, malformed or disagrees with the body (2026-07-28).
    pub const HEADER_MISMATCH: Self = Self(-32020);
    /// The request needs a client capability the request did not declare (2026-07-28).
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: Self = Self(-32021);
    /// The requested protocol version is not supported (2026-07-28).
    pub const UNSUPPORTED_PROTOCOL_VERSION: Self = Self(-32022);
    /// The request needs the user to complete a URL-mode elicitation first
    /// (2025-11-25 only; modern peers must not emit it).
    pub const URL_ELICITATION_REQUIRED: Self = Self(-32042);
    /// The caller is over a rate limit; `data` names the limit and when to
    /// retry. Not a spec code: an application code outside the ranges
    /// JSON-RPC and MCP reserve, with HTTP's 429 in its digits.
    pub const RATE_LIMITED: Self = Self(-31429);

    /// The code's name, for the codes this crate knows.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            -32700 => "parse error",
            -32600 => "invalid request",
            -32601 => "method not found",
            -32602 => "invalid params",
            -32603 => "internal error",
            -32002 => "resource not found",
            -32020 => "header mismatch",
            -32021 => "missing required client capability",
            -32022 => "unsupported protocol version",
            -32042 => "URL elicitation required",
            -31429 => "rate limited",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl From<i32> for ErrorCode {
    fn from(v: i32) -> Self {
        Self(v)
    }
}

/// The `error` member of an error response.
///
/// Boxed inside so that `Result<T, ErrorObject>` stays one pointer wide on
/// the error side.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorObject(Box<ErrorObjectInner>);

#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct ErrorObjectInner {
    code: ErrorCode,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

impl fmt::Debug for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorObject")
            .field("code", &self.0.code)
            .field("message", &self.0.message)
            .field("data", &self.0.data)
            .finish()
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for ErrorObject {}

impl ErrorObject {
    /// An error object with any code.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorObjectInner {
            code: code.into(),
            message: message.into(),
            data: None,
        }))
    }

    /// Attaches `data`.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.0.data = Some(data);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The data, if any.
    pub fn data(&self) -> Option<&Value> {
        self.0.data.as_ref()
    }

    /// -32700: the bytes were not JSON.
    pub fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(ErrorCode::PARSE_ERROR, format!("Parse error: {detail}"))
    }

    /// -32600: the JSON was not a valid request.
    pub fn invalid_request(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::INVALID_REQUEST,
            format!("Invalid request: {detail}"),
        )
    }

    /// -32601, naming the method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )
    }

    /// -32602 with a message saying what was wrong.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMS, message)
    }

    /// -32603.
    pub fn internal_error(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }

    /// Resource not found as 2026-07-28 reports it: -32602 with `data.uri`.
    pub fn resource_not_found(uri: &str) -> Self {
        Self::invalid_params(format!("Resource not found: {uri}"))
            .with_data(serde_json::json!({ "uri": uri }))
    }

    /// Resource not found as legacy revisions report it: -32002 with `data.uri`.
    pub fn legacy_resource_not_found(uri: &str) -> Self {
        Self::new(
            ErrorCode::RESOURCE_NOT_FOUND,
            format!("Resource not found: {uri}"),
        )
        .with_data(serde_json::json!({ "uri": uri }))
    }

    /// -32020: an HTTP header is missing, malformed, or disagrees with the body.
    pub fn header_mismatch(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::HEADER_MISMATCH,
            format!("Header mismatch: {detail}"),
        )
    }

    /// -32021 with `data.requiredCapabilities`.
    pub fn missing_client_capability(
        message: impl Into<String>,
        required: &ClientCapabilities,
    ) -> Self {
        Self::new(ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY, message)
            .with_data(serde_json::json!({ "requiredCapabilities": required }))
    }

    /// -32022 with `data.supported` and `data.requested`.
    pub fn unsupported_protocol_version<'a>(
        requested: &str,
        supported: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let supported: Vec<&str> = supported.into_iter().collect();
        Self::new(
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
        )
        .with_data(serde_json::json!({ "supported": supported, "requested": requested }))
    }

    /// -32042 (2025-11-25): the client must complete these URL-mode
    /// elicitations before retrying.
    pub fn url_elicitation_required(elicitations: &[crate::elicitation::UrlElicitation]) -> Self {
        Self::new(
            ErrorCode::URL_ELICITATION_REQUIRED,
            "This request requires more information.",
        )
        .with_data(serde_json::json!({ "elicitations": elicitations }))
    }

    /// -31429: over the rate limit `policy`, with `data.policy` and
    /// `data.retryAfter` (whole seconds, rounded up; absent when waiting
    /// would not help, as for a request that costs more than the quota).
    pub fn rate_limited(policy: &str, retry_after: Option<std::time::Duration>) -> Self {
        let secs = retry_after.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        let message = match secs {
            Some(secs) => format!("Rate limited by policy '{policy}': retry in {secs} s"),
            None => format!("Rate limited by policy '{policy}': this request exceeds its quota"),
        };
        let data = match secs {
            Some(secs) => serde_json::json!({ "policy": policy, "retryAfter": secs }),
            None => serde_json::json!({ "policy": policy }),
        };
        Self::new(ErrorCode::RATE_LIMITED, message).with_data(data)
    }

    /// For a -31429 error, how long the server asks to wait.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        if self.code() != ErrorCode::RATE_LIMITED {
            return None;
        }
        let secs = self.data()?.get("retryAfter")?.as_u64()?;
        Some(std::time::Duration::from_secs(secs))
    }

    /// For a -32022 error, the versions the server says it supports.
    pub fn supported_versions(&self) -> Option<Vec<String>> {
        if self.code() != ErrorCode::UNSUPPORTED_PROTOCOL_VERSION {
            return None;
        }
        let list = self.data()?.get("supported")?.as_array()?;
        Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    }
}

/// What can go wrong in this crate.
///
/// Match on the variant, not on the `Display` text, which is for people and
/// may change. Decoding variants carry what a peer must be told; turn them
/// into a reply with [`Error::to_error_response`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not valid JSON (JSON-RPC -32700).
    #[error("parse error: {message}")]
    Parse {
        /// What the JSON parser found.
        message: String,
    },
    /// Valid JSON that is not a valid JSON-RPC 2.0 message (-32600).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// The request id, when it could be read.
        id: Option<RequestId>,
        /// What was wrong.
        message: String,
    },
    /// A message shaped like a response (it has `result` or `error`) that
    /// is malformed. Never answered (responses are not), but the request it
    /// names, if any, should fail locally.
    #[error("invalid response: {message}")]
    InvalidResponse {
        /// The id it names, when readable.
        id: Option<RequestId>,
        /// What was wrong.
        message: String,
    },
    /// A request's or notification's params do not match its method (-32602).
    #[error("invalid params: {message}")]
    InvalidParams {
        /// What was wrong.
        message: String,
    },
    /// A response's result does not match the method it answers.
    #[error("invalid result: {message}")]
    InvalidResult {
        /// What was wrong.
        message: String,
    },
    /// A value could not be serialized.
    #[error("encode error: {message}")]
    Encode {
        /// What the serializer reported.
        message: String,
    },
    /// A frame exceeded the configured maximum size.
    #[error("frame of at least {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The configured maximum.
        max: usize,
        /// How many bytes were seen before giving up.
        len: usize,
    },
    /// A frame was not valid UTF-8.
    #[error("frame is not valid UTF-8 (first bad byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The transport failed; unlike the other variants this ends the stream.
    #[error("transport I/O error: {message}")]
    Io {
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
        /// What the operating system or transport reported.
        message: String,
    },
    /// The input ended in the middle of a frame.
    #[error("input ended inside a frame ({len} bytes without a newline)")]
    Truncated {
        /// How many bytes of the unfinished frame were buffered.
        len: usize,
    },
    /// A transport that reads each request's answer on its own (HTTP)
    /// could not read the answer to request `id`: `reason` says why (an
    /// answer over the size limit, say). Never sent to the peer; the
    /// request fails with it, and the transport goes on.
    #[error("request {id} failed: {reason}")]
    RequestFailed {
        /// The request.
        id: RequestId,
        /// Why.
        reason: Box<Self>,
    },
    /// An HTTP peer answered with an error status and no JSON-RPC answer
    /// (401 or 403 when it wants other credentials).
    #[error("HTTP {status}{}: {body}", challenges(www_authenticate))]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The `WWW-Authenticate` challenges, as sent (for example
        /// `Bearer resource_metadata="https://…", scope="files:read"`).
        www_authenticate: Vec<String>,
        /// The response body, as text (what the peer said was wrong).
        body: String,
    },
}

/// ` (WWW-Authenticate: …)` for an error's text, or nothing.
fn challenges(www_authenticate: &[String]) -> String {
    if www_authenticate.is_empty() {
        String::new()
    } else {
        format!(" (WWW-Authenticate: {})", www_authenticate.join(", "))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl Error {
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Io | Category::Syntax | Category::Eof => Self::Parse {
                message: e.to_string(),
            },
            Category::Data => Self::InvalidRequest {
                id: None,
                message: e.to_string(),
            },
        }
    }

    /// The error object to send to the peer, for errors a peer is owed an
    /// answer about (parse errors, invalid requests, invalid params, frames
    /// that were too large or not UTF-8). `None` for local-only failures.
    pub fn to_error_object(&self) -> Option<ErrorObject> {
        Some(match self {
            Self::Parse { message } => ErrorObject::parse_error(message),
            Self::InvalidRequest { message, .. } => ErrorObject::invalid_request(message),
            Self::InvalidParams { message } => {
                ErrorObject::invalid_params(format!("Invalid params: {message}"))
            }
            Self::FrameTooLarge { .. } => ErrorObject::invalid_request(self),
            Self::InvalidUtf8 { .. } => ErrorObject::parse_error(self),
            Self::InvalidResult { .. }
            | Self::RequestFailed { .. }
            | Self::HttpStatus { .. }
            | Self::InvalidResponse { .. }
            | Self::Encode { .. }
            | Self::Truncated { .. }
            | Self::Io { .. } => {
                return None;
            }
        })
    }

    /// Whether the stream this error came from is finished. Every other
    /// error concerns one frame or one value, and reading may go on.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Io { .. })
    }

    /// The complete error response to send, carrying the request id when it
    /// was readable.
    pub fn to_error_response(&self) -> Option<ErrorResponse> {
        let id = match self {
            Self::InvalidRequest { id, .. } => id.clone(),
            _ => None,
        };
        self.to_error_object().map(|e| ErrorResponse::new(id, e))
    }
}
