//! Server-sent events: SSE responses to POSTs, resumed with
//! `Last-Event-ID` when they break, and the legacy session's GET stream of
//! server-initiated messages.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderValue, Method};
use mcp_core::{RequestId, sse};

use super::wire::{Request, Response};
use super::{PROTOCOL_VERSION, Shared, auth, insert};

impl Shared {
    /// Reads an SSE response, resuming it with GET and `Last-Event-ID`
    /// when it ends before the answer to `request` came.
    pub(super) async fn read_events(
        self: &Arc<Self>,
        mut response: Response,
        request: Option<&RequestId>,
    ) {
        let mut decoder = self.decoder();
        let mut answered = request.is_none();
        let mut attempts = 0;
        loop {
            loop {
                let Ok(Some(chunk)) = response.chunk().await else {
                    break;
                };
                for event in decoder.feed(&chunk) {
                    let event = match event {
                        Ok(event) => event,
                        // Over the size limit: the answer may be in it,
                        // and reading on (or resuming) would not bring it.
                        Err(e) => {
                            if !answered {
                                self.fail_with(request, too_large(&e)).await;
                            }
                            return;
                        }
                    };
                    if event.data.is_empty() {
                        continue;
                    }
                    let answers = self.deliver_event(&event.data).await;
                    answered |= request.is_some() && answers.as_ref() == request;
                }
            }
            decoder.finish();
            if answered
                || decoder.last_event_id().is_none()
                || attempts >= self.options.reconnect_attempts
            {
                break;
            }
            attempts += 1;
            tokio::time::sleep(self.retry_delay(&decoder)).await;
            response = match self.get_stream(decoder.last_event_id()).await {
                Some(r) => r,
                None => break,
            };
        }
        if !answered && let Some(id) = request {
            self.fail(Some(id), "the response stream ended before the answer")
                .await;
        }
    }

    /// A GET for the legacy stream, resuming after `last_event_id`; `None`
    /// when the server offers no stream (405) or cannot be reached.
    async fn get_stream(&self, last_event_id: Option<&str>) -> Option<Response> {
        let response = self
            .send(|| {
                let mut headers = self.base();
                headers.insert(
                    http::header::ACCEPT,
                    HeaderValue::from_static("text/event-stream"),
                );
                if let Some(version) = Self::lock(&self.legacy_version).as_ref() {
                    insert(&mut headers, PROTOCOL_VERSION, version);
                }
                if let Some(last) = last_event_id {
                    insert(&mut headers, LAST_EVENT_ID, last);
                }
                Request::new(Method::GET, headers)
            })
            .await;
        match response {
            Ok(response) if response.status().is_success() => Some(response),
            Ok(response) => {
                let status = auth::describe_status(response.status(), response.headers());
                tracing::debug!(%status, "no GET stream");
                None
            }
            Err(why) => {
                tracing::debug!(%why, "no GET stream");
                None
            }
        }
    }

    /// Opens the legacy GET stream of server-initiated messages and keeps
    /// it open, resuming it when it breaks. Returns once the server
    /// accepted (or refused) it, so nothing it sends early is missed.
    pub(super) async fn open_get_stream(self: Arc<Self>) {
        if self.get_stream.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(first) = self.get_stream(None).await else {
            return;
        };
        let shared = Arc::clone(&self);
        let task = tokio::spawn(async move {
            let mut attempts = 0;
            let mut last_event_id: Option<String> = None;
            let mut next = Some(first);
            while attempts <= self.options.reconnect_attempts && !self.inbox.is_closed() {
                let response = match next.take() {
                    Some(response) => Some(response),
                    None => self.get_stream(last_event_id.as_deref()).await,
                };
                let Some(mut response) = response else {
                    break;
                };
                let mut decoder = self.decoder();
                while let Some(chunk) = self.next_chunk(&mut response).await {
                    attempts = 0;
                    for event in decoder.feed(&chunk) {
                        match event {
                            Ok(event) if event.data.is_empty() => {}
                            Ok(event) => {
                                self.deliver_event(&event.data).await;
                            }
                            // Resuming would replay the same event: the
                            // stream is given up.
                            Err(e) => {
                                tracing::warn!(error = %e, "the server's stream sent an event over the size limit; closing it");
                                return;
                            }
                        }
                    }
                }
                last_event_id = decoder.last_event_id().map(str::to_owned).or(last_event_id);
                attempts += 1;
                tokio::time::sleep(self.retry_delay(&decoder)).await;
            }
        });
        *Self::lock(&shared.get_task) = Some(task.abort_handle());
    }

    /// The next piece of a long-lived stream's body; `None` at its end, or
    /// once the client is gone (so the stream does not outlive it).
    pub(super) async fn next_chunk(&self, response: &mut Response) -> Option<Bytes> {
        tokio::select! {
            chunk = response.chunk() => chunk.ok().flatten(),
            () = self.inbox.closed() => None,
        }
    }
}

const LAST_EVENT_ID: http::HeaderName = http::HeaderName::from_static("last-event-id");

/// An SSE event over the size limit, as the error its request fails with.
pub(super) fn too_large(e: &sse::SseError) -> mcp_core::Error {
    let max = match e {
        sse::SseError::EventTooLarge { max } | sse::SseError::LineTooLong { max } => *max,
        _ => 0,
    };
    mcp_core::Error::FrameTooLarge {
        max,
        len: max.saturating_add(1),
    }
}
