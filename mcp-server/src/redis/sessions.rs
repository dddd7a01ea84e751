//! Legacy sessions on Redis: each record a JSON string that expires after
//! the idle time (renewed by every use), and an index of ids by expiry
//! that holds the cap. Each operation is one round trip.

use std::time::{Duration, SystemTime};

use redis::Script;

use super::{Redis, ms, unix_ms, well_formed};
use crate::error::Error;
use crate::store::{SessionRecord, SessionStore};

// Every script takes KEYS: the record, the index; ARGV: the id, now (ms),
// the idle time (ms), the record (or empty), the cap.

/// Stores a session when there is room.
const INSERT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return 1
";

/// Reads a session and marks it used.
const GET: &str = r"
local record = redis.call('GET', KEYS[1])
if not record then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 'XX', tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return record
";

/// Replaces a live session's record.
const UPDATE: &str = r"
if redis.call('SET', KEYS[1], ARGV[4], 'XX', 'PX', ARGV[3]) then
  redis.call('ZADD', KEYS[2], 'XX', tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
end
return 1
";

/// Ends a session.
const REMOVE: &str = r"
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
";

/// Legacy sessions on Redis, shared by every instance that uses the same
/// Redis and prefix. Made by [`Redis::sessions`].
#[derive(Debug)]
pub struct RedisSessionStore {
    redis: Redis,
    max: usize,
    idle: Duration,
    index: String,
    scripts: Scripts,
}

#[derive(Debug)]
struct Scripts {
    insert: Script,
    get: Script,
    update: Script,
    remove: Script,
}

impl RedisSessionStore {
    pub(super) fn new(redis: Redis, max: usize, idle: Duration) -> Self {
        Self {
            index: redis.key("sessions"),
            redis,
            max,
            idle,
            scripts: Scripts {
                insert: Script::new(INSERT),
                get: Script::new(GET),
                update: Script::new(UPDATE),
                remove: Script::new(REMOVE),
            },
        }
    }

    /// Runs `script` for session `id`, with `record` when it writes one.
    async fn call<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        id: &str,
        record: Option<&SessionRecord>,
    ) -> Result<T, Error> {
        let record = match record {
            Some(record) => serde_json::to_string(record)
                .map_err(|e| Error::Unavailable(format!("a session record: {e}")))?,
            None => String::new(),
        };
        let key = self.redis.session_key(id, "session");
        let now = unix_ms(SystemTime::now());
        self.redis
            .run(async |conn| {
                script
                    .key(&key)
                    .key(&self.index)
                    .arg(id)
                    .arg(now)
                    .arg(ms(self.idle))
                    .arg(&record)
                    .arg(self.max)
                    .invoke_async(conn)
                    .await
            })
            .await
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn insert(&self, id: &str, record: SessionRecord) -> Result<bool, Error> {
        if !well_formed(id) {
            return Err(Error::Unavailable(
                "a session id the Redis store cannot key".to_owned(),
            ));
        }
        let stored: i64 = self.call(&self.scripts.insert, id, Some(&record)).await?;
        Ok(stored == 1)
    }

    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, Error> {
        if !well_formed(id) {
            return Ok(None);
        }
        let found: Option<String> = self.call(&self.scripts.get, id, None).await?;
        // A record this version cannot read is a session it cannot serve:
        // its client starts a new one.
        Ok(found.and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn update(&self, id: &str, record: SessionRecord) -> Result<(), Error> {
        if !well_formed(id) {
            return Ok(());
        }
        self.call::<i64>(&self.scripts.update, id, Some(&record))
            .await
            .map(drop)
    }

    async fn remove(&self, id: &str) -> Result<bool, Error> {
        if !well_formed(id) {
            return Ok(false);
        }
        let removed: i64 = self.call(&self.scripts.remove, id, None).await?;
        Ok(removed == 1)
    }

    async fn ready(&self) -> Result<(), Error> {
        self.redis.ping().await
    }
}
