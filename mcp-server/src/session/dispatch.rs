//! Per-request dispatch for both eras.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use mcp_core::jsonrpc::{Incoming, OutgoingResponse};
use mcp_core::lifecycle::{DiscoverResult, InitializeParams, InitializeResult};
use mcp_core::logging::{LoggingLevel, SetLevelParams};
use mcp_core::meta::HasMeta;
use mcp_core::method::{self, Eras, Method, Notification as _};
use mcp_core::mrtr::InputResponses;
use mcp_core::notifications::CancelledParams;
use mcp_core::resources::ResourceUriParams;
use mcp_core::version::negotiate;
use mcp_core::{
    CallToolResult, ClientCapabilities, ContentBlock, EmptyResult, Era, ErrorObject, ErrorResponse,
    Implementation, Message, Notification, ProtocolVersion, Request, RequestId, RequestMeta,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};

use super::ServerOptions;
use super::peer::{Outbox, Peer};
use super::stamp::{Modern, Stamp};
use super::unwind::CatchUnwind;

mod events;
mod input;
use crate::context::{ContextParts, RequestContext};
use crate::error::Error;
use crate::handler::Handler;
use crate::http::SessionRecord;
use crate::quota::{ClientQuota, Kind, Slot};

/// Where the answers to one incoming message go, and what the transport
/// knows about it: stdio answers on its one stream; Streamable HTTP on the
/// response stream of the POST that carried the message.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// Responses, and the notifications and requests a handler sends while
    /// serving the request.
    pub(crate) reply: Outbox,
    /// What the layers in front of the server put on the request.
    /// Shared: a request's route is cloned into its task and context.
    pub(crate) extensions: Arc<http::Extensions>,
    /// How its requests get their permit to run.
    pub(crate) admission: Admission,
}

/// How a request gets its permit to run: a slot of its client's quota,
/// if the transport knows the client, and one of the connection's
/// permits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Admission {
    /// The client's quotas, on transports that know the client (HTTP).
    pub(crate) client: Option<ClientQuota>,
    /// How long a request may wait for a permit; `None` refuses at once
    /// (a stdio reader must stay free to read cancellations).
    pub(crate) wait: Option<std::time::Duration>,
}

/// A request's permit to run, and its client's slot; given back when
/// dropped.
#[derive(Debug)]
pub(crate) struct Admitted {
    _permit: OwnedSemaphorePermit,
    _slot: Option<Slot>,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// The client holds its quota of requests in flight.
    Client(usize),
    /// The server runs as many requests as it may.
    Server(usize),
}

impl Busy {
    /// The JSON-RPC error that says which limit was hit.
    pub(crate) fn error_object(self) -> ErrorObject {
        ErrorObject::internal_error(match self {
            Self::Client(limit) => {
                format!("too many requests: this client has {limit} in flight; retry later")
            }
            Self::Server(limit) => {
                format!("server busy: {limit} requests in flight; retry later")
            }
        })
    }
}

/// Where a legacy session stands.
#[derive(Debug, Default)]
struct Legacy {
    /// Set by `initialize`.
    version: Option<ProtocolVersion>,
    client_capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    /// Set by `notifications/initialized`.
    initialized: bool,
    log_level: Option<LoggingLevel>,
    subscriptions: BTreeSet<String>,
    /// Counts changes, so a session store is written only when needed.
    generation: u64,
}

/// The era and facts a request is served under.
struct Served {
    era: Era,
    version: ProtocolVersion,
    client_capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    log_level: Option<LoggingLevel>,
}

/// One client connection.
pub(crate) struct Connection<H> {
    handler: Arc<H>,
    options: Arc<ServerOptions>,
    outbox: Outbox,
    peer: Peer,
    legacy: Arc<Mutex<Legacy>>,
    in_flight: Arc<Mutex<HashMap<RequestId, AbortHandle>>>,
    permits: Arc<Semaphore>,
    /// Open `subscriptions/listen` streams of the whole server.
    listens: Arc<Semaphore>,
    /// Tells subscriptions that the server is going away.
    closing: watch::Sender<bool>,
    /// Forwards change events to a legacy session once initialized.
    events_task: Mutex<Option<AbortHandle>>,
}

/// A complete response frame (result and id), or the error to answer with.
type Reply = Result<Vec<u8>, ErrorObject>;

