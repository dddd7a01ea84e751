//! A secret (token, client secret) that does not show up in logs: the
//! type is `mcp-core`'s, shared with the server crates.

pub use mcp_core::secret::Secret;
