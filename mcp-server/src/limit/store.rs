//! Where rate-limit state lives: the backend trait, the GCRA step every
//! backend computes, and the in-memory backend.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use super::Quota;
use crate::Error;

/// One quota to spend from: `cost` units of `quota` for `key`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Spend<'a> {
    /// Whose bucket: the policy's name and the caller, joined.
    pub key: &'a str,
    /// The bucket's size and refill rate.
    pub quota: Quota,
    /// Units this request takes (1 unless a cost was configured).
    pub cost: u32,
}

impl<'a> Spend<'a> {
    /// `cost` units of `quota` from bucket `key`: what a store is asked,
    /// for testing a store of your own.
    pub fn new(key: &'a str, quota: Quota, cost: u32) -> Self {
        Self { key, quota, cost }
    }
}

/// What spending from one quota came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// Whether the units were there.
    pub allowed: bool,
    /// Units left after this request (or now, when refused).
    pub remaining: u32,
    /// How long until the bucket is full again.
    pub reset: Duration,
    /// When refused, how long until the request would be allowed; `None`
    /// when it never would (it costs more than the whole quota).
    pub retry_after: Option<Duration>,
}

/// Theoretical arrival times: the whole state of a GCRA bucket, in
/// nanoseconds since the Unix epoch.
pub type Tat = u64;

/// One GCRA step: spending `cost` of `quota` from a bucket whose state is
/// `tat` (`None` for a full bucket), at `now`. Returns the decision and,
/// when allowed, the bucket's new state. Every backend computes exactly
/// this, so that limits mean the same in memory and in a shared store.
pub fn gcra(tat: Option<Tat>, now: SystemTime, quota: Quota, cost: u32) -> (Decision, Option<Tat>) {
    let now = nanos(now);
    let interval = quota.interval_nanos();
    // How far ahead of `now` the bucket's state may run: `burst` requests.
    let depth = interval.saturating_mul(u64::from(quota.burst()));
    let base = tat.unwrap_or(now).max(now);
    let after = base.saturating_add(interval.saturating_mul(u64::from(cost)));
    let ahead = after - now;
    let units = |room: u64| u32::try_from(room / interval.max(1)).unwrap_or(u32::MAX);
    if ahead <= depth {
        let decision = Decision {
            allowed: true,
            remaining: units(depth - ahead),
            reset: Duration::from_nanos(ahead),
            retry_after: None,
        };
        return (decision, Some(after));
    }
    let used = base - now;
    let never = u64::from(cost).saturating_mul(interval) > depth;
    let decision = Decision {
        allowed: false,
        remaining: units(depth.saturating_sub(used)),
        reset: Duration::from_nanos(used),
        retry_after: (!never).then(|| Duration::from_nanos(ahead - depth)),
    };
    (decision, None)
}

fn nanos(t: SystemTime) -> u64 {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// Where rate-limit buckets are kept. [`MemoryRateLimitStore`] is the
/// default; a store shared by several instances (Redis) makes a quota
/// hold across all of them.
///
/// A request spends from every quota that applies to it at once: a
/// store applies all of `spends` or none (when one is refused, the others
/// are not charged), each by [`gcra`].
#[async_trait::async_trait]
pub trait RateLimitStore: Send + Sync + fmt::Debug + 'static {
    /// Spends from each bucket of `spends` at `now`, all or nothing; one
    /// decision per spend, in order.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the store cannot be reached: the request
    /// is refused as unavailable (503), never let through unchecked.
    async fn spend(&self, spends: &[Spend<'_>], now: SystemTime) -> Result<Vec<Decision>, Error>;

    /// Whether the store can be used now, for readiness probes.
    ///
    /// # Errors
    /// [`Error::Unavailable`] saying why not.
    async fn ready(&self) -> Result<(), Error> {
        Ok(())
    }
}

const SHARDS: usize = 16;

/// One shard's buckets, found by a keyed hash of their key computed once
/// per spend (it also picks the shard); keys that share a hash sit side by
/// side.
type Shard = HashMap<u64, Vec<(Box<str>, Tat)>, BuildHasherDefault<Prehashed>>;

/// A hasher for keys that are already keyed hashes.
#[derive(Default)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Buckets in this process's memory, in shards so that callers do not
/// wait on one lock. Buckets that have refilled are dropped as they are
/// found; at `max_keys` the bucket nearest to full goes first (it forgives
/// the least).
#[derive(Debug)]
pub struct MemoryRateLimitStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: std::hash::RandomState,
    max_keys_per_shard: usize,
}

impl MemoryRateLimitStore {
    /// A store holding at most `max_keys` buckets (one per caller and
    /// policy).
    pub fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: std::hash::RandomState::new(),
            max_keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
        }
    }

    /// The keyed hash of `key`, and the shard it picks.
    fn locate(&self, key: &str) -> (u64, usize) {
        let hash = self.hasher.hash_one(key);
        (
            hash,
            usize::try_from(hash >> 60).unwrap_or_default() % SHARDS,
        )
    }
}

