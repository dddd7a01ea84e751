//! Where a connection stands in the legacy lifecycle: `initialize`
//! settles its version and the client's capabilities,
//! `notifications/initialized` opens it to server requests; its log level
//! and subscriptions live with it, and a session store keeps all of it as
//! a [`SessionRecord`](crate::store::SessionRecord). This is state only: the dispatcher reads and
//! changes it, the connection owns it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use mcp_core::lifecycle::InitializeParams;
use mcp_core::logging::LoggingLevel;
use mcp_core::version::negotiate;
use mcp_core::{ClientCapabilities, Era, ErrorObject, Implementation, ProtocolVersion};

use super::peer::Peer;
#[cfg(feature = "http")]
use crate::store::SessionRecord;

/// The era and facts a request is served under.
pub(crate) struct Served {
    pub(crate) era: Era,
    pub(crate) version: ProtocolVersion,
    pub(crate) client_capabilities: Arc<ClientCapabilities>,
    pub(crate) client_info: Option<Arc<Implementation>>,
    pub(crate) log_level: Option<mcp_core::logging::LoggingLevel>,
}

/// Where a legacy session stands.
#[derive(Debug, Default)]
struct Legacy {
    /// Set by `initialize`.
    version: Option<ProtocolVersion>,
    client_capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    /// Set by `notifications/initialized`.
    initialized: bool,
    log_level: Option<LoggingLevel>,
    subscriptions: BTreeSet<String>,
    /// The subscriptions this process's handler accepted (not those of a
    /// session taken up from a store), reported to it when they end.
    accepted: BTreeSet<String>,
    /// Counts changes, so a session store is written only when needed.
    generation: u64,
}

/// The state of one connection that requests read and change: its legacy
/// lifecycle, and the requests it sends the client.
pub(crate) struct SessionState {
    legacy: Mutex<Legacy>,
    peer: Peer,
}

impl SessionState {
    pub(crate) fn new(peer: Peer) -> Self {
        Self {
            legacy: Mutex::default(),
            peer,
        }
    }

