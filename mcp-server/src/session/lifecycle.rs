//! The legacy lifecycle of a connection: `initialize` settles its version
//! and the client's capabilities, `notifications/initialized` opens it to
//! server requests; its log level and subscriptions live with it, and a
//! session store keeps all of it as a [`SessionRecord`].

use std::collections::BTreeSet;
use std::sync::Arc;

use mcp_core::lifecycle::{InitializeParams, InitializeResult};
use mcp_core::logging::LoggingLevel;
use mcp_core::version::negotiate;
use mcp_core::{ClientCapabilities, Era, ErrorObject, Implementation, ProtocolVersion, RequestId};

use super::connection::{Connection, lock};
use super::dispatcher::{Dispatcher, Reply, Served, encode};
use crate::handler::Handler;
use crate::store::SessionRecord;

/// Where a legacy session stands.
#[derive(Debug, Default)]
pub(crate) struct Legacy {
    /// Set by `initialize`.
    version: Option<ProtocolVersion>,
    client_capabilities: Arc<ClientCapabilities>,
    client_info: Option<Arc<Implementation>>,
    /// Set by `notifications/initialized`.
    initialized: bool,
    log_level: Option<LoggingLevel>,
    subscriptions: BTreeSet<String>,
    /// Counts changes, so a session store is written only when needed.
    generation: u64,
}

impl<H: Handler> Connection<H> {
    /// The session state, to change it.
    fn legacy_mut(&self) -> std::sync::MutexGuard<'_, Legacy> {
        let mut legacy = lock(&self.legacy);
        legacy.generation += 1;
        legacy
    }

    /// The facts a request without a modern `_meta` is served under, once
    /// `initialize` settled them.
    pub(super) fn served_legacy(&self) -> Option<Served> {
        let legacy = lock(&self.legacy);
        Some(Served {
            era: Era::Legacy,
            version: legacy.version.clone()?,
            client_capabilities: legacy.client_capabilities.clone(),
            client_info: legacy.client_info.clone(),
            log_level: legacy.log_level,
        })
    }

    /// `initialize`: settles the version and what the client is.
    pub(super) fn initialize(
        &self,
        id: &RequestId,
        params: InitializeParams,
        dispatcher: &Dispatcher<H>,
    ) -> Reply {
        let supported = &dispatcher.options.supported_versions;
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
        drop(legacy);
        let handler = &dispatcher.handler;
        let mut result = InitializeResult::new(version, handler.capabilities(), handler.info());
        result.instructions = handler.instructions();
        encode(id, &result)
    }

    /// `notifications/initialized`: whether it opened the session now.
    pub(super) fn mark_initialized(&self) -> bool {
        let mut legacy = self.legacy_mut();
        let ready = legacy.version.is_some() && !legacy.initialized;
        legacy.initialized |= ready;
        ready
    }

    pub(super) fn set_log_level(&self, level: LoggingLevel) {
        self.legacy_mut().log_level = Some(level);
    }

    /// Subscribes to `uri`, unless the session holds `max` already.
    pub(super) fn subscribe(&self, uri: String, max: usize) -> Result<(), ErrorObject> {
        let mut legacy = self.legacy_mut();
        if legacy.subscriptions.len() >= max && !legacy.subscriptions.contains(&uri) {
            return Err(ErrorObject::invalid_request(format!(
                "at most {max} resource subscriptions per session"
            )));
        }
        legacy.subscriptions.insert(uri);
        Ok(())
    }

    pub(super) fn unsubscribe(&self, uri: &str) {
        self.legacy_mut().subscriptions.remove(uri);
    }

    /// Whether an update of `uri` concerns a subscription of the session.
    pub(super) fn subscribed_to(&self, uri: &str) -> bool {
        lock(&self.legacy)
            .subscriptions
            .iter()
            .any(|s| super::events::covers(s, uri))
    }

    /// The legacy session as a store keeps it, with its change count;
    /// `None` before `initialize`.
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

    /// The version `initialize` settled on.
    pub(crate) fn legacy_version(&self) -> Option<ProtocolVersion> {
        lock(&self.legacy).version.clone()
    }

    /// How many times the session state changed.
    pub(crate) fn generation(&self) -> u64 {
        lock(&self.legacy).generation
    }

    /// Takes up a session another instance (or an earlier connection)
    /// started.
    pub(crate) fn restore(self: &Arc<Self>, record: SessionRecord) {
        let initialized = record.initialized;
        *lock(&self.legacy) = Legacy {
            version: Some(record.protocol_version),
            client_capabilities: Arc::new(record.client_capabilities),
            client_info: Some(Arc::new(record.client_info)),
            initialized,
            log_level: record.log_level,
            subscriptions: record.subscriptions,
            generation: 0,
        };
        if initialized {
            self.peer().set_ready();
            self.start_legacy_events();
        }
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
