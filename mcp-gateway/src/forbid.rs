//! Policy refusals as HTTP 403, when `[policy] refuse = "forbidden"`.
//!
//! A JSON-RPC error in a 200 answer tells a client nothing an HTTP
//! intermediary or an SDK's transport acts on; a status does. The decision
//! is made in front of the endpoint, on the request's one decoding (left in
//! its extensions for the endpoint, which reads the bytes no more), by the
//! same rules the handler applies again behind it. What is not one request
//! (a batch), or reaches the gateway over stdio, is still refused by the
//! handler with the JSON-RPC error alone. A request the endpoint would
//! refuse for its `Host` or `Origin` is left to it, unread. A refused
//! request reaches no upstream and is answered before the endpoint's rate
//! limits count it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use mcp_auth::Identity;
use mcp_core::jsonrpc::Incoming;
use mcp_core::request::DecodedBody;
use mcp_core::{ErrorResponse, Message};
use mcp_server::http::AllowedHosts;

use crate::Gateway;
use crate::config::Refusal;
use crate::federation::forbidden;

/// What the check needs: the gateway (its policy and catalog, as reloaded)
/// and the endpoint's own bounds on reading a body, so that a body is
/// refused here exactly as the endpoint would refuse it.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub(crate) gateway: Gateway,
    pub(crate) max_body: usize,
    pub(crate) body_timeout: Duration,
    /// The endpoint's accepted hosts and origins: a request it refuses
    /// for them is left to it, unread here.
    pub(crate) allowed: AllowedHosts,
}

/// The check in front of the endpoint, as a layer. A plain tower service
/// rather than `axum::middleware::from_fn`: that boxes a clone of the
/// endpoint and the middleware's future for every request, which costs
/// more than the check when it has nothing to do.
#[derive(Clone)]
pub(crate) struct Layer(pub(crate) Arc<Check>);

impl<S> tower_layer::Layer<S> for Layer {
    type Service = Forbid<S>;

    fn layer(&self, inner: S) -> Forbid<S> {
        Forbid {
            inner,
            check: Arc::clone(&self.0),
        }
    }
}

/// The endpoint behind the check.
#[derive(Clone)]
pub(crate) struct Forbid<S> {
    inner: S,
    check: Arc<Check>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> tower_service::Service<Request> for Forbid<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Answer {
        if !self.check.applies(&req) {
            return Box::pin(self.inner.call(req));
        }
        // The service made ready goes with the request; its clone stays.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let check = Arc::clone(&self.check);
        Box::pin(async move { Ok(check.run(req, ready).await) })
    }
}

impl Check {
    /// Whether the request is one to decide here: a POST, refusals as 403
    /// configured, and a `Host` and `Origin` the endpoint accepts.
    fn applies(&self, req: &Request) -> bool {
        req.method() == http::Method::POST
            && self.gateway.config().policy.refuse == Refusal::Forbidden
            && self.allowed.check_request(req.uri(), req.headers()).is_ok()
    }

    /// 403 with the JSON-RPC error for a request policy refuses, the
    /// request passed on to `endpoint` (decoded) otherwise.
    async fn run<S>(&self, req: Request, mut endpoint: S) -> Response
    where
        S: tower_service::Service<Request, Response = Response, Error = Infallible>,
    {
        let check = self;
        let (mut parts, body) = req.into_parts();
        // A layer in front (scopes per tool) may have decoded it already.
        let (decoded, body) = match parts.extensions.remove::<DecodedBody>() {
            Some(decoded) => (decoded, body),
            None => match read(body, check.max_body, check.body_timeout).await {
                Ok(bytes) => (DecodedBody::decode(bytes.clone()), Body::from(bytes)),
                Err(refusal) => return refusal,
            },
        };
        if let Ok(Incoming::Single(Message::Request(request))) = &decoded.incoming
            && let Some(Ok(call)) = &decoded.request
            && let Some(what) = check
                .gateway
                .denied(parts.extensions.get::<Identity>(), call)
        {
            Gateway::report_refusal(&parts.extensions, &what);
            let answer = ErrorResponse::new(Some(request.id.clone()), forbidden(&what));
            let body = serde_json::to_vec(&Message::from(answer)).unwrap_or_default();
            return (
                StatusCode::FORBIDDEN,
                [(http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
        parts.extensions.insert(decoded);
        match endpoint.call(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The body, within the endpoint's size and time bounds: 413, 408 or 400
/// otherwise, as the endpoint answers.
async fn read(body: Body, max: usize, timeout: Duration) -> Result<Bytes, Response> {
    let limited = http_body_util::Limited::new(body, max).collect();
    match tokio::time::timeout(timeout, limited).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {max} bytes"),
        )
            .into_response()),
        Ok(Err(e)) => Err((
            StatusCode::BAD_REQUEST,
            format!("reading the request body failed: {e}"),
        )
            .into_response()),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f32()
            ),
        )
            .into_response()),
    }
}
