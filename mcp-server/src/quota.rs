//! Per-client quotas: how much of what all clients share (legacy
//! sessions, requests in flight, subscription streams) one client may
//! hold, so that no client can starve the others.
//!
//! A client is its authenticated principal when a layer vouched for one,
//! else its network address (an IPv6 client by its /64, which is what one
//! host is usually given); a request with neither has no quota, only the
//! global limits.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

/// Who a quota is counted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    /// An authenticated caller.
    Principal(Arc<str>),
    /// An address: IPv4 as is, IPv6 by its /64 prefix.
    Address(IpAddr),
}

impl ClientKey {
    /// The key of the request with these extensions: its principal, else
    /// the peer address the server put there.
    pub(crate) fn of(extensions: &http::Extensions) -> Option<Self> {
        if let Some(principal) = extensions.get::<mcp_core::transport::Principal>() {
            return Some(Self::Principal(Arc::clone(&principal.0)));
        }
        let ip = extensions.get::<SocketAddr>()?.ip();
        Some(Self::Address(match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let [a, b, c, d, ..] = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
                }
            },
        }))
    }
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Legacy (and HTTP+SSE) sessions.
    Sessions,
    /// Requests running.
    InFlight,
    /// `subscriptions/listen` streams.
    Listens,
}

/// How many of each a client may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) sessions: usize,
    pub(crate) in_flight: usize,
    pub(crate) listens: usize,
}

impl Limits {
    fn of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Sessions => self.sessions,
            Kind::InFlight => self.in_flight,
            Kind::Listens => self.listens,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts([usize; 3]);

impl Counts {
    fn slot(&mut self, kind: Kind) -> &mut usize {
        let [sessions, in_flight, listens] = &mut self.0;
        match kind {
            Kind::Sessions => sessions,
            Kind::InFlight => in_flight,
            Kind::Listens => listens,
        }
    }

    fn is_empty(&self) -> bool {
        self.0 == [0; 3]
    }
}

/// Shards: a request takes and returns a slot under one shard's lock,
/// so clients rarely wait for each other. (A concurrent map crate would
/// do the same with more code than this needs.)
const SHARDS: usize = 16;

/// The counts of every client holding something; a client holding
/// nothing has no entry, so the map is as large as the set of clients
/// active now.
#[derive(Debug)]
pub(crate) struct Quotas {
    limits: Limits,
    hasher: std::collections::hash_map::RandomState,
    shards: [Mutex<HashMap<ClientKey, Counts>>; SHARDS],
}

impl Quotas {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            hasher: std::collections::hash_map::RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::default()),
        })
    }

    fn shard(&self, key: &ClientKey) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Counts>> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or_default();
        // Every operation is one insert or update: a panic cannot leave
        // the map inconsistent.
        self.shards
            .get(index)
            .unwrap_or(&self.shards[0])
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One more `kind` for `key`, unless it holds its limit already.
    pub(crate) fn take(self: &Arc<Self>, key: &ClientKey, kind: Kind) -> Result<Slot, usize> {
        let limit = self.limits.of(kind);
        let mut shard = self.shard(key);
        let counts = shard.entry(key.clone()).or_default();
        let held = counts.slot(kind);
        if *held >= limit {
            if counts.is_empty() {
                shard.remove(key);
            }
            return Err(limit);
        }
        *held += 1;
        Ok(Slot {
            quotas: Arc::clone(self),
            key: key.clone(),
            kind,
        })
    }

    fn give_back(&self, key: &ClientKey, kind: Kind) {
        let mut shard = self.shard(key);
        if let Entry::Occupied(mut entry) = shard.entry(key.clone()) {
            let held = entry.get_mut().slot(kind);
            *held = held.saturating_sub(1);
            if entry.get().is_empty() {
                entry.remove();
            }
        }
    }
}

/// One unit of a client's quota, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    quotas: Arc<Quotas>,
    key: ClientKey,
    kind: Kind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.quotas.give_back(&self.key, self.kind);
    }
}

/// A client's quotas, as a request carries them.
#[derive(Debug, Clone)]
pub(crate) struct ClientQuota {
    pub(crate) quotas: Arc<Quotas>,
    pub(crate) key: ClientKey,
}

impl ClientQuota {
    /// The quota of the request with these extensions, if it has a
    /// client to count for.
    pub(crate) fn of(quotas: &Arc<Quotas>, extensions: &http::Extensions) -> Option<Self> {
        Some(Self {
            quotas: Arc::clone(quotas),
            key: ClientKey::of(extensions)?,
        })
    }

    /// One more `kind`, or the limit the client is at.
    pub(crate) fn take(&self, kind: Kind) -> Result<Slot, usize> {
        self.quotas.take(&self.key, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_client_and_given_back() {
        let quotas = Quotas::new(Limits {
            sessions: 2,
            in_flight: 1,
            listens: 1,
        });
        let a = ClientKey::Address("10.0.0.1".parse().unwrap());
        let b = ClientKey::Principal(Arc::from("bob"));
        let one = quotas.take(&a, Kind::Sessions).unwrap();
        let _two = quotas.take(&a, Kind::Sessions).unwrap();
        assert_eq!(quotas.take(&a, Kind::Sessions).unwrap_err(), 2);
        // Another client, and another kind, are not affected.
        let _b = quotas.take(&b, Kind::Sessions).unwrap();
        let _f = quotas.take(&a, Kind::InFlight).unwrap();
        drop(one);
        let _three = quotas.take(&a, Kind::Sessions).unwrap();
    }

    #[test]
    fn clients_holding_nothing_leave_no_entry() {
        let quotas = Quotas::new(Limits {
            sessions: 1,
            in_flight: 0,
            listens: 1,
        });
        for i in 0..1000u32 {
            let key = ClientKey::Address(IpAddr::from(i.to_be_bytes()));
            drop(quotas.take(&key, Kind::Sessions).unwrap());
            assert!(quotas.take(&key, Kind::InFlight).is_err());
        }
        let held: usize = quotas.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert_eq!(held, 0);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let mut ext = http::Extensions::new();
        ext.insert("[2001:db8:1:2:aaaa::1]:443".parse::<SocketAddr>().unwrap());
        let one = ClientKey::of(&ext).unwrap();
        ext.insert("[2001:db8:1:2:bbbb::9]:443".parse::<SocketAddr>().unwrap());
        assert_eq!(ClientKey::of(&ext).unwrap(), one);
        ext.insert("[::ffff:10.0.0.1]:1".parse::<SocketAddr>().unwrap());
        assert_eq!(
            ClientKey::of(&ext).unwrap(),
            ClientKey::Address("10.0.0.1".parse().unwrap())
        );
        ext.insert(mcp_core::transport::Principal(Arc::from("alice")));
        assert_eq!(
            ClientKey::of(&ext).unwrap(),
            ClientKey::Principal(Arc::from("alice"))
        );
    }
}
