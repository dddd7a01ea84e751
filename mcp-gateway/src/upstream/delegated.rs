//! Connections made on behalf of callers, for an upstream that signs in
//! with token exchange: each caller's calls go over a connection of its
//! own, whose tokens are traded from that caller's token, so that the
//! upstream sees (and its sessions belong to) the user, not the gateway.
//! Each connection has its own record of calls in flight, so that what
//! the upstream asks or logs on it can only reach that caller.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mcp_auth::{Identity, VerifiedToken};
use mcp_client::Client;
use mcp_server::RequestContext;
use sha2::{Digest, Sha256};

use super::caller::{Callers, Relay};
use super::{CallError, Upstream, connect};

/// Callers with a connection at once, per upstream. Connections with
/// calls in flight are never closed to make room: a new caller is refused
/// while all are busy.
pub(super) const MAX_CALLERS: usize = 256;
/// A caller's connection unused this long is closed.
pub(super) const IDLE: Duration = Duration::from_secs(600);
/// How long a caller whose sign-in failed is refused without trying again.
pub(super) const FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// One caller's connection.
pub(super) struct Entry {
    pub(super) client: Client,
    /// The calls in flight on this connection only.
    pub(super) callers: Arc<Callers>,
    busy: AtomicUsize,
    used: Mutex<Instant>,
}

/// A call's hold on its connection: while any is held, the connection is
/// neither idle nor evicted.
pub(super) struct Busy(Arc<Entry>);

