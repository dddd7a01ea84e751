//! The SSE streams of one legacy session: each event goes to the
//! [`EventStore`] before it goes to the client, so a client whose
//! connection broke resumes with `Last-Event-ID` and loses nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mcp_core::transport::Outgoing;
use mcp_core::{RequestId, sse};
use tokio::sync::{Mutex, mpsc, watch};

use super::reply::{BODY_CAPACITY, comment, event};
use super::shared::shutting_down;
use crate::error::Error;
use crate::store::EventStore;

/// The stream id of the session's GET stream.
pub(super) const STANDALONE: &str = "standalone";

/// A fresh id for a POST's response stream, unique across instances that
/// share an event store: a random prefix per process, then a counter.
pub(super) fn stream_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 6];
        // A clash only mixes up replays; the session id is the secret.
        let _ = getrandom::fill(&mut bytes);
        mcp_core::hex::encode(&bytes)
    });
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The streams of one session whose pump still runs, and the client
/// connection reading each, if any.
pub(super) struct Streams {
    session: String,
    events: Arc<dyn EventStore>,
    /// One lock orders storing and sending against a resuming client's
    /// replay-then-attach, so that no event is missed or sent twice.
    sinks: Mutex<HashMap<String, Option<mpsc::Sender<Bytes>>>>,
}

/// What a `Last-Event-ID` resumed.
pub(super) enum Resumed {
    /// The replayed events, then live ones while the stream runs.
    Body(mpsc::Receiver<Bytes>),
    /// The id is unknown, or events after it are no longer kept.
    Unknown,
}

impl Streams {
    pub(super) fn new(session: String, events: Arc<dyn EventStore>) -> Self {
        Self {
            session,
            events,
            sinks: Mutex::default(),
        }
    }

    /// Gives `stream` a reader, first sending it a priming event (an id
    /// to resume from, and the `retry` delay) when `prime` is set. With
    /// `exclusive`, refuses (`false`) while another reader is connected.
    pub(super) async fn attach(
        &self,
        stream: &str,
        tx: mpsc::Sender<Bytes>,
        prime: Option<Duration>,
        exclusive: bool,
    ) -> bool {
        let mut sinks = self.sinks.lock().await;
        let busy = sinks
            .get(stream)
            .and_then(Option::as_ref)
            .is_some_and(|tx| !tx.is_closed());
        if exclusive && busy {
            return false;
        }
        if let Some(retry) = prime {
            match self
                .events
                .append(&self.session, stream, Bytes::new())
                .await
            {
                Ok(id) => {
                    let mut primer = sse::Event::message("").with_id(id);
                    primer.retry = u64::try_from(retry.as_millis()).ok();
                    let mut out = BytesMut::new();
                    sse::encode(&primer, &mut out);
                    let _ = tx.try_send(out.freeze());
                }
                Err(e) => tracing::warn!(error = %e, "event store failed; stream not resumable"),
            }
        }
        sinks.insert(stream.to_owned(), Some(tx));
        true
    }

    /// Stores `frame` as the next event of `stream` and sends it to the
    /// stream's reader, if any.
    async fn emit(&self, stream: &str, frame: &Bytes) {
        let mut sinks = self.sinks.lock().await;
        let id = match self
            .events
            .append(&self.session, stream, frame.clone())
            .await
        {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, "event store failed; event not resumable");
                None
            }
        };
        send(&mut sinks, stream, event(frame, id.as_deref()));
    }

    async fn keep_alive(&self, stream: &str) {
        send(&mut *self.sinks.lock().await, stream, comment());
    }

    /// Ends the reader's connection; the stream goes on in the store.
    async fn detach(&self, stream: &str) {
        if let Some(slot) = self.sinks.lock().await.get_mut(stream) {
            *slot = None;
        }
    }

    /// The stream is complete: its reader's body ends.
    async fn end(&self, stream: &str) {
        self.sinks.lock().await.remove(stream);
    }

    /// Replays what came after `last_event_id` on its stream, then follows
    /// the stream live while it runs.
    pub(super) async fn resume(&self, last_event_id: &str) -> Result<Resumed, Error> {
        let mut sinks = self.sinks.lock().await;
        let Some(replay) = self.events.replay(&self.session, last_event_id).await? else {
            return Ok(Resumed::Unknown);
        };
        let (tx, rx) = mpsc::channel(replay.events.len() + BODY_CAPACITY);
        for (id, frame) in &replay.events {
            // The channel has room for the whole replay.
            let _ = tx.try_send(event(frame, Some(id)));
        }
        // A finished stream is not in the map: the body ends after the
        // replay, as the original stream would have.
        if let Some(slot) = sinks.get_mut(&replay.stream) {
            *slot = Some(tx);
        }
        Ok(Resumed::Body(rx))
    }
}

/// Sends without waiting: a reader that went away, or reads too slowly,
/// is cut off and can resume from the store.
fn send(sinks: &mut HashMap<String, Option<mpsc::Sender<Bytes>>>, stream: &str, chunk: Bytes) {
    if let Some(slot) = sinks.get_mut(stream)
        && let Some(tx) = slot
        && tx.try_send(chunk).is_err()
    {
        *slot = None;
    }
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
        mut rx: mpsc::Receiver<Outgoing>,
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
        let mut tick = tokio::time::interval(self.keep_alive);
        tick.reset();
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
                _ = tick.tick() => streams.keep_alive(&self.stream).await,
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
        let mut tick = tokio::time::interval(self.keep_alive);
        tick.reset();
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(message) => streams.emit(&self.stream, &message.bytes).await,
                    None => break,
                },
                _ = tick.tick() => streams.keep_alive(&self.stream).await,
                () = shutting_down(&mut closing) => break,
            }
        }
        streams.end(&self.stream).await;
    }
}
