//! Integration tests of `mcp-core`, one binary with a module per concern.

// Helpers outside `#[test]` functions fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod codec;
mod examples;
mod malformed;
mod protocol;
mod schema;
mod support;