impl Busy {
    fn new(entry: &Arc<Entry>) -> Self {
        entry.busy.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(entry))
    }

    pub(super) fn entry(&self) -> &Entry {
        &self.0
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *lock(&self.0.used) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Entry {
    fn idle_since(&self, now: Instant) -> Option<Duration> {
        (self.busy.load(Ordering::Acquire) == 0).then(|| now.duration_since(*lock(&self.used)))
    }
}

/// The connections, by the SHA-256 of the caller's token (a token the
/// caller's client refreshed gets a connection of its own; the old one
/// goes idle and is closed), and the callers whose sign-in just failed.
#[derive(Default)]
pub(super) struct Delegated {
    entries: Mutex<HashMap<[u8; 32], Arc<Entry>>>,
    failed: Mutex<HashMap<[u8; 32], Instant>>,
    /// One sign-in at a time per upstream: a burst of new callers cannot
    /// turn into a burst of token exchanges and handshakes.
    pub(super) signing_in: tokio::sync::Mutex<()>,
    /// Sign-ins refused, ever.
    failures: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Delegated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delegated")
            .field("callers", &lock(&self.entries).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The token the caller of `ctx` was authenticated with and its issuer,
/// when it is an OAuth access token (an identity with an issuer: never an
/// API key, which must not reach an authorization server).
pub(super) fn caller_token(ctx: &RequestContext) -> Option<(&VerifiedToken, &str)> {
    let issuer = ctx.extensions().get::<Identity>()?.issuer()?;
    Some((ctx.extensions().get::<VerifiedToken>()?, issuer))
}

/// The key of `token`.
pub(super) fn key(token: &VerifiedToken) -> [u8; 32] {
    Sha256::digest(token.secret().expose().as_bytes()).into()
}

impl Delegated {
    /// The open connection for `key`, held for a call.
    pub(super) fn get(&self, key: &[u8; 32]) -> Option<Busy> {
        let mut entries = lock(&self.entries);
        let entry = entries.get(key)?;
        if entry.client.is_closed() {
            entries.remove(key);
            return None;
        }
        Some(Busy::new(entry))
    }

    /// Whether signing in for `key` failed within [`FAILURE_MEMORY`].
    pub(super) fn failed_recently(&self, key: &[u8; 32]) -> bool {
        let now = Instant::now();
        let mut failed = lock(&self.failed);
        failed.retain(|_, at| now.duration_since(*at) < FAILURE_MEMORY);
        failed.contains_key(key)
    }

    /// Connections open.
    pub(super) fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Sign-ins refused so far.
    pub(super) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Remembers that signing in for `key` failed.
    pub(super) fn failed(&self, key: [u8; 32]) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut failed = lock(&self.failed);
        if failed.len() >= MAX_CALLERS * 4 {
            // Many callers failing at once: forget the oldest half.
            let mut ages: Vec<Instant> = failed.values().copied().collect();
            ages.sort_unstable();
            if let Some(cut) = ages.get(ages.len() / 2).copied() {
                failed.retain(|_, at| *at > cut);
            }
        }
        failed.insert(key, Instant::now());
    }

    /// Keeps `client` for `key`, held for a call; `None` (and `client`
    /// closed) when [`MAX_CALLERS`] connections all have calls in flight;
    /// otherwise the one idle longest is closed to make room.
    pub(super) fn keep(
        &self,
        key: [u8; 32],
        client: Client,
        callers: Arc<Callers>,
    ) -> Option<Busy> {
        let now = Instant::now();
        let mut closing = self.sweep_locked(now);
        let held = {
            let mut entries = lock(&self.entries);
            if entries.len() >= MAX_CALLERS
                && let Some(oldest) = entries
                    .iter()
                    .filter_map(|(k, e)| Some((*k, e.idle_since(now)?)))
                    .max_by_key(|(_, idle)| *idle)
                    .map(|(k, _)| k)
                && let Some(entry) = entries.remove(&oldest)
            {
                closing.push(entry.client.clone());
            }
            if entries.len() >= MAX_CALLERS {
                closing.push(client);
                None
            } else {
                let entry = Arc::new(Entry {
                    client,
                    callers,
                    busy: AtomicUsize::new(0),
                    used: Mutex::new(now),
                });
                let busy = Busy::new(&entry);
                if let Some(old) = entries.insert(key, entry) {
                    closing.push(old.client.clone());
                }
                Some(busy)
            }
        };
        close(closing);
        held
    }

    /// Closes the connections idle for [`IDLE`].
    pub(super) fn sweep(&self) {
        close(self.sweep_locked(Instant::now()));
    }

    fn sweep_locked(&self, now: Instant) -> Vec<Client> {
        let mut closing = Vec::new();
        lock(&self.entries).retain(|_, entry| {
            let stale =
                entry.client.is_closed() || entry.idle_since(now).is_some_and(|idle| idle >= IDLE);
            if stale {
                closing.push(entry.client.clone());
            }
            !stale
        });
        closing
    }
}

fn close(clients: Vec<Client>) {
    if !clients.is_empty() {
        tokio::spawn(async move {
            for client in clients {
                let _ = client.close().await;
            }
        });
    }
}

impl Upstream {
    /// The connection that acts for the caller whose OAuth `token` (of
    /// `issuer`) it is, held for a call: the caller's own, made on first
    /// use, one sign-in at a time, by `deadline`.
    pub(super) async fn on_behalf(
        &self,
        token: &VerifiedToken,
        issuer: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Busy, CallError> {
        let name = self.name();
        let key = key(token);
        if let Some(busy) = self.delegated.get(&key) {
            return Ok(busy);
        }
        let refused = |why: &str| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            CallError::Unavailable(format!("upstream {name}: {why}"))
        };
        let Ok(_signing_in) =
            tokio::time::timeout_at(deadline, self.delegated.signing_in.lock()).await
        else {
            return Err(refused("busy signing in other callers; try again later"));
        };
        // Signed in meanwhile by another call of the same caller, or
        // failed to.
        if let Some(busy) = self.delegated.get(&key) {
            return Ok(busy);
        }
        if self.delegated.failed_recently(&key) {
            return Err(self.refuse_sign_in(name));
        }
        let callers = Arc::new(Callers::default());
        let relay = Relay {
            upstream: name.to_owned(),
            callers: Arc::clone(&callers),
        };
        let connecting = connect::connect(
            &self.config,
            &self.secrets,
            relay,
            Some((token.secret(), issuer)),
        );
        match tokio::time::timeout_at(deadline, connecting).await {
            Ok(Ok(client)) => self
                .delegated
                .keep(key, client, callers)
                .ok_or_else(|| refused("too many callers at once; try again later")),
            Ok(Err(e)) => {
                // The details (token endpoint answers) go to the log.
                tracing::warn!(upstream = name, error = %e, "signing in on a caller's behalf failed");
                self.delegated.failed(key);
                Err(refused("signing in on the caller's behalf failed"))
            }
            // Out of time is the call's, not the caller's: not remembered.
            Err(_) => Err(refused(
                "signing in on the caller's behalf took too long; try again later",
            )),
        }
    }

    /// The refusal of a caller whose sign-in failed a moment ago.
    pub(super) fn refuse_sign_in(&self, name: &str) -> CallError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        CallError::Unavailable(format!(
            "upstream {name}: signing in on the caller's behalf failed a moment ago; try again later"
        ))
    }
}
