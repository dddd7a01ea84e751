//! Legacy sessions (2025-03-26 … 2025-11-25): `initialize` starts one,
//! POSTs carry its messages, GET opens its stream of server messages,
//! DELETE ends it. What a session is lives in the [`SessionStore`]; its
//! connection and streams live with the instance serving it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use mcp_core::jsonrpc::Incoming;
use mcp_core::security::SecurityEvent;
use mcp_core::transport::Outgoing;
use mcp_core::{ErrorObject, Message, Request, RequestId};
use tokio::sync::mpsc;

use super::body::Body;
use super::pump::Pump;
use super::relay::{Note, SessionBus};
use super::reply::{
    Accepts, BODY_CAPACITY, accepted, error, header, json, names, require_sse, session_messages,
    sse_response, too_busy,
};
use super::resume::{Resumed, STANDALONE, Streams, stream_id};
use super::shared::{Shared, principal_of, session_id};
use crate::bus::EventBus;
use crate::fast_map::FastMap;
use crate::handler::Handler;
use crate::quota::{ClientQuota, Kind, Slot};
use crate::session::answers::Answers;
use crate::session::peer::Outbox;
use crate::session::{Call, decode_call};
use crate::store::{EventStore, SessionStore};

mod across;
mod session;

use session::{Session, lock, missing_session, not_found, unavailable};

type Live<H> = Arc<Mutex<FastMap<String, Arc<Session<H>>>>>;

/// The legacy sessions of the endpoint.
pub(super) struct Sessions<H: Handler> {
    shared: Arc<Shared<H>>,
    store: Arc<dyn SessionStore>,
    events: Arc<dyn EventStore>,
    /// Where instances share the stores: the bus between them, and this
    /// endpoint's name on it.
    bus: std::sync::OnceLock<super::relay::OnBus>,
    /// Sessions this instance serves now: their connections and streams.
    /// The store holds what they are.
    live: Live<H>,
}

impl<H: Handler> Sessions<H> {
    pub(super) fn new(
        shared: Arc<Shared<H>>,
        store: Arc<dyn SessionStore>,
        events: Arc<dyn EventStore>,
    ) -> Self {
        Self {
            shared,
            store,
            events,
            bus: std::sync::OnceLock::new(),
            live: Arc::default(),
        }
    }

    /// Shares sessions with the other instances on `bus`; `false` if it
    /// had one already.
    pub(super) fn set_bus(&self, bus: Arc<dyn EventBus>, me: Arc<str>) -> bool {
        self.bus.set((bus, me)).is_ok()
    }

    /// Whether the session and event stores can be used now; the first
    /// failure, named.
    pub(super) async fn stores_ready(&self) -> Result<(), String> {
        self.store
            .ready()
            .await
            .map_err(|e| format!("session store: {e}"))?;
        self.events
            .ready()
            .await
            .map_err(|e| format!("event store: {e}"))?;
        match self.bus.get() {
            Some((bus, _)) => bus.ready().await.map_err(|e| format!("event bus: {e}")),
            None => Ok(()),
        }
    }

