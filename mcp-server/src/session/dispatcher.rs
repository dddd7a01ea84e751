//! The dispatcher: what every request needs, whichever transport and era
//! it came by. It decides the era a request is served in, builds its
//! context, and stamps its result; the method routing is in `methods`.
//!
//! A stateless 2026-07-28 request is dispatched with no connection at all
//! (`session` is `None`); a legacy session's or a stdio connection's
//! requests pass their connection's [`SessionState`], which the legacy
//! methods read and change.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mcp_core::jsonrpc::OutgoingResponse;
use mcp_core::method::{Eras, Method};
use mcp_core::mrtr::InputResponses;
use mcp_core::request::ClientRequest;
use mcp_core::security::SecurityEvent;
use mcp_core::transport::Outgoing;
use mcp_core::version::negotiate;
use mcp_core::{Era, ErrorObject, ErrorResponse, Message, Request, RequestId, RequestMeta};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::ServerOptions;
use super::lifecycle::{Served, SessionState};
use super::peer::Outbox;
use super::stamp::{Modern, Stamp};
use super::unwind::guarded;
use crate::context::{ContextParts, RequestContext};
use crate::handler::Handler;
use crate::quota::{ClientQuota, Kind, Slot};
use crate::telemetry::{Operation, Outcome, Transport};

/// A request's params decoded for its method, boxed: the decoded request
/// is large, and moves through several futures on its way to the handler.
pub(crate) type Call = Result<Box<ClientRequest>, mcp_core::Error>;

/// Decodes `req`'s params for its method.
pub(crate) fn decode_call(req: &Request) -> Call {
    ClientRequest::decode(req).map(Box::new)
}

/// Shared by every connection and request of one server.
#[derive(Debug)]
pub(crate) struct Dispatcher<H> {
    pub(crate) handler: H,
    /// The handler's [`Handler::info`], read once: it goes into every
    /// 2026-07-28 result.
    pub(crate) info: Arc<mcp_core::Implementation>,
    /// `"_meta":{"io.modelcontextprotocol/serverInfo":…}`, encoded once.
    server_meta: Box<[u8]>,
    pub(crate) options: ServerOptions,
    /// Open `subscriptions/listen` streams, over all connections.
    pub(crate) listens: Semaphore,
    /// Changes other instances announced, heard over an event bus.
    pub(crate) remote_events: Arc<tokio::sync::broadcast::Sender<crate::handler::ServerEvent>>,
}

/// Where the answers to one incoming message go, and what the transport
/// knows about it: stdio answers on its one stream; Streamable HTTP on the
/// response stream of the POST that carried the message.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// Notifications and requests a handler sends while serving the
    /// request (and, on connections, responses).
    pub(crate) reply: Outbox,
    /// What the layers in front of the server put on the request.
    /// Shared: a request's route is cloned into its task and context.
    pub(crate) extensions: Arc<http::Extensions>,
    /// How its requests get their permit to run.
    pub(crate) admission: Admission,
    /// Set when the server (or the connection) goes away: subscription
    /// streams end.
    pub(crate) closing: watch::Receiver<bool>,
    /// How the client is reached, for telemetry.
    pub(crate) transport: Transport,
}

/// How a request gets its permit to run: a slot of its client's quota,
/// if the transport knows the client, and one of the permits its
/// transport shares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Admission {
    /// The client's quotas, on transports that know the client (HTTP).
    pub(crate) client: Option<ClientQuota>,
    /// How long a request may wait for a permit; `None` refuses at once
    /// (a stdio reader must stay free to read cancellations).
    pub(crate) wait: Option<Duration>,
    /// The transport checked the rate limits already (so that it could
    /// answer a refusal with its own status); else the connection does.
    pub(crate) rates_checked: bool,
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
    /// As many requests run as may.
    Server(usize),
}

