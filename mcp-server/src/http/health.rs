//! Liveness and readiness, for load balancers and orchestrators.
//!
//! Liveness says the process serves HTTP at all: always 200. Readiness says
//! it should be sent traffic: 200 when every check passes, 503 naming the
//! checks that failed otherwise. The endpoint's own checks
//! ([`StreamableHttp::health`](super::StreamableHttp::health)) fail while it
//! shuts down and while a store it uses cannot be reached; add more (the
//! token verifier's keys, a database) with [`Health::with_check`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use super::Body;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Check = Arc<dyn Fn() -> BoxFuture<Result<(), String>> + Send + Sync>;

/// A set of readiness checks, served as liveness and readiness endpoints.
/// Cheap to clone.
///
/// ```no_run
/// use mcp_server::http::{HttpOptions, StreamableHttp};
/// use mcp_server::{Router, Server};
///
/// # fn app(router: Router) -> axum::Router {
/// let mcp = StreamableHttp::new(Server::new(router), HttpOptions::default());
/// let health = mcp.health().with_check("database", || async { Ok::<_, String>(()) });
/// axum::Router::new()
///     .route_service("/mcp", mcp)
///     .route_service("/healthz", health.liveness())
///     .route_service("/readyz", health.readiness())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Health {
    checks: Arc<[(Arc<str>, Check)]>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|(name, _)| name))
            .finish()
    }
}

/// How long one check may take before it counts as failed: a check that
/// hangs must not hang the probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Health {
    /// No checks: always ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the check `name`: ready while `check` completes with `Ok`
    /// within 2 s. A failure's text goes to the log; the readiness answer
    /// names the check only (probes are often public, and a store's error
    /// can name internal hosts).
    #[must_use]
    pub fn with_check<F, Fut, E>(self, name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        let check: Check = Arc::new(move || {
            let run = check();
            Box::pin(async move { run.await.map_err(|e| e.to_string()) })
        });
        let mut checks: Vec<_> = self.checks.iter().cloned().collect();
        checks.push((name.into().into(), check));
        Self {
            checks: checks.into(),
        }
    }

    /// Runs every check at once; the failed ones, with why.
    pub async fn failing(&self) -> Vec<(String, String)> {
        let runs = self.checks.iter().map(|(name, check)| {
            let name = Arc::clone(name);
            let run = tokio::time::timeout(CHECK_TIMEOUT, check());
            async move {
                match run.await {
                    Ok(Ok(())) => None,
                    Ok(Err(why)) => Some((name.to_string(), why)),
                    Err(_) => Some((name.to_string(), "timed out".to_owned())),
                }
            }
        });
        let mut set = tokio::task::JoinSet::new();
        for run in runs {
            set.spawn(run);
        }
        let mut failed = Vec::new();
        while let Some(done) = set.join_next().await {
            failed.extend(done.ok().flatten());
        }
        failed.sort();
        failed
    }

    /// The liveness endpoint: 200 whenever the process answers.
    pub fn liveness(&self) -> HealthService {
        HealthService { health: None }
    }

    /// The readiness endpoint: 200 `{"status":"ready"}` when every check
    /// passes, else 503 with `{"status":"unavailable","failing":[names]}`
    /// (why each failed is logged, target `mcp_server::health`).
    pub fn readiness(&self) -> HealthService {
        HealthService {
            health: Some(self.clone()),
        }
    }

    /// The readiness answer, as [`readiness`](Self::readiness) serves it.
    pub(crate) async fn answer(&self) -> Response<Body> {
        let failing = self.failing().await;
        if failing.is_empty() {
            return reply(StatusCode::OK, r#"{"status":"ready"}"#.to_owned());
        }
        for (name, why) in &failing {
            tracing::warn!(target: "mcp_server::health", check = %name, reason = %why, "not ready");
        }
        let names: Vec<String> = failing.into_iter().map(|(name, _)| name).collect();
        let body = serde_json::json!({ "status": "unavailable", "failing": names });
        reply(StatusCode::SERVICE_UNAVAILABLE, body.to_string())
    }
}

fn reply(status: StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // A probe must see the state now, not a cache's.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A liveness or readiness endpoint, as a `tower::Service` for any
/// request (mount it at a path).
#[derive(Clone, Debug)]
pub struct HealthService {
    /// `None` for liveness.
    health: Option<Health>,
}

impl<B> tower_service::Service<http::Request<B>> for HealthService {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Response<Body>, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        let health = self.health.clone();
        Box::pin(async move {
            Ok(match health {
                None => reply(StatusCode::OK, r#"{"status":"alive"}"#.to_owned()),
                Some(health) => health.answer().await,
            })
        })
    }
}
