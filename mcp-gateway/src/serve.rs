//! Serving the gateway: over Streamable HTTP (both eras, behind
//! `mcp-auth`'s layer when `[auth]` is configured, with health, metrics,
//! rate limits and Protected Resource Metadata) or over stdio; and
//! reloading its configuration when the file changes or on SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_auth::{
    ApiKeys, AuthLayer, FirstOf, Identity, JwtConfig, JwtVerifier, ProtectedResourceMetadata,
    TokenVerifier,
};
use mcp_server::http::{AllowedHosts, HttpOptions, ServeOptions, StreamableHttp, serve_service};
use mcp_server::limit::{Policy, Quota, RateLimits};
use mcp_server::secrets::{EnvSecrets, FileSecrets, Secrets};
use mcp_server::{Server, ServerOptions};

use crate::config::{Config, seconds};
use crate::error::Error;
use crate::federation::Gateway;

/// How often the configuration file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// `second`, `minute`, `hour` or `day` as a duration.
pub(crate) fn period(per: &str) -> Option<Duration> {
    match per {
        "second" => Some(Duration::from_secs(1)),
        "minute" => Some(Duration::from_secs(60)),
        "hour" => Some(Duration::from_secs(3600)),
        "day" => Some(Duration::from_secs(86_400)),
        _ => None,
    }
}

/// The secret sources `[secrets]` names: mounted files first, then the
/// environment.
pub fn secrets(config: &Config) -> Secrets {
    let mut secrets = Secrets::new();
    if let Some(dir) = &config.secrets.dir {
        secrets = secrets.with(FileSecrets::new(dir));
    }
    if let Some(prefix) = &config.secrets.env_prefix {
        secrets = secrets.with(EnvSecrets::new(prefix));
    }
    secrets
}

/// The `[[rate_limit]]` policies, if any.
pub fn rate_limits(config: &Config) -> Option<RateLimits> {
    let mut limits: Option<RateLimits> = None;
    for limit in &config.rate_limits {
        let per = period(&limit.per)?;
        let mut policy = Policy::new(&limit.name, Quota::new(limit.count, per));
        if let Some(class) = &limit.class {
            policy = policy.for_class(class);
        }
        if limit.anonymous {
            policy = policy.for_anonymous();
        }
        if let Some(tool) = &limit.tool {
            policy = policy.for_tool(tool);
        }
        if let Some(method) = &limit.method {
            policy = policy.for_method(method);
        }
        limits = Some(limits.unwrap_or_default().policy(policy));
    }
    limits
}

