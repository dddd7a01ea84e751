//! Connections made on behalf of callers, for an upstream that signs in
//! with token exchange: each caller's calls go over a connection of its
//! own, whose tokens are traded from that caller's token, so that the
//! upstream sees (and its sessions belong to) the user, not the gateway.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mcp_auth::{Identity, VerifiedToken};
use mcp_client::Client;
use mcp_server::RequestContext;
use sha2::{Digest, Sha256};

/// Callers with a connection at once, per upstream; the least recently
/// used is closed to make room.
pub(super) const MAX_CALLERS: usize = 256;
/// A caller's connection unused this long is closed.
pub(super) const IDLE: Duration = Duration::from_secs(600);

/// The connections, by the SHA-256 of the caller's token (a token the
/// caller's client refreshed gets a connection of its own; the old one
/// goes idle and is closed).
#[derive(Default)]
pub(super) struct Delegated {
    clients: Mutex<HashMap<[u8; 32], (Client, Instant)>>,
}

impl std::fmt::Debug for Delegated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delegated")
            .field("callers", &self.lock().len())
            .finish()
    }
}

/// The token the caller of `ctx` was authenticated with, when it is an
/// OAuth access token (an identity with an issuer: never an API key, which
/// must not reach an authorization server).
pub(super) fn caller_token(ctx: &RequestContext) -> Option<&VerifiedToken> {
    let identity = ctx.extensions().get::<Identity>()?;
    identity.issuer()?;
    ctx.extensions().get::<VerifiedToken>()
}

/// The key of `token`.
pub(super) fn key(token: &VerifiedToken) -> [u8; 32] {
    Sha256::digest(token.secret().expose().as_bytes()).into()
}

impl Delegated {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Client, Instant)>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection for `key`, marked used.
    pub(super) fn get(&self, key: &[u8; 32]) -> Option<Client> {
        let mut clients = self.lock();
        let (client, used) = clients.get_mut(key)?;
        if client.is_closed() {
            clients.remove(key);
            return None;
        }
        *used = Instant::now();
        Some(client.clone())
    }

    /// Keeps `client` for `key` and returns the connection to use: one
    /// made meanwhile by another call of the same caller wins, and
    /// `client` is closed. Idle connections are closed, and the least
    /// recently used when there are [`MAX_CALLERS`].
    pub(super) fn keep(&self, key: [u8; 32], client: Client) -> Client {
        let now = Instant::now();
        let mut closing = Vec::new();
        let kept = {
            let mut clients = self.lock();
            if let Some((existing, used)) = clients.get_mut(&key)
                && !existing.is_closed()
            {
                *used = now;
                closing.push(client);
                existing.clone()
            } else {
                clients.retain(|_, (c, used)| {
                    let keep = !c.is_closed() && now.duration_since(*used) < IDLE;
                    if !keep {
                        closing.push(c.clone());
                    }
                    keep
                });
                if clients.len() >= MAX_CALLERS
                    && let Some(oldest) = clients
                        .iter()
                        .min_by_key(|(_, (_, used))| *used)
                        .map(|(k, _)| *k)
                    && let Some((c, _)) = clients.remove(&oldest)
                {
                    closing.push(c);
                }
                clients.insert(key, (client.clone(), now));
                client
            }
        };
        if !closing.is_empty() {
            tokio::spawn(async move {
                for client in closing {
                    let _ = client.close().await;
                }
            });
        }
        kept
    }
}