    fn new_session(
        &self,
        id: &str,
        principal: Option<String>,
        quota: Option<Slot>,
    ) -> Arc<Session<H>> {
        let (tx, rx) = mpsc::channel(256);
        let bus =
            (self.bus.get()).map(|(bus, me)| SessionBus::new(Arc::clone(bus), id, Arc::clone(me)));
        let streams = Arc::new(Streams::new(
            id.to_owned(),
            Arc::clone(&self.events),
            bus.clone(),
        ));
        // Every session's requests share the endpoint's permits.
        let conn = self.shared.server.connection(
            tx,
            Arc::clone(&self.shared.permits),
            crate::telemetry::Transport::Http,
        );
        let mut standalone = Some(rx);
        if bus.is_some() {
            // Shared: changes are announced by the instance holding the
            // GET stream, and what this one has for that stream goes to
            // the store (and the others) at once.
            conn.gate_announcements(streams.standalone_here());
            if let Some(rx) = standalone.take() {
                let pump = Pump {
                    streams: Arc::clone(&streams),
                    stream: STANDALONE.to_owned(),
                    keep_alive: self.shared.options.keep_alive,
                    close_after: None,
                };
                tokio::spawn(pump.run_standalone(rx, self.shared.closing.subscribe()));
            }
        }
        Arc::new(Session {
            conn,
            standalone: Mutex::new(standalone),
            streams,
            bus,
            last_seen: Mutex::new(Instant::now()),
            saved: AtomicU64::new(0),
            principal,
            label: crate::telemetry::SessionLabel::of(id),
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
        let Some(client) = ClientQuota::of(&self.shared.quotas, extensions) else {
            return Ok(None);
        };
        client.take(Kind::Sessions).map(Some).map_err(|limit| {
            crate::security_event::refused(
                SecurityEvent::QuotaExceeded,
                extensions,
                &format_args!("the client holds its quota of {limit} sessions"),
            );
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
        let session = lock(&self.live).remove(id);
        let existed = session.is_some();
        if let Some(session) = session {
            session.conn.abort_all();
        }
        self.events.forget(id).await;
        existed
    }

    /// `initialize` without a session: starts one.
    pub(super) async fn initialize(
        &self,
        req: Request,
        call: Call,
        parts: Parts,
        accept: &Accepts,
    ) -> Response<Body> {
        if let Err(refused) = self
            .shared
            .check_rates(&parts.extensions, &req, &call)
            .await
        {
            return refused;
        }
        let Some(id) = session_id() else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(req.id),
                ErrorObject::internal_error("no random source for session ids"),
            );
        };
        self.sweep().await;
        let quota = match self.session_slot(&parts.extensions, Some(req.id.clone())) {
            Ok(quota) => quota,
            Err(res) => return *res,
        };
        let principal = principal_of(&parts.extensions);
        let session = self.new_session(&id, principal.clone(), quota);
        let (reply, rx) = Outbox::answers(64);
        let mut parts = parts;
        parts.extensions.insert(session.label.clone());
        let mut route = self.shared.route(reply, parts.extensions);
        route.admission.rates_checked = true;
        let expected = BTreeSet::from([req.id.clone()]);
        let request_id = req.id.clone();
        session.conn.on_decoded(req, call, &route).await;
        let extensions = Arc::clone(&route.extensions);
        drop(route);
        let mut res = self
            .respond(&session, rx, expected, accept, Vec::new())
            .await;
        // A failed handshake creates no session.
        let Some((generation, mut record)) = session.conn.state().record() else {
            return res;
        };
        record.principal = principal;
        if let Err(e) = self.listen(&id, &session).await {
            session.conn.abort_all();
            return unavailable(&e);
        }
        match self.store.insert(&id, record).await {
            Ok(true) => {}
            Ok(false) => {
                session.conn.abort_all();
                crate::security_event::refused(
                    SecurityEvent::LimitReached,
                    &extensions,
                    &"the session store holds as many sessions as it may",
                );
                return too_busy(
                    StatusCode::SERVICE_UNAVAILABLE,
                    60,
                    Some(request_id),
                    ErrorObject::internal_error("too many sessions on this server; retry later"),
                );
            }
            Err(e) => {
                session.conn.abort_all();
                return unavailable(&e);
            }
        }
        session.saved.store(generation, Ordering::Relaxed);
        lock(&self.live).insert(id.clone(), session);
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(names::SESSION_ID, value);
        }
        res
    }

    /// Drops this instance's part of sessions idle past the limit (the
    /// store decides whether they still exist).
    async fn sweep(&self) {
        let idle = self.shared.options.session_idle;
        let mut gone = Vec::new();
        lock(&self.live).retain(|id, s| {
            let keep = lock(&s.last_seen).elapsed() < idle;
            if !keep {
                s.conn.abort_all();
                gone.push(id.clone());
            }
            keep
        });
        // Idle here is not ended: where instances share the stores, the
        // session may go on elsewhere, and its events expire by themselves.
        if self.bus.get().is_none() {
            for id in gone {
                self.events.forget(&id).await;
            }
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
        // The store decides whether the session still exists (another
        // instance may have ended it); only who started it is read here.
        let principal = match self.store.principal(id).await {
            Ok(Some(principal)) => principal,
            Ok(None) => {
                self.drop_local(id).await;
                return Err(not_found());
            }
            Err(e) => return Err(unavailable(&e)),
        };
        // Someone else's session is, for this caller, no session at all.
        if principal != principal_of(extensions) {
            crate::security_event::refused(
                SecurityEvent::SessionPrincipalMismatch,
                extensions,
                &"a session id of another principal",
            );
            return Err(not_found());
        }
        if let Some(session) = lock(&self.live).get(id) {
            session.touch();
            return Ok(Arc::clone(session));
        }
        // Not live here: its whole record, to take it up.
        let record = match self.store.get(id).await {
            Ok(Some(record)) if record.principal == principal => record,
            Ok(_) => return Err(not_found()),
            Err(e) => return Err(unavailable(&e)),
        };
        // Started elsewhere: counted in its client's quota there.
        let session = self.new_session(id, record.principal.clone(), None);
        session.conn.restore(record);
        if let Err(e) = self.listen(id, &session).await {
            session.conn.abort_all();
            return Err(unavailable(&e));
        }
        let mut live = lock(&self.live);
        if let Some(first) = live.get(id) {
            // Another request took it up meanwhile.
            session.conn.abort_all();
            return Ok(Arc::clone(first));
        }
        live.insert(id.to_owned(), Arc::clone(&session));
        Ok(session)
    }

    /// Writes the session's state to the store if a request changed it.
    async fn save(&self, id: &str, session: &Session<H>) {
        if session.conn.state().generation() == session.saved.load(Ordering::Relaxed) {
            return;
        }
        let Some((generation, mut record)) = session.conn.state().record() else {
            return;
        };
        record.principal.clone_from(&session.principal);
        match self.store.update(id, record).await {
            Ok(()) => {
                session.saved.store(generation, Ordering::Relaxed);
                if let Some(bus) = &session.bus {
                    bus.tell(Note::State).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "session store update failed"),
        }
    }

    /// A POST of session `id`: one message, or a batch where the session's
    /// version allows them. `call` is a single request's params decoded,
    /// if a layer in front did it.
    pub(super) async fn post(
        &self,
        id: &str,
        parts: Parts,
        incoming: Incoming,
        call: Option<Call>,
        accept: &Accepts,
    ) -> Response<Body> {
        let session = match self.session(id, &parts.extensions).await {
            Ok(session) => session,
            Err(res) => return res,
        };
        if let Some(v) = header(&parts.headers, names::PROTOCOL_VERSION)
            && !self
                .shared
                .server
                .options()
                .supported_versions
                .iter()
                .any(|s| s == v)
        {
            let e = ErrorObject::invalid_request(format!("Unsupported MCP-Protocol-Version: {v}"));
            return error(StatusCode::BAD_REQUEST, None, e);
        }
        let messages = match session_messages(incoming, session.conn.state().allows_batches()) {
            Ok(messages) => messages,
            Err(res) => return *res,
        };
        // A POST of one request is refused with an HTTP status when over
        // its rate limits; requests of a batch get JSON-RPC errors inside
        // it (the connection checks them).
        let single = messages.len() == 1;
        let mut call = call;
        if single
            && self.shared.server.options().rate_limits.is_some()
            && let Some(Ok(Message::Request(request))) = messages.first()
        {
            let decoded = call.take().unwrap_or_else(|| decode_call(request));
            if let Err(refused) = self
                .shared
                .check_rates(&parts.extensions, request, &decoded)
                .await
            {
                return refused;
            }
            call = Some(decoded);
        }
        let (reply, rx) = Outbox::answers(64);
        let mut parts = parts;
        parts.extensions.insert(session.label.clone());
        let mut route = self.shared.route(reply, parts.extensions);
        route.admission.rates_checked = single;
        let mut expected = BTreeSet::new();
        let mut bad = Vec::new();
        let mut relays = 0;
        for message in messages {
            match message {
                Ok(Message::Request(request)) => {
                    expected.insert(request.id.clone());
                    match call.take() {
                        Some(call) => session.conn.on_decoded(request, call, &route).await,
                        None => {
                            session
                                .conn
                                .on_message(Message::Request(request), &route)
                                .await;
                        }
                    }
                }
                Ok(message) => {
                    self.on_message(&session, message, &route, &mut relays)
                        .await;
                }
                Err(e) => bad.extend(e.to_error_response()),
            }
        }
        drop(route);
        if expected.is_empty() && bad.is_empty() {
            self.save(id, &session).await;
            return accepted();
        }
        let bad: Vec<Outgoing> = bad
            .into_iter()
            .filter_map(|e| {
                let id = e.id.clone();
                Message::from(e)
                    .to_vec()
                    .ok()
                    .map(|bytes| Outgoing::response(id, Bytes::from(bytes)))
            })
            .collect();
        let res = self.respond(&session, rx, expected, accept, bad).await;
        self.save(id, &session).await;
        res
    }

    /// Answers a POST of a legacy session: JSON when the one answer comes
    /// first, else an SSE stream (notifications and server requests go
    /// along). `ready` holds answers already made (unreadable batch
    /// items).
    async fn respond(
        &self,
        session: &Arc<Session<H>>,
        mut rx: Answers,
        mut expected: BTreeSet<RequestId>,
        accept: &Accepts,
        mut ready: Vec<Outgoing>,
    ) -> Response<Body> {
        if accept.json && ready.is_empty() && expected.len() == 1 {
            match rx.recv().await {
                Some(message) => match message.answers() {
                    Some(id) if expected.contains(id) => {
                        return json(message.bytes, StatusCode::OK);
                    }
                    _ => ready.push(message),
                },
                None => return json(Bytes::new(), StatusCode::OK),
            }
        }
        if accept.sse {
            let stream = stream_id();
            let (body_tx, body_rx) = mpsc::channel::<Bytes>(BODY_CAPACITY);
            let prime = session.primes().then_some(self.shared.options.sse_retry);
            session.streams.attach(&stream, body_tx, prime, false).await;
            let pump = Pump {
                streams: Arc::clone(&session.streams),
                stream,
                keep_alive: self.shared.options.keep_alive,
                // Closing early is only safe once the client has an event
                // id to resume from.
                close_after: self
                    .shared
                    .options
                    .sse_close_after
                    .filter(|_| prime.is_some()),
            };
            tokio::spawn(pump.run_post(rx, expected, ready));
            return sse_response(Body::stream(body_rx));
        }
        // JSON only: every response, as a batch when there are several.
        let mut responses: Vec<Bytes> = Vec::new();
        for message in ready {
            if let Some(id) = message.answers() {
                expected.remove(id);
                responses.push(message.bytes);
            }
        }
        let batch = expected.len() + responses.len() > 1;
        while !expected.is_empty() {
            let Some(message) = rx.recv().await else {
                break;
            };
            if let Some(id) = message.answers() {
                expected.remove(id);
                responses.push(message.bytes);
            }
        }
        let body = if batch {
            let mut out = BytesMut::from(&b"["[..]);
            for (i, frame) in responses.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",");
                }
                out.extend_from_slice(frame);
            }
            out.extend_from_slice(b"]");
            out.freeze()
        } else {
            responses.pop().unwrap_or_default()
        };
        json(body, StatusCode::OK)
    }

