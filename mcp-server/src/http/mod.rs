//! Streamable HTTP: the MCP endpoint as a `tower::Service`, and a way to
//! serve it on a TCP listener.

mod body;
mod events;
mod legacy;
mod modern;
mod respond;
mod resume;
mod security;
mod serve;
mod service;
mod sse2024;
mod store;

pub use body::Body;
pub use events::{EventStore, MemoryEventStore, Replay};
pub use mcp_core::BoxFuture;
pub use security::AllowedHosts;
pub use serve::{ServeOptions, serve, serve_service, serve_with};
pub use service::{HttpOptions, StreamableHttp};
pub use store::{MemorySessionStore, SessionRecord, SessionStore};
