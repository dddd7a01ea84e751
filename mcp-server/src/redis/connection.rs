//! One connection to Redis, shared by the stores made from it: made when
//! first needed, remade by `redis`'s connection manager after it breaks,
//! and never waited on longer than the command time limit.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::Error;

/// How long after a failed connection attempt the next may be made: while
/// Redis is down, requests fail at once instead of each waiting for a
/// connection of its own.
const RETRY_CONNECT: Duration = Duration::from_secs(1);

/// A Redis server, and the stores kept on it. Cheap to clone: clones share
/// one connection.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    state: tokio::sync::Mutex<Option<ConnectionManager>>,
    failed_at: Mutex<Option<Instant>>,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL can carry a password: only where it points.
        let info = self.inner.client.get_connection_info();
        f.debug_struct("Redis")
            .field("addr", &info.addr().to_string())
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// The Redis server at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`);
    /// nothing is connected until a store needs it.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse (the message leaves
    /// the URL out: it may hold a password).
    pub fn new(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Config(format!("the Redis URL: {}", e.category())))?;
        Ok(Self::of(client, "mcp:".to_owned(), Duration::from_secs(2)))
    }

    /// A handle with nothing connected yet.
    fn of(client: redis::Client, prefix: String, timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                prefix,
                timeout,
                state: tokio::sync::Mutex::const_new(None),
                failed_at: Mutex::new(None),
            }),
        }
    }

    /// Keys start with `prefix` (`mcp:` by default): servers that share a
    /// Redis but not their state use different ones.
    #[must_use]
    pub fn with_prefix(self, prefix: impl Into<String>) -> Self {
        Self::of(self.inner.client.clone(), prefix.into(), self.inner.timeout)
    }

    /// The time limit of each command and of connecting (2 s by default):
    /// how long a request may wait on a Redis that hangs.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self::of(
            self.inner.client.clone(),
            self.inner.prefix.clone(),
            timeout,
        )
    }

    /// The time limit of each command.
    pub(super) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    pub(super) fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// `name` under the prefix.
    pub(super) fn key(&self, name: &str) -> String {
        let mut key = String::with_capacity(self.inner.prefix.len() + name.len());
        key.push_str(&self.inner.prefix);
        key.push_str(name);
        key
    }

    /// Key `rest` of session `session`, the session's id as its hash tag
    /// (`mcp:{SID}:rest`), so that one script's keys share a slot.
    pub(super) fn session_key(&self, session: &str, rest: &str) -> String {
        self.key(&format!("{{{session}}}:{rest}"))
    }

    /// The connection, made now if there is none yet.
    pub(super) async fn connection(&self) -> Result<ConnectionManager, Error> {
        let mut state = self.inner.state.lock().await;
        if let Some(manager) = state.as_ref() {
            return Ok(manager.clone());
        }
        let recently = self
            .inner
            .failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < RETRY_CONNECT);
        if recently {
            return Err(Error::Unavailable("Redis is unreachable".to_owned()));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.inner.timeout))
            .set_response_timeout(Some(self.inner.timeout))
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            self.inner.timeout,
            ConnectionManager::new_with_config(self.inner.client.clone(), config),
        )
        .await;
        match made {
            Ok(Ok(manager)) => {
                *state = Some(manager.clone());
                Ok(manager)
            }
            failed => {
                *self
                    .inner
                    .failed_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                Err(match failed {
                    Ok(Err(e)) => unavailable(&e),
                    _ => Error::Unavailable("Redis: connecting timed out".to_owned()),
                })
            }
        }
    }

    /// Runs `cmd` (a command, a pipeline or a script invocation) within
    /// the time limit.
    pub(super) async fn run<T, F>(&self, cmd: F) -> Result<T, Error>
    where
        F: AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(self.inner.timeout, cmd(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(unavailable(&e)),
            Err(_) => Err(Error::Unavailable("Redis: timed out".to_owned())),
        }
    }

    /// Whether Redis answers `PING` now.
    pub(super) async fn ping(&self) -> Result<(), Error> {
        self.run(async |conn| redis::cmd("PING").query_async::<String>(conn).await)
            .await
            .map(drop)
    }

    /// Sessions kept here: at most `max`, each forgotten after `idle`
    /// unused.
    pub fn sessions(&self, max: usize, idle: Duration) -> super::RedisSessionStore {
        super::RedisSessionStore::new(self.clone(), max, idle)
    }

    /// Events of resumable streams kept here, with the default bounds.
    pub fn events(&self) -> super::RedisEventStore {
        super::RedisEventStore::new(self.clone())
    }

    /// The bus of the instances sharing this Redis (pub/sub): give it to
    /// [`StreamableHttp::with_bus`](crate::http::StreamableHttp::with_bus).
    pub fn bus(&self) -> super::RedisBus {
        super::RedisBus::new(self.clone())
    }

    /// Rate-limit buckets kept here.
    pub fn rate_limits(&self) -> super::RedisRateLimitStore {
        super::RedisRateLimitStore::new(self.clone())
    }
}

/// A Redis failure as the stores report it: what kind, never the command
/// (it can hold session data).
fn unavailable(e: &redis::RedisError) -> Error {
    Error::Unavailable(format!("Redis: {}", e.category()))
}