    /// GET: the session's stream of server messages, or, with
    /// `Last-Event-ID`, the rest of a stream whose connection broke.
    pub(super) async fn get(
        &self,
        headers_in: &HeaderMap,
        extensions: &http::Extensions,
    ) -> Response<Body> {
        if let Err(res) = require_sse(headers_in) {
            return *res;
        }
        let Some(id) = header(headers_in, names::SESSION_ID) else {
            return missing_session();
        };
        let session = match self.session(id, extensions).await {
            Ok(session) => session,
            Err(res) => return res,
        };
        if let Some(last) = header(headers_in, names::LAST_EVENT_ID) {
            let keep_alive = self.shared.options.keep_alive;
            return match session.streams.resume(last, keep_alive).await {
                Ok(Resumed::Body(rx)) => sse_response(Body::stream(rx)),
                Ok(Resumed::TooMany) => error(
                    StatusCode::CONFLICT,
                    None,
                    ErrorObject::invalid_request(
                        "this session follows as many streams as it may; close one first",
                    ),
                ),
                Ok(Resumed::Unknown) => error(
                    StatusCode::BAD_REQUEST,
                    None,
                    ErrorObject::invalid_request(format!(
                        "Last-Event-ID {last:?} is unknown, or the events after it are no \\
                         longer kept; open the stream without it"
                    )),
                ),
                Err(e) => unavailable(&e),
            };
        }
        let (tx, rx) = mpsc::channel(BODY_CAPACITY);
        let prime = session.primes().then_some(self.shared.options.sse_retry);
        if !session.streams.attach(STANDALONE, tx, prime, true).await {
            return error(
                StatusCode::CONFLICT,
                None,
                ErrorObject::invalid_request("this session's stream is already open"),
            );
        }
        let pending = lock(&session.standalone).take();
        if let Some(pending) = pending {
            let pump = Pump {
                streams: Arc::clone(&session.streams),
                stream: STANDALONE.to_owned(),
                keep_alive: self.shared.options.keep_alive,
                close_after: None,
            };
            tokio::spawn(pump.run_standalone(pending, self.shared.closing.subscribe()));
        }
        sse_response(Body::stream(rx))
    }

    pub(super) async fn delete(
        &self,
        headers_in: &HeaderMap,
        extensions: &http::Extensions,
    ) -> Response<Body> {
        let Some(id) = header(headers_in, names::SESSION_ID) else {
            return missing_session();
        };
        if let Err(res) = self.session(id, extensions).await {
            return res;
        }
        let stored = match self.store.remove(id).await {
            Ok(existed) => existed,
            Err(e) => return unavailable(&e),
        };
        if let Some((bus, me)) = self.bus.get() {
            SessionBus::new(Arc::clone(bus), id, Arc::clone(me))
                .tell(Note::End)
                .await;
        }
        if self.drop_local(id).await || stored {
            Response::new(Body::empty())
        } else {
            not_found()
        }
    }

    /// Shutdown: each session's requests in flight get their grace period.
    pub(super) fn shutdown(&self, runtime: &tokio::runtime::Handle) {
        for session in lock(&self.live).values() {
            let conn = Arc::clone(&session.conn);
            runtime.spawn(async move { conn.shutdown().await });
        }
    }
}