impl Busy {
    /// Records the refusal in the security event stream.
    pub(crate) fn report(self, extensions: &http::Extensions) {
        let event = match self {
            Self::Client(_) => SecurityEvent::QuotaExceeded,
            Self::Server(_) => SecurityEvent::LimitReached,
        };
        crate::security_event::refused(event, extensions, &self.error_object().message());
    }

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

/// A permit from `permits` to run one request, and its client's slot.
pub(crate) async fn admit(
    permits: &Arc<Semaphore>,
    admission: &Admission,
    limit: usize,
) -> Result<Admitted, Busy> {
    let slot = match &admission.client {
        Some(client) => Some(client.take(Kind::InFlight).map_err(Busy::Client)?),
        None => None,
    };
    // Waiting (and its timer) only when no permit is free.
    let permit = match (Arc::clone(permits).try_acquire_owned(), admission.wait) {
        (Ok(permit), _) => Some(permit),
        (Err(_), None) => None,
        (Err(_), Some(wait)) => tokio::time::timeout(wait, Arc::clone(permits).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok),
    };
    Ok(Admitted {
        _permit: permit.ok_or(Busy::Server(limit))?,
        _slot: slot,
    })
}

/// A complete response frame (result and id), or the error to answer with.
pub(crate) type Reply = Result<Vec<u8>, ErrorObject>;

/// Serializes the response in one go, straight from the typed result.
pub(crate) fn encode<T: Serialize>(id: &RequestId, result: &T) -> Reply {
    // Most responses fit: growing from empty would copy them five times.
    let mut frame = Vec::with_capacity(512);
    serde_json::to_writer(&mut frame, &OutgoingResponse { id, result })
        .map_err(|e| ErrorObject::internal_error(e.to_string()))?;
    Ok(frame)
}

/// `"_meta":{…}` holding `info`, as [`with_meta`] adds it.
fn server_meta(info: &Arc<mcp_core::Implementation>) -> Box<[u8]> {
    let mut meta = mcp_core::ResultMeta::default();
    meta.server_info = Some(Arc::clone(info));
    let mut encoded = b"\"_meta\":".to_vec();
    // A map of strings: encoding cannot fail.
    let _ = serde_json::to_writer(&mut encoded, &meta);
    encoded.into_boxed_slice()
}

/// Adds `member` (an encoded `"key":value`) as the last member of the
/// result in `frame`, an encoded response whose result is an object that
/// does not have that key: `…"result":{…}}` becomes
/// `…"result":{…,member}}`. `encode` writes compact JSON with the result
/// last, so the result's closing brace is the next to last byte.
fn with_meta(mut frame: Vec<u8>, member: &[u8]) -> Vec<u8> {
    if !frame.ends_with(b"}}") {
        debug_assert!(false, "not an encoded response");
        return frame;
    }
    frame.truncate(frame.len() - 2);
    if frame.last() != Some(&b'{') {
        frame.push(b',');
    }
    frame.extend_from_slice(member);
    frame.extend_from_slice(b"}}");
    frame
}

/// The response to request `id`: its result, or its error.
pub(crate) fn response(id: &RequestId, reply: Reply) -> Option<Outgoing> {
    let bytes = match reply {
        Ok(frame) => frame,
        Err(error) => {
            serde_json::to_vec(&Message::from(ErrorResponse::new(Some(id.clone()), error))).ok()?
        }
    };
    Some(Outgoing::response(Some(id.clone()), Bytes::from(bytes)))
}

/// A batch where the protocol revision has none (all but 2025-03-26).
pub(crate) fn batches_unsupported() -> mcp_core::Error {
    mcp_core::Error::InvalidRequest {
        id: None,
        message: "JSON-RPC batches are not supported by this protocol revision".into(),
    }
}

/// The decoding error of a request's params, as the error to answer with.
pub(crate) fn invalid(e: &mcp_core::Error) -> ErrorObject {
    e.to_error_object()
        .unwrap_or_else(|| ErrorObject::invalid_params(e.to_string()))
}

impl<H: Handler> Dispatcher<H> {
    pub(crate) fn new(handler: H, options: ServerOptions) -> Self {
        // The metrics registry binds to the meter provider installed now
        // (feature `otel`), not whenever the first request ends.
        let _ = crate::telemetry::Metrics::global();
        let info = Arc::new(handler.info());
        Self {
            server_meta: server_meta(&info),
            info,
            handler,
            listens: Semaphore::new(options.max_listen_streams.min(Semaphore::MAX_PERMITS)),
            options,
            remote_events: Arc::new(tokio::sync::broadcast::channel(64).0),
        }
    }

    /// Runs one request (its params decoded as `call`, or decoded here):
    /// its response.
    pub(crate) async fn run(
        self: Arc<Self>,
        req: Request,
        call: Option<Call>,
        route: Route,
        session: Option<Arc<SessionState>>,
    ) -> Option<Outgoing> {
        let call = call.unwrap_or_else(|| decode_call(&req));
        let reply = self.answer(&req, call, &route, session.as_deref()).await;
        response(&req.id, reply)
    }

    /// Runs one request whose params were decoded (`call`), catching a
    /// panicking handler: its reply.
    pub(crate) async fn answer(
        &self,
        req: &Request,
        call: Call,
        route: &Route,
        session: Option<&SessionState>,
    ) -> Reply {
        let version = match call.as_deref().ok().and_then(ClientRequest::meta) {
            Some(RequestMeta {
                protocol_version: Some(v),
                ..
            }) => Some(v.clone()),
            _ => session.and_then(SessionState::legacy_version),
        };
        let operation = Operation::start(
            req,
            call.as_deref().ok(),
            route.transport,
            &route.extensions,
            version,
            self.options.record_tool_calls,
        );
        let outcome = Outcome::default();
        // Built where it stays: moved into wrappers, the handling's future
        // (every method's) would be copied whole by each.
        let handled = std::pin::pin!(async {
            let call = call.map_err(|e| invalid(&e))?;
            self.handle(req, call, route, session, &outcome).await
        });
        let reply = guarded(handled, &operation).await.unwrap_or_else(|panic| {
            tracing::error!(id = %req.id, panic, "request handler panicked");
            Err(ErrorObject::internal_error("the request handler failed"))
        });
        operation.finish(reply.as_ref().map(|_| ()).map_err(|e| e.code().0), &outcome);
        reply
    }

