//! Stateless 2026-07-28 requests: checked against their mirrored headers,
//! admitted, and run through the dispatcher with no connection at all. The
//! answer is JSON when it comes first, else an SSE stream (notifications
//! go along); losing the response (the client closed the stream, or
//! dropped the connection) cancels the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response, StatusCode};
use mcp_core::meta::RequestMeta;
use mcp_core::method::{self, Method};
use mcp_core::request::ClientRequest;
use mcp_core::version::negotiate;
use mcp_core::{ErrorObject, ErrorResponse, Message, ProtocolVersion, Request, headers};
use tokio::sync::{mpsc, watch};

use super::body::Body;
use super::reply::{
    Accepts, BODY_CAPACITY, busy, comment, error, event, header, json, names, sse_response,
};
use super::shared::{Shared, shutting_down};
use crate::handler::Handler;
use crate::session::peer::Outbox;
use crate::session::{Call, decode_call};
use crate::session::{Reply, admit};

/// A mirrored header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
/// `Mcp-Param-*`) that appears more than once.
fn repeated_mirror(headers: &HeaderMap) -> Option<&str> {
    // Nothing is repeated at all: the common case, known without a lookup.
    if headers.len() == headers.keys_len() {
        return None;
    }
    headers.keys().map(http::HeaderName::as_str).find(|name| {
        // Header names are lowercase once parsed.
        let mirrored = *name == names::PROTOCOL_VERSION
            || *name == names::METHOD
            || *name == names::NAME
            || name
                .get(..headers::PARAM_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(headers::PARAM_PREFIX));
        mirrored && headers.get_all(*name).iter().nth(1).is_some()
    })
}

/// Only `_meta`, for requests whose params do not decode for their
/// method: enough to tell their era.
#[derive(serde::Deserialize)]
struct MetaOnly {
    #[serde(rename = "_meta", default)]
    meta: Option<RequestMeta>,
}

