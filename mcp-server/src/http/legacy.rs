//! Legacy sessions (2025-03-26 … 2025-11-25): `initialize` starts one,
//! POSTs carry its messages, GET opens its stream of server messages,
//! DELETE ends it. What a session is lives in the [`SessionStore`]; its
//! connection and streams live with the instance serving it.
//!
//! [`SessionStore`]: super::SessionStore

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use mcp_core::{ErrorObject, Message, ProtocolVersion, RequestId, headers};
use tokio::sync::mpsc;

use super::body::Body;
use super::respond::{BODY_CAPACITY, accepted, sse_response};
use super::resume::{Pump, Resumed, STANDALONE, Streams};
use super::service::{Accepts, Inner, error, header, messages, require_sse, session_id, too_busy};
use crate::handler::Handler;
use crate::quota::{ClientQuota, Kind, Slot};
use crate::session::Connection;
use crate::session::peer::Outbox;

/// A legacy session as this instance serves it.
pub(super) struct Session<H: Handler> {
    pub(super) conn: Arc<Connection<H>>,
    /// Server messages outside any request, until the first GET takes them.
    standalone: Mutex<Option<mpsc::Receiver<Bytes>>>,
    pub(super) streams: Arc<Streams>,
    last_seen: Mutex<Instant>,
    /// The change count of the connection's state last written to the store.
    saved: AtomicU64,
    /// Who started the session; requests from anyone else are refused.
    principal: Option<String>,
    /// The session's place in its client's quota, on the instance that
    /// started it.
    _quota: Option<Slot>,
}

impl<H: Handler> Session<H> {
    /// Whether its SSE streams start with a priming event: clients of
    /// 2025-11-25 and later expect one (earlier ones may choke on it).
    pub(super) fn primes(&self) -> bool {
        self.conn
            .legacy_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V2025_11_25.as_str())
    }

    fn touch(&self) {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

fn not_found() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        None,
        ErrorObject::invalid_request("Session not found"),
    )
}

fn unavailable(e: &crate::Error) -> Response<Body> {
    tracing::error!(error = %e, "session store failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        ErrorObject::internal_error("sessions are unavailable; retry later"),
    )
}

/// The caller an authentication layer vouched for, if any.
pub(super) fn principal_of(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<mcp_core::transport::Principal>()
        .map(|p| p.0.to_string())
}

fn missing_session() -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        None,
        ErrorObject::invalid_request("Bad Request: Mcp-Session-Id header is required"),
    )
}

impl<H: Handler> Inner<H> {
    fn new_session(
        &self,
        id: &str,
        principal: Option<String>,
        quota: Option<Slot>,
    ) -> Arc<Session<H>> {
        let (tx, rx) = mpsc::channel(256);
        Arc::new(Session {
            // Every session's requests share the endpoint's permits.
            conn: self
                .server
                .connection_sharing(tx, Arc::clone(&self.permits)),
            standalone: Mutex::new(Some(rx)),
            streams: Arc::new(Streams::new(id.to_owned(), Arc::clone(&self.events))),
            last_seen: Mutex::new(Instant::now()),
            saved: AtomicU64::new(0),
            principal,
            _quota: quota,
        })
    }

    /// A slot of the client's session quota; `Err` is the 429 answer to
    /// the request (`id`) that wanted one.
    pub(super) fn session_slot(
        &self,
        extensions: &http::Extensions,
        id: Option<RequestId>,
    ) -> Result<Option<Slot>, Box<Response<Body>>> {
        let Some(client) = ClientQuota::of(&self.quotas, extensions) else {
            return Ok(None);
        };
        client.take(Kind::Sessions).map(Some).map_err(|limit| {
            tracing::warn!(limit, "session refused: the client holds its quota of sessions");
            Box::new(too_busy(
                StatusCode::TOO_MANY_REQUESTS,
                60,
                id,
                ErrorObject::internal_error(format!(
                    "too many sessions: this client has {limit} open; end one (DELETE) or retry later"
                )),
            ))
        })
    }

