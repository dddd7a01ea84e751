//! The SSE streams of one legacy session: each event goes to the
//! [`EventStore`] before it goes to the client, so a client whose
//! connection broke resumes with `Last-Event-ID` and loses nothing.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mcp_core::transport::Outgoing;
use mcp_core::{RequestId, sse};
use tokio::sync::{Mutex, mpsc, watch};

use super::relay::{Note, SessionBus};
use super::reply::{BODY_CAPACITY, comment, event};
use super::shared::shutting_down;
use crate::error::Error;
use crate::store::EventStore;

/// The stream id of the session's GET stream.
pub(super) const STANDALONE: &str = "standalone";

/// A fresh id for a POST's response stream that will carry `answers`
/// responses, unique across instances that share an event store: the
/// instance's id, a counter, and the count of answers, by which an
/// instance following the stream from elsewhere knows when it is done.
pub(super) fn stream_id(answers: usize) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{answers}",
        crate::bus::instance(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// How many answers stream `stream` carries; `None` for the GET stream,
/// which never ends on its own.
fn answers_of(stream: &str) -> Option<usize> {
    if stream == STANDALONE {
        return None;
    }
    // A name not of this form ends after its replay, as it used to.
    Some(
        stream
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0),
    )
}

/// How many responses to the client's requests `frame` holds.
fn answers_in(frame: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(default)]
        id: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        method: Option<serde::de::IgnoredAny>,
    }
    let answers = |s: &Shape| s.id.is_some() && s.method.is_none();
    if frame.first() == Some(&b'[') {
        serde_json::from_slice::<Vec<Shape>>(frame)
            .map(|all| all.iter().filter(|s| answers(s)).count())
            .unwrap_or(0)
    } else {
        serde_json::from_slice::<Shape>(frame).map_or(0, |s| usize::from(answers(&s)))
    }
}

/// How many event ids a reader remembers having been sent.
const SEEN: usize = 256;

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
}

/// One stream's reader here.
#[derive(Default)]
struct Sink {
    tx: Option<mpsc::Sender<Bytes>>,
    /// Set for a stream made on another instance and followed here: the
    /// answers still to come, after which it ends.
    answers_left: Option<usize>,
    /// Whether the ids sent are remembered: where instances share the
    /// session, or after a replay (an event stored while the replay was
    /// read can come both ways).
    remembers: bool,
    /// The ids sent to this reader lately.
    seen: VecDeque<String>,
    /// The id of the last event sent, from which to read again after a gap.
    last: Option<String>,
    /// No longer among the streams: nothing more goes through it.
    gone: bool,
}

/// What a `Last-Event-ID` resumed.
pub(super) enum Resumed {
    /// The replayed events, then live ones while the stream runs.
    Body(mpsc::Receiver<Bytes>),
    /// The id is unknown, or events after it are no longer kept.
    Unknown,
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

    fn slot(&self, stream: &str) -> Option<Slot> {
        self.slots().get(stream).cloned()
    }

    /// The stream's slot, made now if it has none.
    fn slot_or_new(&self, stream: &str) -> Slot {
        Arc::clone(self.slots().entry(stream.to_owned()).or_default())
    }

