//! Answering a POST that carried requests: JSON when the answer comes
//! first, else an SSE stream (notifications and server requests go along).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use mcp_core::jsonrpc::response_id;
use mcp_core::{ErrorObject, RequestId, sse};
use tokio::sync::{mpsc, watch};

use super::body::Body;
use super::legacy::Session;
use super::resume::stream_id;
use super::service::{Accepts, Inner, shutting_down};
use crate::handler::Handler;
use crate::session::Connection;

/// Room for events between the pump and a client reading slowly; a client
/// further behind is cut off and resumes from the event store.
pub(super) const BODY_CAPACITY: usize = 64;

/// The next frame of a 2026-07-28 request. Once shutdown begins, the
/// request's connection gets its grace period and is then cancelled; what
/// it sends meanwhile still comes through.
struct Drain<H: Handler> {
    conn: Arc<Connection<H>>,
    closing: watch::Receiver<bool>,
    started: bool,
}

impl<H: Handler> Drain<H> {
    async fn next(&mut self, rx: &mut mpsc::Receiver<Bytes>) -> Option<Bytes> {
        loop {
            tokio::select! {
                frame = rx.recv() => return frame,
                () = shutting_down(&mut self.closing), if !self.started => {
                    self.started = true;
                    let conn = Arc::clone(&self.conn);
                    tokio::spawn(async move { conn.shutdown().await });
                }
            }
        }
    }
}

impl<H: Handler> Inner<H> {
    /// Answers a 2026-07-28 request. Until the answer is out, losing the
    /// response (hyper drops this future when the client disconnects, and
    /// the body when the stream closes) cancels the request.
    pub(super) async fn respond_modern(
        &self,
        mut rx: mpsc::Receiver<Bytes>,
        id: RequestId,
        accept: &Accepts,
        conn: Arc<Connection<H>>,
    ) -> Response<Body> {
        let mut guard = CancelOnDrop(Some(Arc::clone(&conn)));
        let mut drain = Drain {
            conn,
            closing: self.closing.subscribe(),
            started: false,
        };
        let is_answer = move |frame: &Bytes| response_id(frame).as_ref() == Some(&id);
        let mut first = None;
        if accept.json {
            match drain.next(&mut rx).await {
                Some(frame) if is_answer(&frame) => {
                    guard.disarm();
                    return json_response(frame, true);
                }
                Some(frame) => first = Some(frame),
                None => {
                    guard.disarm();
                    return json_response(Bytes::new(), false);
                }
            }
        }
        if !accept.sse {
            // JSON only: what comes before the answer cannot be delivered.
            while let Some(frame) = drain.next(&mut rx).await {
                if is_answer(&frame) {
                    guard.disarm();
                    return json_response(frame, true);
                }
            }
            guard.disarm();
            return json_response(Bytes::new(), false);
        }
        let (body_tx, body_rx) = mpsc::channel::<Bytes>(BODY_CAPACITY);
        let keep_alive = self.options.keep_alive;
        tokio::spawn(async move {
            let mut answered = false;
            if let Some(frame) = first {
                answered = is_answer(&frame);
                let _ = body_tx.send(event(&frame, None)).await;
            }
            let mut tick = tokio::time::interval(keep_alive);
            tick.reset();
            while !answered {
                let chunk = tokio::select! {
                    frame = drain.next(&mut rx) => match frame {
                        Some(frame) => {
                            answered = is_answer(&frame);
                            event(&frame, None)
                        }
                        None => break,
                    },
                    _ = tick.tick() => comment(),
                    // The client closed the stream: that is how a
                    // 2026-07-28 request is cancelled (the guard).
                    () = body_tx.closed() => return,
                };
                if body_tx.send(chunk).await.is_err() {
                    return;
                }
            }
            guard.disarm();
        });
        sse_response(Body::stream(body_rx))
    }

    /// Answers a POST of a legacy session. `ready` holds error responses
    /// for unreadable batch items.
    pub(super) async fn respond_legacy(
        &self,
        session: &Arc<Session<H>>,
        mut rx: mpsc::Receiver<Bytes>,
        mut expected: BTreeSet<RequestId>,
        accept: &Accepts,
        mut ready: Vec<Bytes>,
    ) -> Response<Body> {
        if accept.json && ready.is_empty() && expected.len() == 1 {
            match rx.recv().await {
                Some(frame) => match response_id(&frame) {
                    Some(id) if expected.contains(&id) => return json_response(frame, false),
                    _ => ready.push(frame),
                },
                None => return json_response(Bytes::new(), false),
            }
        }
        if accept.sse {
            let stream = stream_id();
            let (body_tx, body_rx) = mpsc::channel::<Bytes>(BODY_CAPACITY);
            let prime = session.primes().then_some(self.options.sse_retry);
            session.streams.attach(&stream, body_tx, prime, false).await;
            let pump = super::resume::Pump {
                streams: Arc::clone(&session.streams),
                stream,
                keep_alive: self.options.keep_alive,
                // Closing early is only safe once the client has an event
                // id to resume from.
                close_after: self.options.sse_close_after.filter(|_| prime.is_some()),
            };
            tokio::spawn(pump.run_post(rx, expected, ready));
            return sse_response(Body::stream(body_rx));
        }
        // JSON only: every response, as a batch when there are several.
        let mut responses: Vec<Bytes> = ready
            .into_iter()
            .filter(|f| response_id(f).is_some())
            .collect();
        for frame in &responses {
            if let Some(id) = response_id(frame) {
                expected.remove(&id);
            }
        }
        let batch = expected.len() + responses.len() > 1;
        while !expected.is_empty() {
            let Some(frame) = rx.recv().await else { break };
            if let Some(id) = response_id(&frame) {
                expected.remove(&id);
                responses.push(frame);
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
        json_response(body, false)
    }
}

/// Cancels the request's connection when dropped, unless disarmed first.
struct CancelOnDrop<H: Handler>(Option<Arc<Connection<H>>>);

impl<H: Handler> CancelOnDrop<H> {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl<H: Handler> Drop for CancelOnDrop<H> {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.abort_all();
        }
    }
}

/// A single JSON response. For 2026-07-28 requests (`modern`), errors carry
/// the HTTP status the transport assigns them.
pub(super) fn json_response(frame: Bytes, modern: bool) -> Response<Body> {
    let status = if modern {
        status_of(&frame)
    } else {
        StatusCode::OK
    };
    let mut res = Response::new(Body::full(frame));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn status_of(frame: &[u8]) -> StatusCode {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        error: Option<ErrorObject>,
    }
    let code = serde_json::from_slice::<Peek>(frame)
        .ok()
        .and_then(|p| p.error)
        .map(|e| e.code());
    match code.map(|c| c.0) {
        Some(-32601) => StatusCode::NOT_FOUND,
        Some(-32700 | -32600 | -32020 | -32021 | -32022) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// An SSE `message` event carrying `frame`, with its event id if any.
pub(super) fn event(frame: &[u8], id: Option<&str>) -> Bytes {
    let mut event = sse::Event::message(String::from_utf8_lossy(frame).into_owned());
    event.id = id.map(str::to_owned);
    let mut out = BytesMut::new();
    sse::encode(&event, &mut out);
    out.freeze()
}

pub(super) fn comment() -> Bytes {
    let mut out = BytesMut::new();
    sse::encode_comment("keep-alive", &mut out);
    out.freeze()
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