/// The gateway's HTTP application: the endpoint at `[listen] path`
/// (behind the auth layer when `[auth]` is configured), its Protected
/// Resource Metadata, `/healthz`, `/readyz` (failing while shutting down,
/// while the token verifier has no keys, or while no upstream is
/// connected) and `/metrics` ([`Gateway::metrics`]); and the endpoint,
/// to shut it down. With `[redis]`, legacy sessions, events and rate
/// limits are kept on Redis, shared with the other instances.
///
/// # Errors
/// [`Error::Config`] when `[auth]` cannot be set up (an API key digest
/// that is not hex SHA-256), a secret `[redis]` names is missing, or the
/// Redis URL is not one.
pub async fn app(
    gateway: &Gateway,
    config: &Config,
) -> Result<(axum::Router, StreamableHttp<Gateway>), Error> {
    let mut options = ServerOptions::default();
    options.shutdown_grace = seconds(config.listen.grace_secs);
    options.max_in_flight = config.listen.max_in_flight.max(1);
    options.rate_limits = rate_limits(config);
    let mut http = HttpOptions::default();
    http.max_in_flight_per_client = config.listen.max_in_flight_per_client.max(1);
    let mut allowed = AllowedHosts::loopback();
    for host in &config.listen.allowed_hosts {
        allowed = allowed.with_host(host);
    }
    let auth = match &config.auth {
        Some(auth) => Some(auth_layer(auth).await?),
        None => None,
    };
    if let Some((_, metadata)) = &auth
        && let Some(host) = metadata
            .resource
            .parse::<http::Uri>()
            .ok()
            .as_ref()
            .and_then(http::Uri::host)
    {
        // Behind a proxy the resource's public name arrives as `Host`.
        allowed = allowed.with_host(host);
    }
    http.allowed = allowed;
    let (max_body, body_timeout, allowed) =
        (http.max_body, http.body_timeout, http.allowed.clone());
    let endpoint = match &config.redis {
        None => StreamableHttp::new(Server::with_options(gateway.clone(), options), http),
        Some(section) => {
            let secrets = secrets(config);
            let url = secrets.require(&section.url_secret).await?;
            let redis = mcp_server::redis::Redis::new(url.expose())
                .map_err(|e| Error::Config(format!("[redis]: {e}")))?;
            let key = secrets.require(&section.state_key_secret).await?;
            options.state_key = mcp_server::StateKey::from_secret(&key)?;
            let store: Arc<dyn mcp_server::limit::RateLimitStore> = Arc::new(redis.rate_limits());
            options.rate_limits = options
                .rate_limits
                .map(|l| l.with_store(Arc::clone(&store)));
            // Upstreams' `max_rate` too: once per pool, not per instance.
            gateway.share_rate_limits(store);
            let sessions = Arc::new(redis.sessions(http.max_sessions, http.session_idle));
            let events = Arc::new(redis.events().with_ttl(http.session_idle));
            let server = Server::with_options(gateway.clone(), options);
            StreamableHttp::with_stores(server, http, sessions, events)
                .with_bus(Arc::new(redis.bus()))
        }
    };
    let watched = gateway.clone();
    let mut health = endpoint.health().with_check("upstreams", move || {
        let status = watched.status();
        async move {
            if status.is_empty() || status.iter().any(|u| u.connected) {
                Ok(())
            } else {
                Err("no upstream is connected")
            }
        }
    });
    let metrics = gateway.clone();
    let path = config.listen.path.as_str();
    // Policy refusals as 403 when configured: decided behind the auth
    // layer (it needs the caller), in front of the endpoint.
    let check = std::sync::Arc::new(crate::forbid::Check {
        gateway: gateway.clone(),
        max_body,
        body_timeout,
        allowed,
    });
    let mut app = axum::Router::new()
        .route_service(path, endpoint.clone())
        .route_layer(crate::forbid::Layer(check));
    if let Some((layer, metadata)) = auth {
        let verifier = layer.clone();
        health = health.with_check("token verifier", move || {
            let verifier = verifier.clone();
            async move { verifier.ready().await }
        });
        app = app.route_layer(layer);
        let [suffixed, root] = metadata.well_known_paths();
        if root != suffixed {
            app = app.route_service(&root, metadata.service());
        }
        app = app.route_service(&suffixed, metadata.service());
    }
    let app = app
        .route_service("/healthz", health.liveness())
        .route_service("/readyz", health.readiness())
        .route(
            "/metrics",
            axum::routing::get(move || {
                let text = metrics.metrics();
                async move {
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
    Ok((app, endpoint))
}

async fn auth_layer(
    auth: &crate::config::AuthSection,
) -> Result<(AuthLayer, ProtectedResourceMetadata), Error> {
    let config = |e: mcp_auth::Error| Error::Config(format!("[auth]: {e}"));
    let mut verifiers: Vec<Arc<dyn TokenVerifier>> = Vec::new();
    if !auth.api_keys.is_empty() {
        let keys = ApiKeys::new();
        for key in &auth.api_keys {
            keys.insert_hash(&key.sha256, Identity::new(&key.subject, key.scopes.clone()))
                .map_err(config)?;
        }
        verifiers.push(Arc::new(keys));
    }
    let issuer = auth.issuer.clone().unwrap_or_default();
    if !issuer.is_empty() {
        // Keys are fetched in the background: the gateway starts even
        // while the authorization server is unreachable (not ready).
        let jwt = JwtVerifier::deferred(JwtConfig::new(&issuer, &auth.resource)).map_err(config)?;
        verifiers.push(Arc::new(jwt));
    }
    if verifiers.is_empty() {
        return Err(Error::Config(
            "[auth] needs an issuer or at least one API key".to_owned(),
        ));
    }
    let metadata = ProtectedResourceMetadata::new(&auth.resource, &issuer)
        .with_scopes(auth.scopes.clone())
        .with_name("mcp-gateway");
    let mut layer = AuthLayer::new(Arc::new(FirstOf::new(verifiers)), &metadata)
        .with_scopes(mcp_auth::RequiredScopes::new().always(auth.scopes.clone()));
    if !issuer.is_empty() {
        // Upstreams with token exchange trade the caller's own token; the
        // upstream only ever sees what the exchange gives.
        layer = layer.with_token_kept();
    }
    Ok((layer, metadata))
}

/// Runs the gateway of the configuration file at `path` over Streamable
/// HTTP until SIGTERM or Ctrl-C, reloading the file when it changes or on
/// SIGHUP. The endpoint's URL is printed on stdout once it listens.
///
/// # Errors
/// The configuration cannot be read or is invalid; the address cannot be
/// bound.
pub async fn run_http(path: PathBuf) -> Result<(), Error> {
    let config = Config::load(&path)?;
    let gateway = Gateway::new(config.clone(), secrets(&config));
    let (app, endpoint) = app(&gateway, &config).await?;
    let bind = mcp_server::http::listen_address(&config.listen.bind)
        .map_err(|e| Error::Config(format!("[listen] bind: {e}")))?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| Error::Io(bind.clone(), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Io(bind.clone(), e))?;
    // SIGHUP is handled from here on: it must not kill the process.
    let _reload = tokio::spawn(reload_on(path, gateway.clone(), hangups()));
    println!("http://{local}{}", config.listen.path);
    let grace = seconds(config.listen.grace_secs);
    let mut serving = ServeOptions::default();
    serving.drain_timeout = grace + grace / 2;
    let shutdown = endpoint.shutdown_on(mcp_server::http::shutdown_signal());
    serve_service(listener, app, serving, shutdown)
        .await
        .map_err(|e| Error::Io(local.to_string(), e))
}

/// Runs the gateway of the configuration file at `path` over this
/// process's stdin and stdout, reloading the file as [`run_http`] does.
///
/// # Errors
/// The configuration cannot be read or is invalid; stdio fails.
pub async fn run_stdio(path: PathBuf) -> Result<(), Error> {
    let config = Config::load(&path)?;
    let gateway = Gateway::new(config.clone(), secrets(&config));
    let _reload = tokio::spawn(reload_on(path, gateway.clone(), hangups()));
    let mut options = ServerOptions::default();
    options.rate_limits = rate_limits(&config);
    Server::with_options(gateway, options)
        .serve_stdio()
        .await
        .map_err(Error::Server)
}

/// Applies the file at `path` to `gateway` whenever it changes (checked
/// every two seconds) or on SIGHUP. A file that does not parse is
/// reported and ignored: the configuration in force stays.
pub async fn reload(path: PathBuf, gateway: Gateway) {
    reload_on(path, gateway, hangups()).await;
}

async fn reload_on(path: PathBuf, gateway: Gateway, mut hangup: Hangups) {
    let mut seen = modified(&path);
    loop {
        tokio::select! {
            () = tokio::time::sleep(RELOAD_EVERY) => {
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
            }
            () = next_hangup(&mut hangup) => {}
        }
        match Config::load(&path) {
            Ok(config) => gateway.apply(config),
            Err(e) => tracing::error!(error = %e, "configuration not reloaded"),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;

#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(unix)]
async fn next_hangup(signal: &mut Hangups) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}

/// Asks `url` (`http://HOST:PORT/PATH`; by default the readiness endpoint
/// on `$PORT`, else 8000, of this host) whether the gateway is ready: a
/// container's health check, with no HTTP client in the image. `true` for
/// a 2xx answer within five seconds.
pub async fn probe(url: Option<&str>) -> bool {
    let own = format!(
        "http://127.0.0.1:{}/readyz",
        std::env::var("PORT").unwrap_or_else(|_| "8000".to_owned())
    );
    let url = url.unwrap_or(&own);
    let Some((authority, path)) = url.strip_prefix("http://").map(|rest| {
        rest.split_once('/')
            .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")))
    }) else {
        return false;
    };
    let ask = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        // "HTTP/1.x 2.."
        Some(head.get(9) == Some(&b'2'))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), ask).await,
        Ok(Some(true))
    )
}
