//! What a client call can fail with.

use mcp_core::ErrorObject;

/// A failed client operation.
///
/// [`Error::Remote`] is the only variant that came from the server; every
/// other one happened on this side (a timeout is never mistaken for a
/// server's answer). Match on the variant, not on the `Display` text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a JSON-RPC error.
    #[error("server error: {0}")]
    Remote(ErrorObject),
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
    Transport(#[from] mcp_core::Error),
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

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
