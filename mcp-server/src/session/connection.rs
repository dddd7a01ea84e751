//! A connection to one client (a stdio stream, a legacy HTTP session):
//! its requests run concurrently and can be cancelled, its legacy state
//! lives here, and it can send the client requests of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mcp_core::jsonrpc::Incoming;
use mcp_core::method::{self, Method, Notification as _};
use mcp_core::notifications::CancelledParams;
use mcp_core::request::DecodedBody;
use mcp_core::transport::Outgoing;
use mcp_core::{ErrorObject, ErrorResponse, Message, Notification, Request, RequestId};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};

use super::Call;
use super::dispatcher::{Admission, Admitted, Dispatcher, Route, admit};
use super::lifecycle::{SessionState, lock};
use super::peer::{Outbox, Peer};
use crate::fast_map::FastMap;
use crate::handler::Handler;
#[cfg(feature = "http")]
use crate::store::SessionRecord;
use crate::telemetry::Transport;

/// One client connection.
pub(crate) struct Connection<H: Handler> {
    dispatcher: Arc<Dispatcher<H>>,
    /// Messages outside any request's route (server requests, legacy list
    /// changes), and everything on a single-stream transport.
    outbox: Outbox,
    /// What its requests read and change.
    state: Arc<SessionState>,
    in_flight: Mutex<FastMap<RequestId, Running>>,
    permits: Arc<Semaphore>,
    /// Tells subscriptions that the connection is going away.
    closing: watch::Sender<bool>,
    /// Forwards change events to a legacy session once initialized.
    events_task: Mutex<Option<AbortHandle>>,
    /// The route of a single-stream transport: everything goes back on it.
    stream_route: Route,
    /// When it opened, for the session-duration metric.
    opened: std::time::Instant,
    /// Set where instances share a legacy session: whether this one
    /// announces changes to it (it holds the session's stream).
    announce_gate: std::sync::OnceLock<Arc<std::sync::atomic::AtomicBool>>,
}

impl<H: Handler> Drop for Connection<H> {
    /// A legacy session (or stdio connection) that was initialized ends:
    /// its duration goes into the metrics, and the handler hears that its
    /// subscriptions ended.
    fn drop(&mut self) {
        for uri in self.state.take_accepted() {
            self.dispatcher.handler.unsubscribed(&uri);
        }
        if let Some(version) = self.state.legacy_version() {
            crate::telemetry::Metrics::global().session(
                [
                    Some(version.as_str()),
                    Some(self.stream_route.transport.network()),
                ],
                self.opened.elapsed(),
            );
        }
    }
}

impl<H: Handler> Connection<H> {
    pub(crate) fn new(
        dispatcher: Arc<Dispatcher<H>>,
        tx: mpsc::Sender<Outgoing>,
        permits: Arc<Semaphore>,
        transport: Transport,
    ) -> Arc<Self> {
        let outbox = Outbox::new(tx);
        let peer = Peer::new(dispatcher.options.client_request_timeout);
        let (closing, closed) = watch::channel(false);
        let stream_route = Route {
            reply: outbox.clone(),
            extensions: Arc::default(),
            admission: Admission::default(),
            closing: closed,
            transport,
        };
        Arc::new(Self {
            dispatcher,
            outbox,
            state: Arc::new(SessionState::new(peer)),
            in_flight: Mutex::default(),
            permits,
            closing,
            events_task: Mutex::new(None),
            stream_route,
            opened: std::time::Instant::now(),
            announce_gate: std::sync::OnceLock::new(),
        })
    }

    pub(crate) fn dispatcher(&self) -> &Arc<Dispatcher<H>> {
        &self.dispatcher
    }

    pub(super) fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The state its requests read and change.
    pub(crate) fn state(&self) -> &SessionState {
        &self.state
    }

    /// Takes up a session another instance (or an earlier connection)
    /// started.
    #[cfg(feature = "http")]
    pub(crate) fn restore(self: &Arc<Self>, record: SessionRecord) {
        let (initialized, ended) = self.state.restore(record);
        for uri in ended {
            self.dispatcher.handler.unsubscribed(&uri);
        }
        if initialized {
            self.state.peer().set_ready();
            self.start_legacy_events();
        }
    }

    /// Announces changes only while `gate` is set.
    #[cfg(feature = "http")]
    pub(crate) fn gate_announcements(&self, gate: Arc<std::sync::atomic::AtomicBool>) {
        let _ = self.announce_gate.set(gate);
    }