    /// Takes `slot` (locked as `sink`) off the streams.
    fn forget(&self, stream: &str, slot: &Slot, sink: &mut Sink) {
        sink.gone = true;
        sink.tx = None;
        let mut slots = self.slots();
        if slots.get(stream).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(stream);
        }
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
    /// the reader may be.
    async fn emit(&self, stream: &str, frame: &Bytes) {
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
        if !here
            && let (Some(bus), Some(id)) = (&self.bus, id)
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

    /// A reader of `stream` resumed on another instance after `after`: if
    /// the stream is made here, its reader here (gone, or about to be) is
    /// let go, and what came after `after` goes to the others.
    pub(super) async fn hand_over(&self, stream: &str, after: &str) {
        let (Some(bus), Some(slot)) = (&self.bus, self.slot(stream)) else {
            return;
        };
        // Held while telling, so that new events follow these.
        let mut sink = slot.lock().await;
        // Only a reader here is let go, once: since it went, events went
        // to the others anyway (and a client resuming again and again
        // makes no replays here).
        if sink.answers_left.is_some() || sink.tx.is_none() {
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
            if let Ok(m) = serde_json::from_slice(&frame) {
                let stream = stream.to_owned();
                bus.tell(Note::Event { stream, id, m }).await;
            }
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
    /// A reader that went away, or reads too slowly, is cut off and can
    /// resume from the store.
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
        if let Some(id) = id
            && sink.seen.iter().any(|seen| seen == id)
        {
            return true;
        }
        if tx.try_send(event(frame, id)).is_err() {
            self.lose_reader(stream, slot, sink);
            return false;
        }
        if let Some(id) = id {
            sink.last = Some(id.to_owned());
            if sink.remembers {
                if sink.seen.len() == SEEN {
                    sink.seen.pop_front();
                }
                sink.seen.push_back(id.to_owned());
            }
        }
        if let Some(left) = sink.answers_left.as_mut() {
            *left = left.saturating_sub(answers_in(frame));
            if *left == 0 {
                // Its last answer went: the reader's body ends.
                self.forget(stream, slot, sink);
            }
        }
        true
    }

    /// The reader of `stream` is gone.
    fn lose_reader(&self, stream: &str, slot: &Slot, sink: &mut Sink) {
        sink.tx = None;
        if sink.answers_left.is_some() {
            // Followed from elsewhere: nothing here to keep.
            self.forget(stream, slot, sink);
        } else if stream == STANDALONE {
            self.standalone_here.store(false, Ordering::Relaxed);
        }
    }

    /// Sends a keep-alive comment; whether `stream` still has a reader.
    async fn keep_alive(&self, stream: &str) -> bool {
        let Some(slot) = self.slot(stream) else {
            return false;
        };
        let mut sink = slot.lock().await;
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
    async fn detach(&self, stream: &str) {
        if let Some(slot) = self.slot(stream) {
            slot.lock().await.tx = None;
        }
        if stream == STANDALONE {
            self.standalone_here.store(false, Ordering::Relaxed);
        }
    }

    /// The stream is complete: its reader's body ends.
    async fn end(&self, stream: &str) {
        if let Some(slot) = self.slot(stream) {
            let mut sink = slot.lock().await;
            self.forget(stream, &slot, &mut sink);
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
        let existing = self.slot(&stream);
        // Live here (its pump runs here; the GET stream always has one
        // where instances share sessions), made elsewhere and followed
        // until its last answer, or finished.
        let followed_here = match &existing {
            Some(slot) => slot.lock().await.answers_left.is_some(),
            None => false,
        };
        let answers_left = if (existing.is_some() && !followed_here) || stream == STANDALONE {
            Some(None)
        } else if self.bus.is_some() {
            answers_of(&stream).filter(|&n| n > 0).map(Some)
        } else {
            None
        };
        let Some(answers_left) = answers_left else {
            // The body ends after the replay, as the stream did.
            let (tx, rx) = mpsc::channel(first.events.len().max(1));
            for (id, frame) in &first.events {
                // The channel has room for the whole replay.
                let _ = tx.try_send(event(frame, Some(id)));
            }
            return Ok(Resumed::Body(rx));
        };
        let slot = existing.unwrap_or_else(|| self.slot_or_new(&stream));
        let mut sink = slot.lock().await;
        let Some(replay) = self.events.replay(&self.session, last_event_id).await? else {
            return Ok(Resumed::Unknown);
        };
        if sink.gone {
            self.slots().insert(stream.clone(), Arc::clone(&slot));
        }
        let (tx, rx) = mpsc::channel(replay.events.len() + BODY_CAPACITY);
        *sink = Sink {
            tx: Some(tx),
            answers_left,
            remembers: true,
            seen: VecDeque::new(),
            last: Some(last_event_id.to_owned()),
            gone: false,
        };
        for (id, frame) in &replay.events {
            // The channel has room for the whole replay.
            self.send(&stream, &slot, &mut sink, Some(id), frame);
        }
        let followed = !sink.gone && sink.answers_left.is_some();
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
        if followed {
            // Its pump runs elsewhere; the comments that keep it open
            // come from here.
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(keep_alive);
                tick.reset();
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
        let mut tick = tokio::time::interval(self.keep_alive);
        tick.reset();
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
