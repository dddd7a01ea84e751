//! The SSE streams of one legacy session: each event goes to the
//! [`EventStore`] before it goes to the client, so a client whose
//! connection broke resumes with `Last-Event-ID` and loses nothing.
//!
//! Where instances share the session, a stream's reader may be on another
//! instance than the stream's pump: events no reader here took go to the
//! others on the bus, a reader resuming elsewhere follows the stream from
//! there, and a stream that ends without its reader here leaves an end
//! mark in the store, by which a follower knows it is done.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mcp_core::sse;
use tokio::sync::{Mutex, mpsc};

use super::pump::ticker;
use super::relay::{Note, SessionBus};
use super::reply::{BODY_CAPACITY, comment, event};
use crate::error::Error;
use crate::store::EventStore;

/// The stream id of the session's GET stream.
pub(super) const STANDALONE: &str = "standalone";

/// The event that ends a stream whose reader was elsewhere; never sent to
/// a client.
const END: &[u8] = br#"{"io.modelcontextprotocol/stream":"end"}"#;

/// How many event ids a reader remembers having been sent.
const SEEN: usize = 256;

/// How many streams made elsewhere one session may follow here at once.
const MAX_FOLLOWED: usize = 16;

/// A stream followed from elsewhere with no event for this long is let go
/// (its maker may be gone); its client can resume it again.
const FOLLOW_IDLE: Duration = Duration::from_secs(5 * 60);

/// Streams that ended here, remembered so that a reader resuming one of
/// them elsewhere learns it ended.
const ENDED: usize = 64;

