//! Legacy sessions on Redis: each record a JSON string that expires after
//! the idle time (renewed by every use), and an index of ids by expiry
//! that holds the cap. Each operation is one round trip.

use std::time::{Duration, SystemTime};

use redis::Script;

use super::{Redis, ms, unix_ms};
use crate::error::Error;
use crate::store::{SessionRecord, SessionStore};

/// Stores a session when there is room. KEYS: record, index. ARGV: id,
/// record, now (ms), idle (ms), cap.
const INSERT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
return 1
";

/// Reads a session and marks it used. KEYS: record, index. ARGV: id, now
/// (ms), idle (ms).
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

/// Replaces a live session's record. KEYS: record, index. ARGV: id,
/// record, now (ms), idle (ms).
const UPDATE: &str = r"
if redis.call('SET', KEYS[1], ARGV[2], 'XX', 'PX', ARGV[4]) then
  redis.call('ZADD', KEYS[2], 'XX', tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
end
return 1
";

/// Ends a session. KEYS: record, index. ARGV: id.
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

    fn record_key(&self, id: &str) -> String {
        self.redis.key(&format!("{{{id}}}:session"))
    }
}

fn encode(record: &SessionRecord) -> Result<String, Error> {
    serde_json::to_string(record).map_err(|e| Error::Unavailable(format!("a session record: {e}")))
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn insert(&self, id: &str, record: SessionRecord) -> Result<bool, Error> {
        let record = encode(&record)?;
        let key = self.record_key(id);
        let now = unix_ms(SystemTime::now());
        let stored: i64 = self
            .redis
            .run(async |conn| {
                self.scripts
                    .insert
                    .key(&key)
                    .key(&self.index)
                    .arg(id)
                    .arg(&record)
                    .arg(now)
                    .arg(ms(self.idle))
                    .arg(self.max)
                    .invoke_async(conn)
                    .await
            })
            .await?;
        Ok(stored == 1)
    }

    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, Error> {
        let key = self.record_key(id);
        let now = unix_ms(SystemTime::now());
        let found: Option<String> = self
            .redis
            .run(async |conn| {
                self.scripts
                    .get
                    .key(&key)
                    .key(&self.index)
                    .arg(id)
                    .arg(now)
                    .arg(ms(self.idle))
                    .invoke_async(conn)
                    .await
            })
            .await?;
        // A record this version cannot read is a session it cannot serve:
        // its client starts a new one.
        Ok(found.and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn update(&self, id: &str, record: SessionRecord) -> Result<(), Error> {
        let record = encode(&record)?;
        let key = self.record_key(id);
        let now = unix_ms(SystemTime::now());
        self.redis
            .run(async |conn| {
                self.scripts
                    .update
                    .key(&key)
                    .key(&self.index)
                    .arg(id)
                    .arg(&record)
                    .arg(now)
                    .arg(ms(self.idle))
                    .invoke_async::<i64>(conn)
                    .await
            })
            .await
            .map(drop)
    }

    async fn remove(&self, id: &str) -> Result<bool, Error> {
        let key = self.record_key(id);
        let removed: i64 = self
            .redis
            .run(async |conn| {
                self.scripts
                    .remove
                    .key(&key)
                    .key(&self.index)
                    .arg(id)
                    .invoke_async(conn)
                    .await
            })
            .await?;
        Ok(removed == 1)
    }

    async fn ready(&self) -> Result<(), Error> {
        self.redis.ping().await
    }
}
