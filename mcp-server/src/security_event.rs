//! The security event stream: every refusal a security or fairness rule
//! makes, as one `tracing` event under the target `mcp::security`, with
//! the same fields whichever rule it was, so that a log platform can alert
//! on it, and counted for metrics. `mcp-auth` writes its events
//! (authentication, scopes) the same way; the kinds are
//! [`mcp_core::security::SecurityEvent`].
//!
//! Fields: `event` (what happened), `client.address` (the peer's IP, when
//! the transport knows it), `principal` (who, when authenticated) and
//! `reason`. Never a token, a key or a session id.

use std::fmt;
use std::net::SocketAddr;

use mcp_core::security::SecurityEvent;
use mcp_core::transport::Principal;

/// Records (and counts) that a request was refused by the rule `event`:
/// for handlers that make security decisions of their own (an access
/// policy, say), so that their refusals join the same stream.
///
/// ```
/// use mcp_core::security::SecurityEvent;
/// # fn run(ctx: &mcp_server::RequestContext) {
/// mcp_server::security_event::refused(
///     SecurityEvent::PolicyRefused,
///     ctx.extensions(),
///     &"tool delete_all: not for this caller",
/// );
/// # }
/// ```
pub fn refused(event: SecurityEvent, extensions: &http::Extensions, reason: &dyn fmt::Display) {
    event.count();
    let event = event.name();
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
