//! A legacy session as one instance serves it, and the answers for a
//! session that cannot be served.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use http::{Response, StatusCode};
use mcp_core::{ErrorObject, ProtocolVersion};
use tokio::sync::mpsc;

use crate::handler::Handler;
use crate::http::body::Body;
use crate::http::relay::SessionBus;
use crate::http::reply::{error, too_busy};
use crate::http::resume::Streams;
use crate::quota::Slot;
use crate::session::Connection;
use mcp_core::transport::Outgoing;

/// A legacy session as this instance serves it.
pub(super) struct Session<H: Handler> {
    pub(super) conn: Arc<Connection<H>>,
    /// Server messages outside any request, until the first GET takes them.
    pub(super) standalone: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    pub(super) streams: Arc<Streams>,
    /// Where instances share sessions: the others.
    pub(super) bus: Option<SessionBus>,
    pub(super) last_seen: Mutex<Instant>,
    /// The change count of the connection's state last written to the store.
    pub(super) saved: AtomicU64,
    /// Who started the session; requests from anyone else are refused.
    pub(super) principal: Option<String>,
    /// How spans name it: a digest of the id, computed once.
    pub(super) label: crate::telemetry::SessionLabel,
    /// The session's place in its client's quota, on the instance that
    /// started it.
    pub(super) _quota: Option<Slot>,
}

impl<H: Handler> Session<H> {
    /// Whether its SSE streams start with a priming event: clients of
    /// 2025-11-25 and later expect one (earlier ones may choke on it).
    pub(super) fn primes(&self) -> bool {
        self.conn
            .state()
            .legacy_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V2025_11_25.as_str())
    }

    pub(super) fn touch(&self) {
        *lock(&self.last_seen) = Instant::now();
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn not_found() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        None,
        ErrorObject::invalid_request("Session not found"),
    )
}

/// 503 for a store that failed, with the `Retry-After` a store that is
/// down for a moment warrants (as rate limits whose store is down).
pub(super) fn unavailable(e: &crate::Error) -> Response<Body> {
    tracing::error!(error = %e, "session store failed");
    too_busy(
        StatusCode::SERVICE_UNAVAILABLE,
        5,
        None,
        ErrorObject::internal_error("sessions are unavailable; retry later"),
    )
}

pub(super) fn missing_session() -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        None,
        ErrorObject::invalid_request("Bad Request: Mcp-Session-Id header is required"),
    )
}
