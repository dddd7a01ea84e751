//! Where rate-limit state lives: the backend trait, the GCRA step every
//! backend computes, and the in-memory backend.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
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

/// Buckets in this process's memory, in shards so that callers do not
/// wait on one lock. Buckets that have refilled are dropped as they are
/// found; at `max_keys` the bucket nearest to full goes first (it forgives
/// the least).
#[derive(Debug)]
pub struct MemoryRateLimitStore {
    shards: Box<[Mutex<HashMap<String, Tat>>]>,
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

    fn shard_of(&self, key: &str) -> usize {
        usize::try_from(self.hasher.hash_one(key)).unwrap_or_default() % SHARDS
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

#[async_trait::async_trait]
impl RateLimitStore for MemoryRateLimitStore {
    async fn spend(&self, spends: &[Spend<'_>], now: SystemTime) -> Result<Vec<Decision>, Error> {
        // The shards involved, locked in index order so that two requests
        // never wait on each other's locks.
        let of_spend: Vec<usize> = spends.iter().map(|s| self.shard_of(s.key)).collect();
        let mut wanted = of_spend.clone();
        wanted.sort_unstable();
        wanted.dedup();
        let mut guards: Vec<MutexGuard<'_, HashMap<String, Tat>>> = self
            .shards
            .iter()
            .enumerate()
            .filter(|(i, _)| wanted.binary_search(i).is_ok())
            .map(|(_, shard)| lock(shard))
            .collect();
        // Each spend's guard.
        let at: Vec<usize> = of_spend
            .iter()
            .map(|i| wanted.binary_search(i).unwrap_or_default())
            .collect();
        let mut decisions = Vec::with_capacity(spends.len());
        let mut next = Vec::with_capacity(spends.len());
        for (spend, &g) in spends.iter().zip(&at) {
            let tat = guards.get(g).and_then(|map| map.get(spend.key)).copied();
            let (decision, after) = gcra(tat, now, spend.quota, spend.cost);
            decisions.push(decision);
            next.push(after);
        }
        if decisions.iter().all(|d| d.allowed) {
            let now = nanos(now);
            for ((spend, &g), after) in spends.iter().zip(&at).zip(next) {
                let (Some(map), Some(after)) = (guards.get_mut(g), after) else {
                    continue;
                };
                if let Some(tat) = map.get_mut(spend.key) {
                    *tat = after;
                    continue;
                }
                if map.len() >= self.max_keys_per_shard {
                    make_room(map, now, self.max_keys_per_shard);
                }
                map.insert(spend.key.to_owned(), after);
            }
        }
        Ok(decisions)
    }
}

/// Drops the buckets that are full again (their state is in the past);
/// if that frees nothing, the one nearest to full.
fn make_room(map: &mut HashMap<String, Tat>, now: u64, max: usize) {
    map.retain(|_, tat| *tat > now);
    if map.len() < max {
        return;
    }
    if let Some(nearest) = map
        .iter()
        .min_by_key(|(_, tat)| **tat)
        .map(|(k, _)| k.clone())
    {
        map.remove(&nearest);
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
