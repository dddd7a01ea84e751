//! The deprecated HTTP+SSE transport of protocol version 2024-11-05, for
//! servers that speak nothing newer.
//!
//! A client that POSTs `initialize` to such a server gets a 4xx (there is
//! no POST on that URL). It then GETs the URL as an SSE stream: the first
//! event, `endpoint`, names the URL to POST messages to; every later
//! `message` event carries a message from the server, including the
//! answers to the POSTs, which themselves get only `202 Accepted`.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use mcp_core::{RequestId, sse};

use super::wire::{Request, Response};
use super::{Shared, auth};

impl Shared {
    /// `initialize` failed with `refused`: opens the HTTP+SSE stream, and
    /// sends `initialize` (`frame`, request `id`) again, to the endpoint it
    /// names. When the server offers no such stream, the original refusal
    /// is what the request fails with.
    pub(super) async fn fall_back_to_sse(
        self: &Arc<Self>,
        refused: Response,
        frame: Bytes,
        id: Option<&RequestId>,
    ) {
        let status = refused.status();
        let described = auth::describe_status(status, refused.headers());
        let content_type = refused
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = match super::read_body(refused, self.options.max_message_size).await {
            Ok(body) => body,
            Err(e) => {
                self.fail_with(id, e).await;
                return;
            }
        };
        match self.open_sse_stream().await {
            Ok(endpoint) => {
                tracing::debug!(%endpoint, "initialize got {described}; using HTTP+SSE");
                self.post_to_endpoint(&endpoint, frame, id).await;
            }
            Err(NoFallback::Unavailable(why)) => {
                // Most likely a Streamable HTTP server that had its own
                // reason to refuse: its answer says more than ours.
                tracing::debug!(%why, "no HTTP+SSE fallback");
                self.handle_body(status, &content_type, body, id, false)
                    .await;
            }
            Err(NoFallback::Broken(why)) => {
                let why = format!(
                    "initialize got {described}, and the server's HTTP+SSE stream is unusable: {why}"
                );
                self.fail(id, &why).await;
            }
        }
    }

    /// GETs the URL as an HTTP+SSE stream, reads its `endpoint` event and
    /// leaves a task reading the rest; returns the endpoint.
    async fn open_sse_stream(self: &Arc<Self>) -> Result<reqwest::Url, NoFallback> {
        let mut response = self
            .send(|| {
                let mut headers = self.options.headers.clone();
                headers.insert(
                    http::header::ACCEPT,
                    HeaderValue::from_static("text/event-stream"),
                );
                Request::new(Method::GET, headers)
            })
            .await
            .map_err(NoFallback::Unavailable)?;
        let status = response.status();
        if !status.is_success() {
            let status = auth::describe_status(status, response.headers());
            return Err(NoFallback::Unavailable(format!(
                "GET {} got {status}",
                self.wire.url()
            )));
        }
        let is_sse = super::is_event_stream(response.headers());
        if !is_sse {
            return Err(NoFallback::Unavailable(format!(
                "GET {} is not an SSE stream",
                self.wire.url()
            )));
        }
        let mut decoder = self.decoder();
        // From here on the server does offer an SSE stream, so what is
        // wrong with it is the news.
        let (endpoint, early) = loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| NoFallback::Broken(format!("reading it failed: {e}")))?
                .ok_or_else(|| NoFallback::Broken("it ended before its endpoint event".into()))?;
            let mut events = decoder
                .feed(&chunk)
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| NoFallback::Broken(e.to_string()))?
                .into_iter();
            if let Some(first) = events.next() {
                if first.event.as_deref() != Some("endpoint") {
                    return Err(NoFallback::Broken(format!(
                        "its first event is {:?}, not \"endpoint\"",
                        first.event.as_deref().unwrap_or("message")
                    )));
                }
                let endpoint =
                    resolve_endpoint(self.wire.url(), &first.data).map_err(NoFallback::Broken)?;
                break (endpoint, events.collect::<Vec<_>>());
            }
        };
        // Set before the first message goes out, so that every later one
        // follows it there.
        let _ = self.sse_endpoint.set(endpoint.clone());
        let shared = Arc::clone(self);
        let task = tokio::spawn(async move {
            for event in early {
                shared.on_sse_event(event).await;
            }
            'read: while let Some(chunk) = shared.next_chunk(&mut response).await {
                for event in decoder.feed(&chunk) {
                    match event {
                        Ok(event) => shared.on_sse_event(event).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "the server's stream sent an event over the size limit; closing it");
                            break 'read;
                        }
                    }
                }
            }
            // The stream is the connection: nothing can answer the
            // requests in flight any more, so they fail, and the client
            // closes.
            let _ = shared
                .inbox
                .send(Err(mcp_core::Error::Io {
                    kind: std::io::ErrorKind::UnexpectedEof,
                    message: "the server ended the HTTP+SSE stream".into(),
                }))
                .await;
        });
        *Self::lock(&self.sse_task) = Some(task.abort_handle());
        Ok(endpoint)
    }

    async fn on_sse_event(&self, event: sse::Event) {
        match event.event.as_deref() {
            None | Some("message") if !event.data.is_empty() => {
                self.deliver_event(&event.data).await;
            }
            other => tracing::debug!(event = ?other, "SSE event ignored"),
        }
    }

    /// POSTs a message to the HTTP+SSE endpoint; the answer, if any, comes
    /// on the stream.
    pub(super) async fn post_to_endpoint(
        &self,
        endpoint: &reqwest::Url,
        frame: Bytes,
        id: Option<&RequestId>,
    ) {
        let response = self
            .send(|| {
                let mut headers = self.options.headers.clone();
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Request::new(Method::POST, headers)
                    .to(endpoint.clone())
                    .body(frame.clone())
            })
            .await;
        let why = match response {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                let status: StatusCode = response.status();
                let challenges = auth::challenges(response.headers());
                let text = super::error_text(response).await;
                self.refused(id, status, challenges, text.as_bytes()).await;
                return;
            }
            Err(why) => why,
        };
        self.fail(id, &why).await;
    }
}

