//! Client side of MCP authorization: what an MCP client needs to get,
//! keep and renew access tokens.

pub mod flow;
pub mod pkce;
pub mod store;
