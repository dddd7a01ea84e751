//! Answers every path of the endpoint gives: JSON-RPC errors with their
//! status, JSON and SSE responses, and SSE events.

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use mcp_core::jsonrpc::Incoming;
use mcp_core::{ErrorObject, ErrorResponse, Message, RequestId, sse};

use super::body::Body;
use crate::limit::Refusal;
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

/// The answer to a request its rate limits refused: 429 with
/// `Retry-After` and the `RateLimit-Policy` and `RateLimit` fields, or
/// 503 when the limits could not be checked.
pub(super) fn limited(refusal: &Refusal, id: Option<RequestId>) -> Response<Body> {
    let status = match refusal {
        Refusal::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
        Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut res = error(status, id, refusal.error_object());
    let headers = res.headers_mut();
    if let Some(secs) = refusal.retry_after() {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some((policy, now)) = refusal.fields() {
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", now)] {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
    }
    res
}

/// 400 with the JSON-RPC error an unreadable body is owed.
/// The messages of a POST body to a session; a batch is answered 400
/// unless the session's revision has batches.
pub(super) fn session_messages(
    incoming: Incoming,
    allows_batches: bool,
) -> Result<Vec<Result<Message, mcp_core::Error>>, Box<Response<Body>>> {
    match incoming {
        Incoming::Single(message) => Ok(vec![Ok(message)]),
        Incoming::Batch(items) if allows_batches => Ok(items),
        Incoming::Batch(_) => Err(Box::new(unreadable(&crate::session::batches_unsupported()))),
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
    // The frame, its `data: ` and id lines, and the blank line: one
    // allocation rather than doubling from empty (a copy each time).
    let mut out = BytesMut::with_capacity(frame.len() + id.map_or(0, str::len) + 24);
    sse::encode(&event, &mut out);
    out.freeze()
}

/// An SSE comment, to keep an idle stream open.
pub(super) fn comment() -> Bytes {
    let mut out = BytesMut::new();
    sse::encode_comment("keep-alive", &mut out);
    out.freeze()
}

pub(super) fn header(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The names of the MCP headers the endpoint reads, parsed once: a
/// lookup by `&str` parses and lowercases the name on every request.
pub(super) mod names {
    use http::HeaderName;

    pub(in crate::http) const PROTOCOL_VERSION: HeaderName =
        HeaderName::from_static("mcp-protocol-version");
    pub(in crate::http) const METHOD: HeaderName = HeaderName::from_static("mcp-method");
    pub(in crate::http) const NAME: HeaderName = HeaderName::from_static("mcp-name");
    pub(in crate::http) const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
    pub(in crate::http) const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

    #[cfg(test)]
    mod tests {
        use mcp_core::headers;

        #[test]
        fn the_names_are_the_spec_headers() {
            for (parsed, spec) in [
                (super::PROTOCOL_VERSION, headers::PROTOCOL_VERSION),
                (super::METHOD, headers::METHOD),
                (super::NAME, headers::NAME),
                (super::SESSION_ID, headers::SESSION_ID),
            ] {
                assert_eq!(parsed, http::HeaderName::try_from(spec).unwrap());
            }
        }
    }
}

/// What the client accepts.
pub(super) struct Accepts {
    pub(super) json: bool,
    pub(super) sse: bool,
}

const BOTH: &str = "application/json, text/event-stream";
const BOTH_REVERSED: &str = "text/event-stream, application/json";

pub(super) fn accepts(headers: &HeaderMap) -> Accepts {
    let mut accepts = Accepts {
        json: false,
        sse: false,
    };
    let Some(accept) = header(headers, ACCEPT) else {
        // No Accept header: anything goes.
        return Accepts {
            json: true,
            sse: true,
        };
    };
    // What every conforming client sends: known without parsing.
    if accept.len() == BOTH.len()
        && (accept.eq_ignore_ascii_case(BOTH) || accept.eq_ignore_ascii_case(BOTH_REVERSED))
    {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    // Bytes, not `str` patterns: this runs on every request.
    for range in accept.as_bytes().split(|b| *b == b',') {
        // A media range, then its parameters (`q=`, ignored).
        let media = range
            .split(|b| *b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let is = |m: &str| media.eq_ignore_ascii_case(m.as_bytes());
        if is("*/*") {
            return Accepts {
                json: true,
                sse: true,
            };
        }
        accepts.json |= is("application/json") || is("application/*");
        accepts.sse |= is("text/event-stream") || is("text/*");
    }
    accepts
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: Option<&str>) -> (bool, bool) {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(ACCEPT, http::HeaderValue::from_str(value).unwrap());
        }
        let a = accepts(&headers);
        (a.json, a.sse)
    }

    #[test]
    fn accept_is_read_as_media_ranges() {
        assert_eq!(accepting(None), (true, true));
        assert_eq!(
            accepting(Some("application/json, text/event-stream")),
            (true, true)
        );
        assert_eq!(accepting(Some("Application/JSON;q=0.9")), (true, false));
        assert_eq!(accepting(Some("text/*")), (false, true));
        assert_eq!(accepting(Some("application/*, text/plain")), (true, false));
        assert_eq!(accepting(Some("*/*;q=0.1")), (true, true));
        // Another type that merely starts with the same letters.
        assert_eq!(accepting(Some("application/json-seq")), (false, false));
        assert_eq!(accepting(Some("")), (false, false));
        // The values read without parsing, and values of their length that
        // are not them.
        assert_eq!(
            accepting(Some("TEXT/EVENT-STREAM, APPLICATION/JSON")),
            (true, true)
        );
        assert_eq!(
            accepting(Some("application/json, text/event-strean")),
            (true, false)
        );
        assert_eq!(
            accepting(Some("application/jsox, text/event-stream")),
            (false, true)
        );
    }
}