    pub(super) fn announces(&self) -> bool {
        self.announce_gate
            .get()
            .is_none_or(|g| g.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Set once the connection is going away (aborted or shut down).
    #[cfg(feature = "http")]
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Cancels request `id` if it runs here; whether it did.
    pub(crate) fn cancel(&self, id: &RequestId) -> bool {
        // Dropping the task's future is the cancellation; no response is
        // sent for a cancelled request.
        match lock(&self.in_flight).remove(id) {
            Some(running) => {
                running.cancel();
                true
            }
            None => false,
        }
    }

    /// Hands the client's response or error to the request of this
    /// connection waiting for it; gives it back when none waits here.
    #[cfg(feature = "http")]
    pub(crate) fn answer(&self, message: Message) -> Result<(), Message> {
        let peer = self.state.peer();
        match message {
            Message::Response(r) if peer.waits_for(&r.id) => {
                peer.resolve(&r.id, Ok(r.result));
                Ok(())
            }
            Message::Error(e) if e.id.as_ref().is_some_and(|id| peer.waits_for(id)) => {
                if let Some(id) = &e.id {
                    peer.resolve(id, Err(e.error));
                }
                Ok(())
            }
            other => Err(other),
        }
    }

    pub(super) fn set_events_task(&self, task: AbortHandle) {
        if let Some(old) = lock(&self.events_task).replace(task) {
            old.abort();
        }
    }

    /// Handles what a single-stream transport read: a message, a batch, or
    /// one it could not read (answered when a reply is owed).
    /// A request comes with its params decoded.
    pub(crate) async fn on_incoming(self: &Arc<Self>, decoded: DecodedBody) {
        let route = self.stream_route.clone();
        match decoded.incoming {
            Ok(Incoming::Single(Message::Request(req))) => {
                self.spawn_request(req, decoded.request, route).await;
            }
            Ok(Incoming::Single(message)) => self.on_message(message, &route).await,
            Ok(Incoming::Batch(items)) if self.state.allows_batches() => {
                self.on_batch(items, &route).await;
            }
            Ok(Incoming::Batch(_)) => {
                self.reply_to_bad_frame(&super::batches_unsupported(), &route.reply)
                    .await;
            }
            Err(e) => self.reply_to_bad_frame(&e, &route.reply).await,
        }
    }

    /// Answers a message that could not be decoded, when a reply is owed.
    pub(crate) async fn reply_to_bad_frame(&self, e: &mcp_core::Error, reply: &Outbox) {
        tracing::debug!(error = %e, "bad message from client");
        if let Some(response) = e.to_error_response()
            && let Ok(bytes) = Message::from(response.clone()).to_vec()
        {
            let _ = reply
                .send(Outgoing::response(response.id, Bytes::from(bytes)))
                .await;
        }
    }

    pub(crate) async fn on_message(self: &Arc<Self>, message: Message, route: &Route) {
        match message {
            Message::Request(req) => self.spawn_request(req, None, route.clone()).await,
            Message::Notification(n) => self.on_notification(n).await,
            Message::Response(r) => {
                if !self.state.peer().resolve(&r.id, Ok(r.result)) {
                    tracing::debug!(id = %r.id, "response to no pending request");
                }
            }
            Message::Error(e) => match &e.id {
                Some(id) => {
                    let _ = self.state.peer().resolve(id, Err(e.error));
                }
                None => tracing::warn!(error = %e.error, "client reported an error"),
            },
        }
    }

    /// A request whose params a transport decoded already.
    #[cfg(feature = "http")]
    pub(crate) async fn on_decoded(self: &Arc<Self>, req: Request, call: Call, route: &Route) {
        self.spawn_request(req, Some(call), route.clone()).await;
    }

    /// Spends what `req` costs from its caller's rate limits, unless the
    /// transport did. The request's params are decoded here when a
    /// policy needs to see them, and passed on: they are decoded once.
    async fn check_rates(
        &self,
        req: &Request,
        call: Option<Call>,
        route: &Route,
    ) -> Result<Option<Call>, ErrorObject> {
        let Some(limits) = &self.dispatcher.options.rate_limits else {
            return Ok(call);
        };
        if route.admission.rates_checked {
            return Ok(call);
        }
        let call = call.unwrap_or_else(|| super::dispatcher::decode_call(req));
        match limits
            .check(&route.extensions, &req.method, call.as_deref().ok())
            .await
        {
            Ok(()) => Ok(Some(call)),
            Err(refused) => Err(refused.error_object()),
        }
    }

    /// A permit to run one request here, and its client's slot.
    async fn admit(&self, admission: &Admission) -> Result<Admitted, super::dispatcher::Busy> {
        admit(
            &self.permits,
            admission,
            self.dispatcher.options.max_in_flight,
        )
        .await
    }

    /// A 2025-03-26 batch: requests run concurrently, their responses go
    /// back together as one batch. The batch runs in its own task so the
    /// reader stays free (a batched request may wait for the client).
    /// Batched requests cannot be cancelled one by one.
    pub(crate) async fn on_batch(
        self: &Arc<Self>,
        items: Vec<Result<Message, mcp_core::Error>>,
        route: &Route,
    ) {
        let mut requests = Vec::new();
        let mut frames: Vec<Bytes> = Vec::new();
        for item in items {
            match item {
                Ok(Message::Request(req)) => requests.push(req),
                Ok(other) => Box::pin(self.on_message(other, route)).await,
                Err(e) => frames.extend(
                    e.to_error_response()
                        .and_then(|r| Message::from(r).to_vec().ok())
                        .map(Bytes::from),
                ),
            }
        }
        let this = Arc::clone(self);
        let route = route.clone();
        tokio::spawn(async move {
            let mut replies = JoinSet::new();
            for req in requests {
                let id = req.id.clone();
                let call = match this.check_rates(&req, None, &route).await {
                    Ok(call) => call,
                    Err(e) => {
                        frames.extend(super::dispatcher::response(&id, Err(e)).map(|o| o.bytes));
                        continue;
                    }
                };
                let permit = match this.admit(&route.admission).await {
                    Ok(permit) => permit,
                    Err(busy) => {
                        busy.report(&route.extensions);
                        frames.extend(
                            super::dispatcher::response(&id, Err(busy.error_object()))
                                .map(|o| o.bytes),
                        );
                        continue;
                    }
                };
                let dispatcher = Arc::clone(&this.dispatcher);
                let session = Arc::clone(&this.state);
                let route = route.clone();
                replies.spawn(async move {
                    let answer = dispatcher.run(req, call, route, Some(session)).await;
                    drop(permit);
                    answer
                });
            }
            while let Some(joined) = replies.join_next().await {
                if let Ok(Some(answer)) = joined {
                    frames.push(answer.bytes);
                }
            }
            if !frames.is_empty() {
                let mut batch = b"[".to_vec();
                batch.extend(frames.join(&b","[..]));
                batch.push(b']');
                let _ = route.reply.send(Outgoing::batch(Bytes::from(batch))).await;
            }
        });
    }

    async fn spawn_request(self: &Arc<Self>, req: Request, call: Option<Call>, route: Route) {
        let id = req.id.clone();
        if lock(&self.in_flight).contains_key(&id) {
            self.refuse(&route, id.clone(), in_flight_twice(&id)).await;
            return;
        }
        let call = match self.check_rates(&req, call, &route).await {
            Ok(call) => call,
            Err(e) => {
                self.refuse(&route, id, e).await;
                return;
            }
        };
        // Bounded concurrency without ever blocking a stdio reader, which
        // must stay free to read cancellations and the client's answers.
        // Subscriptions live long by design and have limits of their own.
        let permit = if req.method == method::Listen::NAME {
            None
        } else {
            match self.admit(&route.admission).await {
                Ok(permit) => Some(permit),
                Err(busy) => {
                    busy.report(&route.extensions);
                    self.refuse(&route, id, busy.error_object()).await;
                    return;
                }
            }
        };
        let key = id.clone();
        // Cancellable from here: over HTTP a cancellation can arrive (on
        // another POST) while the first poll below still runs.
        let cancelled = Arc::new(AtomicBool::new(false));
        let duplicate = {
            let mut in_flight = lock(&self.in_flight);
            let duplicate = in_flight.contains_key(&key);
            if !duplicate {
                in_flight.insert(
                    key.clone(),
                    Running {
                        cancelled: Arc::clone(&cancelled),
                        task: None,
                    },
                );
            }
            duplicate
        };
        if duplicate {
            // The same id arrived on another POST meanwhile.
            self.refuse(&route, key.clone(), in_flight_twice(&key))
                .await;
            return;
        }
        let this = Arc::clone(self);
        let mine = Arc::clone(&cancelled);
        let reply = route.reply.clone();
        let state = Arc::clone(&self.state);
        // Built in its box: the request's future is large.
        let mut task = crate::boxed::pinned(move || async move {
            let answer = Arc::clone(&this.dispatcher)
                .run(req, call, route, Some(state))
                .await;
            // Its own entry only: a cancelled request's id may have been
            // taken by a new request since.
            {
                let mut in_flight = lock(&this.in_flight);
                if in_flight
                    .get(&id)
                    .is_some_and(|r| Arc::ptr_eq(&r.cancelled, &mine))
                {
                    in_flight.remove(&id);
                }
            }
            if let Some(answer) = answer {
                let _ = reply.send(answer).await;
            }
            // The permit goes back when the task ends, aborted or not.
            drop(permit);
        });
        // Most requests finish without waiting on anything: run them right
        // here, and pay for a task only when one has to wait. (A waker the
        // first poll registered may wake this reader once, spuriously; the
        // task's own first poll registers the right one.)
        let finished =
            std::future::poll_fn(|cx| std::task::Poll::Ready(task.as_mut().poll(cx).is_ready()))
                .await;
        if finished {
            return;
        }
        // Held across the spawn, so the task cannot finish and remove its
        // entry before the entry is its own.
        let mut in_flight = lock(&self.in_flight);
        if cancelled.load(Ordering::Acquire) {
            // Cancelled during the first poll: dropping the future is the
            // cancellation (its entry is gone already).
            drop(in_flight);
            drop(task);
            return;
        }
        let task = tokio::spawn(task);
        if let Some(running) = in_flight.get_mut(&key)
            && Arc::ptr_eq(&running.cancelled, &cancelled)
        {
            running.task = Some(task.abort_handle());
        }
    }

    /// Answers request `id` with `error` at once.
    async fn refuse(&self, route: &Route, id: RequestId, error: ErrorObject) {
        if let Ok(bytes) = Message::from(ErrorResponse::new(Some(id.clone()), error)).to_vec() {
            let _ = route
                .reply
                .send(Outgoing::response(Some(id), Bytes::from(bytes)))
                .await;
        }
    }

    async fn on_notification(self: &Arc<Self>, n: Notification) {
        match n.method.as_str() {
            method::Cancelled::NAME => {
                let Ok(params) = n.params::<CancelledParams>() else {
                    return;
                };
                if let Some(id) = params.request_id
                    && self.cancel(&id)
                {
                    tracing::debug!(%id, reason = ?params.reason, "request cancelled");
                }
            }
            method::Initialized::NAME => {
                if self.state.mark_initialized() {
                    // Requests to the client wait for this notification.
                    self.state.peer().set_ready();
                    self.start_legacy_events();
                }
            }
            // Run apart from the reader, so a slow handler delays nothing.
            _ => {
                let dispatcher = Arc::clone(&self.dispatcher);
                tokio::spawn(async move { dispatcher.handler.notification(n).await });
            }
        }
    }

    /// Aborts every task of the connection at once.
    pub(crate) fn abort_all(&self) {
        self.closing.send_replace(true);
        if let Some(task) = lock(&self.events_task).take() {
            task.abort();
        }
        for (_, running) in lock(&self.in_flight).drain() {
            running.cancel();
        }
    }

    /// Stops reading: subscriptions end, in-flight requests get the grace
    /// period, then are cancelled.
    pub(crate) async fn shutdown(&self) {
        // `send_replace` stores the value even with no receiver yet, so a
        // subscription that starts listening later still sees it.
        self.closing.send_replace(true);
        if let Some(task) = lock(&self.events_task).take() {
            task.abort();
        }
        // Every running request holds a permit: all permits back means all
        // requests done.
        let options = &self.dispatcher.options;
        let all = u32::try_from(options.max_in_flight.max(1)).unwrap_or(u32::MAX);
        if tokio::time::timeout(options.shutdown_grace, self.permits.acquire_many(all))
            .await
            .is_err()
        {
            tracing::debug!("cancelling requests still running at shutdown");
            let running: Vec<Running> = lock(&self.in_flight).drain().map(|(_, r)| r).collect();
            for request in running {
                request.cancel();
            }
            let _ = self.permits.acquire_many(all).await;
        }
    }
}

fn in_flight_twice(id: &RequestId) -> ErrorObject {
    ErrorObject::invalid_request(format!("request id {id} is already in flight"))
}

/// A request being served. Its first poll runs inline, before any task
/// exists; a cancellation during it sets the flag, and the reader drops
/// the request instead of spawning it. After that, the task is aborted.
/// The flag also tells this request's entry from that of a later request
/// with the same id.
#[derive(Debug)]
struct Running {
    cancelled: Arc<AtomicBool>,
    task: Option<AbortHandle>,
}

impl Running {
    fn cancel(self) {
        self.cancelled.store(true, Ordering::Release);
        if let Some(task) = self.task {
            task.abort();
        }
    }
}