    /// Requests to the client, and their pending answers.
    pub(crate) fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The session state, to change it.
    fn legacy_mut(&self) -> std::sync::MutexGuard<'_, Legacy> {
        let mut legacy = lock(&self.legacy);
        legacy.generation += 1;
        legacy
    }

    /// The facts a request without a modern `_meta` is served under, once
    /// `initialize` settled them.
    pub(crate) fn served_legacy(&self) -> Option<Served> {
        let legacy = lock(&self.legacy);
        Some(Served {
            era: Era::Legacy,
            version: legacy.version.clone()?,
            client_capabilities: legacy.client_capabilities.clone(),
            client_info: legacy.client_info.clone(),
            log_level: legacy.log_level,
        })
    }

    /// `initialize`: settles the version (one of `supported`) and what the
    /// client is; the version agreed.
    pub(crate) fn initialize(
        &self,
        params: InitializeParams,
        supported: &[ProtocolVersion],
    ) -> Result<ProtocolVersion, ErrorObject> {
        let mut legacy = self.legacy_mut();
        if legacy.version.is_some() {
            return Err(ErrorObject::invalid_request(
                "the session is already initialized",
            ));
        }
        let version = negotiate::server_initialize(&params.protocol_version, supported)
            .ok_or_else(|| {
                ErrorObject::unsupported_protocol_version(
                    params.protocol_version.as_str(),
                    supported.iter().map(ProtocolVersion::as_str),
                )
            })?;
        legacy.version = Some(version.clone());
        legacy.client_capabilities = Arc::new(params.capabilities);
        legacy.client_info = Some(Arc::new(params.client_info));
        Ok(version)
    }

    /// `notifications/initialized`: whether it opened the session now.
    pub(crate) fn mark_initialized(&self) -> bool {
        let mut legacy = self.legacy_mut();
        let ready = legacy.version.is_some() && !legacy.initialized;
        legacy.initialized |= ready;
        ready
    }

    pub(crate) fn set_log_level(&self, level: LoggingLevel) {
        self.legacy_mut().log_level = Some(level);
    }

    /// Whether this process's handler accepted the session's
    /// subscription to `uri` (one taken up from a store was not: it is
    /// asked again).
    pub(crate) fn accepted(&self, uri: &str) -> bool {
        lock(&self.legacy).accepted.contains(uri)
    }

    /// Whether a subscription to `uri` would be over the session's `max`.
    pub(crate) fn over_limit(&self, uri: &str, max: usize) -> Option<ErrorObject> {
        let legacy = lock(&self.legacy);
        (legacy.subscriptions.len() >= max && !legacy.subscriptions.contains(uri)).then(|| {
            ErrorObject::invalid_request(format!(
                "at most {max} resource subscriptions per session"
            ))
        })
    }

    /// Subscribes to `uri`, which the handler accepted, unless the session
    /// holds `max` already; whether the handler's acceptance is kept (an
    /// acceptance not kept is to be reported to it as ended).
    pub(crate) fn subscribe(&self, uri: String, max: usize) -> Result<bool, ErrorObject> {
        if let Some(e) = self.over_limit(&uri, max) {
            return Err(e);
        }
        let mut legacy = self.legacy_mut();
        legacy.subscriptions.insert(uri.clone());
        Ok(legacy.accepted.insert(uri))
    }

    /// Ends the subscription to `uri`; whether the handler accepted it
    /// here (and is to hear that it ended).
    pub(crate) fn unsubscribe(&self, uri: &str) -> bool {
        let mut legacy = self.legacy_mut();
        legacy.subscriptions.remove(uri);
        legacy.accepted.remove(uri)
    }

    /// The subscriptions the handler accepted here, taken: the connection
    /// ends.
    pub(crate) fn take_accepted(&self) -> BTreeSet<String> {
        std::mem::take(&mut lock(&self.legacy).accepted)
    }

    /// Whether an update of `uri` concerns a subscription of the session.
    pub(crate) fn subscribed_to(&self, uri: &str) -> bool {
        lock(&self.legacy)
            .subscriptions
            .iter()
            .any(|s| covers(s, uri))
    }

    /// The legacy session as a store keeps it, with its change count;
    /// `None` before `initialize`.
    #[cfg(feature = "http")]
    pub(crate) fn record(&self) -> Option<(u64, SessionRecord)> {
        let legacy = lock(&self.legacy);
        let record = SessionRecord {
            protocol_version: legacy.version.clone()?,
            client_capabilities: ClientCapabilities::clone(&legacy.client_capabilities),
            client_info: Implementation::clone(legacy.client_info.as_deref()?),
            initialized: legacy.initialized,
            log_level: legacy.log_level,
            subscriptions: legacy.subscriptions.clone(),
            principal: None,
        };
        Some((legacy.generation, record))
    }

    /// Takes up a session another instance (or an earlier connection)
    /// started: whether it was initialized, and the subscriptions this
    /// process's handler accepted that the record no longer holds (ended
    /// on another instance).
    #[cfg(feature = "http")]
    pub(crate) fn restore(&self, record: SessionRecord) -> (bool, Vec<String>) {
        let initialized = record.initialized;
        let mut legacy = lock(&self.legacy);
        // What the handler here accepted stays accepted while the session
        // still holds it, whoever wrote the record.
        let (accepted, ended): (BTreeSet<String>, Vec<String>) = {
            let (kept, ended): (Vec<String>, Vec<String>) = std::mem::take(&mut legacy.accepted)
                .into_iter()
                .partition(|uri| record.subscriptions.contains(uri));
            (kept.into_iter().collect(), ended)
        };
        *legacy = Legacy {
            version: Some(record.protocol_version),
            client_capabilities: Arc::new(record.client_capabilities),
            client_info: Some(Arc::new(record.client_info)),
            initialized,
            log_level: record.log_level,
            subscriptions: record.subscriptions,
            accepted,
            generation: 0,
        };
        (initialized, ended)
    }

    /// The version `initialize` settled on.
    pub(crate) fn legacy_version(&self) -> Option<ProtocolVersion> {
        lock(&self.legacy).version.clone()
    }

    /// How many times the session state changed.
    #[cfg(feature = "http")]
    pub(crate) fn generation(&self) -> u64 {
        lock(&self.legacy).generation
    }

    /// Whether messages may come as JSON-RPC batches (a 2025-03-26
    /// session).
    pub(crate) fn allows_batches(&self) -> bool {
        lock(&self.legacy)
            .version
            .as_ref()
            .is_some_and(ProtocolVersion::allows_batches)
    }
}

/// Whether a subscription to `subscribed` covers an update of `uri`
/// (the URI itself or a sub-resource of it).
pub(super) fn covers(subscribed: &str, uri: &str) -> bool {
    uri == subscribed
        || uri
            .strip_prefix(subscribed)
            .is_some_and(|rest| subscribed.ends_with('/') || rest.starts_with('/'))
}

/// A lock whose poisoning is ignored: every operation under these locks is
/// a single insert, remove or replace, which a panic cannot leave half
/// done.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
