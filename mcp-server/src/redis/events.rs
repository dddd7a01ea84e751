//! Events of resumable SSE streams on Redis: one Redis stream per SSE
//! stream, bounded by count and bytes (the oldest go first) and expiring
//! when idle. Event ids are `STREAM:XID`, unique within the session, so
//! that any instance can replay after any of them; `STREAM:0-0` is a new
//! stream's start, the priming event of a POST's stream, which costs no
//! write.

use std::time::Duration;

use bytes::Bytes;
use redis::{Script, Value};

use super::{Redis, ms, well_formed};
use crate::error::Error;
use crate::store::{EventStore, Replay};

/// Appends an event and trims the stream to its bounds, marking it
/// trimmed when it drops any. KEYS: stream, its byte count, the session's
/// set of streams, the trimmed mark. ARGV: message, most events, most
/// bytes, expiry (ms), stream name.
const APPEND: &str = r"
local id = redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])
local bytes = redis.call('INCRBY', KEYS[2], string.len(ARGV[1]))
local most, most_bytes = tonumber(ARGV[2]), tonumber(ARGV[3])
while redis.call('XLEN', KEYS[1]) > most or bytes > most_bytes do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if oldest == nil or oldest[1] == id then break end
  bytes = redis.call('DECRBY', KEYS[2], string.len(oldest[2][2]))
  redis.call('XDEL', KEYS[1], oldest[1])
  redis.call('SET', KEYS[4], 1)
end
redis.call('SADD', KEYS[3], ARGV[5])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return id
";

/// The events after one, if it is still kept (else its successors may
/// not all be). `0-0` is the stream's start: all of it, unless some was
/// trimmed away. KEYS: stream, its trimmed mark. ARGV: the event's XID.
const REPLAY: &str = r"
if ARGV[1] == '0-0' then
  if redis.call('EXISTS', KEYS[2]) == 1 then return false end
  return redis.call('XRANGE', KEYS[1], '-', '+')
end
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
return redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')
";

/// Forgets a session's streams. KEYS: its set of streams. ARGV: the key
/// prefix of its streams.
const FORGET: &str = r"
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', ARGV[1] .. name, ARGV[1] .. name .. ':bytes', ARGV[1] .. name .. ':trimmed')
end
return redis.call('DEL', KEYS[1])
";

/// Events of legacy sessions' resumable streams on Redis. Made by
/// [`Redis::events`].
#[derive(Debug)]
pub struct RedisEventStore {
    redis: Redis,
    max_events: usize,
    max_bytes: usize,
    ttl: Duration,
    append: Script,
    replay: Script,
    forget: Script,
}

impl RedisEventStore {
    pub(super) fn new(redis: Redis) -> Self {
        Self {
            redis,
            max_events: 1000,
            max_bytes: 4 * 1024 * 1024,
            ttl: Duration::from_secs(30 * 60),
            append: Script::new(APPEND),
            replay: Script::new(REPLAY),
            forget: Script::new(FORGET),
        }
    }

    /// Each stream keeps its last `events` events, within `bytes` bytes
    /// (1,000 and 4 MiB by default).
    #[must_use]
    pub fn with_bounds(mut self, events: usize, bytes: usize) -> Self {
        self.max_events = events.max(1);
        self.max_bytes = bytes;
        self
    }

    /// A stream with no new event for `ttl` is forgotten (30 minutes by
    /// default; make it at least the sessions' idle time).
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The key of stream `stream` of session `session`.
    fn stream_key(&self, session: &str, stream: &str) -> String {
        self.redis.session_key(session, &format!("ev:{stream}"))
    }
}

#[async_trait::async_trait]
impl EventStore for RedisEventStore {
    async fn append(&self, session: &str, stream: &str, message: Bytes) -> Result<String, Error> {
        if !well_formed(session) || !well_formed(stream) {
            return Err(Error::Unavailable(
                "a stream the Redis store cannot key".to_owned(),
            ));
        }
        let key = self.stream_key(session, stream);
        let bytes = format!("{key}:bytes");
        let trimmed = format!("{key}:trimmed");
        let streams = self.redis.session_key(session, "streams");
        let xid: String = self
            .redis
            .run(async |conn| {
                self.append
                    .key(&key)
                    .key(&bytes)
                    .key(&streams)
                    .key(&trimmed)
                    .arg(&message[..])
                    .arg(self.max_events)
                    .arg(self.max_bytes)
                    .arg(ms(self.ttl))
                    .arg(stream)
                    .invoke_async(conn)
                    .await
            })
            .await?;
        Ok(format!("{stream}:{xid}"))
    }

    /// A new stream's start, `STREAM:0-0`, named without a write.
    async fn prime(&self, session: &str, stream: &str) -> Result<String, Error> {
        if !well_formed(session) || !well_formed(stream) {
            return Err(Error::Unavailable(
                "a stream the Redis store cannot key".to_owned(),
            ));
        }
        Ok(format!("{stream}:0-0"))
    }

    async fn replay(&self, session: &str, last_event_id: &str) -> Result<Option<Replay>, Error> {
        let Some((stream, xid)) = last_event_id.rsplit_once(':') else {
            return Ok(None);
        };
        // A client's text reaches Redis only as a well-formed XID.
        let well_formed = xid.split_once('-').is_some_and(|(ms, seq)| {
            [ms, seq]
                .iter()
                .all(|n| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
        });
        if !well_formed || !super::well_formed(session) || !super::well_formed(stream) {
            return Ok(None);
        }
        let key = self.stream_key(session, stream);
        let trimmed = format!("{key}:trimmed");
        let found: Value = self
            .redis
            .run(async |conn| {
                self.replay
                    .key(&key)
                    .key(&trimmed)
                    .arg(xid)
                    .invoke_async(conn)
                    .await
            })
            .await?;
        let Value::Array(entries) = found else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some((id, message)) = entry_of(entry) else {
                return Err(Error::Unavailable(
                    "Redis: an event in an unexpected shape".to_owned(),
                ));
            };
            // Priming events carry no message and are not replayed.
            if !message.is_empty() {
                events.push((format!("{stream}:{id}"), message));
            }
        }
        Ok(Some(Replay::new(stream, events)))
    }

    async fn forget(&self, session: &str) {
        if !well_formed(session) {
            return;
        }
        let streams = self.redis.session_key(session, "streams");
        let prefix = self.stream_key(session, "");
        let forgot = self
            .redis
            .run(async |conn| {
                self.forget
                    .key(&streams)
                    .arg(&prefix)
                    .invoke_async::<i64>(conn)
                    .await
            })
            .await;
        if let Err(e) = forgot {
            // They expire on their own.
            tracing::warn!(error = %e, "could not forget a session's events");
        }
    }

    async fn ready(&self) -> Result<(), Error> {
        self.redis.ping().await
    }
}

/// `[id, [field, value]]`, as `XRANGE` gives each entry.
fn entry_of(entry: Value) -> Option<(String, Bytes)> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let mut parts = parts.into_iter();
    let id = match parts.next()? {
        Value::BulkString(id) => String::from_utf8(id).ok()?,
        Value::SimpleString(id) => id,
        _ => return None,
    };
    let Value::Array(fields) = parts.next()? else {
        return None;
    };
    let message = match fields.into_iter().nth(1)? {
        Value::BulkString(m) => Bytes::from(m),
        _ => return None,
    };
    Some((id, message))
}