impl Default for MemoryRateLimitStore {
    /// Room for 100 000 buckets (a few MiB).
    fn default() -> Self {
        Self::new(100_000)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tat_of(shard: &Shard, hash: u64, key: &str) -> Option<Tat> {
    shard
        .get(&hash)
        .and_then(|b| b.iter().find(|(k, _)| &**k == key))
        .map(|(_, tat)| *tat)
}

impl MemoryRateLimitStore {
    fn store(&self, shard: &mut Shard, hash: u64, key: &str, tat: Tat, now: u64) {
        if let Some(entry) = shard
            .get_mut(&hash)
            .and_then(|b| b.iter_mut().find(|(k, _)| &**k == key))
        {
            entry.1 = tat;
            return;
        }
        if shard.len() >= self.max_keys_per_shard {
            make_room(shard, now, self.max_keys_per_shard);
        }
        shard.entry(hash).or_default().push((key.into(), tat));
    }
}

#[async_trait::async_trait]
impl RateLimitStore for MemoryRateLimitStore {
    async fn spend(&self, spends: &[Spend<'_>], now: SystemTime) -> Result<Vec<Decision>, Error> {
        // The common case, one policy: one lock, nothing to coordinate.
        if let [spend] = spends {
            let (hash, shard) = self.locate(spend.key);
            let Some(shard) = self.shards.get(shard) else {
                return Ok(Vec::new());
            };
            let mut shard = lock(shard);
            let tat = tat_of(&shard, hash, spend.key);
            let (decision, after) = gcra(tat, now, spend.quota, spend.cost);
            if let Some(after) = after {
                self.store(&mut shard, hash, spend.key, after, nanos(now));
            }
            return Ok(vec![decision]);
        }
        let at: Vec<(u64, usize)> = spends.iter().map(|s| self.locate(s.key)).collect();
        // The shards involved, locked in index order so that two requests
        // never wait on each other's locks.
        let mut wanted: Vec<usize> = at.iter().map(|(_, shard)| *shard).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut guards: Vec<MutexGuard<'_, Shard>> = self
            .shards
            .iter()
            .enumerate()
            .filter(|(i, _)| wanted.binary_search(i).is_ok())
            .map(|(_, shard)| lock(shard))
            .collect();
        // Each spend's guard.
        let guard_of: Vec<usize> = at
            .iter()
            .map(|(_, shard)| wanted.binary_search(shard).unwrap_or_default())
            .collect();
        let mut decisions = Vec::with_capacity(spends.len());
        let mut next = Vec::with_capacity(spends.len());
        for ((spend, &g), (hash, _)) in spends.iter().zip(&guard_of).zip(&at) {
            let tat = guards
                .get(g)
                .and_then(|shard| tat_of(shard, *hash, spend.key));
            let (decision, after) = gcra(tat, now, spend.quota, spend.cost);
            decisions.push(decision);
            next.push(after);
        }
        if decisions.iter().all(|d| d.allowed) {
            let now = nanos(now);
            for (((spend, &g), (hash, _)), after) in spends.iter().zip(&guard_of).zip(&at).zip(next)
            {
                if let (Some(shard), Some(after)) = (guards.get_mut(g), after) {
                    self.store(shard, *hash, spend.key, after, now);
                }
            }
        }
        Ok(decisions)
    }
}

/// Drops the buckets that are full again (their state is in the past);
/// if that frees nothing, the one nearest to full.
fn make_room(shard: &mut Shard, now: u64, max: usize) {
    shard.retain(|_, bucket| {
        bucket.retain(|(_, tat)| *tat > now);
        !bucket.is_empty()
    });
    if shard.len() < max {
        return;
    }
    let nearest = shard
        .iter()
        .flat_map(|(hash, bucket)| {
            bucket
                .iter()
                .map(move |(key, tat)| (*tat, *hash, key.clone()))
        })
        .min();
    if let Some((_, hash, key)) = nearest
        && let Some(bucket) = shard.get_mut(&hash)
    {
        bucket.retain(|(k, _)| *k != key);
        if bucket.is_empty() {
            shard.remove(&hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    #[test]
    fn a_full_bucket_allows_its_burst_then_one_per_interval() {
        let quota = Quota::per_minute(60);
        let mut tat = None;
        for n in 0..60 {
            let (d, after) = gcra(tat, at(0), quota, 1);
            assert!(d.allowed, "request {n}");
            assert_eq!(d.remaining, 59 - n);
            tat = after;
        }
        let (d, after) = gcra(tat, at(0), quota, 1);
        assert!(!d.allowed);
        assert_eq!(after, None);
        assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(d.reset, Duration::from_secs(60));
        // One interval later, exactly one more.
        let (d, after) = gcra(tat, at(1), quota, 1);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let (d, _) = gcra(after, at(1), quota, 1);
        assert!(!d.allowed);
    }

    #[test]
    fn costs_take_several_units_and_too_costly_never_passes() {
        let quota = Quota::per_hour(40);
        let (d, tat) = gcra(None, at(0), quota, 30);
        assert!(d.allowed);
        assert_eq!(d.remaining, 10);
        let (d, _) = gcra(tat, at(0), quota, 20);
        assert!(!d.allowed);
        // 10 units short, at 90 s per unit.
        assert_eq!(d.retry_after, Some(Duration::from_secs(900)));
        let (d, _) = gcra(None, at(0), quota, 41);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, None);
    }

    #[tokio::test]
    async fn spends_are_all_or_nothing() {
        let store = MemoryRateLimitStore::default();
        let small = Quota::per_minute(1);
        let big = Quota::per_minute(10);
        let spend = |key, quota| Spend {
            key,
            quota,
            cost: 1,
        };
        let both = [spend("big ada", big), spend("small ada", small)];
        let first = store.spend(&both, at(0)).await.unwrap();
        assert!(first.iter().all(|d| d.allowed));
        let second = store.spend(&both, at(0)).await.unwrap();
        assert!(second[0].allowed && !second[1].allowed);
        // The refused request charged neither bucket: `big` has 9 left.
        let big_only = store.spend(&[spend("big ada", big)], at(0)).await.unwrap();
        assert_eq!(big_only[0].remaining, 8);
    }

    #[tokio::test]
    async fn a_full_store_forgets_the_bucket_nearest_to_full() {
        let store = MemoryRateLimitStore::new(SHARDS);
        let quota = Quota::per_minute(1);
        for n in 0..200 {
            let key = format!("caller {n}");
            let d = store
                .spend(
                    &[Spend {
                        key: &key,
                        quota,
                        cost: 1,
                    }],
                    at(n),
                )
                .await
                .unwrap();
            assert!(d[0].allowed);
        }
        let held: usize = store.shards.iter().map(|s| lock(s).len()).sum();
        assert!(held <= 2 * SHARDS, "{held} buckets held");
    }
}
