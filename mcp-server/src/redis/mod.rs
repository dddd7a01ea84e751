//! Shared state on Redis (feature `redis`): legacy sessions, the events
//! of their resumable streams, and rate-limit buckets, seen alike by every
//! instance of a server, so that a load balancer may send any request to
//! any instance.
//!
//! ```no_run
//! # async fn run() -> Result<(), mcp_server::Error> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mcp_server::http::{HttpOptions, StreamableHttp};
//! use mcp_server::limit::{Policy, Quota, RateLimits};
//! use mcp_server::redis::Redis;
//! use mcp_server::{Router, Server, ServerOptions};
//!
//! let redis = Redis::new("redis://127.0.0.1:6379/")?;
//! let mut options = ServerOptions::default();
//! options.rate_limits = Some(
//!     RateLimits::new()
//!         .policy(Policy::new("users", Quota::per_hour(40)).for_class("user"))
//!         .with_store(Arc::new(redis.rate_limits())),
//! );
//! let http = HttpOptions::default();
//! let endpoint = StreamableHttp::with_stores(
//!     Server::with_options(Router::new("notes", "1.0"), options),
//!     http.clone(),
//!     Arc::new(redis.sessions(http.max_sessions, http.session_idle)),
//!     Arc::new(redis.events()),
//! );
//! # let _ = endpoint; Ok(()) }
//! ```
//!
//! # Keys
//!
//! Every key starts with the prefix (`mcp:` unless
//! [`Redis::with_prefix`] says otherwise). A session's keys share its id
//! as a hash tag (`{…}`), so that each script touches one slot:
//!
//! | key | type | what | expires |
//! |---|---|---|---|
//! | `mcp:{SID}:session` | string | the session's record, JSON | idle time, renewed by each use |
//! | `mcp:sessions` | sorted set | session ids by expiry, for the cap | members as they expire |
//! | `mcp:{SID}:ev:STREAM` | stream | the stream's events, field `m` | idle time, renewed by each event |
//! | `mcp:{SID}:ev:STREAM:bytes` | string | bytes kept in that stream | with the stream |
//! | `mcp:{SID}:ev:STREAM:trimmed` | string | set once the stream dropped events | with the stream |
//! | `mcp:{SID}:streams` | set | the session's stream names | with the session's last event |
//! | `mcp:rl:KEY` | string | a rate-limit bucket's theoretical arrival time, µs | when the bucket is full again |
//!
//! # Faults
//!
//! Each command has a time limit ([`Redis::with_timeout`], 2 s): when
//! Redis is unreachable or hangs, stores fail with
//! [`Error::Unavailable`](crate::Error::Unavailable), which requests answer
//! with 503 and `Retry-After`, and readiness fails. The connection is made
//! when first needed and remade in the background after it breaks (at most
//! one attempt a second while Redis is down): service resumes by itself.

mod bus;
mod connection;
mod events;
mod limits;
mod sessions;

pub use bus::RedisBus;
pub use connection::Redis;
pub use events::RedisEventStore;
pub use limits::RedisRateLimitStore;
pub use sessions::RedisSessionStore;

use std::time::{Duration, SystemTime};

/// Whether `name` (a session id or a stream name, both of which a client
/// sends) may become part of a key: 1 to 128 ASCII letters, digits, `-`,
/// `_` or `.`. The SDK's own ids are; anything else names no session and
/// no stream, and never reaches Redis, where a `}` or `:` could move it
/// into another key's place or hash slot.
fn well_formed(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Milliseconds since the Unix epoch: the clock of scores and arrival
/// times, which must agree across instances (keep their clocks in sync).
fn unix_ms(t: SystemTime) -> u64 {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A duration in whole milliseconds, at least one (Redis refuses a zero
/// expiry).
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