    /// Forgets this instance's part of a session.
    async fn drop_local(&self, id: &str) -> bool {
        let session = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        let existed = session.is_some();
        if let Some(session) = session {
            session.conn.abort_all();
        }
        self.events.forget(id).await;
        existed
    }

    pub(super) async fn initialize(
        self: &Arc<Self>,
        req: mcp_core::Request,
        parts: Parts,
        accept: &Accepts,
    ) -> Response<Body> {
        let id = match session_id(Some(req.id.clone())) {
            Ok(id) => id,
            Err(res) => return *res,
        };
        self.sweep().await;
        let quota = match self.session_slot(&parts.extensions, Some(req.id.clone())) {
            Ok(quota) => quota,
            Err(res) => return *res,
        };
        let principal = principal_of(&parts.extensions);
        let session = self.new_session(&id, principal.clone(), quota);
        let (reply, rx) = Outbox::channel(64);
        let route = self.route(reply, parts.extensions);
        let expected = BTreeSet::from([req.id.clone()]);
        let request_id = req.id.clone();
        session.conn.on_message(Message::Request(req), &route).await;
        drop(route);
        let mut res = self
            .respond_legacy(&session, rx, expected, accept, Vec::new())
            .await;
        // A failed handshake creates no session.
        let Some((generation, mut record)) = session.conn.record() else {
            return res;
        };
        record.principal = principal;
        match self.store.insert(&id, record).await {
            Ok(true) => {}
            Ok(false) => {
                session.conn.abort_all();
                tracing::warn!("session refused: the session store is full");
                return too_busy(
                    StatusCode::SERVICE_UNAVAILABLE,
                    60,
                    Some(request_id),
                    ErrorObject::internal_error("too many sessions on this server; retry later"),
                );
            }
            Err(e) => return unavailable(&e),
        }
        session.saved.store(generation, Ordering::Relaxed);
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), session);
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(headers::SESSION_ID, value);
        }
        res
    }

    /// Drops this instance's part of sessions idle past the limit (the
    /// store decides whether they still exist).
    async fn sweep(&self) {
        let idle = self.options.session_idle;
        let mut gone = Vec::new();
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, s| {
                let keep = s
                    .last_seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .elapsed()
                    < idle;
                if !keep {
                    s.conn.abort_all();
                    gone.push(id.clone());
                }
                keep
            });
        for id in gone {
            self.events.forget(&id).await;
        }
    }

    /// The session `id`, taken up from the store when another instance
    /// (or an earlier life of this one) started it. `Err` is the response
    /// for an unknown session or a failing store.
    async fn session(
        &self,
        id: &str,
        extensions: &http::Extensions,
    ) -> Result<Arc<Session<H>>, Response<Body>> {
        let record = match self.store.get(id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.drop_local(id).await;
                return Err(not_found());
            }
            Err(e) => return Err(unavailable(&e)),
        };
        // Someone else's session is, for this caller, no session at all.
        if record.principal != principal_of(extensions) {
            tracing::warn!("session id used by another principal; refused");
            return Err(not_found());
        }
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(session) = live.get(id) {
            session.touch();
            return Ok(Arc::clone(session));
        }
        // Started elsewhere: counted in its client's quota there.
        let session = self.new_session(id, record.principal.clone(), None);
        session.conn.restore(record);
        live.insert(id.to_owned(), Arc::clone(&session));
        Ok(session)
    }

    /// Writes the session's state to the store if a request changed it.
    async fn save(&self, id: &str, session: &Session<H>) {
        if session.conn.generation() == session.saved.load(Ordering::Relaxed) {
            return;
        }
        let Some((generation, mut record)) = session.conn.record() else {
            return;
        };
        record.principal.clone_from(&session.principal);
        match self.store.update(id, record).await {
            Ok(()) => session.saved.store(generation, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "session store update failed"),
        }
    }

    pub(super) async fn post_legacy(
        self: &Arc<Self>,
        id: &str,
        parts: Parts,
        bytes: &[u8],
        accept: &Accepts,
    ) -> Response<Body> {
        let session = match self.session(id, &parts.extensions).await {
            Ok(session) => session,
            Err(res) => return res,
        };
        if let Some(v) = header(&parts.headers, headers::PROTOCOL_VERSION)
            && !self
                .server
                .options()
                .supported_versions
                .iter()
                .any(|s| s == v)
        {
            let e = ErrorObject::invalid_request(format!("Unsupported MCP-Protocol-Version: {v}"));
            return error(StatusCode::BAD_REQUEST, None, e);
        }
        let messages = match messages(bytes, session.conn.allows_batches()) {
            Ok(messages) => messages,
            Err(res) => return *res,
        };
        let (reply, rx) = Outbox::channel(64);
        let route = self.route(reply, parts.extensions);
        let mut expected = BTreeSet::new();
        let mut bad = Vec::new();
        for message in messages {
            match message {
                Ok(message) => {
                    if let Message::Request(r) = &message {
                        expected.insert(r.id.clone());
                    }
                    session.conn.on_message(message, &route).await;
                }
                Err(e) => bad.extend(e.to_error_response()),
            }
        }
        drop(route);
        if expected.is_empty() && bad.is_empty() {
            self.save(id, &session).await;
            return accepted();
        }
        let bad: Vec<Bytes> = bad
            .into_iter()
            .filter_map(|e| serde_json::to_vec(&Message::from(e)).ok().map(Bytes::from))
            .collect();
        let res = self
            .respond_legacy(&session, rx, expected, accept, bad)
            .await;
        self.save(id, &session).await;
        res
    }

    /// GET: the session's stream of server messages, or, with
    /// `Last-Event-ID`, the rest of a stream whose connection broke.
    pub(super) async fn get(
        self: &Arc<Self>,
        headers_in: &HeaderMap,
        extensions: &http::Extensions,
    ) -> Response<Body> {
        if let Err(res) = require_sse(headers_in) {
            return *res;
        }
        let Some(id) = header(headers_in, headers::SESSION_ID) else {
            return missing_session();
        };
        let session = match self.session(id, extensions).await {
            Ok(session) => session,
            Err(res) => return res,
        };
        if let Some(last) = header(headers_in, "last-event-id") {
            return match session.streams.resume(last).await {
                Ok(Resumed::Body(rx)) => sse_response(Body::stream(rx)),
                Ok(Resumed::Unknown) => error(
                    StatusCode::BAD_REQUEST,
                    None,
                    ErrorObject::invalid_request(format!(
                        "Last-Event-ID {last:?} is unknown, or the events after it are no \
                         longer kept; open the stream without it"
                    )),
                ),
                Err(e) => unavailable(&e),
            };
        }
        let (tx, rx) = mpsc::channel(BODY_CAPACITY);
        let prime = session.primes().then_some(self.options.sse_retry);
        if !session.streams.attach(STANDALONE, tx, prime, true).await {
            return error(
                StatusCode::CONFLICT,
                None,
                ErrorObject::invalid_request("this session's stream is already open"),
            );
        }
        let pending = session
            .standalone
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(pending) = pending {
            let pump = Pump {
                streams: Arc::clone(&session.streams),
                stream: STANDALONE.to_owned(),
                keep_alive: self.options.keep_alive,
                close_after: None,
            };
            tokio::spawn(pump.run_standalone(pending, self.closing.subscribe()));
        }
        sse_response(Body::stream(rx))
    }

    pub(super) async fn delete(
        &self,
        headers_in: &HeaderMap,
        extensions: &http::Extensions,
    ) -> Response<Body> {
        let Some(id) = header(headers_in, headers::SESSION_ID) else {
            return missing_session();
        };
        if let Err(res) = self.session(id, extensions).await {
            return res;
        }
        let stored = match self.store.remove(id).await {
            Ok(existed) => existed,
            Err(e) => return unavailable(&e),
        };
        if self.drop_local(id).await || stored {
            Response::new(Body::empty())
        } else {
            not_found()
        }
    }
}
