//! Resumable SSE streams of legacy sessions: every event gets an id and is
//! kept in an [`EventStore`], so a client whose connection broke can ask
//! for what it missed with `Last-Event-ID`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::error::Error;
use mcp_core::BoxFuture;

/// The events of one stream after a given event, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// The stream the event belongs to.
    pub stream: String,
    /// `(event id, JSON-RPC message)` pairs; priming events (no message)
    /// are left out.
    pub events: Vec<(String, Bytes)>,
}

impl Replay {
    /// The `events` of `stream`, for stores outside this crate.
    pub fn new(stream: impl Into<String>, events: Vec<(String, Bytes)>) -> Self {
        Self {
            stream: stream.into(),
            events,
        }
    }
}

/// Keeps the events of legacy sessions' SSE streams for replay.
///
/// Event ids must be unique within a session and must say which stream
/// they belong to, since a resuming client names only the event.
pub trait EventStore: Send + Sync + 'static {
    /// Keeps `message` (empty for a priming event) as the next event of
    /// `stream` in `session`; returns its event id.
    fn append<'a>(
        &'a self,
        session: &'a str,
        stream: &'a str,
        message: Bytes,
    ) -> BoxFuture<'a, Result<String, Error>>;

    /// The events of `last_event_id`'s stream that came after it. `None`
    /// when the id is unknown, or when events after it are no longer kept
    /// (replaying the rest would hide the loss).
    fn replay<'a>(
        &'a self,
        session: &'a str,
        last_event_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Replay>, Error>>;

    /// Forgets a session's events (it ended).
    fn forget<'a>(&'a self, session: &'a str) -> BoxFuture<'a, ()>;
}

/// Events in this process's memory: the last `per_session` events of each
/// session are kept, and no more than `max_bytes` of them.
#[derive(Debug)]
pub struct MemoryEventStore {
    per_session: usize,
    max_bytes: usize,
    sessions: Mutex<HashMap<String, SessionEvents>>,
}

#[derive(Debug, Default)]
struct SessionEvents {
    next: u64,
    /// `(sequence number, stream, message)`, oldest first.
    events: VecDeque<(u64, String, Bytes)>,
    /// The size of the messages kept.
    bytes: usize,
    /// The highest sequence number dropped for want of room, per stream.
    dropped: HashMap<String, u64>,
}

impl MemoryEventStore {
    /// Keeps up to `per_session` events of each session, and at most
    /// 1 MiB of them.
    pub fn new(per_session: usize) -> Self {
        Self {
            per_session: per_session.max(1),
            max_bytes: 1024 * 1024,
            sessions: Mutex::default(),
        }
    }

    /// Keeps at most `max_bytes` of each session's events.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::new(1024)
    }
}

/// Event ids are `<stream>:<sequence>`; stream ids hold no `:`.
fn parse(event_id: &str) -> Option<(&str, u64)> {
    let (stream, seq) = event_id.rsplit_once(':')?;
    Some((stream, seq.parse().ok()?))
}

impl EventStore for MemoryEventStore {
    fn append<'a>(
        &'a self,
        session: &'a str,
        stream: &'a str,
        message: Bytes,
    ) -> BoxFuture<'a, Result<String, Error>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let events = sessions.entry(session.to_owned()).or_default();
        let seq = events.next;
        events.next += 1;
        events.bytes += message.len();
        events.events.push_back((seq, stream.to_owned(), message));
        while events.events.len() > self.per_session || events.bytes > self.max_bytes {
            let Some((old, old_stream, old_message)) = events.events.pop_front() else {
                break;
            };
            events.bytes -= old_message.len();
            events.dropped.insert(old_stream, old);
        }
        Box::pin(std::future::ready(Ok(format!("{stream}:{seq}"))))
    }

    fn replay<'a>(
        &'a self,
        session: &'a str,
        last_event_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Replay>, Error>> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let found = parse(last_event_id).and_then(|(stream, after)| {
            let events = sessions.get(session)?;
            let dropped = events.dropped.get(stream).copied();
            let issued = dropped.is_some_and(|d| d >= after)
                || events
                    .events
                    .iter()
                    .any(|(seq, s, _)| *seq == after && s == stream);
            // An event of this stream after `after` was dropped: the
            // client cannot get everything it missed.
            if !issued || dropped.is_some_and(|d| d > after) {
                return None;
            }
            let missed = events
                .events
                .iter()
                .filter(|(seq, s, message)| *seq > after && s == stream && !message.is_empty())
                .map(|(seq, _, message)| (format!("{stream}:{seq}"), message.clone()))
                .collect();
            Some(Replay::new(stream, missed))
        });
        Box::pin(std::future::ready(Ok(found)))
    }

    fn forget<'a>(&'a self, session: &'a str) -> BoxFuture<'a, ()> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replays_only_the_stream_and_only_what_came_after() {
        let store = MemoryEventStore::new(10);
        let prime = store.append("s", "a", Bytes::new()).await.unwrap();
        let one = store.append("s", "a", Bytes::from("1")).await.unwrap();
        store.append("s", "b", Bytes::from("x")).await.unwrap();
        let two = store.append("s", "a", Bytes::from("2")).await.unwrap();
        let replay = store.replay("s", &prime).await.unwrap().unwrap();
        assert_eq!(replay.stream, "a");
        assert_eq!(
            replay.events,
            vec![(one.clone(), Bytes::from("1")), (two, Bytes::from("2"))]
        );
        let rest = store.replay("s", &one).await.unwrap().unwrap();
        assert_eq!(rest.events.len(), 1);
        assert_eq!(store.replay("other", &one).await.unwrap(), None);
        assert_eq!(store.replay("s", "a:99").await.unwrap(), None);
        assert_eq!(store.replay("s", "b:1").await.unwrap(), None);
        assert_eq!(store.replay("s", "nonsense").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_gap_is_reported_not_hidden() {
        let store = MemoryEventStore::new(2);
        let first = store.append("s", "a", Bytes::from("1")).await.unwrap();
        store.append("s", "a", Bytes::from("2")).await.unwrap();
        store.append("s", "a", Bytes::from("3")).await.unwrap();
        store.append("s", "a", Bytes::from("4")).await.unwrap();
        // "2" is gone: resuming after "1" would skip it.
        assert_eq!(store.replay("s", &first).await.unwrap(), None);
        let small = MemoryEventStore::new(100).with_max_bytes(4);
        let a = small.append("s", "a", Bytes::from("12")).await.unwrap();
        small.append("s", "a", Bytes::from("34")).await.unwrap();
        assert!(small.replay("s", &a).await.unwrap().is_some());
        // Over 4 bytes: "12" goes, which a client resuming after it has.
        small.append("s", "a", Bytes::from("56")).await.unwrap();
        assert!(small.replay("s", &a).await.unwrap().is_some());
        // "34" goes too: now that client would miss it.
        small.append("s", "a", Bytes::from("78")).await.unwrap();
        assert_eq!(small.replay("s", &a).await.unwrap(), None);
        store.forget("s").await;
        assert_eq!(store.replay("s", &first).await.unwrap(), None);
    }
}
