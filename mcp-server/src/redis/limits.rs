//! Rate-limit buckets on Redis: GCRA in one atomic script over every
//! bucket a request spends from, so that a quota holds across all
//! instances and a request is charged everywhere or nowhere.

use std::time::{Duration, SystemTime};

use redis::Script;

use super::Redis;
use crate::error::Error;
use crate::limit::{Decision, RateLimitStore, Spend};

/// GCRA over several buckets, all or nothing, in microseconds (Lua's
/// numbers are doubles: exact to 2^53, which microseconds since 1970 stay
/// well below). KEYS: the buckets. ARGV: now, then per bucket its
/// emission interval, burst and cost. Returns per bucket
/// `{allowed, remaining, reset, retry_after}` (`retry_after` -1: never), as
/// [`gcra`](crate::limit::gcra) decides; when one is refused none is
/// charged, as the memory store does.
const SPEND: &str = r"
local now = tonumber(ARGV[1])
local out, after, all = {}, {}, true
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 1])
  local burst = tonumber(ARGV[3 * i])
  local cost = tonumber(ARGV[3 * i + 1])
  local depth = interval * burst
  local base = math.max(tonumber(redis.call('GET', key) or now), now)
  local next = base + interval * cost
  local ahead = next - now
  if ahead <= depth then
    after[i] = next
    out[i] = {1, math.floor((depth - ahead) / math.max(interval, 1)), ahead, 0}
  else
    all = false
    local used = base - now
    local retry = -1
    if interval * cost <= depth then retry = ahead - depth end
    out[i] = {0, math.floor(math.max(depth - used, 0) / math.max(interval, 1)), used, retry}
  end
end
if all then
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, after[i], 'PX', math.floor((after[i] - now) / 1000) + 1)
  end
end
return out
";

/// Rate-limit buckets on Redis, shared by every instance that uses the
/// same Redis and prefix. Made by [`Redis::rate_limits`].
///
/// Times come from each instance's clock (the limiter's): keep instances'
/// clocks in sync (a skew of a second moves a quota's edges by a second).
#[derive(Debug)]
pub struct RedisRateLimitStore {
    redis: Redis,
    spend: Script,
}

impl RedisRateLimitStore {
    pub(super) fn new(redis: Redis) -> Self {
        Self {
            redis,
            spend: Script::new(SPEND),
        }
    }
}

fn micros(t: SystemTime) -> u64 {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait::async_trait]
impl RateLimitStore for RedisRateLimitStore {
    async fn spend(&self, spends: &[Spend<'_>], now: SystemTime) -> Result<Vec<Decision>, Error> {
        if spends.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.spend.prepare_invoke();
        invocation.arg(micros(now));
        for spend in spends {
            invocation.key(self.redis.key(&format!("rl:{}", spend.key)));
            let interval = spend.quota.interval_nanos() / 1000;
            invocation
                .arg(interval.max(1))
                .arg(spend.quota.burst())
                .arg(spend.cost);
        }
        let answers: Vec<(i64, i64, i64, i64)> = self
            .redis
            .run(async |conn| invocation.invoke_async(conn).await)
            .await?;
        if answers.len() != spends.len() {
            return Err(Error::Unavailable(
                "Redis: a rate-limit answer of the wrong length".to_owned(),
            ));
        }
        let micros = |n: i64| Duration::from_micros(u64::try_from(n).unwrap_or_default());
        Ok(answers
            .into_iter()
            .map(|(allowed, remaining, reset, retry)| Decision {
                allowed: allowed == 1,
                remaining: u32::try_from(remaining).unwrap_or(0),
                reset: micros(reset),
                retry_after: (allowed != 1 && retry >= 0).then(|| micros(retry)),
            })
            .collect())
    }

    async fn ready(&self) -> Result<(), Error> {
        self.redis.ping().await
    }
}
