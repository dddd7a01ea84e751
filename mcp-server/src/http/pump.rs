//! The pumps of a legacy session's SSE streams: each moves the messages
//! of one stream into the [`Streams`], which store them and send them to
//! the stream's reader.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::RequestId;
use mcp_core::transport::Outgoing;
use tokio::sync::{mpsc, watch};

use super::resume::Streams;
use super::shared::shutting_down;
use crate::session::answers::Answers;

/// A keep-alive ticker: every `period`, but never faster than ten times a
/// second (a zero period would spin).
pub(super) fn ticker(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period.max(Duration::from_millis(100)));
    tick.reset();
    tick
}

/// Moves one stream's messages into the store and to its reader.
pub(super) struct Pump {
    pub(super) streams: Arc<Streams>,
    pub(super) stream: String,
    pub(super) keep_alive: Duration,
    /// Polling: the reader's connection ends this long after it opened.
    pub(super) close_after: Option<Duration>,
}

impl Pump {
    /// A POST's response stream: runs until every request it carried is
    /// answered (or cancelled, when its sender goes away).
    pub(super) async fn run_post(
        self,
        mut rx: Answers,
        mut expected: BTreeSet<RequestId>,
        ready: Vec<Outgoing>,
    ) {
        let streams = &self.streams;
        for message in ready {
            if let Some(id) = message.answers() {
                expected.remove(id);
            }
            streams.emit(&self.stream, &message.bytes).await;
        }
        let mut tick = ticker(self.keep_alive);
        let close = tokio::time::sleep(self.close_after.unwrap_or(Duration::MAX));
        tokio::pin!(close);
        let mut closed = self.close_after.is_none();
        while !expected.is_empty() {
            tokio::select! {
                message = rx.recv() => {
                    let Some(message) = message else { break };
                    if let Some(id) = message.answers() {
                        expected.remove(id);
                    }
                    streams.emit(&self.stream, &message.bytes).await;
                }
                _ = tick.tick() => {
                    streams.keep_alive(&self.stream).await;
                }
                () = &mut close, if !closed => {
                    closed = true;
                    streams.detach(&self.stream).await;
                }
            }
        }
        streams.end(&self.stream).await;
    }

    /// The session's GET stream: server messages outside any request, for
    /// as long as the session lives or until shutdown.
    pub(super) async fn run_standalone(
        self,
        mut rx: mpsc::Receiver<Outgoing>,
        mut closing: watch::Receiver<bool>,
    ) {
        let streams = &self.streams;
        let mut tick = ticker(self.keep_alive);
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(message) => streams.emit(&self.stream, &message.bytes).await,
                    None => break,
                },
                _ = tick.tick() => {
                    streams.keep_alive(&self.stream).await;
                }
                () = shutting_down(&mut closing) => break,
            }
        }
        streams.end(&self.stream).await;
    }
}
