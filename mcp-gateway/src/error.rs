//! The crate's one error type.

/// What can go wrong in the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration (command line, files) cannot work; the text says
    /// what to change.
    #[error("{0}")]
    Config(String),
    /// A file or directory (named) could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// Authorization with the upstream's authorization server failed.
    #[error(transparent)]
    Auth(#[from] mcp_auth::Error),
    /// The MCP client side (the upstream connection) failed.
    #[error(transparent)]
    Client(#[from] mcp_client::Error),
    /// A transport failed for good (stdio closed badly, the upstream went
    /// away).
    #[error(transparent)]
    Transport(#[from] mcp_core::Error),
    /// The downstream server side failed.
    #[error(transparent)]
    Server(#[from] mcp_server::Error),
}
