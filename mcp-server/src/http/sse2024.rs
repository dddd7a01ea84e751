//! The deprecated HTTP+SSE transport of 2024-11-05, for old clients: a GET
//! opens the session's one stream, whose first event names where to POST
//! messages; every answer comes back on the stream.

use std::sync::{Arc, PoisonError};

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, Response, StatusCode};
use mcp_core::{ErrorObject, Message, sse};
use tokio::sync::mpsc;

use super::body::Body;
use super::legacy::principal_of;
use super::respond::{BODY_CAPACITY, accepted, comment, event, sse_response};
use super::service::shutting_down;
use super::service::{Inner, error, messages, require_sse, session_id, too_busy};
use crate::handler::Handler;
use crate::quota::Slot;
use crate::session::Connection;
use crate::session::peer::Outbox;

/// An HTTP+SSE session: a connection whose every message goes to the
/// session's stream.
pub(super) struct SseSession<H: Handler> {
    pub(super) conn: Arc<Connection<H>>,
    stream: Outbox,
    /// Who opened the stream; only they may post to it.
    principal: Option<String>,
    /// The session's place in its client's quota.
    _quota: Option<Slot>,
}

impl<H: Handler> Inner<H> {
    /// GET without a session: opens an HTTP+SSE session.
    pub(super) fn open_sse(
        self: &Arc<Self>,
        headers_in: &HeaderMap,
        extensions: &http::Extensions,
    ) -> Response<Body> {
        let id = match require_sse(headers_in).and_then(|()| session_id(None)) {
            Ok(id) => id,
            Err(res) => return *res,
        };
        let quota = match self.session_slot(extensions, None) {
            Ok(quota) => quota,
            Err(res) => return *res,
        };
        let (tx, mut rx) = mpsc::channel::<Bytes>(256);
        let session = Arc::new(SseSession {
            conn: self
                .server
                .connection_sharing(tx.clone(), Arc::clone(&self.permits)),
            stream: Outbox::new(tx),
            principal: principal_of(extensions),
            _quota: quota,
        });
        {
            let mut sessions = self.sse.lock().unwrap_or_else(PoisonError::into_inner);
            if sessions.len() >= self.options.max_sessions {
                return too_busy(
                    StatusCode::SERVICE_UNAVAILABLE,
                    60,
                    None,
                    ErrorObject::internal_error("too many sessions on this server; retry later"),
                );
            }
            sessions.insert(id.clone(), Arc::clone(&session));
        }
        let (body_tx, body_rx) = mpsc::channel::<Bytes>(BODY_CAPACITY);
        // A relative reference: the client resolves it against the URL it
        // opened, so the endpoint works at any mount path.
        let mut endpoint = BytesMut::new();
        sse::encode(
            &sse::Event::message(format!("?sessionId={id}")).with_event("endpoint"),
            &mut endpoint,
        );
        let _ = body_tx.try_send(endpoint.freeze());
        let this = Arc::clone(self);
        let keep_alive = self.options.keep_alive;
        let mut closing = self.closing.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(keep_alive);
            tick.reset();
            loop {
                let chunk = tokio::select! {
                    frame = rx.recv() => match frame {
                        Some(frame) => event(&frame, None),
                        None => break,
                    },
                    _ = tick.tick() => comment(),
                    () = body_tx.closed() => break,
                    () = shutting_down(&mut closing) => break,
                };
                if body_tx.send(chunk).await.is_err() {
                    break;
                }
            }
            // The stream is the session: when it ends, so does the session.
            this.sse
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            session.conn.abort_all();
        });
        sse_response(Body::stream(body_rx))
    }

    /// POST `?sessionId=…`: messages of an HTTP+SSE session, answered on
    /// its stream.
    pub(super) async fn post_sse(&self, id: &str, parts: Parts, bytes: &[u8]) -> Response<Body> {
        let session = self
            .sse
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .filter(|s| s.principal == principal_of(&parts.extensions));
        let Some(session) = session else {
            return error(
                StatusCode::NOT_FOUND,
                None,
                ErrorObject::invalid_request("Session not found"),
            );
        };
        let messages = match messages(bytes, session.conn.allows_batches()) {
            Ok(messages) => messages,
            Err(res) => return *res,
        };
        let route = self.route(session.stream.clone(), parts.extensions);
        // In order, before acknowledging: a request's handler runs on its
        // own, so this does not wait for answers.
        for message in messages {
            match message {
                Ok(message) => session.conn.on_message(message, &route).await,
                Err(e) => {
                    if let Some(response) = e.to_error_response() {
                        let _ = route.reply.send(&Message::from(response)).await;
                    }
                }
            }
        }
        accepted()
    }
}