    /// Decides the era of a request for method `M` and checks it may be
    /// served in it.
    pub(crate) fn serve_as<M: Method>(
        &self,
        meta: Option<&RequestMeta>,
        session: Option<&SessionState>,
    ) -> Result<Served, ErrorObject> {
        let served = self.served(meta, M::ERAS, session)?;
        if !M::ERAS.contains(served.era) {
            return Err(ErrorObject::method_not_found(M::NAME));
        }
        Ok(served)
    }

    pub(crate) fn served(
        &self,
        meta: Option<&RequestMeta>,
        eras: Eras,
        session: Option<&SessionState>,
    ) -> Result<Served, ErrorObject> {
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
                // Shared with the request: the context holds them without a copy.
                client_capabilities: Arc::clone(modern.client_capabilities),
                client_info: meta.client_info.clone(),
                log_level: meta.log_level,
            });
        }
        if let Some(served) = session.and_then(|s| s.served_legacy()) {
            return Ok(served);
        }
        Err(if eras == Eras::Legacy {
            ErrorObject::invalid_request("the session is not initialized: send `initialize` first")
        } else {
            ErrorObject::invalid_params(format!(
                "Missing required _meta key \"{}\" (2026-07-28), and no `initialize` on this connection (earlier revisions)",
                mcp_core::meta::keys::PROTOCOL_VERSION
            ))
        })
    }

    pub(crate) fn context(
        &self,
        route: &Route,
        id: &RequestId,
        served: &Served,
        meta: Option<&RequestMeta>,
        answers: InputResponses,
        session: Option<&SessionState>,
    ) -> RequestContext {
        RequestContext::new(ContextParts {
            id: id.clone(),
            era: served.era,
            version: served.version.clone(),
            client_capabilities: served.client_capabilities.clone(),
            client_info: served.client_info.clone(),
            progress_token: meta.and_then(|m| m.progress_token.clone()),
            log_level: served.log_level,
            outbox: route.reply.clone(),
            peer: session
                .filter(|_| served.era == Era::Legacy)
                .map(|s| s.peer().clone()),
            extensions: route.extensions.clone(),
            answers,
        })
    }

    pub(crate) fn finish<T: Stamp + Serialize>(
        &self,
        id: &RequestId,
        mut result: T,
        served: &Served,
    ) -> Reply {
        if served.era != Era::Modern {
            result.stamp(None);
            return encode(id, &result);
        }
        // The server info is the same on every result: encoded once, and
        // added to the encoded result unless it has a `_meta` of its own.
        let add_meta = !result.has_meta();
        result.stamp(Some(&Modern {
            server_info: (!add_meta).then_some(&self.info),
            ttl_ms: self.options.cache_ttl_ms,
            cache_scope: self.options.cache_scope,
        }));
        let frame = encode(id, &result)?;
        Ok(if add_meta {
            with_meta(frame, &self.server_meta)
        } else {
            frame
        })
    }

    pub(crate) fn require(&self, offered: bool, method: &str) -> Result<(), ErrorObject> {
        if offered {
            Ok(())
        } else {
            Err(ErrorObject::method_not_found(method))
        }
    }
}

#[cfg(test)]
mod tests {
    use mcp_core::{CallToolResult, ContentBlock, EmptyResult, Implementation};
    use serde_json::{Value, json};

    use super::*;

    /// What `finish` writes for `result`, read back.
    fn finished<T: Stamp + Serialize>(result: T) -> Value {
        let dispatcher = Dispatcher::new(
            crate::Router::from_info(Implementation::new("s", "1").with_title("S")),
            ServerOptions::default(),
        );
        let served = Served {
            era: Era::Modern,
            version: mcp_core::ProtocolVersion::new("2026-07-28"),
            client_capabilities: Arc::default(),
            client_info: None,
            log_level: None,
        };
        let frame = dispatcher
            .finish(&RequestId::Number(7), result, &served)
            .unwrap();
        serde_json::from_slice(&frame).unwrap()
    }

    #[test]
    fn the_server_info_is_added_to_every_modern_result() {
        let info = json!({"name": "s", "version": "1", "title": "S"});
        let meta = json!({"io.modelcontextprotocol/serverInfo": info});
        assert_eq!(
            finished(EmptyResult::default()),
            json!({"jsonrpc": "2.0", "id": 7, "result": {"resultType": "complete", "_meta": meta}})
        );
        let text = CallToolResult::success(vec![ContentBlock::text("hi")]);
        assert_eq!(
            finished(text)["result"],
            json!({"content": [{"type": "text", "text": "hi"}], "resultType": "complete", "_meta": meta})
        );
        // A result with a `_meta` of its own keeps it, and gets the info.
        let mut own = CallToolResult::default();
        let mut theirs = mcp_core::ResultMeta::default();
        theirs.other.insert("trace".into(), json!("t"));
        own.meta = Some(theirs);
        assert_eq!(
            finished(own)["result"]["_meta"],
            json!({"io.modelcontextprotocol/serverInfo": info, "trace": "t"})
        );
    }
}
