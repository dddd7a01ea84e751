//! Per-client quotas: how much of what all clients share (legacy
//! sessions, requests in flight, subscription streams) one client may
//! hold, so that no client can starve the others.
//!
//! A client is its authenticated principal when a layer vouched for one,
//! else its network address (an IPv6 client by its /64, which is what one
//! host is usually given); a request with neither has no quota, only the
//! global limits.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::fast_map::FastMap;

/// Who a quota is counted for.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Hashed with one write per key (the derived hash writes an address
/// byte by byte, seven SipHash rounds per request). Equal keys hash
/// equally; an IPv4 address and its IPv6 spelling may collide, which a
/// map tolerates.
impl std::hash::Hash for ClientKey {
    fn hash<S: std::hash::Hasher>(&self, state: &mut S) {
        match self {
            Self::Principal(principal) => principal.hash(state),
            Self::Address(IpAddr::V4(v4)) => state.write_u128(u128::from(u32::from(*v4))),
            Self::Address(IpAddr::V6(v6)) => state.write_u128(u128::from(*v6)),
        }
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

/// What one client holds now. Counted with atomics: the map is looked up
/// once per HTTP request (to find this), not per slot taken or returned.
#[derive(Debug, Default)]
struct Held([AtomicUsize; 3]);

impl Held {
    fn count(&self, kind: Kind) -> &AtomicUsize {
        let [sessions, in_flight, listens] = &self.0;
        match kind {
            Kind::Sessions => sessions,
            Kind::InFlight => in_flight,
            Kind::Listens => listens,
        }
    }
}

/// Shards: finding a client's counts locks one shard, so clients rarely
/// wait for each other. (A concurrent map crate would do the same with
/// more code than this needs.)
const SHARDS: usize = 16;

/// The clients holding something. Each entry is weak: it lives as long as
/// a request, a session or a stream of the client does, so the map is as
/// large as the set of clients active now (dead entries are swept as the
/// map grows).
#[derive(Debug)]
pub(crate) struct Quotas {
    limits: Limits,
    hasher: foldhash::fast::RandomState,
    shards: [Mutex<Shard>; SHARDS],
}

#[derive(Debug, Default)]
struct Shard {
    clients: FastMap<ClientKey, Weak<Held>>,
    /// The size at which dead entries are next swept.
    sweep_at: usize,
}

impl Quotas {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            hasher: foldhash::fast::RandomState::default(),
            shards: std::array::from_fn(|_| Mutex::default()),
        })
    }

    /// The counts of `key`, created if it holds nothing yet.
    fn held(&self, key: &ClientKey) -> Arc<Held> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or_default();
        // Every operation is one lookup or insert: a panic cannot leave
        // the map inconsistent.
        let mut shard = self
            .shards
            .get(index)
            .unwrap_or(&self.shards[0])
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = shard.clients.get(key).and_then(Weak::upgrade) {
            return held;
        }
        if shard.clients.len() >= shard.sweep_at {
            shard.clients.retain(|_, held| held.strong_count() > 0);
            shard.sweep_at = (shard.clients.len() * 2).max(64);
        }
        let held = Arc::new(Held::default());
        shard.clients.insert(key.clone(), Arc::downgrade(&held));
        held
    }
}

/// One unit of a client's quota, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    held: Arc<Held>,
    kind: Kind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.held.count(self.kind).fetch_sub(1, Ordering::AcqRel);
    }
}

/// A client's quotas, as a request carries them.
#[derive(Debug, Clone)]
pub(crate) struct ClientQuota {
    held: Arc<Held>,
    limits: Limits,
}

impl ClientQuota {
    /// The quota of the request with these extensions, if it has a
    /// client to count for.
    pub(crate) fn of(quotas: &Arc<Quotas>, extensions: &http::Extensions) -> Option<Self> {
        let key = ClientKey::of(extensions)?;
        Some(Self {
            held: quotas.held(&key),
            limits: quotas.limits,
        })
    }

    /// One more `kind`, or the limit the client is at.
    pub(crate) fn take(&self, kind: Kind) -> Result<Slot, usize> {
        let limit = self.limits.of(kind);
        self.held
            .count(kind)
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map_err(|_| limit)?;
        Ok(Slot {
            held: Arc::clone(&self.held),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(quotas: &Arc<Quotas>, key: &ClientKey) -> ClientQuota {
        ClientQuota {
            held: quotas.held(key),
            limits: quotas.limits,
        }
    }

    #[test]
    fn slots_are_counted_per_client_and_given_back() {
        let quotas = Quotas::new(Limits {
            sessions: 2,
            in_flight: 1,
            listens: 1,
        });
        let a = || client(&quotas, &ClientKey::Address("10.0.0.1".parse().unwrap()));
        let b = client(&quotas, &ClientKey::Principal(Arc::from("bob")));
        let one = a().take(Kind::Sessions).unwrap();
        let _two = a().take(Kind::Sessions).unwrap();
        assert_eq!(a().take(Kind::Sessions).unwrap_err(), 2);
        // Another client, and another kind, are not affected.
        let _b = b.take(Kind::Sessions).unwrap();
        let _f = a().take(Kind::InFlight).unwrap();
        drop(one);
        let _three = a().take(Kind::Sessions).unwrap();
    }

    #[test]
    fn clients_holding_nothing_leave_no_entry() {
        let quotas = Quotas::new(Limits {
            sessions: 1,
            in_flight: 0,
            listens: 1,
        });
        for i in 0..10_000u32 {
            let key = ClientKey::Address(IpAddr::from(i.to_be_bytes()));
            let quota = client(&quotas, &key);
            drop(quota.take(Kind::Sessions).unwrap());
            assert!(quota.take(Kind::InFlight).is_err());
        }
        let entries: usize = quotas
            .shards
            .iter()
            .map(|s| s.lock().unwrap().clients.len())
            .sum();
        assert!(
            entries <= SHARDS * 128,
            "{entries} entries for no live client"
        );
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
