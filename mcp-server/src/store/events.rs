//! Resumable SSE streams of legacy sessions: every event gets an id and is
//! kept in an [`EventStore`], so a client whose connection broke can ask
//! for what it missed with `Last-Event-ID`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::error::Error;

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
#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Keeps `message` (empty for a priming event) as the next event of
    /// `stream` in `session`; returns its event id.
    async fn append(&self, session: &str, stream: &str, message: Bytes) -> Result<String, Error>;

    /// The id of a priming event of `stream`, a stream with no events
    /// yet: replaying after it gives every event of the stream. By default
    /// an empty event is appended; a store that can name a stream's start
    /// without a write (one round trip less for each new stream) says so.
    async fn prime(&self, session: &str, stream: &str) -> Result<String, Error> {
        self.append(session, stream, Bytes::new()).await
    }

    /// The events of `last_event_id`'s stream that came after it. `None`
    /// when the id is unknown, or when events after it are no longer kept
    /// (replaying the rest would hide the loss).
    async fn replay(&self, session: &str, last_event_id: &str) -> Result<Option<Replay>, Error>;

    /// Forgets a session's events (it ended).
    async fn forget(&self, session: &str);

    /// Whether the store can be used now, for readiness probes. Stores
    /// over a network check their connection; memory is always ready.
    ///
    /// # Errors
    /// [`Error::Unavailable`] saying why not.
    async fn ready(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Events in this process's memory, within three limits: the last
/// `per_session` events of each session, at most `max_bytes` of each
/// session's, and at most `max_total_bytes` of all sessions' together.
/// Beyond a limit the oldest events go first (over the total, the oldest
/// of any session); a client that resumes after an event whose successors
/// are gone gets `None`, never a replay with a hole in it.
#[derive(Debug)]
pub struct MemoryEventStore {
    per_session: usize,
    max_bytes: usize,
    max_total_bytes: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<Arc<str>, SessionEvents>,
    /// Each session's oldest event, by its place in the order of all
    /// events: the first entry is the oldest event kept anywhere.
    oldest: BTreeMap<u64, Arc<str>>,
    /// The size of all messages kept.
    bytes: usize,
    /// The place of the next event in the order of all events.
    next: u64,
}

#[derive(Debug, Default)]
struct SessionEvents {
    next: u64,
    /// Oldest first.
    events: VecDeque<Event>,
    /// The size of the messages kept.
    bytes: usize,
    /// The highest sequence number dropped, per stream, for at most
    /// [`DROPPED_STREAMS`] streams; a stream forgotten here is one whose
    /// resumption is refused even where it might have been whole.
    dropped: HashMap<String, u64>,
    /// The streams of `dropped`, in the order they were first recorded.
    dropped_order: VecDeque<String>,
}

#[derive(Debug)]
struct Event {
    /// Its place in the order of all events.
    order: u64,
    seq: u64,
    stream: String,
    message: Bytes,
}

/// Streams per session whose dropped events are remembered: the record
/// grows with the streams that lost events, so it is capped, and the
/// oldest record goes first.
const DROPPED_STREAMS: usize = 64;

impl MemoryEventStore {
    /// Keeps up to `per_session` events of each session, at most 1 MiB
    /// of them, and at most 64 MiB of all sessions' events.
    pub fn new(per_session: usize) -> Self {
        Self {
            per_session: per_session.max(1),
            max_bytes: 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
            state: Mutex::default(),
        }
    }

    /// Keeps at most `max_bytes` of each session's events.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Keeps at most `max_total_bytes` of all sessions' events together.
    #[must_use]
    pub fn with_max_total_bytes(mut self, max_total_bytes: usize) -> Self {
        self.max_total_bytes = max_total_bytes;
        self
    }

    /// The size of the messages kept now, over all sessions.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl State {
    /// Drops the oldest event of `session`.
    fn drop_oldest(&mut self, session: &Arc<str>) {
        if let Some(events) = self.sessions.get_mut(session) {
            drop_front(events, session, &mut self.oldest, &mut self.bytes);
        }
    }
}

/// Drops the oldest event of `events` (session `session`), keeping the
/// totals and the record of dropped streams.
fn drop_front(
    events: &mut SessionEvents,
    session: &Arc<str>,
    oldest: &mut BTreeMap<u64, Arc<str>>,
    bytes: &mut usize,
) {
    let Some(old) = events.events.pop_front() else {
        return;
    };
    events.bytes -= old.message.len();
    *bytes -= old.message.len();
    oldest.remove(&old.order);
    if let Some(next) = events.events.front() {
        oldest.insert(next.order, Arc::clone(session));
    }
    // Streams are remembered in the order they first lost an event; past
    // the cap, the longest remembered is forgotten.
    if events.dropped.insert(old.stream.clone(), old.seq).is_none() {
        events.dropped_order.push_back(old.stream);
        if events.dropped_order.len() > DROPPED_STREAMS
            && let Some(forgotten) = events.dropped_order.pop_front()
        {
            events.dropped.remove(&forgotten);
        }
    }
}

/// Event ids are `<stream>:<sequence>`; stream ids hold no `:`.
fn parse(event_id: &str) -> Option<(&str, u64)> {
    let (stream, seq) = event_id.rsplit_once(':')?;
    Some((stream, seq.parse().ok()?))
}

#[async_trait::async_trait]
impl EventStore for MemoryEventStore {
    async fn append(&self, session: &str, stream: &str, message: Bytes) -> Result<String, Error> {
        let mut state = self.lock();
        let state = &mut *state;
        let order = state.next;
        state.next += 1;
        state.bytes += message.len();
        // One look-up: the session's key is shared with the oldest-event
        // index, so it is made once per session.
        let (key, events) = match state.sessions.get_key_value(session) {
            Some((key, _)) => {
                let key = Arc::clone(key);
                let events = state.sessions.get_mut(session);
                (key, events)
            }
            None => {
                let key: Arc<str> = Arc::from(session);
                let events = Some(state.sessions.entry(Arc::clone(&key)).or_default());
                (key, events)
            }
        };
        let Some(events) = events else {
            return Ok(String::new());
        };
        if events.events.is_empty() {
            state.oldest.insert(order, Arc::clone(&key));
        }
        let seq = events.next;
        events.next += 1;
        events.bytes += message.len();
        events.events.push_back(Event {
            order,
            seq,
            stream: stream.to_owned(),
            message,
        });
        while events.events.len() > self.per_session || events.bytes > self.max_bytes {
            drop_front(events, &key, &mut state.oldest, &mut state.bytes);
        }
        while state.bytes > self.max_total_bytes {
            let Some(oldest) = state.oldest.values().next().cloned() else {
                break;
            };
            state.drop_oldest(&oldest);
        }
        Ok(format!("{stream}:{seq}"))
    }

    async fn replay(&self, session: &str, last_event_id: &str) -> Result<Option<Replay>, Error> {
        let state = self.lock();
        let found = parse(last_event_id).and_then(|(stream, after)| {
            let events = state.sessions.get(session)?;
            let dropped = events.dropped.get(stream).copied();
            let issued = dropped.is_some_and(|d| d >= after)
                || events
                    .events
                    .iter()
                    .any(|e| e.seq == after && e.stream == stream);
            // An event of this stream after `after` was dropped: the
            // client cannot get everything it missed.
            if !issued || dropped.is_some_and(|d| d > after) {
                return None;
            }
            let missed = events
                .events
                .iter()
                .filter(|e| e.seq > after && e.stream == stream && !e.message.is_empty())
                .map(|e| (format!("{stream}:{}", e.seq), e.message.clone()))
                .collect();
            Some(Replay::new(stream, missed))
        });
        Ok(found)
    }

    async fn forget(&self, session: &str) {
        let mut state = self.lock();
        if let Some(events) = state.sessions.remove(session) {
            state.bytes -= events.bytes;
            if let Some(front) = events.events.front() {
                state.oldest.remove(&front.order);
            }
        }
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

    #[tokio::test]
    async fn the_total_is_capped_oldest_sessions_first() {
        let store = MemoryEventStore::new(100)
            .with_max_bytes(1000)
            .with_max_total_bytes(10);
        let old = store.append("a", "s", Bytes::from("1")).await.unwrap();
        store.append("a", "s", Bytes::from("1234")).await.unwrap();
        store.append("b", "s", Bytes::from("12345")).await.unwrap();
        assert_eq!(store.bytes(), 10);
        let newest = store.append("c", "s", Bytes::from("12")).await.unwrap();
        // Over 10 bytes: the oldest events (both of session a's) went.
        assert_eq!(store.bytes(), 7);
        assert_eq!(store.replay("a", &old).await.unwrap(), None);
        assert!(store.replay("c", &newest).await.unwrap().is_some());
        store.forget("b").await;
        store.forget("c").await;
        assert_eq!(store.bytes(), 0);
        // One session larger than the total keeps only what fits.
        for i in 0..20 {
            store
                .append("d", "s", Bytes::from(format!("{i:02}")))
                .await
                .unwrap();
            assert!(store.bytes() <= 10);
        }
    }

    #[tokio::test]
    async fn the_record_of_dropped_streams_is_bounded() {
        let store = MemoryEventStore::new(1);
        let mut first = None;
        for i in 0..10 * DROPPED_STREAMS {
            let id = store
                .append("s", &format!("stream-{i}"), Bytes::from("x"))
                .await
                .unwrap();
            first.get_or_insert(id);
        }
        let recorded = store.lock().sessions.get("s").unwrap().dropped.len();
        assert!(recorded <= DROPPED_STREAMS);
        // A forgotten stream's resumption is refused, as a dropped one is.
        assert_eq!(store.replay("s", &first.unwrap()).await.unwrap(), None);
    }
}
