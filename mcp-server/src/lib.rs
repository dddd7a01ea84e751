//! Model Context Protocol servers (not yet implemented).
//!
//! This crate will hold the server side of the SDK:
//!
//! - a handler trait with method-not-found defaults and a typed router for
//!   tools (with JSON Schema generated from argument types), resources and
//!   resource templates, prompts and completion, all changeable at runtime;
//! - a request context giving handlers progress, cancellation, logging and
//!   `elicit` / `sample` / `roots` that work in both protocol eras;
//! - one dispatcher serving 2026-07-28 requests statelessly and legacy
//!   `initialize` sessions on the same connection;
//! - stdio serving, and Streamable HTTP as a `tower::Service` that mounts in
//!   axum or hyper, with session and event stores behind traits.
//!
//! Until then it exports nothing; the wire types it will use are in
//! `mcp-core`.
