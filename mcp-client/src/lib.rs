//! Model Context Protocol clients (not yet implemented).
//!
//! This crate will hold the client side of the SDK:
//!
//! - a client handle over any transport that probes the server's era
//!   (`server/discover`, falling back to `initialize`) and offers typed calls
//!   for every client-to-server method, with pagination, timeouts,
//!   cancellation on drop and progress callbacks;
//! - host handlers for elicitation, sampling and roots, with the
//!   multi-round-trip retry loop of 2026-07-28 driven by the client;
//! - a child-process stdio transport and a Streamable HTTP transport with
//!   legacy-session and HTTP+SSE fallbacks.
//!
//! Until then it exports nothing; the wire types it will use are in
//! `mcp-core`.
