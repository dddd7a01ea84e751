//! What a client call can fail with.

use mcp_core::ErrorObject;

/// A failed client operation.
///
/// [`Error::Remote`] (a JSON-RPC error) and [`Error::Http`] (an HTTP
/// refusal) came from the server; every other one happened on this side or
/// on the way (a timeout, a broken connection: [`Error::Transport`]), and
/// is never mistaken for a server's answer. Match on the variant, not on
/// the `Display` text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a JSON-RPC error.
    #[error("server error: {0}")]
    Remote(ErrorObject),
    /// The server refused the request at the HTTP level, with no JSON-RPC
    /// answer: 401 or 403 when it wants other credentials (the challenges
    /// say which), another status when it, or something in front of it,
    /// would not serve the request.
    #[error("HTTP {status}{}: {body}", challenges(www_authenticate))]
    Http {
        /// The status code.
        status: u16,
        /// The `WWW-Authenticate` challenges, as sent (for example
        /// `Bearer resource_metadata="https://…", scope="files:read"`).
        www_authenticate: Vec<String>,
        /// The response body, as text.
        body: String,
    },
    /// No answer within the request's timeout; the request was cancelled.
    #[error("{method} timed out")]
    Timeout {
        /// The method that timed out.
        method: String,
    },
    /// The server cancelled the request (as it ends a subscription).
    #[error("the server cancelled {method}")]
    CancelledByServer {
        /// The method.
        method: String,
    },
    /// One round asked for more input than a client will give in one go.
    #[error("the server asked for {0} inputs in one round")]
    TooManyInputRequests(usize),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// Reading or writing the transport failed.
    #[error("transport: {0}")]
    Transport(#[source] mcp_core::Error),
    /// The server's answer did not match the method's result type.
    #[error("invalid result for {method}: {message}")]
    InvalidResult {
        /// The method.
        method: String,
        /// What did not match.
        message: String,
    },
    /// Client and server share no protocol version, or the server broke the
    /// handshake.
    #[error("incompatible server: {0}")]
    Incompatible(String),
    /// The server kept asking for input beyond the round limit.
    #[error("the server asked for input more than {0} times")]
    TooManyInputRounds(usize),
    /// The server asked for input this client has no handler for.
    #[error("the server asked for {0}, which this client does not provide")]
    InputUnsupported(String),
    /// The method does not exist in the protocol era the server speaks.
    #[error("{method} is not available in this server's protocol era")]
    NotInEra {
        /// The method.
        method: &'static str,
    },
    /// Starting or stopping a child process failed.
    #[error("process: {0}")]
    Process(#[source] std::io::Error),
}

/// ` (WWW-Authenticate: …)` for an error's text, or nothing.
fn challenges(www_authenticate: &[String]) -> String {
    if www_authenticate.is_empty() {
        String::new()
    } else {
        format!(" (WWW-Authenticate: {})", www_authenticate.join(", "))
    }
}

impl From<mcp_core::Error> for Error {
    fn from(e: mcp_core::Error) -> Self {
        match e {
            mcp_core::Error::HttpStatus {
                status,
                www_authenticate,
                body,
            } => Self::Http {
                status,
                www_authenticate,
                body,
            },
            other => Self::Transport(other),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