fn decode<P: DeserializeOwned>(req: &Request) -> Result<P, ErrorObject> {
    req.params::<P>().map_err(|e| {
        e.to_error_object()
            .unwrap_or_else(|| ErrorObject::invalid_params(e.to_string()))
    })
}

/// Serializes the response in one go, straight from the typed result.
fn encode<T: Serialize>(id: &RequestId, result: &T) -> Reply {
    serde_json::to_vec(&OutgoingResponse { id, result })
        .map_err(|e| ErrorObject::internal_error(e.to_string()))
}

impl<H: Handler> Connection<H> {
    pub(crate) fn new(
        handler: Arc<H>,
        options: Arc<ServerOptions>,
        tx: mpsc::Sender<Bytes>,
        permits: Arc<Semaphore>,
        listens: Arc<Semaphore>,
    ) -> Arc<Self> {
        let outbox = Outbox::new(tx);
        let peer = Peer::new(options.client_request_timeout);
        Arc::new(Self {
            permits,
            listens,
            handler,
            options,
            outbox,
            peer,
            legacy: Arc::default(),
            in_flight: Arc::default(),
            closing: watch::channel(false).0,
            events_task: Mutex::new(None),
        })
    }

    fn legacy(&self) -> std::sync::MutexGuard<'_, Legacy> {
        self.legacy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session state, to change it.
    fn legacy_mut(&self) -> std::sync::MutexGuard<'_, Legacy> {
        let mut legacy = self.legacy();
        legacy.generation += 1;
        legacy
    }

    /// The legacy session as a store keeps it, with its change count;
    /// `None` before `initialize`.
    pub(crate) fn record(&self) -> Option<(u64, SessionRecord)> {
        let legacy = self.legacy();
        let record = SessionRecord {
            protocol_version: legacy.version.clone()?,
            client_capabilities: ClientCapabilities::clone(&legacy.client_capabilities),
            client_info: Implementation::clone(legacy.client_info.as_deref()?),
            initialized: legacy.initialized,
            log_level: legacy.log_level,
            subscriptions: legacy.subscriptions.clone(),
            principal: None,
        };
        Some((legacy.generation, record))
    }

    /// The version `initialize` settled on.
    pub(crate) fn legacy_version(&self) -> Option<ProtocolVersion> {
        self.legacy().version.clone()
    }

    /// How many times the session state changed.
    pub(crate) fn generation(&self) -> u64 {
        self.legacy().generation
    }

    /// Takes up a session another instance (or an earlier connection)
    /// started.
    pub(crate) fn restore(self: &Arc<Self>, record: SessionRecord) {
        let initialized = record.initialized;
        *self.legacy() = Legacy {
            version: Some(record.protocol_version),
            client_capabilities: Arc::new(record.client_capabilities),
            client_info: Some(Arc::new(record.client_info)),
            initialized,
            log_level: record.log_level,
            subscriptions: record.subscriptions,
            generation: 0,
        };
        if initialized {
            self.peer.set_ready();
            self.start_legacy_events();
        }
    }

    /// Whether frames may be JSON-RPC batches (a 2025-03-26 session).
    pub(crate) fn allows_batches(&self) -> bool {
        self.legacy()
            .version
            .as_ref()
            .is_some_and(ProtocolVersion::allows_batches)
    }

    /// The route of a single-stream transport: everything goes back on it.
    pub(crate) fn stream_route(&self) -> Route {
        Route {
            reply: self.outbox.clone(),
            extensions: Arc::default(),
            admission: Admission::default(),
        }
    }

    /// Handles one frame from a single-stream transport.
    pub(crate) async fn on_frame(self: &Arc<Self>, frame: &[u8]) {
        let route = self.stream_route();
        self.on_frame_routed(frame, &route).await;
    }

    /// Handles one frame, answering on `route`.
    pub(crate) async fn on_frame_routed(self: &Arc<Self>, frame: &[u8], route: &Route) {
        let allow_batch = self
            .legacy()
            .version
            .as_ref()
            .is_some_and(ProtocolVersion::allows_batches);
        match Incoming::from_slice(frame, allow_batch) {
            Ok(Incoming::Single(message)) => self.on_message(message, route).await,
            Ok(Incoming::Batch(items)) => self.on_batch(items, route).await,
            Err(e) => self.reply_to_bad_frame(&e, &route.reply).await,
        }
    }

    /// Answers a frame that could not be decoded, when a reply is owed.
    pub(crate) async fn on_frame_error(&self, e: &mcp_core::Error) {
        self.reply_to_bad_frame(e, &self.outbox).await;
    }

    async fn reply_to_bad_frame(&self, e: &mcp_core::Error, reply: &Outbox) {
        tracing::debug!(error = %e, "bad frame from client");
        if let Some(response) = e.to_error_response() {
            let _ = reply.send(&Message::from(response)).await;
        }
    }

    pub(crate) async fn on_message(self: &Arc<Self>, message: Message, route: &Route) {
        match message {
            Message::Request(req) => self.spawn_request(req, route.clone(), None).await,
            Message::Notification(n) => self.on_notification(n).await,
            Message::Response(r) => {
                if !self.peer.resolve(&r.id, Ok(r.result)) {
                    tracing::debug!(id = %r.id, "response to no pending request");
                }
            }
            Message::Error(e) => match &e.id {
                Some(id) => {
                    let _ = self.peer.resolve(id, Err(e.error));
                }
                None => tracing::warn!(error = %e.error, "client reported an error"),
            },
        }
    }

    /// A 2025-03-26 batch: requests run concurrently, their responses go
    /// back together as one batch. The batch runs in its own task so the
    /// reader stays free (a batched request may wait for the client).
    /// Batched requests cannot be cancelled one by one.
    async fn on_batch(
        self: &Arc<Self>,
        items: Vec<Result<Message, mcp_core::Error>>,
        route: &Route,
    ) {
        let mut requests = Vec::new();
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for item in items {
            match item {
                Ok(Message::Request(req)) => requests.push(req),
                Ok(other) => Box::pin(self.on_message(other, route)).await,
                Err(e) => frames.extend(
                    e.to_error_response()
                        .and_then(|r| serde_json::to_vec(&Message::from(r)).ok()),
                ),
            }
        }
        let this = Arc::clone(self);
        let route = route.clone();
        tokio::spawn(async move {
            let mut replies = JoinSet::new();
            for req in requests {
                let id = req.id.clone();
                let permit = match this.admit(&route.admission).await {
                    Ok(permit) => permit,
                    Err(busy) => {
                        frames.extend(response_frame(&id, Err(busy.error_object())));
                        continue;
                    }
                };
                let this = Arc::clone(&this);
                let route = route.clone();
                replies.spawn(async move {
                    let reply = CatchUnwind::new(this.handle(req, &route))
                        .await
                        .unwrap_or_else(|_| {
                            Err(ErrorObject::internal_error("the request handler failed"))
                        });
                    drop(permit);
                    (id, reply)
                });
            }
            while let Some(joined) = replies.join_next().await {
                if let Ok((id, reply)) = joined {
                    frames.extend(response_frame(&id, reply));
                }
            }
            if !frames.is_empty() {
                let mut batch = b"[".to_vec();
                batch.extend(frames.join(&b","[..]));
                batch.push(b']');
                let _ = route.reply.send_frame(Bytes::from(batch)).await;
            }
        });
    }

    /// Runs a request a transport admitted already (a stateless HTTP
    /// request, whose refusal is an HTTP status): `admitted` is held until
    /// it ends.
    pub(crate) async fn on_admitted_request(
        self: &Arc<Self>,
        req: Request,
        route: &Route,
        admitted: Admitted,
    ) {
        self.spawn_request(req, route.clone(), Some(admitted)).await;
    }

    async fn spawn_request(
        self: &Arc<Self>,
        req: Request,
        route: Route,
        admitted: Option<Admitted>,
    ) {
        let id = req.id.clone();
        if self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&id)
        {
            let e = ErrorObject::invalid_request(format!("request id {id} is already in flight"));
            let _ = route
                .reply
                .send(&Message::from(ErrorResponse::new(Some(id), e)))
                .await;
            return;
        }
        // Bounded concurrency without ever blocking a stdio reader, which
        // must stay free to read cancellations and the client's answers.
        // Subscriptions live long by design and have limits of their own.
        let permit = if admitted.is_some() || req.method == method::Listen::NAME {
            admitted
        } else {
            match self.admit(&route.admission).await {
                Ok(permit) => Some(permit),
                Err(busy) => {
                    let e = busy.error_object();
                    let _ = route
                        .reply
                        .send(&Message::from(ErrorResponse::new(Some(id), e)))
                        .await;
                    return;
                }
            }
        };
        let key = id.clone();
        let this = Arc::clone(self);
        let span = tracing::debug_span!("request", id = %req.id, method = %req.method);
        let handled = CatchUnwind::new(tracing::Instrument::instrument(
            {
                let this = Arc::clone(self);
                let route = route.clone();
                async move { this.handle(req, &route).await }
            },
            span,
        ));
        let mut task = Box::pin(async move {
            let reply = handled.await.unwrap_or_else(|panic| {
                tracing::error!(%id, panic, "request handler panicked");
                Err(ErrorObject::internal_error("the request handler failed"))
            });
            this.in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            if let Some(frame) = response_frame(&id, reply) {
                let _ = route.reply.send_frame(Bytes::from(frame)).await;
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
        // entry before the entry exists.
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let task = tokio::spawn(task);
        in_flight.insert(key, task.abort_handle());
    }

    /// A permit to run one request, and its client's slot.
    pub(crate) async fn admit(&self, admission: &Admission) -> Result<Admitted, Busy> {
        let slot = match &admission.client {
            Some(client) => Some(client.take(Kind::InFlight).map_err(Busy::Client)?),
            None => None,
        };
        let permits = Arc::clone(&self.permits);
        // Waiting (and its timer) only when no permit is free.
        let permit = match (Arc::clone(&permits).try_acquire_owned(), admission.wait) {
            (Ok(permit), _) => Some(permit),
            (Err(_), None) => None,
            (Err(_), Some(wait)) => tokio::time::timeout(wait, permits.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok),
        };
        let permit = permit.ok_or(Busy::Server(self.options.max_in_flight))?;
        Ok(Admitted {
            _permit: permit,
            _slot: slot,
        })
    }

    async fn on_notification(self: &Arc<Self>, n: Notification) {
        match n.method.as_str() {
            method::Cancelled::NAME => {
                let Ok(params) = n.params::<CancelledParams>() else {
                    return;
                };
                if let Some(id) = params.request_id {
                    // Dropping the task's future is the cancellation; no
                    // response is sent for a cancelled request.
                    if let Some(abort) = self
                        .in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&id)
                    {
                        tracing::debug!(%id, reason = ?params.reason, "request cancelled");
                        abort.abort();
                    }
                }
            }
            method::Initialized::NAME => {
                let ready = {
                    let mut legacy = self.legacy_mut();
                    let ready = legacy.version.is_some() && !legacy.initialized;
                    legacy.initialized |= ready;
                    ready
                };
                if ready {
                    // Requests to the client wait for this notification.
                    self.peer.set_ready();
                    self.start_legacy_events();
                }
            }
            // Run apart from the reader, so a slow handler delays nothing.
            _ => {
                let this = Arc::clone(self);
                tokio::spawn(async move { this.handler.notification(n).await });
            }
        }
    }

    /// Aborts every task of the connection at once.
    pub(crate) fn abort_all(&self) {
        self.closing.send_replace(true);
        if let Some(task) = self
            .events_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        for (_, task) in self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
        {
            task.abort();
        }
    }

    /// Stops reading: subscriptions end, in-flight requests get the grace
    /// period, then are cancelled.
    pub(crate) async fn shutdown(&self) {
        // `send_replace` stores the value even with no receiver yet, so a
        // subscription that starts listening later still sees it.
        self.closing.send_replace(true);
        if let Some(task) = self
            .events_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        // Every running request holds a permit: all permits back means all
        // requests done.
        let all = u32::try_from(self.options.max_in_flight.max(1)).unwrap_or(u32::MAX);
        if tokio::time::timeout(self.options.shutdown_grace, self.permits.acquire_many(all))
            .await
            .is_err()
        {
            tracing::debug!("cancelling requests still running at shutdown");
            let running: Vec<AbortHandle> = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain()
                .map(|(_, a)| a)
                .collect();
            for task in running {
                task.abort();
            }
            let _ = self.permits.acquire_many(all).await;
        }
    }

    /// Runs one request to its reply.
    async fn handle(self: &Arc<Self>, req: Request, route: &Route) -> Reply {
        match req.method.as_str() {
            method::Initialize::NAME => self.initialize(&req),
            method::Ping::NAME => {
                // Allowed at any time, even before `initialize`. `ping` is
                // gone from 2026-07-28, but answering it costs nothing and
                // keeps health checks working.
                let params: mcp_core::result::RequestParams = decode(&req)?;
                let modern = params.meta.is_some_and(|m| m.protocol_version.is_some());
                encode(
                    &req.id,
                    &if modern {
                        EmptyResult::complete()
                    } else {
                        EmptyResult::legacy()
                    },
                )
            }
            method::Discover::NAME => {
                let params: mcp_core::result::RequestParams = decode(&req)?;
                let served = self.serve_as::<method::Discover>(params.meta.as_ref())?;
                let mut result = DiscoverResult::new(
                    self.options.supported_versions.clone(),
                    self.handler.capabilities(),
                    self.options.discover_ttl_ms,
                    mcp_core::CacheScope::Public,
                );
                result.instructions = self.handler.instructions();
                self.finish(&req.id, result, &served)
            }
            method::SetLevel::NAME => {
                let params: SetLevelParams = decode(&req)?;
                self.serve_as::<method::SetLevel>(params.meta.as_ref())?;
                self.legacy_mut().log_level = Some(params.level);
                encode(&req.id, &EmptyResult::legacy())
            }
            method::Subscribe::NAME | method::Unsubscribe::NAME => {
                let params: ResourceUriParams = decode(&req)?;
                let served = self.serve_as::<method::Subscribe>(params.meta.as_ref())?;
                if self
                    .handler
                    .capabilities()
                    .resources
                    .is_none_or(|r| r.subscribe != Some(true))
                {
                    return Err(ErrorObject::method_not_found(&req.method));
                }
                if req.method == method::Subscribe::NAME {
                    let ctx = self.context(
                        route,
                        &req,
                        &served,
                        params.meta.as_ref(),
                        InputResponses::new(),
                    );
                    self.handler
                        .subscribe(ctx, params.uri.clone())
                        .await
                        .map_err(|e| legacy_codes(e.into_error_object()))?;
                    let mut legacy = self.legacy_mut();
                    let max = self.options.max_subscriptions;
                    if legacy.subscriptions.len() >= max
                        && !legacy.subscriptions.contains(&params.uri)
                    {
                        return Err(ErrorObject::invalid_request(format!(
                            "at most {max} resource subscriptions per session"
                        )));
                    }
                    legacy.subscriptions.insert(params.uri);
                } else {
                    self.legacy_mut().subscriptions.remove(&params.uri);
                }
                encode(&req.id, &EmptyResult::legacy())
            }
            // Boxed: a subscription's future is large and rare, and would
            // otherwise grow every request's future.
            method::Listen::NAME => Box::pin(self.listen(&req, route)).await,
            method::ListTools::NAME => {
                self.simple::<method::ListTools, _, _>(
                    route,
                    &req,
                    |c| c.tools.is_some(),
                    |ctx, p| self.handler.list_tools(ctx, p),
                )
                .await
            }
            method::ListResources::NAME => {
                self.simple::<method::ListResources, _, _>(
                    route,
                    &req,
                    |c| c.resources.is_some(),
                    |ctx, p| self.handler.list_resources(ctx, p),
                )
                .await
            }
            method::ListResourceTemplates::NAME => {
                self.simple::<method::ListResourceTemplates, _, _>(
                    route,
                    &req,
                    |c| c.resources.is_some(),
                    |ctx, p| self.handler.list_resource_templates(ctx, p),
                )
                .await
            }
            method::ListPrompts::NAME => {
                self.simple::<method::ListPrompts, _, _>(
                    route,
                    &req,
                    |c| c.prompts.is_some(),
                    |ctx, p| self.handler.list_prompts(ctx, p),
                )
                .await
            }
            method::Complete::NAME => {
                self.simple::<method::Complete, _, _>(
                    route,
                    &req,
                    |c| c.completions.is_some(),
                    |ctx, p| self.handler.complete(ctx, p),
                )
                .await
            }
            method::CallTool::NAME => {
                let p: mcp_core::CallToolParams = decode(&req)?;
                let served = self.serve_as::<method::CallTool>(p.meta.as_ref())?;
                self.require(self.handler.capabilities().tools.is_some(), &req)?;
                let (ctx, digest) =
                    self.prepare_input(route, &req, &p, &served, &p.name, &p.arguments)?;
                match self.handler.call_tool(ctx.clone(), p).await {
                    Ok(result) => self.finish(&req.id, result, &served),
                    // A tool error is for the model, unless the handler was
                    // really stopped by a request for input.
                    Err(Error::Tool(message)) if !ctx.asked_for_input() => self.finish(
                        &req.id,
                        CallToolResult::error(vec![ContentBlock::text(message)]),
                        &served,
                    ),
                    Err(e) => self.input_or_error(&req.id, e, &ctx, digest),
                }
            }
            method::GetPrompt::NAME => {
                let p: mcp_core::prompts::GetPromptParams = decode(&req)?;
                let served = self.serve_as::<method::GetPrompt>(p.meta.as_ref())?;
                self.require(self.handler.capabilities().prompts.is_some(), &req)?;
                let (ctx, digest) =
                    self.prepare_input(route, &req, &p, &served, &p.name, &p.arguments)?;
                match self.handler.get_prompt(ctx.clone(), p).await {
                    Ok(result) => self.finish(&req.id, result, &served),
                    Err(e) => self.input_or_error(&req.id, e, &ctx, digest),
                }
            }
            method::ReadResource::NAME => {
                let p: mcp_core::resources::ReadResourceParams = decode(&req)?;
                let served = self.serve_as::<method::ReadResource>(p.meta.as_ref())?;
                self.require(self.handler.capabilities().resources.is_some(), &req)?;
                let (ctx, digest) = self.prepare_input(route, &req, &p, &served, &p.uri, &())?;
                match self.handler.read_resource(ctx.clone(), p).await {
                    Ok(result) => self.finish(&req.id, result, &served),
                    Err(Error::Protocol(e)) if served.era == Era::Legacy => Err(legacy_codes(e)),
                    Err(e) => self.input_or_error(&req.id, e, &ctx, digest),
                }
            }
            _ => {
                let meta = req
                    .params
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<MetaOnly>(p.get()).ok())
                    .and_then(|m| m.meta);
                let served = self.served(meta.as_ref(), Eras::Both)?;
                let ctx = self.context(route, &req, &served, meta.as_ref(), InputResponses::new());
                let raw = self
                    .handler
                    .other_request(ctx, req.method.clone(), req.params.clone())
                    .await
                    .map_err(Error::into_error_object)?;
                encode(&req.id, &raw)
            }
        }
    }

    /// A request served in one round by one handler method: decode, check
    /// era and capability, call, stamp the result for the era.
    async fn simple<M, Fut, T>(
        &self,
        route: &Route,
        req: &Request,
        offered: impl FnOnce(&mcp_core::ServerCapabilities) -> bool,
        call: impl FnOnce(RequestContext, M::Params) -> Fut,
    ) -> Reply
    where
        M: Method,
        Fut: std::future::Future<Output = Result<T, Error>>,
        T: Stamp + Serialize,
    {
        let p: M::Params = decode(req)?;
        let served = self.serve_as::<M>(p.meta())?;
        self.require(offered(&self.handler.capabilities()), req)?;
        let ctx = self.context(route, req, &served, p.meta(), InputResponses::new());
        let result = call(ctx, p).await.map_err(Error::into_error_object)?;
        self.finish(&req.id, result, &served)
    }

    fn require(&self, offered: bool, req: &Request) -> Result<(), ErrorObject> {
        if offered {
            Ok(())
        } else {
            Err(ErrorObject::method_not_found(&req.method))
        }
    }

    /// Decides the era of a request for method `M` and checks it may be
    /// served in it.
    fn serve_as<M: Method>(&self, meta: Option<&RequestMeta>) -> Result<Served, ErrorObject> {
        let served = self.served(meta, M::ERAS)?;
        if !M::ERAS.contains(served.era) {
            return Err(ErrorObject::method_not_found(M::NAME));
        }
        Ok(served)
    }

    fn served(&self, meta: Option<&RequestMeta>, eras: Eras) -> Result<Served, ErrorObject> {
        // A request naming its protocol version in `_meta` is modern,
        // whatever happened on the connection before.
        if let Some(meta) = meta.filter(|m| m.protocol_version.is_some()) {
            let modern = RequestMeta::require_modern(Some(meta))?;
            let version = negotiate::server_accept_modern(
                modern.protocol_version,
                &self.options.supported_versions,
            )?;
            return Ok(Served {
                era: Era::Modern,
                version,
                client_capabilities: Arc::new(modern.client_capabilities.clone()),
                client_info: meta.client_info.clone().map(Arc::new),
                log_level: meta.log_level,
            });
        }
        let legacy = self.legacy();
        match &legacy.version {
            Some(version) => Ok(Served {
                era: Era::Legacy,
                version: version.clone(),
                client_capabilities: legacy.client_capabilities.clone(),
                client_info: legacy.client_info.clone(),
                log_level: legacy.log_level,
            }),
            None if eras == Eras::Legacy => Err(ErrorObject::invalid_request(
                "the session is not initialized: send `initialize` first",
            )),
            None => Err(ErrorObject::invalid_params(format!(
                "Missing required _meta key \"{}\" (2026-07-28), and no `initialize` on this connection (earlier revisions)",
                mcp_core::meta::keys::PROTOCOL_VERSION
            ))),
        }
    }

    fn context(
        &self,
        route: &Route,
        req: &Request,
        served: &Served,
        meta: Option<&RequestMeta>,
        answers: InputResponses,
    ) -> RequestContext {
        RequestContext::new(ContextParts {
            id: req.id.clone(),
            era: served.era,
            version: served.version.clone(),
            client_capabilities: served.client_capabilities.clone(),
            client_info: served.client_info.clone(),
            progress_token: meta.and_then(|m| m.progress_token.clone()),
            log_level: served.log_level,
            outbox: route.reply.clone(),
            peer: (served.era == Era::Legacy).then(|| self.peer.clone()),
            extensions: route.extensions.clone(),
            answers,
        })
    }

    fn finish<T: Stamp + Serialize>(
        &self,
        id: &RequestId,
        mut result: T,
        served: &Served,
    ) -> Reply {
        if served.era == Era::Modern {
            let info = self.handler.info();
            result.stamp(Some(&Modern {
                server_info: &info,
                ttl_ms: self.options.cache_ttl_ms,
                cache_scope: self.options.cache_scope,
            }));
        } else {
            result.stamp(None);
        }
        encode(id, &result)
    }

    fn initialize(&self, req: &Request) -> Reply {
        let params: InitializeParams = decode(req)?;
        let mut legacy = self.legacy_mut();
        if legacy.version.is_some() {
            return Err(ErrorObject::invalid_request(
                "the session is already initialized",
            ));
        }
        let version = negotiate::server_initialize(
            &params.protocol_version,
            &self.options.supported_versions,
        )
        .ok_or_else(|| {
            ErrorObject::unsupported_protocol_version(
                params.protocol_version.as_str(),
                self.options
                    .supported_versions
                    .iter()
                    .map(ProtocolVersion::as_str),
            )
        })?;
        legacy.version = Some(version.clone());
        legacy.client_capabilities = Arc::new(params.capabilities);
        legacy.client_info = Some(Arc::new(params.client_info));
        drop(legacy);
        let mut result =
            InitializeResult::new(version, self.handler.capabilities(), self.handler.info());
        result.instructions = self.handler.instructions();
        encode(&req.id, &result)
    }
}

/// Legacy clients know resource-not-found as -32002, which 2026-07-28
/// replaced with -32602 carrying the URI.
fn legacy_codes(e: ErrorObject) -> ErrorObject {
    let is_not_found = e.code() == mcp_core::ErrorCode::INVALID_PARAMS
        && e.data().is_some_and(|d| d.get("uri").is_some());
    if is_not_found {
        ErrorObject::new(mcp_core::ErrorCode::RESOURCE_NOT_FOUND, e.message())
            .with_data(e.data().cloned().unwrap_or_default())
    } else {
        e
    }
}

/// Only `_meta`, for requests the session does not know.
#[derive(serde::Deserialize)]
struct MetaOnly {
    #[serde(rename = "_meta", default)]
    meta: Option<RequestMeta>,
}

fn response_frame(id: &RequestId, reply: Reply) -> Option<Vec<u8>> {
    match reply {
        Ok(frame) => Some(frame),
        Err(error) => {
            serde_json::to_vec(&Message::from(ErrorResponse::new(Some(id.clone()), error))).ok()
        }
    }
}
