//! Streamable HTTP: the MCP endpoint as a `tower::Service`, and a way to
//! serve it on a TCP listener.

mod body;
mod security;
mod serve;
mod service;

pub use body::Body;
pub use security::AllowedHosts;
pub use serve::serve;
pub use service::{HttpOptions, StreamableHttp};
