//! Where legacy sessions and their resumable events live: behind traits,
//! so that instances behind a load balancer can share them, with
//! in-memory stores as the default.

mod events;
mod sessions;

pub use events::{EventStore, MemoryEventStore, Replay};
pub use sessions::{MemorySessionStore, SessionRecord, SessionStore};
