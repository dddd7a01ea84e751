//! The deprecated HTTP+SSE transport of 2024-11-05, for old clients: a GET
//! opens the session's one stream, whose first event names where to POST
//! messages; every answer comes back on the stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, Response, StatusCode};
use mcp_core::jsonrpc::Incoming;
use mcp_core::transport::Outgoing;
use mcp_core::{ErrorObject, sse};
use tokio::sync::mpsc;

use super::body::Body;
use super::legacy::Sessions;
use super::reply::{
    BODY_CAPACITY, accepted, comment, error, event, require_sse, session_messages, sse_response,
    too_busy,
};
use super::shared::{Shared, principal_of, session_id, shutting_down};
use crate::handler::Handler;
use crate::quota::Slot;
use crate::session::Connection;
use crate::session::peer::Outbox;

/// An HTTP+SSE session: a connection whose every message goes to the
/// session's stream.
struct SseSession<H: Handler> {
    conn: Arc<Connection<H>>,
    stream: Outbox,
    /// Who opened the stream; only they may post to it.
    principal: Option<String>,
    /// The session's place in its client's quota.
    _quota: Option<Slot>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The HTTP+SSE sessions of the endpoint.
pub(super) struct SseSessions<H: Handler> {
    shared: Arc<Shared<H>>,
    /// The stream is the session, so they live here only.
    open: Arc<Mutex<HashMap<String, Arc<SseSession<H>>>>>,
}

impl<H: Handler> SseSessions<H> {
    pub(super) fn new(shared: Arc<Shared<H>>) -> Self {
        Self {
            shared,
            open: Arc::default(),
        }
    }

    /// GET without a session: opens an HTTP+SSE session. Counts against
    /// the client's session quota, as a legacy session does.
    pub(super) fn open(
        &self,
        headers_in: &HeaderMap,
        extensions: &http::Extensions,
        sessions: &Sessions<H>,
    ) -> Response<Body> {
        if let Err(res) = require_sse(headers_in) {
            return *res;
        }
        let Some(id) = session_id() else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                ErrorObject::internal_error("no random source for session ids"),
            );
        };
        let quota = match sessions.session_slot(extensions, None) {
            Ok(quota) => quota,
            Err(res) => return *res,
        };
        let (tx, mut rx) = mpsc::channel::<Outgoing>(256);
        let session = Arc::new(SseSession {
            conn: self.shared.server.connection(
                tx.clone(),
                Arc::clone(&self.shared.permits),
                crate::telemetry::Transport::Http,
            ),
            stream: Outbox::new(tx),
            principal: principal_of(extensions),
            _quota: quota,
        });
        {
            let mut open = lock(&self.open);
            if open.len() >= self.shared.options.max_sessions {
                return too_busy(
                    StatusCode::SERVICE_UNAVAILABLE,
                    60,
                    None,
                    ErrorObject::internal_error("too many sessions on this server; retry later"),
                );
            }
            open.insert(id.clone(), Arc::clone(&session));
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
        let open = Arc::clone(&self.open);
        let keep_alive = self.shared.options.keep_alive;
        let mut closing = self.shared.closing.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(keep_alive);
            tick.reset();
            loop {
                let chunk = tokio::select! {
                    message = rx.recv() => match message {
                        Some(message) => event(&message.bytes, None),
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
            lock(&open).remove(&id);
            session.conn.abort_all();
        });
        sse_response(Body::stream(body_rx))
    }

    /// POST `?sessionId=…`: messages of an HTTP+SSE session, answered on
    /// its stream.
    pub(super) async fn post(&self, id: &str, parts: Parts, incoming: Incoming) -> Response<Body> {
        let session = lock(&self.open)
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
        let messages = match session_messages(incoming, session.conn.state().allows_batches()) {
            Ok(messages) => messages,
            Err(res) => return *res,
        };
        let route = self.shared.route(session.stream.clone(), parts.extensions);
        // In order, before acknowledging: a request's handler runs on its
        // own, so this does not wait for answers.
        for message in messages {
            match message {
                Ok(message) => session.conn.on_message(message, &route).await,
                Err(e) => session.conn.reply_to_bad_frame(&e, &route.reply).await,
            }
        }
        accepted()
    }

    /// Shutdown: each session's requests in flight get their grace period.
    pub(super) fn shutdown(&self, runtime: &tokio::runtime::Handle) {
        for session in lock(&self.open).values() {
            let conn = Arc::clone(&session.conn);
            runtime.spawn(async move { conn.shutdown().await });
        }
    }
}
