//! Where legacy sessions live: a [`SessionStore`] holds what a session is
//! (negotiated version, client facts, subscriptions), so that instances
//! behind a load balancer can share it; the in-memory store is the default.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mcp_core::logging::LoggingLevel;
use mcp_core::{ClientCapabilities, Implementation, ProtocolVersion};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fast_map::FastMap;

/// Everything a legacy session is, apart from what is in flight: enough for
/// any instance to serve the session's next request.
///
/// What cannot move between instances stays with the instance that has it:
/// requests in flight, server-to-client requests awaiting an answer, and
/// open SSE streams (their events are in the [`EventStore`]).
///
/// [`EventStore`]: super::EventStore
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The version `initialize` settled on.
    pub protocol_version: ProtocolVersion,
    /// What the client said it can do.
    pub client_capabilities: ClientCapabilities,
    /// Who the client said it is.
    pub client_info: Implementation,
    /// Whether `notifications/initialized` arrived.
    pub initialized: bool,
    /// The level set with `logging/setLevel`.
    pub log_level: Option<LoggingLevel>,
    /// Resource URIs subscribed to.
    pub subscriptions: BTreeSet<String>,
    /// Who started the session ([`Principal`]); only they may use it.
    ///
    /// [`Principal`]: mcp_core::transport::Principal
    #[serde(default)]
    pub principal: Option<String>,
}

/// Keeps legacy sessions by id. Implement it over a shared database to run
/// several instances behind one load balancer; give them the same
/// [`StateKey`](crate::StateKey) too.
///
/// Expiry is the store's business: a session idle too long is simply not
/// found any more, and its client gets 404 and starts over.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session; `false` when the store holds as many as it
    /// may.
    ///
    /// Backends report their failures as [`Error::Unavailable`].
    async fn insert(&self, id: &str, record: SessionRecord) -> Result<bool, Error>;

    /// The session `id`, marking it used now; `None` when unknown or
    /// expired.
    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, Error>;

    /// Whether session `id` exists, marking it used now, and who started
    /// it ([`SessionRecord::principal`]): what every request of a session
    /// checks before anything else. `None` when unknown or expired.
    ///
    /// The default reads the whole record with [`get`](Self::get); a store
    /// that can answer with less work overrides it.
    async fn principal(&self, id: &str) -> Result<Option<Option<String>>, Error> {
        Ok(self.get(id).await?.map(|record| record.principal))
    }

    /// Replaces the record of session `id`, after a request changed it.
    async fn update(&self, id: &str, record: SessionRecord) -> Result<(), Error>;

    /// Ends session `id`; whether it existed.
    async fn remove(&self, id: &str) -> Result<bool, Error>;

    /// Whether the store can be used now, for readiness probes. Stores
    /// over a network check their connection; memory is always ready.
    ///
    /// # Errors
    /// [`Error::Unavailable`] saying why not.
    async fn ready(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Sessions in this process's memory, with idle expiry and a cap.
#[derive(Debug)]
pub struct MemorySessionStore {
    idle: Duration,
    max: usize,
    sessions: Mutex<FastMap<String, (SessionRecord, Instant)>>,
}

impl MemorySessionStore {
    /// At most `max` sessions, each forgotten after `idle` unused.
    pub fn new(max: usize, idle: Duration) -> Self {
        Self {
            idle,
            max,
            sessions: Mutex::default(),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, FastMap<String, (SessionRecord, Instant)>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessionStore {
    async fn insert(&self, id: &str, record: SessionRecord) -> Result<bool, Error> {
        let mut sessions = self.sessions();
        // Expired sessions only go when room is needed: lookups already
        // ignore them.
        if sessions.len() >= self.max {
            sessions.retain(|_, (_, seen)| seen.elapsed() < self.idle);
        }
        let room = sessions.len() < self.max;
        if room {
            sessions.insert(id.to_owned(), (record, Instant::now()));
        }
        Ok(room)
    }

    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, Error> {
        let mut sessions = self.sessions();
        let found = match sessions.get_mut(id) {
            Some((_, seen)) if seen.elapsed() >= self.idle => {
                sessions.remove(id);
                None
            }
            Some((record, seen)) => {
                *seen = Instant::now();
                Some(record.clone())
            }
            None => None,
        };
        Ok(found)
    }

    /// Without copying the record: asked on every request of a session.
    async fn principal(&self, id: &str) -> Result<Option<Option<String>>, Error> {
        let mut sessions = self.sessions();
        Ok(match sessions.get_mut(id) {
            Some((_, seen)) if seen.elapsed() >= self.idle => {
                sessions.remove(id);
                None
            }
            Some((record, seen)) => {
                *seen = Instant::now();
                Some(record.principal.clone())
            }
            None => None,
        })
    }

    async fn update(&self, id: &str, record: SessionRecord) -> Result<(), Error> {
        if let Some(entry) = self.sessions().get_mut(id) {
            *entry = (record, Instant::now());
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<bool, Error> {
        Ok(self.sessions().remove(id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SessionRecord {
        SessionRecord {
            protocol_version: ProtocolVersion::V2025_11_25,
            client_capabilities: ClientCapabilities::default(),
            client_info: Implementation::new("t", "1"),
            initialized: false,
            log_level: None,
            subscriptions: BTreeSet::new(),
            principal: None,
        }
    }

    #[tokio::test]
    async fn full_store_refuses_until_a_session_ends() {
        let store = MemorySessionStore::new(1, Duration::from_secs(60));
        assert!(store.insert("a", record()).await.unwrap());
        assert!(!store.insert("b", record()).await.unwrap());
        assert!(store.remove("a").await.unwrap());
        assert!(store.insert("b", record()).await.unwrap());
        assert!(store.get("b").await.unwrap().is_some());
        assert!(store.get("a").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_principal_is_read_as_get_reads_the_record() {
        let store = MemorySessionStore::new(4, Duration::from_secs(60));
        let mut alice = record();
        alice.principal = Some("alice".into());
        assert!(store.insert("a", alice).await.unwrap());
        assert!(store.insert("anon", record()).await.unwrap());
        assert_eq!(
            store.principal("a").await.unwrap(),
            Some(Some("alice".into()))
        );
        assert_eq!(store.principal("anon").await.unwrap(), Some(None));
        assert_eq!(store.principal("nobody").await.unwrap(), None);
        // Expired sessions are unknown to both, and gone.
        let expiring = MemorySessionStore::new(4, Duration::ZERO);
        assert!(expiring.insert("a", record()).await.unwrap());
        assert_eq!(expiring.principal("a").await.unwrap(), None);
        assert!(expiring.sessions().is_empty());
    }

    #[tokio::test]
    async fn idle_sessions_expire_and_make_room() {
        let store = MemorySessionStore::new(1, Duration::ZERO);
        assert!(store.insert("a", record()).await.unwrap());
        assert!(store.get("a").await.unwrap().is_none());
        assert!(store.insert("a", record()).await.unwrap());
        assert!(store.insert("b", record()).await.unwrap());
    }
}