/// The HTTP status of a 2026-07-28 error answer, as the transport assigns
/// it.
fn status_of(e: &ErrorObject) -> StatusCode {
    match e.code().0 {
        -32601 => StatusCode::NOT_FOUND,
        -32700 | -32600 | -32020 | -32021 | -32022 => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// The stateless path of the endpoint.
pub(super) struct Stateless<H: Handler> {
    shared: Arc<Shared<H>>,
}

/// Whether a stateless POST is for this path, or starts a legacy session.
pub(super) enum Routed {
    /// Answered.
    Done(Response<Body>),
    /// Checked: to run with [`Stateless::run`].
    Run(Checked),
    /// `initialize` without a 2026-07-28 `_meta`: a new legacy session.
    Initialize(Box<NewSession>),
}

/// A request that passed the checks of [`Stateless::post`].
pub(super) struct Checked {
    req: Request,
    call: Call,
    extensions: http::Extensions,
}

/// An `initialize` that starts a legacy session.
pub(super) struct NewSession {
    pub(super) req: Request,
    /// Its params, decoded.
    pub(super) call: Call,
    pub(super) parts: Parts,
}

impl<H: Handler> Stateless<H> {
    pub(super) fn new(shared: Arc<Shared<H>>) -> Self {
        Self { shared }
    }

    /// A POST without a session: a stateless request, or `initialize`.
    /// `call` is the request's params decoded, if a layer in front did it.
    ///
    /// Not `async`: the checks do not wait, and the caller awaits
    /// [`Self::run`] itself, so that future is moved once (a future built
    /// inside another is copied into it whole, unused states included).
    pub(super) fn post(&self, parts: Parts, message: Message, call: Option<Call>) -> Routed {
        let Message::Request(req) = message else {
            // Notifications and responses need no answer; a modern client
            // cancels by closing its stream, so `cancelled` is moot here.
            return Routed::Done(super::reply::accepted());
        };
        let call = call.unwrap_or_else(|| decode_call(&req));
        let fallback;
        let meta = match &call {
            Ok(call) => call.meta(),
            Err(_) => {
                fallback = req
                    .raw_params()
                    .and_then(|p| serde_json::from_str::<MetaOnly>(p.get()).ok())
                    .and_then(|m| m.meta);
                fallback.as_ref()
            }
        };
        let modern = meta.is_some_and(|m| m.protocol_version.is_some());
        let shared = &self.shared;
        if req.method == method::Initialize::NAME && shared.options.legacy && !modern {
            return Routed::Initialize(Box::new(NewSession { req, call, parts }));
        }
        let refused = |status, e| Routed::Done(error(status, Some(req.id.clone()), e));
        if req.method == method::Initialize::NAME && !shared.options.legacy && !modern {
            // A legacy client where sessions are not served (a stateless
            // deployment such as a function): the versions that are.
            #[derive(serde::Deserialize)]
            struct Asked {
                #[serde(rename = "protocolVersion", default)]
                protocol_version: String,
            }
            let asked = req
                .params::<Asked>()
                .map(|a| a.protocol_version)
                .unwrap_or_default();
            let supported = shared.server.options().supported_versions.iter();
            let e = ErrorObject::unsupported_protocol_version(
                &asked,
                supported
                    .filter(|v| v.era() == Some(mcp_core::Era::Modern))
                    .map(ProtocolVersion::as_str),
            );
            let e = ErrorObject::new(
                e.code(),
                "Unsupported protocol version: this endpoint serves 2026-07-28 requests only, \
                 without sessions (initialize is not served here)",
            )
            .with_data(e.data().cloned().unwrap_or_default());
            return refused(StatusCode::BAD_REQUEST, e);
        }
        let Some(meta) = meta.filter(|_| modern) else {
            let message = if shared.options.legacy {
                "Bad Request: no Mcp-Session-Id header, and no _meta protocolVersion (2026-07-28)"
            } else {
                "Missing required _meta key \"io.modelcontextprotocol/protocolVersion\""
            };
            return refused(
                StatusCode::BAD_REQUEST,
                ErrorObject::invalid_params(message),
            );
        };
        // Methods 2026-07-28 removed are not found, with the status the
        // transport gives that.
        if mcp_core::method::lookup(&req.method, mcp_core::Era::Modern).is_none()
            && mcp_core::method::lookup(&req.method, mcp_core::Era::Legacy).is_some()
        {
            return refused(
                StatusCode::NOT_FOUND,
                ErrorObject::method_not_found(&req.method),
            );
        }
        if let Err(e) = RequestMeta::require_modern(Some(meta)) {
            return refused(StatusCode::BAD_REQUEST, e);
        }
        let headers_in = &parts.headers;
        // A mirrored header given twice could say two things; reading
        // only one of them would let the body and a proxy disagree.
        if let Some(name) = repeated_mirror(headers_in) {
            return refused(
                StatusCode::BAD_REQUEST,
                ErrorObject::header_mismatch(format!("header {name} appears more than once")),
            );
        }
        // The headers mirror the body; a mismatch is reported before
        // anything else about the version.
        let version = meta
            .protocol_version
            .clone()
            .unwrap_or_else(|| ProtocolVersion::new(""));
        let mismatch = match header(headers_in, names::PROTOCOL_VERSION) {
            Some(v) if v == version.as_str() => None,
            Some(v) => Some(format!(
                "MCP-Protocol-Version header value '{v}' does not match body value '{version}'"
            )),
            None => Some("MCP-Protocol-Version header is missing".to_owned()),
        };
        if let Some(why) = mismatch {
            return refused(StatusCode::BAD_REQUEST, ErrorObject::header_mismatch(why));
        }
        if let Err(e) =
            negotiate::server_accept_modern(&version, &shared.server.options().supported_versions)
        {
            return refused(StatusCode::BAD_REQUEST, e);
        }
        let name = call.as_deref().ok().and_then(ClientRequest::mirrored_name);
        let params = match (call.as_deref(), name) {
            (Ok(ClientRequest::CallTool(_)), Some(tool)) => shared
                .server
                .handler()
                .tool_header_params_for(tool, &parts.extensions),
            _ => None,
        };
        let arguments = call.as_deref().ok().and_then(ClientRequest::tool_arguments);
        let lookup = |h: &str| match h {
            headers::METHOD => header(headers_in, names::METHOD),
            headers::NAME => header(headers_in, names::NAME),
            other => header(headers_in, other),
        };
        if let Err(e) = headers::check(
            lookup,
            &req.method,
            name,
            params.as_deref().unwrap_or_default(),
            arguments,
        ) {
            return refused(StatusCode::BAD_REQUEST, e);
        }
        Routed::Run(Checked {
            req,
            call,
            extensions: parts.extensions,
        })
    }

    /// Admits and runs a request that passed [`Self::post`], and answers
    /// it.
    pub(super) async fn run(&self, checked: Checked, accept: &Accepts) -> Response<Body> {
        let Checked {
            req,
            call,
            extensions,
        } = checked;
        let shared = &self.shared;
        if let Err(refused) = shared.check_rates(&extensions, &req, &call).await {
            return refused;
        }
        let (reply, mut rx) = Outbox::answers(64);
        let route = shared.route(reply, extensions);
        // Admitted here, so that a refusal is an HTTP status a client and
        // a proxy understand. Subscriptions have limits of their own.
        let admitted = if req.method == method::Listen::NAME {
            None
        } else {
            let limit = shared.server.options().max_in_flight;
            match admit(&shared.permits, &route.admission, limit).await {
                Ok(admitted) => Some(admitted),
                Err(refused) => {
                    refused.report(&route.extensions);
                    return busy(refused, Some(req.id));
                }
            }
        };
        let id = req.id.clone();
        let dispatcher = Arc::clone(shared.server.dispatcher());
        let grace = shared.server.options().shutdown_grace;
        let closing = shared.closing.subscribe();
        // The request runs in this future: no task, no connection.
        let mut answer = answering(dispatcher, req, call, route, admitted, closing, grace);
        let mut first = None;
        if accept.json {
            tokio::select! {
                biased;
                reply = &mut answer => match rx.try_recv() {
                    // Nothing was sent before the answer: plain JSON.
                    None => return answer_json(reply, &id),
                    // Notifications came first: they go first, on a stream.
                    Some(message) => {
                        first = Some(message);
                        answer = Box::pin(std::future::ready(reply));
                    }
                },
                message = rx.recv() => first = message,
            }
            if !accept.sse {
                // JSON only: what comes before the answer cannot be
                // delivered.
                drop(rx);
                return answer_json(answer.await, &id);
            }
        }
        let (body_tx, body_rx) = mpsc::channel::<Bytes>(BODY_CAPACITY);
        let keep_alive = shared.options.keep_alive;
        tokio::spawn(async move {
            if let Some(first) = first
                && body_tx.send(event(&first.bytes, None)).await.is_err()
            {
                return;
            }
            let mut tick = tokio::time::interval(keep_alive);
            tick.reset();
            let reply = loop {
                let chunk = tokio::select! {
                    biased;
                    message = rx.recv() => match message {
                        Some(message) => event(&message.bytes, None),
                        // The route is gone: the answer is ready.
                        None => break answer.await,
                    },
                    reply = &mut answer => {
                        // What was sent before the answer goes first.
                        while let Some(message) = rx.try_recv() {
                            if body_tx.send(event(&message.bytes, None)).await.is_err() {
                                return;
                            }
                        }
                        break reply;
                    }
                    _ = tick.tick() => comment(),
                    // The client closed the stream: that is how a
                    // 2026-07-28 request is cancelled (the future drops).
                    () = body_tx.closed() => return,
                };
                if body_tx.send(chunk).await.is_err() {
                    return;
                }
            };
            let frame = match reply {
                Ok(frame) => frame,
                Err(e) => encode_error(&id, e),
            };
            let _ = body_tx.send(event(&frame, None)).await;
        });
        sse_response(Body::stream(body_rx))
    }
}

/// The dispatcher's answer to `req`, boxed by a plain function: built in
/// an async one, the unboxed future (large: every method's handling)
/// would count in that function's own future too, and be copied with it.
fn answering<H: Handler>(
    dispatcher: Arc<crate::session::Dispatcher<H>>,
    req: Request,
    call: Call,
    route: crate::session::Route,
    admitted: Option<crate::session::Admitted>,
    mut closing: watch::Receiver<bool>,
    grace: std::time::Duration,
) -> Pin<Box<dyn Future<Output = Reply> + Send>> {
    crate::boxed::future(move || async move {
        let _admitted = admitted;
        // The answer, unless shutdown begins and it takes longer than
        // `grace` after that: then an error saying so (and the request is
        // cancelled). Written out here, not as a function taking the
        // answer: that would copy the (large) future into its own.
        let answer = std::pin::pin!(dispatcher.answer(&req, call, &route, None));
        tokio::select! {
            // The answer first: most are ready at once, and then the
            // shutdown watch is never registered with.
            biased;
            reply = answer => reply,
            () = async {
                shutting_down(&mut closing).await;
                tokio::time::sleep(grace).await;
            } => Err(ErrorObject::internal_error("the server is shutting down")),
        }
    })
}

fn encode_error(id: &mcp_core::RequestId, e: ErrorObject) -> Vec<u8> {
    serde_json::to_vec(&Message::from(ErrorResponse::new(Some(id.clone()), e))).unwrap_or_default()
}

/// The answer as a JSON response, with the status its error gets.
fn answer_json(reply: Reply, id: &mcp_core::RequestId) -> Response<Body> {
    match reply {
        Ok(frame) => json(Bytes::from(frame), StatusCode::OK),
        Err(e) => {
            let status = status_of(&e);
            json(Bytes::from(encode_error(id, e)), status)
        }
    }
}
