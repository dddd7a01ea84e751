//! The security event stream: every refusal a security or fairness rule
//! makes, as one `tracing` event under the target `mcp::security`, with
//! the same fields whichever rule it was, so that a log platform can alert
//! on it. `mcp-auth` writes its events (authentication, scopes) to the
//! same target with the same fields.
//!
//! Fields: `event` (what happened, from a fixed list), `client.address`
//! (the peer's IP, when the transport knows it), `principal` (who, when
//! authenticated) and `reason`. Never a token, a key or a session id.

use std::fmt;
use std::net::SocketAddr;

use mcp_core::transport::Principal;

/// Records that a request was refused by the rule `event`.
pub(crate) fn refused(
    event: &'static str,
    extensions: &http::Extensions,
    reason: &dyn fmt::Display,
) {
    let address = extensions.get::<SocketAddr>().map(|a| a.ip());
    let principal = extensions.get::<Principal>().map(|p| &*p.0);
    tracing::warn!(
        target: "mcp::security",
        event,
        client.address = address.map(tracing::field::display),
        principal,
        reason = %reason,
        "request refused"
    );
}