/// Why the HTTP+SSE transport cannot be used.
#[derive(Debug)]
enum NoFallback {
    /// The server offers no such stream.
    Unavailable(String),
    /// It offers one, but not one to use.
    Broken(String),
}

/// The endpoint an `endpoint` event names, resolved against the URL of the
/// stream. It must have the stream's origin: messages carry the client's
/// credentials, and another host could be anyone.
fn resolve_endpoint(base: &reqwest::Url, reference: &str) -> Result<reqwest::Url, String> {
    let endpoint = base
        .join(reference.trim())
        .map_err(|e| format!("the endpoint event's {reference:?} is not a URI reference: {e}"))?;
    if endpoint.origin() != base.origin() {
        return Err(format!(
            "the endpoint {endpoint} is not on {}, the origin of the SSE stream",
            base.origin().ascii_serialization()
        ));
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::resolve_endpoint;

    #[test]
    fn endpoints_resolve_against_the_stream_and_keep_its_origin() {
        let base = reqwest::Url::parse("http://127.0.0.1:8080/mcp/sse").unwrap();
        let resolved = |r: &str| resolve_endpoint(&base, r).map(|u| u.to_string());
        assert_eq!(
            resolved("?sessionId=abc").unwrap(),
            "http://127.0.0.1:8080/mcp/sse?sessionId=abc"
        );
        assert_eq!(
            resolved("/messages?session_id=1").unwrap(),
            "http://127.0.0.1:8080/messages?session_id=1"
        );
        assert_eq!(
            resolved("messages").unwrap(),
            "http://127.0.0.1:8080/mcp/messages"
        );
        assert_eq!(
            resolved("http://127.0.0.1:8080/m").unwrap(),
            "http://127.0.0.1:8080/m"
        );
        for elsewhere in [
            "http://127.0.0.1:8081/m",
            "https://127.0.0.1:8080/m",
            "http://localhost:8080/m",
            "//evil.example/m",
        ] {
            let err = resolved(elsewhere).unwrap_err();
            assert!(
                err.contains("not on http://127.0.0.1:8080"),
                "{elsewhere}: {err}"
            );
        }
    }
}
