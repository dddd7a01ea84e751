//! A new legacy session when the server forgets the old one.
//!
//! A server answers 404 to a request whose `Mcp-Session-Id` it no longer
//! knows (the session expired, or was ended), and the client must then
//! start a new session with a new `initialize`. The transport does that by
//! itself, replaying the handshake the client sent, so the client's state
//! (its pending requests, its era, the server's capabilities) carries over.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderValue, Method};
use mcp_core::jsonrpc::Incoming;
use mcp_core::{Message, RequestId};

use super::wire::{Request, Response};
use super::{METHOD, PROTOCOL_VERSION, Session, Shared, auth, insert, json_post_headers};

impl Shared {
    /// Starts a new session to replace session number `stale`, unless
    /// another request already did: replays `initialize` (under an id of
    /// its own, its answer kept from the client), then
    /// `notifications/initialized`, and reopens the GET stream.
    ///
    /// On failure the stale session stays in place, so that the next
    /// request meets the 404 again and tries once more.
    pub(super) async fn renew_session(self: &Arc<Self>, stale: u64) -> Result<(), String> {
        let _renewing = self.renewing.lock().await;
        if Self::lock(&self.session).epoch != stale {
            return Ok(());
        }
        let (initialize, initialized) = {
            let handshake = Self::lock(&self.handshake);
            (handshake.initialize.clone(), handshake.initialized.clone())
        };
        let initialize = initialize.ok_or("the client never sent initialize")?;
        let epoch = stale + 1;
        // The client's own id could be in use again by now: the answer is
        // told apart by an id the client never uses (its ids are numbers).
        let id = RequestId::String(format!("mcp-client-renew-{epoch}"));
        let frame = with_id(&initialize, id.clone())?;
        let response = self
            .send(|| {
                let mut headers = self.options.headers.clone();
                json_post_headers(&mut headers);
                headers.insert(METHOD, HeaderValue::from_static("initialize"));
                Request::new(Method::POST, headers).body(frame.clone())
            })
            .await?;
        let session_id = response
            .headers()
            .get(&super::SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let answer = self.answer_to(response, &id).await?;
        let version = negotiated_version(&answer)?;
        let previous = Self::lock(&self.legacy_version).clone();
        if let Some(previous) = previous
            && previous != version
        {
            // The client's view of the server (its era, its version) was
            // settled by the first session; it cannot change under it.
            return Err(format!(
                "the new session speaks protocol version {version}, not {previous}"
            ));
        }
        if let Some(initialized) = initialized {
            let response = self
                .send(|| {
                    let mut headers = self.options.headers.clone();
                    Self::with_session(&mut headers, session_id.as_deref());
                    json_post_headers(&mut headers);
                    headers.insert(
                        METHOD,
                        HeaderValue::from_static("notifications/initialized"),
                    );
                    insert(&mut headers, PROTOCOL_VERSION, &version);
                    Request::new(Method::POST, headers).body(initialized.clone())
                })
                .await?;
            let status = response.status();
            if !status.is_success() {
                let status = auth::describe_status(status, response.headers());
                return Err(format!("notifications/initialized got {status}"));
            }
        }
        *Self::lock(&self.session) = Session::new(session_id, epoch);
        tracing::debug!(epoch, "started a new session after the server forgot one");
        // The old session's stream is of no use any more (the server may
        // keep it open); the new session gets its own.
        if let Some(task) = Self::lock(&self.get_task).take() {
            task.abort();
        }
        self.get_stream.store(false, Ordering::Release);
        Arc::clone(self).open_get_stream().await;
        Ok(())
    }

    /// Reads the answer to `id` from a POST's response, JSON or SSE,
    /// passing anything else on the stream to the client.
    async fn answer_to(&self, mut response: Response, id: &RequestId) -> Result<Bytes, String> {
        let status = response.status();
        if !status.is_success() {
            let status = auth::describe_status(status, response.headers());
            let body = super::error_text(response).await;
            return Err(format!("initialize got {status}: {body}"));
        }
        let is_sse = super::is_event_stream(response.headers());
        if !is_sse {
            let body = super::read_body(response, self.options.max_message_size)
                .await
                .map_err(|e| format!("reading the answer to initialize: {e}"))?;
            return match Message::from_slice(&body) {
                Ok(Message::Response(r)) if r.id == *id => Ok(body),
                _ => Err("the answer to initialize is not a JSON-RPC response to it".into()),
            };
        }
        let mut decoder = self.decoder();
        while let Ok(Some(chunk)) = response.chunk().await {
            for event in decoder.feed(&chunk) {
                let event = event.map_err(|e| format!("reading the answer to initialize: {e}"))?;
                if event.data.is_empty() {
                    continue;
                }
                match Incoming::from_slice(event.data.as_bytes(), true) {
                    Ok(Incoming::Single(Message::Response(r))) if r.id == *id => {
                        return Ok(Bytes::from(event.data));
                    }
                    Ok(incoming) => {
                        self.deliver(incoming).await;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "unreadable event while starting a session");
                    }
                }
            }
        }
        Err("the response stream ended before the answer to initialize".into())
    }
}

/// `frame` (a request) with its id replaced.
fn with_id(frame: &[u8], id: RequestId) -> Result<Bytes, String> {
    let Ok(Message::Request(mut request)) = Message::from_slice(frame) else {
        return Err("the client's initialize frame is not a request".into());
    };
    request.id = id;
    Message::Request(request)
        .to_vec()
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// The protocol version an `initialize` answer settled on.
fn negotiated_version(answer: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct InitResult {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
    }
    match Message::from_slice(answer) {
        Ok(Message::Response(response)) => response
            .result::<InitResult>()
            .map(|r| r.protocol_version)
            .map_err(|e| format!("the answer to initialize is malformed: {e}")),
        Ok(Message::Error(e)) => Err(format!("the server refused initialize: {}", e.error)),
        _ => Err("the answer to initialize is not a JSON-RPC response".into()),
    }
}
