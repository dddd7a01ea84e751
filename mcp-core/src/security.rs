//! The kinds of security event the SDK reports, shared by the crates that
//! report them so that the stream has one schema, and a count of each
//! since the process started (for metrics).
//!
//! The events themselves are `tracing` events under the target
//! [`TARGET`], written by the crate that refused (`mcp-server`,
//! `mcp-auth`), with the fields `event` ([`SecurityEvent::name`]),
//! `client.address`, `principal` and `reason`.

use std::sync::atomic::{AtomicU64, Ordering};

/// The `tracing` target of security events.
pub const TARGET: &str = "mcp::security";

/// What a security event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityEvent {
    /// A request's credentials were verified.
    AuthSuccess,
    /// A request had no credentials, or credentials that were refused.
    AuthFailure,
    /// Credentials could not be verified (the authorization server or a
    /// key set was unreachable).
    AuthUnavailable,
    /// The credentials lack a scope the request needs.
    ScopeRefused,
    /// A request refused before it was read (malformed credentials, a
    /// body too large or too slow).
    RequestRefused,
    /// A caller over a rate limit.
    RateLimited,
    /// A `Host` not allowed (DNS rebinding protection).
    HostRefused,
    /// An `Origin` not allowed.
    OriginRefused,
    /// A session id presented by a principal other than its owner.
    SessionPrincipalMismatch,
    /// A client over its own quota (sessions, requests in flight,
    /// subscription streams).
    QuotaExceeded,
    /// A server-wide limit reached (sessions, requests in flight,
    /// subscription streams, body size).
    LimitReached,
    /// A caller refused by an access policy (a gateway's rules on
    /// upstreams, tools, prompts and resources).
    PolicyRefused,
}

impl SecurityEvent {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 12] = [
        Self::AuthSuccess,
        Self::AuthFailure,
        Self::AuthUnavailable,
        Self::ScopeRefused,
        Self::RequestRefused,
        Self::RateLimited,
        Self::HostRefused,
        Self::OriginRefused,
        Self::SessionPrincipalMismatch,
        Self::QuotaExceeded,
        Self::LimitReached,
        Self::PolicyRefused,
    ];

    /// The value of the `event` field.
    pub const fn name(self) -> &'static str {
        match self {
            Self::AuthSuccess => "auth_success",
            Self::AuthFailure => "auth_failure",
            Self::AuthUnavailable => "auth_unavailable",
            Self::ScopeRefused => "scope_refused",
            Self::RequestRefused => "request_refused",
            Self::RateLimited => "rate_limited",
            Self::HostRefused => "host_refused",
            Self::OriginRefused => "origin_refused",
            Self::SessionPrincipalMismatch => "session_principal_mismatch",
            Self::QuotaExceeded => "quota_exceeded",
            Self::LimitReached => "limit_reached",
            Self::PolicyRefused => "policy_refused",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    /// Counts one occurrence.
    pub fn count(self) {
        if let Some(counter) = COUNTS.get(self.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Occurrences counted since the process started.
    pub fn total(self) -> u64 {
        COUNTS
            .get(self.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

static COUNTS: [AtomicU64; SecurityEvent::ALL.len()] = [const { AtomicU64::new(0) }; 12];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_counter_in_order() {
        for (i, event) in SecurityEvent::ALL.iter().enumerate() {
            assert_eq!(event.index(), i, "{event:?}");
        }
        let before = SecurityEvent::HostRefused.total();
        SecurityEvent::HostRefused.count();
        assert_eq!(SecurityEvent::HostRefused.total(), before + 1);
    }
}