/// A fresh id for a POST's response stream, unique across instances that
/// share an event store: the instance's id and a counter.
pub(super) fn stream_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        crate::bus::instance(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One stream's reader here, behind a lock of its own that orders storing
/// and sending each event against a resuming client's replay-then-attach,
/// so that no event is missed or sent twice. (One lock per stream: the
/// streams of a session store their events side by side.)
type Slot = Arc<Mutex<Sink>>;

/// The streams of one session whose pump runs here (or, where instances
/// share the session, that are followed here), and the client connection
/// reading each, if any.
pub(super) struct Streams {
    session: String,
    events: Arc<dyn EventStore>,
    /// Where instances share the session: the other instances.
    bus: Option<SessionBus>,
    /// Whether a reader of the session's GET stream is connected here.
    standalone_here: Arc<AtomicBool>,
    slots: std::sync::Mutex<HashMap<String, Slot>>,
    /// Streams that ended here lately.
    ended: std::sync::Mutex<VecDeque<String>>,
    /// How many streams made elsewhere are followed here now.
    following: AtomicUsize,
}

/// One stream's reader here.
#[derive(Default)]
struct Sink {
    tx: Option<mpsc::Sender<Bytes>>,
    /// Made on another instance and followed here, until its end mark.
    followed: bool,
    /// Whether the ids sent are remembered: where instances share the
    /// session, or after a replay (an event stored while the replay was
    /// read can come both ways).
    remembers: bool,
    /// The ids sent to this reader lately.
    seen: VecDeque<String>,
    /// The id of the last event sent, from which to read again after a gap.
    last: Option<String>,
    /// When an event last went to the reader.
    active: Option<Instant>,
    /// No longer among the streams: nothing more goes through it.
    gone: bool,
}

/// What a `Last-Event-ID` resumed.
pub(super) enum Resumed {
    /// The replayed events, then live ones while the stream runs.
    Body(mpsc::Receiver<Bytes>),
    /// The id is unknown, or events after it are no longer kept.
    Unknown,
    /// The session follows as many streams made elsewhere as it may.
    TooMany,
}

impl Streams {
    pub(super) fn new(
        session: String,
        events: Arc<dyn EventStore>,
        bus: Option<SessionBus>,
    ) -> Self {
        Self {
            session,
            events,
            bus,
            standalone_here: Arc::default(),
            slots: std::sync::Mutex::default(),
            ended: std::sync::Mutex::default(),
            following: AtomicUsize::new(0),
        }
    }

    /// Set while a reader of the GET stream is connected here.
    pub(super) fn standalone_here(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.standalone_here)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // Each operation on the map is one insert, lookup or removal.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ended(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn slot(&self, stream: &str) -> Option<Slot> {
        self.slots().get(stream).cloned()
    }

    /// The stream's slot, made now if it has none.
    fn slot_or_new(&self, stream: &str) -> Slot {
        Arc::clone(self.slots().entry(stream.to_owned()).or_default())
    }

    /// Takes `slot` (locked as `sink`) off the streams; its reader's body
    /// ends.
    fn forget(&self, stream: &str, slot: &Slot, sink: &mut Sink) {
        if sink.followed && !sink.gone {
            self.following.fetch_sub(1, Ordering::Relaxed);
        }
        sink.gone = true;
        sink.tx = None;
        let mut slots = self.slots();
        if slots.get(stream).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(stream);
        }
        drop(slots);
        if stream == STANDALONE {
            self.standalone_here.store(false, Ordering::Relaxed);
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
        let slot = self.slot_or_new(stream);
        let mut sink = slot.lock().await;
        let busy = sink.tx.as_ref().is_some_and(|tx| !tx.is_closed());
        if exclusive && busy {
            return false;
        }
        if sink.gone {
            // Ended meanwhile: a stream again.
            self.slots().insert(stream.to_owned(), Arc::clone(&slot));
        }
        *sink = Sink {
            remembers: self.bus.is_some(),
            ..Sink::default()
        };
        if let Some(retry) = prime {
            // The GET stream goes on from one reader to the next; a POST's
            // is new.
            let primed = if stream == STANDALONE {
                self.events
                    .append(&self.session, stream, Bytes::new())
                    .await
            } else {
                self.events.prime(&self.session, stream).await
            };
            match primed {
                Ok(id) => {
                    let mut primer = sse::Event::message("").with_id(id.clone());
                    primer.retry = u64::try_from(retry.as_millis()).ok();
                    let mut out = BytesMut::new();
                    sse::encode(&primer, &mut out);
                    let _ = tx.try_send(out.freeze());
                    sink.last = Some(id);
                }
                Err(e) => tracing::warn!(error = %e, "event store failed; stream not resumable"),
            }
        }
        sink.tx = Some(tx);
        if stream == STANDALONE {
            self.standalone_here.store(true, Ordering::Relaxed);
        }
        true
    }

    /// Stores `frame` as the next event of `stream` and sends it to the
    /// stream's reader here; without one, tells the other instances, where
    /// the reader may be. Where instances share the session, the GET
    /// stream has one writer, the instance holding its reader: the others
    /// hand it their messages for it.
    pub(super) async fn emit(&self, stream: &str, frame: &Bytes) {
        if let Some(bus) = &self.bus
            && stream == STANDALONE
            && !self.standalone_here.load(Ordering::Relaxed)
        {
            if let Ok(m) = serde_json::from_slice(frame) {
                bus.tell(Note::Standalone { m }).await;
            }
            return;
        }
        let slot = self.slot(stream);
        let mut sink = match &slot {
            Some(slot) => Some(slot.lock().await),
            None => None,
        };
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
        let here = match (&slot, sink.as_deref_mut()) {
            (Some(slot), Some(sink)) => self.send(stream, slot, sink, id.as_deref(), frame),
            // A reader that came while this was stored replayed it, or
            // gets it now (once: it remembers what it replayed).
            _ => match self.slot(stream) {
                Some(late) => {
                    let mut sink = late.lock().await;
                    self.send(stream, &late, &mut sink, id.as_deref(), frame)
                }
                None => false,
            },
        };
        drop(sink);
        if !here && let Some(id) = id {
            self.tell_event(stream, id, frame).await;
        }
    }

    /// Tells the other instances of event `id` of `stream`.
    async fn tell_event(&self, stream: &str, id: String, frame: &[u8]) {
        if let Some(bus) = &self.bus
            && let Ok(m) = serde_json::from_slice(frame)
        {
            let stream = stream.to_owned();
            bus.tell(Note::Event { stream, id, m }).await;
        }
    }

    /// An event of `stream` another instance stored and relayed.
    pub(super) async fn relayed(&self, stream: &str, id: &str, frame: &[u8]) {
        if let Some(slot) = self.slot(stream) {
            let mut sink = slot.lock().await;
            self.send(stream, &slot, &mut sink, Some(id), frame);
        }
    }

    /// A message another instance has for the GET stream: stored and sent
    /// here, if its reader is here.
    pub(super) async fn adopt(&self, frame: &Bytes) {
        if self.standalone_here.load(Ordering::Relaxed) {
            self.emit(STANDALONE, frame).await;
        }
    }

    /// A reader of `stream` resumed on another instance after `after`: if
    /// the stream is made here, its reader here (gone, or about to be) is
    /// let go, and what came after `after` goes to the others; if it ended
    /// here, the others learn so.
    pub(super) async fn hand_over(&self, stream: &str, after: &str) {
        if self.bus.is_none() {
            return;
        }
        let Some(slot) = self.slot(stream) else {
            if self.ended().iter().any(|s| s == stream) {
                // It ended while its reader here seemed alive: no end mark
                // was stored then.
                self.mark_end(stream).await;
            }
            return;
        };
        // Held while telling, so that new events follow these.
        let mut sink = slot.lock().await;
        // Only a reader here is let go, once: since it went, events went
        // to the others anyway (and a client resuming again and again
        // makes no replays here).
        if sink.followed || sink.tx.is_none() {
            return;
        }
        sink.tx = None;
        if stream == STANDALONE {
            self.standalone_here.store(false, Ordering::Relaxed);
        }
        let replay = match self.events.replay(&self.session, after).await {
            Ok(Some(replay)) => replay,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "event store failed; a stream handed over may miss events");
                return;
            }
        };
        for (id, frame) in replay.events {
            self.tell_event(stream, id, &frame).await;
        }
    }

    /// Stores the end mark of `stream` and tells the others.
    async fn mark_end(&self, stream: &str) {
        match self
            .events
            .append(&self.session, stream, Bytes::from_static(END))
            .await
        {
            Ok(id) => self.tell_event(stream, id, END).await,
            Err(e) => tracing::warn!(error = %e, "event store failed; a stream's end not stored"),
        }
    }

    /// Notes were lost: each reader here gets what it missed from the store.
    pub(super) async fn resync(&self) {
        let slots: Vec<(String, Slot)> = self
            .slots()
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        for (stream, slot) in slots {
            let mut sink = slot.lock().await;
            let Some(last) = sink.last.clone().filter(|_| sink.tx.is_some()) else {
                continue;
            };
            match self.events.replay(&self.session, &last).await {
                Ok(Some(replay)) => {
                    for (id, frame) in &replay.events {
                        self.send(&stream, &slot, &mut sink, Some(id), frame);
                    }
                }
                Ok(None) => tracing::warn!("events were lost from a stream followed here"),
                Err(e) => {
                    tracing::warn!(error = %e, "event store failed; a stream may miss events");
                }
            }
        }
    }

    /// Sends the event `id` of `stream` to its reader here (`sink`, the
    /// locked `slot`), unless sent already; whether a reader here has it.
    /// The end mark ends the reader's body. A reader that went away, or
    /// reads too slowly, is cut off and can resume from the store.
    fn send(
        &self,
        stream: &str,
        slot: &Slot,
        sink: &mut Sink,
        id: Option<&str>,
        frame: &[u8],
    ) -> bool {
        if sink.gone {
            return false;
        }
        let Some(tx) = &sink.tx else {
            return false;
        };
        if frame == END {
            self.forget(stream, slot, sink);
            return true;
        }
        if let Some(id) = id
            && sink.seen.iter().any(|seen| seen == id)
        {
            return true;
        }
        if tx.try_send(event(frame, id)).is_err() {
            self.lose_reader(stream, slot, sink);
            return false;
        }
        sink.active = Some(Instant::now());
        if let Some(id) = id {
            sink.last = Some(id.to_owned());
            if sink.remembers {
                if sink.seen.len() == SEEN {
                    sink.seen.pop_front();
                }
                sink.seen.push_back(id.to_owned());
            }
        }
        true
    }

    /// The reader of `stream` is gone.
    fn lose_reader(&self, stream: &str, slot: &Slot, sink: &mut Sink) {
        sink.tx = None;
        if sink.followed {
            // Made elsewhere: nothing here to keep.
            self.forget(stream, slot, sink);
        } else if stream == STANDALONE {
            self.standalone_here.store(false, Ordering::Relaxed);
        }
    }

    /// Sends a keep-alive comment; whether `stream` still has a reader.
    pub(super) async fn keep_alive(&self, stream: &str) -> bool {
        let Some(slot) = self.slot(stream) else {
            return false;
        };
        let mut sink = slot.lock().await;
        let idle = sink.active.is_some_and(|at| at.elapsed() > FOLLOW_IDLE);
        if sink.followed && idle {
            self.forget(stream, &slot, &mut sink);
            return false;
        }
        match &sink.tx {
            Some(tx) if tx.try_send(comment()).is_ok() => true,
            Some(_) => {
                self.lose_reader(stream, &slot, &mut sink);
                false
            }
            None => false,
        }
    }

    /// Ends the reader's connection; the stream goes on in the store.
    pub(super) async fn detach(&self, stream: &str) {
        if let Some(slot) = self.slot(stream) {
            slot.lock().await.tx = None;
        }
        if stream == STANDALONE {
            self.standalone_here.store(false, Ordering::Relaxed);
        }
    }

    /// The stream is complete: its reader's body ends. Where instances
    /// share the session and the reader is not here, the store gets the
    /// end mark, for a reader following it elsewhere.
    pub(super) async fn end(&self, stream: &str) {
        let Some(slot) = self.slot(stream) else {
            return;
        };
        let mut sink = slot.lock().await;
        let reader_here = sink.tx.as_ref().is_some_and(|tx| !tx.is_closed());
        self.forget(stream, &slot, &mut sink);
        if self.bus.is_some() && stream != STANDALONE {
            if !reader_here {
                self.mark_end(stream).await;
            }
            let mut ended = self.ended();
            if ended.len() == ENDED {
                ended.pop_front();
            }
            ended.push_back(stream.to_owned());
        }
    }

    /// Replays what came after `last_event_id` on its stream, then follows
    /// the stream live while it runs: here, or, where instances share the
    /// session, wherever it runs. `keep_alive` paces the comments of a
    /// stream followed from elsewhere.
    pub(super) async fn resume(
        self: &Arc<Self>,
        last_event_id: &str,
        keep_alive: Duration,
    ) -> Result<Resumed, Error> {
        // The store says which stream the id is of; what was read is read
        // again under that stream's lock.
        let Some(first) = self.events.replay(&self.session, last_event_id).await? else {
            return Ok(Resumed::Unknown);
        };
        let stream = first.stream;
        let ended_here = self.ended().iter().any(|s| *s == stream);
        let existing = self.slot(&stream);
        // Live here (its pump runs here; the GET stream always has one
        // where instances share sessions), made elsewhere and followed
        // until its end mark, or finished.
        let follow = existing.is_none() && stream != STANDALONE;
        if follow && (self.bus.is_none() || ended_here) {
            return Ok(Resumed::Body(replayed(&first.events)));
        }
        if follow && self.following.load(Ordering::Relaxed) >= MAX_FOLLOWED {
            return Ok(Resumed::TooMany);
        }
        let slot = existing.unwrap_or_else(|| self.slot_or_new(&stream));
        let mut sink = slot.lock().await;
        if sink.gone && !follow {
            // It ended between the look and the lock.
            drop(sink);
            return Ok(Resumed::Body(replayed(&first.events)));
        }
        let Some(replay) = self.events.replay(&self.session, last_event_id).await? else {
            return Ok(Resumed::Unknown);
        };
        if sink.gone {
            self.slots().insert(stream.clone(), Arc::clone(&slot));
        }
        let (tx, rx) = mpsc::channel(replay.events.len() + BODY_CAPACITY);
        let newly_followed = (follow || sink.followed) && !sink.followed_ticking();
        if newly_followed {
            self.following.fetch_add(1, Ordering::Relaxed);
        }
        *sink = Sink {
            tx: Some(tx),
            followed: follow || sink.followed,
            remembers: true,
            seen: VecDeque::new(),
            last: Some(last_event_id.to_owned()),
            active: Some(Instant::now()),
            gone: false,
        };
        for (id, frame) in &replay.events {
            // The channel has room for the whole replay.
            self.send(&stream, &slot, &mut sink, Some(id), frame);
        }
        let followed = !sink.gone && sink.followed;
        let after = sink.last.clone();
        if stream == STANDALONE {
            self.standalone_here.store(true, Ordering::Relaxed);
        }
        drop(sink);
        if (followed || stream == STANDALONE)
            && let (Some(bus), Some(after)) = (&self.bus, after)
        {
            // Where it is made, events may still go to a reader that is
            // gone: from now on they come here.
            let stream = stream.clone();
            bus.tell(Note::Follow { stream, after }).await;
        }
        if followed && newly_followed {
            // Its pump runs elsewhere; the comments that keep it open
            // come from here, until it is let go.
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let mut tick = ticker(keep_alive);
                loop {
                    tick.tick().await;
                    if !this.keep_alive(&stream).await {
                        break;
                    }
                }
            });
        }
        Ok(Resumed::Body(rx))
    }
}

impl Sink {
    /// Whether a keep-alive task already runs for this followed stream.
    fn followed_ticking(&self) -> bool {
        self.followed && !self.gone
    }
}

/// A body of `events` (the end mark left out) that ends after them, as
/// their stream did.
fn replayed(events: &[(String, Bytes)]) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(events.len().max(1));
    for (id, frame) in events {
        if frame.as_ref() != END {
            // The channel has room for the whole replay.
            let _ = tx.try_send(event(frame, Some(id)));
        }
    }
    rx
}
