//! What the HTTP examples share to run as operators expect: probes and
//! metrics next to the endpoint, rate limits from the command line.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mcp_server::http::{HttpOptions, StreamableHttp};
use mcp_server::limit::{Policy, Quota, RateLimits};
use mcp_server::secrets::{FileSecrets, SecretWatch, Secrets};
use mcp_server::store::{EventStore, MemoryEventStore, MemorySessionStore, SessionStore};
use mcp_server::telemetry::MetricsService;
use mcp_server::{ServerOptions, StateKey};

/// A rate-limit policy from `CALLERS=COUNT/PERIOD`: callers `user`,
/// `api-key` (classes the auth layer gives), `anonymous` (by address),
/// `all`, or `tool:NAME` (calls of one tool, per caller); period `second`,
/// `minute`, `hour` or `day`. `api-key=60/minute` allows each key 60 a
/// minute.
///
/// # Errors
/// A message saying what is wrong with `spec`.
pub fn parse_rate_limit(spec: &str) -> Result<Policy, String> {
    let usage =
        || format!("{spec:?}: a rate limit is CALLERS=COUNT/PERIOD, like api-key=60/minute");
    let (callers, quota) = spec.split_once('=').ok_or_else(usage)?;
    let (count, period) = quota.split_once('/').ok_or_else(usage)?;
    let count: u32 = count.parse().map_err(|_| usage())?;
    let quota = match period {
        "second" | "s" => Quota::per_second(count),
        "minute" | "min" => Quota::per_minute(count),
        "hour" | "h" => Quota::per_hour(count),
        "day" | "d" => Quota::per_day(count),
        _ => return Err(usage()),
    };
    let policy = Policy::new(callers, quota);
    Ok(match callers {
        "all" => policy,
        "anonymous" => policy.for_anonymous(),
        _ => match callers.strip_prefix("tool:") {
            Some(tool) => policy.for_tool(tool),
            None => policy.for_class(callers),
        },
    })
}

/// `app` with the probes and metrics operators expect: `/healthz`
/// (liveness), `/readyz` (readiness: `health`, the endpoint's checks and
/// any added) and `/metrics` (Prometheus text).
pub fn with_ops_routes(app: axum::Router, health: &mcp_server::http::Health) -> axum::Router {
    app.route_service("/healthz", health.liveness())
        .route_service("/readyz", health.readiness())
        .route_service("/metrics", MetricsService::new())
}

/// Where an HTTP example keeps what outlives a request: in this process,
/// or on a Redis shared with the other instances of the same server.
#[allow(
    missing_debug_implementations,
    reason = "the store traits are not Debug"
)]
pub struct Stores {
    /// Legacy sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The events of resumable streams.
    pub events: Arc<dyn EventStore>,
    /// Between instances sharing the stores: what the stores cannot hold.
    pub bus: Option<Arc<dyn mcp_server::bus::EventBus>>,
    redis: Option<mcp_server::redis::Redis>,
}

impl Stores {
    /// In this process's memory: `events` for resumption, sessions within
    /// `http`'s limits.
    pub fn memory(http: &HttpOptions, events: MemoryEventStore) -> Self {
        Self {
            sessions: Arc::new(MemorySessionStore::new(
                http.max_sessions,
                http.session_idle,
            )),
            events: Arc::new(events),
            bus: None,
            redis: None,
        }
    }

    /// On the Redis at `url`, shared by every instance that uses it.
    ///
    /// # Errors
    /// A message when `url` is not a Redis URL.
    pub fn redis(url: &str, http: &HttpOptions) -> Result<Self, String> {
        let redis = mcp_server::redis::Redis::new(url).map_err(|e| e.to_string())?;
        Ok(Self::on(redis, http))
    }

    /// On `redis`, shared by every instance that uses it.
    pub fn on(redis: mcp_server::redis::Redis, http: &HttpOptions) -> Self {
        Self {
            sessions: Arc::new(redis.sessions(http.max_sessions, http.session_idle)),
            events: Arc::new(redis.events().with_ttl(http.session_idle)),
            bus: Some(Arc::new(redis.bus())),
            redis: Some(redis),
        }
    }

    /// The endpoint for `server`, keeping what outlives a request here.
    pub fn endpoint<H: mcp_server::Handler>(
        self,
        server: mcp_server::Server<H>,
        http: HttpOptions,
    ) -> StreamableHttp<H> {
        let endpoint = StreamableHttp::with_stores(server, http, self.sessions, self.events);
        match self.bus {
            Some(bus) => endpoint.with_bus(bus),
            None => endpoint,
        }
    }

    /// `limits`, kept where the sessions are: on Redis, a quota holds
    /// across all instances.
    pub fn rate_limits(&self, limits: RateLimits) -> RateLimits {
        match &self.redis {
            Some(redis) => limits.with_store(Arc::new(redis.rate_limits())),
            None => limits,
        }
    }
}

/// The readiness endpoint of an example server in this container: on
/// `$PORT`, else on the examples' default port.
pub fn own_readiness() -> String {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".to_owned());
    format!("http://127.0.0.1:{port}/readyz")
}

/// A container's health check: `0` when `url` (a readiness endpoint)
/// answers 200 within five seconds, `1` otherwise, saying why on stderr.
/// The example binaries run it with `--probe URL`, so that an image needs
/// no `curl`.
pub async fn probe(url: &str) -> i32 {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("probe: {e}");
            return 1;
        }
    };
    match client.get(url).send().await {
        Ok(res) if res.status().is_success() => 0,
        Ok(res) => {
            eprintln!("probe: {url} answered {}", res.status());
            1
        }
        Err(e) => {
            eprintln!("probe: {url}: {e}");
            1
        }
    }
}

/// The request-state key from the file at `path`, watched so that a
/// rotated key takes over within seconds (what it sealed before still
/// opens). Every instance of a server given the same file seals and opens
/// each other's 2026-07-28 request states.
///
/// # Errors
/// A message naming the file when it is missing, unreadable or too short.
pub async fn state_key_from_file(
    path: &str,
    options: &mut ServerOptions,
) -> Result<SecretWatch, String> {
    let file = Path::new(path);
    let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else {
        return Err(format!("{path}: not a file path"));
    };
    let secrets = Secrets::new().with(FileSecrets::new(dir));
    let secret = secrets.require(name).await.map_err(|e| e.to_string())?;
    let key = StateKey::from_secret(&secret).map_err(|e| format!("{path}: {e}"))?;
    options.state_key = key.clone();
    secrets
        .watch(name, Duration::from_secs(10), move |secret| {
            if let Err(e) = key.rotate_to(&secret) {
                tracing::error!(error = %e, "the request-state key was not rotated");
            }
        })
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_callers_and_quotas() {
        let p = parse_rate_limit("api-key=60/minute").unwrap();
        assert_eq!((p.name(), p.quota()), ("api-key", Quota::per_minute(60)));
        assert!(parse_rate_limit("tool:search=5/s").is_ok());
        for bad in ["60/minute", "user=60", "user=x/hour", "user=1/fortnight"] {
            assert!(parse_rate_limit(bad).is_err(), "{bad}");
        }
    }
}
