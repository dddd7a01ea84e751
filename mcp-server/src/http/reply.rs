//! Answers every path of the endpoint gives: JSON-RPC errors with their
//! status, JSON and SSE responses, and SSE events.

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use mcp_core::{ErrorObject, ErrorResponse, Message, RequestId, sse};

use super::body::Body;
use crate::session::Busy;

/// Room for events between a pump and a client reading slowly; a legacy
/// client further behind is cut off and resumes from the event store.
pub(super) const BODY_CAPACITY: usize = 64;

/// A response with a JSON-RPC error body.
pub(super) fn error(
    status: StatusCode,
    id: Option<RequestId>,
    error: ErrorObject,
) -> Response<Body> {
    let body =
        serde_json::to_vec(&Message::from(ErrorResponse::new(id, error))).unwrap_or_default();
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A refusal for want of capacity, with the `Retry-After` (seconds) a
/// client should wait before trying again.
pub(super) fn too_busy(
    status: StatusCode,
    retry_after: u32,
    id: Option<RequestId>,
    error_object: ErrorObject,
) -> Response<Body> {
    let mut res = error(status, id, error_object);
    res.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(retry_after));
    res
}

/// The answer to a request that was not admitted: 429 when its client is
/// at its quota, 503 when the whole server is.
pub(super) fn busy(busy: Busy, id: Option<RequestId>) -> Response<Body> {
    let status = match busy {
        Busy::Client(_) => StatusCode::TOO_MANY_REQUESTS,
        Busy::Server(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    too_busy(status, 1, id, busy.error_object())
}

/// 400 with the JSON-RPC error an unreadable body is owed.
/// The messages of a POST body to a session; a batch is answered 400
/// unless the session's revision has batches.
pub(super) fn session_messages(
    incoming: mcp_core::jsonrpc::Incoming,
    allows_batches: bool,
) -> Result<Vec<Result<Message, mcp_core::Error>>, Box<Response<Body>>> {
    match incoming {
        mcp_core::jsonrpc::Incoming::Single(message) => Ok(vec![Ok(message)]),
        mcp_core::jsonrpc::Incoming::Batch(items) if allows_batches => Ok(items),
        mcp_core::jsonrpc::Incoming::Batch(_) => {
            Err(Box::new(unreadable(&crate::session::batches_unsupported())))
        }
    }
}

pub(super) fn unreadable(e: &mcp_core::Error) -> Response<Body> {
    let response = e
        .to_error_response()
        .unwrap_or_else(|| ErrorResponse::new(None, ErrorObject::invalid_request(e.to_string())));
    error(StatusCode::BAD_REQUEST, response.id, response.error)
}

/// A single JSON response.
pub(super) fn json(frame: Bytes, status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::full(frame));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub(super) fn accepted() -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::ACCEPTED;
    res
}

pub(super) fn sse_response(body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    res
}

/// An SSE `message` event carrying `frame`, with its event id if any.
pub(super) fn event(frame: &[u8], id: Option<&str>) -> Bytes {
    let mut event = sse::Event::message(String::from_utf8_lossy(frame).into_owned());
    event.id = id.map(str::to_owned);
    let mut out = BytesMut::new();
    sse::encode(&event, &mut out);
    out.freeze()
}

/// An SSE comment, to keep an idle stream open.
pub(super) fn comment() -> Bytes {
    let mut out = BytesMut::new();
    sse::encode_comment("keep-alive", &mut out);
    out.freeze()
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What the client accepts.
pub(super) struct Accepts {
    pub(super) json: bool,
    pub(super) sse: bool,
}

pub(super) fn accepts(headers: &HeaderMap) -> Accepts {
    let accept = header(headers, ACCEPT.as_str())
        .unwrap_or("*/*")
        .to_ascii_lowercase();
    let any = accept.contains("*/*");
    Accepts {
        json: any || accept.contains("application/json"),
        sse: any || accept.contains("text/event-stream"),
    }
}

/// `Err(406)` unless the client takes an SSE stream.
pub(super) fn require_sse(headers: &HeaderMap) -> Result<(), Box<Response<Body>>> {
    if accepts(headers).sse {
        return Ok(());
    }
    Err(Box::new(error(
        StatusCode::NOT_ACCEPTABLE,
        None,
        ErrorObject::invalid_request("Accept must include text/event-stream"),
    )))
}
