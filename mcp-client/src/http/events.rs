//! Server-sent events: SSE responses to POSTs, resumed with
//! `Last-Event-ID` when they break, and the legacy session's GET stream of
//! server-initiated messages.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use mcp_core::{RequestId, headers, sse};

use super::{Shared, auth};

impl Shared {
    /// Reads an SSE response, resuming it with GET and `Last-Event-ID`
    /// when it ends before the answer to `request` came.
    pub(super) async fn read_events(
        self: &Arc<Self>,
        mut response: reqwest::Response,
        request: Option<&RequestId>,
    ) {
        let mut decoder = sse::Decoder::new();
        let mut answered = request.is_none();
        let mut attempts = 0;
        loop {
            loop {
                let Ok(Some(chunk)) = response.chunk().await else {
                    break;
                };
                for event in decoder.feed(&chunk) {
                    let Ok(event) = event else { continue };
                    if event.data.is_empty() {
                        continue;
                    }
                    let answers = self.deliver(Bytes::from(event.data)).await;
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
            let wait = decoder
                .retry()
                .map_or(self.options.default_retry, Duration::from_millis);
            tokio::time::sleep(wait).await;
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
    async fn get_stream(&self, last_event_id: Option<&str>) -> Option<reqwest::Response> {
        let response = self
            .send(|| {
                let mut get = self
                    .base(self.http.get(self.url.clone()))
                    .header(http::header::ACCEPT, "text/event-stream");
                if let Some(version) = Self::lock(&self.legacy_version).as_ref() {
                    get = get.header(headers::PROTOCOL_VERSION, version.as_str());
                }
                if let Some(last) = last_event_id {
                    get = get.header("Last-Event-ID", last);
                }
                get
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
                let mut decoder = sse::Decoder::new();
                while let Some(chunk) = self.next_chunk(&mut response).await {
                    attempts = 0;
                    for event in decoder.feed(&chunk).into_iter().flatten() {
                        if !event.data.is_empty() {
                            self.deliver(Bytes::from(event.data)).await;
                        }
                    }
                }
                last_event_id = decoder.last_event_id().map(str::to_owned).or(last_event_id);
                attempts += 1;
                tokio::time::sleep(
                    decoder
                        .retry()
                        .map_or(self.options.default_retry, Duration::from_millis),
                )
                .await;
            }
        });
        *Self::lock(&shared.get_task) = Some(task.abort_handle());
    }

    /// The next piece of a long-lived stream's body; `None` at its end, or
    /// once the client is gone (so the stream does not outlive it).
    pub(super) async fn next_chunk(&self, response: &mut reqwest::Response) -> Option<Bytes> {
        tokio::select! {
            chunk = response.chunk() => chunk.ok().flatten(),
            () = self.inbox.closed() => None,
        }
    }
}
