//! What one instance tells the others over the [`EventBus`]: per legacy
//! session, the events of its streams that no reader here took, the
//! client's answers and cancellations that name nothing here, and that its
//! state changed or it ended; for the whole server, list changes and
//! resource updates.

use std::sync::Arc;

use bytes::Bytes;
use mcp_core::RequestId;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::bus::{Delivery, EventBus};
use crate::handler::ServerEvent;

/// A message about one legacy session, on its topic. (Externally
/// tagged: a message inside is kept as it came, which an internally
/// tagged enum cannot do.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Note {
    /// The event `id` of `stream`, stored, and read by no one where it was
    /// made.
    Event {
        stream: String,
        id: String,
        m: Box<RawValue>,
    },
    /// A message for the session's GET stream, for the instance holding
    /// its reader to store and send.
    Standalone { m: Box<RawValue> },
    /// A reader of `stream` resumed there, after event `after`: where the
    /// stream is made, its events go to the others from now on, and those
    /// after `after` again, in case they went to a reader here that is
    /// gone but not noticed yet.
    Follow { stream: String, after: String },
    /// A response or error from the client that no handler there waited
    /// for.
    Answer { m: Box<RawValue> },
    /// The client cancelled a request not running there.
    Cancel { id: RequestId },
    /// The session's stored state changed.
    State,
    /// The session ended.
    End,
}

/// A note and the instance that sent it (each hears its own too).
#[derive(Debug, Serialize, Deserialize)]
struct Envelope<T> {
    from: String,
    note: T,
}

/// A server-wide change, as the bus carries it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Change {
    Tools,
    Prompts,
    Resources,
    Updated { uri: String },
}

/// A bus, and this endpoint's name on it.
pub(super) type OnBus = (Arc<dyn EventBus>, Arc<str>);

/// The topic of session `id`.
fn session_topic(id: &str) -> String {
    format!("s:{id}")
}

const SERVER_TOPIC: &str = "server";

/// An endpoint among those sharing a bus (several may share a process),
/// so that each skips its own notes.
pub(super) fn endpoint_id() -> Arc<str> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", crate::bus::instance()).into()
}

/// One session's side of the bus on this instance.
#[derive(Clone)]
pub(super) struct SessionBus {
    bus: Arc<dyn EventBus>,
    topic: String,
    /// This endpoint's [`endpoint_id`].
    me: Arc<str>,
}

impl std::fmt::Debug for SessionBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBus")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl SessionBus {
    pub(super) fn new(bus: Arc<dyn EventBus>, session: &str, me: Arc<str>) -> Self {
        Self {
            bus,
            topic: session_topic(session),
            me,
        }
    }

    /// Tells the other instances; a bus that fails loses the note (the
    /// stores keep what matters).
    pub(super) async fn tell(&self, note: Note) {
        let envelope = Envelope {
            from: self.me.to_string(),
            note,
        };
        let Ok(bytes) = serde_json::to_vec(&envelope) else {
            return;
        };
        if let Err(e) = self.bus.publish(&self.topic, Bytes::from(bytes)).await {
            tracing::warn!(error = %e, "event bus failed; a note to other instances was lost");
        }
    }

    /// Notes from the other instances, until the subscription fails.
    pub(super) async fn listen(&self) -> Result<Notes, crate::Error> {
        Ok(Notes {
            subscription: self.bus.subscribe(&self.topic).await?,
            me: Arc::clone(&self.me),
        })
    }
}

/// A session's notes from other instances.
pub(super) struct Notes {
    subscription: crate::bus::Subscription,
    me: Arc<str>,
}

/// What a session hears.
pub(super) enum Heard {
    Note(Note),
    /// Notes were lost: streams followed here read the store again.
    Gap,
}

impl Notes {
    /// The next note from another instance; `None` once the bus is gone.
    pub(super) async fn next(&mut self) -> Option<Heard> {
        loop {
            match self.subscription.recv().await? {
                Delivery::Gap => return Some(Heard::Gap),
                Delivery::Message(bytes) => {
                    match serde_json::from_slice::<Envelope<Note>>(&bytes) {
                        Ok(e) if *e.from != *self.me => {
                            return Some(Heard::Note(e.note));
                        }
                        Ok(_) => {}
                        Err(e) => tracing::debug!(error = %e, "an unreadable note on the bus"),
                    }
                }
            }
        }
    }
}

/// Carries the server's changes between instances: local ones out, the
/// others' into `remote`, from which subscribers here read them as their
/// own. Runs until the server goes.
pub(super) fn bridge_changes(
    me: Arc<str>,
    bus: Arc<dyn EventBus>,
    local: Option<tokio::sync::broadcast::Receiver<ServerEvent>>,
    remote: std::sync::Weak<tokio::sync::broadcast::Sender<ServerEvent>>,
) {
    let Some(mut local) = local else {
        return;
    };
    let outbound = Arc::clone(&bus);
    let from = me.to_string();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let change = match local.recv().await {
                Ok(ServerEvent::ToolsChanged) => Change::Tools,
                Ok(ServerEvent::PromptsChanged) => Change::Prompts,
                Ok(ServerEvent::ResourcesChanged) => Change::Resources,
                Ok(ServerEvent::ResourceUpdated(uri)) => Change::Updated { uri },
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let envelope = Envelope {
                from: from.clone(),
                note: change,
            };
            if let Ok(bytes) = serde_json::to_vec(&envelope)
                && let Err(e) = outbound.publish(SERVER_TOPIC, Bytes::from(bytes)).await
            {
                tracing::warn!(error = %e, "event bus failed; a change was not announced to other instances");
            }
        }
    });
    tokio::spawn(async move {
        // Subscribed again after each failure, a second apart.
        loop {
            match bus.subscribe(SERVER_TOPIC).await {
                Ok(mut changes) => {
                    while let Some(delivery) = changes.recv().await {
                        let Delivery::Message(bytes) = delivery else {
                            continue;
                        };
                        let Ok(e) = serde_json::from_slice::<Envelope<Change>>(&bytes) else {
                            continue;
                        };
                        if *e.from == *me {
                            continue;
                        }
                        let event = match e.note {
                            Change::Tools => ServerEvent::ToolsChanged,
                            Change::Prompts => ServerEvent::PromptsChanged,
                            Change::Resources => ServerEvent::ResourcesChanged,
                            Change::Updated { uri } => ServerEvent::ResourceUpdated(uri),
                        };
                        let Some(remote) = remote.upgrade() else {
                            return;
                        };
                        // Nobody subscribed here is fine.
                        let _ = remote.send(event);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event bus: changes of other instances not heard; retrying");
                }
            }
            if remote.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}
