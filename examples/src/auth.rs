//! The demo server behind OAuth 2.1, as the `auth_server` example runs it:
//! tokens from an external authorization server (JWTs, and opaque tokens
//! through introspection when configured), hashed API keys, a scope per
//! tool, and the Protected Resource Metadata clients discover it with.
//! The introspection client secret and the API keys can come from mounted
//! secret files, re-read while the server runs ([`introspection_from_file`],
//! [`api_keys_from_file`]).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mcp_auth::{
    ApiKeys, AuthLayer, FirstOf, Identity, Introspection, JwtConfig, JwtVerifier,
    ProtectedResourceMetadata, RequiredScopes, Secret, TokenVerifier,
};
use mcp_core::tools::ToolAnnotations;
use mcp_server::http::{AllowedHosts, HttpOptions, ServeOptions, StreamableHttp, serve_service};
use mcp_server::secrets::{FileSecrets, SecretWatch, Secrets};
use mcp_server::{Error, Json, NoArgs, RequestContext, Router, Server, tool};
use schemars::JsonSchema;
use serde::Serialize;

/// The scope every request needs.
pub const READ: &str = "mcp:read";
/// The scope `save_note` needs on top: a note is seen by every user.
pub const ADMIN: &str = "mcp:admin";

/// How the protected server checks callers.
#[derive(Debug, Clone)]
pub struct Config {
    /// The authorization server (its issuer URL, exactly as in its metadata).
    pub issuer: String,
    /// The canonical URL of the MCP endpoint, as clients reach it: tokens
    /// must be issued for it (their `aud`).
    pub resource: String,
    /// Also accepts opaque tokens, asking the authorization server.
    pub introspection: Option<IntrospectionClient>,
    /// API keys: the hex SHA-256 of each key, and who it stands for.
    pub api_keys: Vec<(String, Identity)>,
    /// More API keys, which the caller keeps up to date (reloaded from a
    /// file by [`api_keys_from_file`]); asked along with `api_keys`.
    pub reloaded_api_keys: Option<Arc<ApiKeys>>,
    /// Introspection set up by the caller, which rotates its client secret
    /// ([`introspection_from_file`]); asked as `introspection` is.
    pub rotated_introspection: Option<Introspection>,
    /// How long a verified token is remembered; `None` keeps the default
    /// (a minute). A revoked token works until then.
    pub cache_ttl: Option<Duration>,
    /// Rate limits per caller (users, API keys) and tool.
    pub rate_limits: Option<mcp_server::limit::RateLimits>,
    /// Sessions, events and rate limits on this Redis, shared with the
    /// other instances; in this process's memory when `None`.
    pub redis: Option<mcp_server::redis::Redis>,
    /// The request-state key every instance shares; a random one of this
    /// process's when `None`.
    pub state_key: Option<mcp_server::StateKey>,
    /// The JWT check when the provider's tokens are not RFC 9068's
    /// (`JwtConfig::google_id_tokens`, `JwtConfig::cognito`); `None` checks
    /// `iss` and `aud` against `issuer` and `resource`.
    pub jwt: Option<JwtConfig>,
    /// What each request needs; [`scopes`] when `None`.
    pub scopes: Option<RequiredScopes>,
}

impl Config {
    /// JWTs from `issuer` for `resource`, nothing else.
    pub fn new(issuer: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            resource: resource.into(),
            introspection: None,
            api_keys: Vec::new(),
            reloaded_api_keys: None,
            rotated_introspection: None,
            cache_ttl: None,
            rate_limits: None,
            redis: None,
            state_key: None,
            jwt: None,
            scopes: None,
        }
    }
}

/// The resource server's own client at the authorization server, for token
/// introspection (RFC 7662).
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    /// Its client ID.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The `aud` introspected tokens must have: normally the resource.
    pub audience: String,
}

/// How often secret files are looked at again: a rotation takes effect
/// within this long.
const SECRET_POLL: Duration = Duration::from_secs(10);

/// The directory holding the file at `path` as a secret source, and the
/// file's name as the secret's: how orchestrators mount secrets.
fn file_secret(path: &str) -> Result<(Secrets, String), String> {
    let file = Path::new(path);
    let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else {
        return Err(format!("{path}: not a file path"));
    };
    Ok((Secrets::new().with(FileSecrets::new(dir)), name.to_owned()))
}

/// API keys listed in the file at `path` (one `HEX:SUBJECT[:SCOPES]` a
/// line, `#` comments: [`ApiKeys::load`]), reloaded whenever the file
/// changes, so a key added or revoked takes effect without a restart. A
/// malformed new file is logged and changes nothing. The keys go in
/// [`Config::reloaded_api_keys`]; keep the watch as long as the server
/// runs (dropping it stops the reloading).
///
/// # Errors
/// A message naming the file when it is missing, unreadable or malformed.
pub async fn api_keys_from_file(path: &str) -> Result<(Arc<ApiKeys>, SecretWatch), String> {
    let (secrets, name) = file_secret(path)?;
    let keys = Arc::new(ApiKeys::new());
    let text = secrets.require(&name).await.map_err(|e| e.to_string())?;
    keys.load(text.expose())
        .map_err(|e| format!("{path}: {e}"))?;
    let watch = secrets
        .watch(&name, SECRET_POLL, {
            let keys = Arc::clone(&keys);
            move |text| {
                if let Err(e) = keys.load(text.expose()) {
                    tracing::error!(error = %e, "API keys not reloaded");
                }
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok((keys, watch))
}

/// Introspection at `issuer`'s endpoint ([`Introspection::discover`]) as
/// `client_id`, with the client secret in the file at `path`, re-read
/// whenever the file changes: a secret rotated at the authorization server
/// and then in the file takes effect without a restart. It goes in
/// [`Config::rotated_introspection`]; keep the watch as long as the server
/// runs.
///
/// # Errors
/// A message naming the file when it is missing or unreadable (never its
/// content); the discovery's error.
pub async fn introspection_from_file(
    issuer: &str,
    client_id: &str,
    audience: &str,
    path: &str,
) -> Result<(Introspection, SecretWatch), String> {
    let (secrets, name) = file_secret(path)?;
    let secret = secrets.require(&name).await.map_err(|e| e.to_string())?;
    let introspection = Introspection::discover(issuer, client_id, secret.expose(), audience)
        .await
        .map_err(|e| e.to_string())?;
    let watch = secrets
        .watch(&name, SECRET_POLL, {
            let introspection = introspection.clone();
            move |secret| introspection.rotate_client_secret(secret)
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok((introspection, watch))
}

/// Parses `HEX:SUBJECT:SCOPES` (scopes comma-separated) into an API key
/// for [`Config::api_keys`]: `HEX` is the key's SHA-256
/// (`printf %s KEY | sha256sum`).
///
/// # Errors
/// A message for the user when `spec` has another form.
pub fn parse_api_key(spec: &str) -> Result<(String, Identity), String> {
    let mut parts = spec.splitn(3, ':');
    let (Some(hash), Some(subject), Some(scopes)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("{spec:?} is not HEX:SUBJECT:SCOPES"));
    };
    let scopes = scopes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok((hash.to_owned(), Identity::new(subject, scopes)))
}

/// What `whoami` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Caller {
    /// The user (or the client acting for itself, or the API key's owner).
    pub subject: Option<String>,
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// The scopes the token grants.
    pub scopes: Vec<String>,
}

/// The demo server's router plus `whoami`.
pub fn router() -> Router {
    let router = crate::demo::router();
    let whoami = tool(
        "whoami",
        "Says whom the request's token stands for",
        |ctx: RequestContext, _: NoArgs| async move {
            // The auth layer put it there; without one there is nobody.
            let identity = ctx
                .extensions()
                .get::<Identity>()
                .ok_or_else(|| Error::tool("no verified caller"))?;
            Ok::<_, Error>(Json(Caller {
                subject: identity.subject().map(str::to_owned),
                client_id: identity.client_id().map(str::to_owned),
                scopes: identity.scopes().iter().cloned().collect(),
            }))
        },
    )
    .annotations(ToolAnnotations::default().with_read_only_hint(true));
    router.add_tool(whoami);
    router
}

/// `mcp:read` for everything; `save_note` needs `mcp:admin` too.
pub fn scopes() -> RequiredScopes {
    scopes_with_prefix("")
}

/// [`scopes`] with each scope after `prefix`: Cognito names a resource
/// server's scopes `IDENTIFIER/SCOPE`.
pub fn scopes_with_prefix(prefix: &str) -> RequiredScopes {
    RequiredScopes::new()
        .always([format!("{prefix}{READ}")])
        .tool("save_note", [format!("{prefix}{ADMIN}")])
}

/// API keys first (a local look-up), then JWTs, then introspection.
async fn verifier(config: &Config) -> Result<Arc<dyn TokenVerifier>, mcp_auth::Error> {
    let mut verifiers: Vec<Arc<dyn TokenVerifier>> = Vec::new();
    if !config.api_keys.is_empty() {
        let keys = ApiKeys::new();
        for (hash, identity) in &config.api_keys {
            keys.insert_hash(hash, identity.clone())?;
        }
        verifiers.push(Arc::new(keys));
    }
    if let Some(keys) = &config.reloaded_api_keys {
        verifiers.push(keys.clone());
    }
    let jwt = config
        .jwt
        .clone()
        .unwrap_or_else(|| JwtConfig::new(&config.issuer, &config.resource));
    verifiers.push(Arc::new(JwtVerifier::discover(jwt).await?));
    if let Some(client) = &config.introspection {
        let introspection = Introspection::discover(
            &config.issuer,
            &client.client_id,
            client.client_secret.expose(),
            &client.audience,
        )
        .await?;
        verifiers.push(Arc::new(introspection));
    }
    if let Some(introspection) = &config.rotated_introspection {
        // A clone shares the secret the caller's watch rotates.
        verifiers.push(Arc::new(introspection.clone()));
    }
    Ok(Arc::new(FirstOf::new(verifiers)))
}

/// The application: the protected endpoint at `/mcp`, the metadata at
/// both well-known paths, and `/healthz`, `/readyz` (ready once the
/// verifier has keys) and `/metrics`; and the endpoint, to shut it down.
///
/// # Errors
/// When the authorization server's metadata or keys cannot be had, or an
/// API key hash is malformed.
pub async fn app(
    config: &Config,
) -> Result<(axum::Router, StreamableHttp<Router>), mcp_auth::Error> {
    let metadata = ProtectedResourceMetadata::new(&config.resource, &config.issuer)
        .with_scopes([READ, ADMIN])
        .with_name("mcp-rs demo server");
    let mut auth = AuthLayer::new(verifier(config).await?, &metadata)
        .with_scopes(config.scopes.clone().unwrap_or_else(scopes));
    if let Some(ttl) = config.cache_ttl {
        auth = auth.with_cache_ttl(ttl);
    }
    // Behind a proxy the resource's public name arrives as `Host`.
    let mut options = HttpOptions::default();
    let uri = config.resource.parse::<axum::http::Uri>().ok();
    if let Some(host) = uri.as_ref().and_then(axum::http::Uri::host) {
        options.allowed = AllowedHosts::loopback().with_host(host);
    }
    let stores = match &config.redis {
        Some(redis) => crate::ops::Stores::on(redis.clone(), &options),
        None => {
            crate::ops::Stores::memory(&options, mcp_server::store::MemoryEventStore::default())
        }
    };
    let mut server_options = mcp_server::ServerOptions::default();
    server_options.rate_limits = config.rate_limits.clone().map(|l| stores.rate_limits(l));
    if let Some(key) = &config.state_key {
        server_options.state_key = key.clone();
    }
    let endpoint = stores.endpoint(Server::with_options(router(), server_options), options);
    let verifier = auth.clone();
    let health = endpoint.health().with_check("token verifier", move || {
        let verifier = verifier.clone();
        async move { verifier.ready().await }
    });
    let app = axum::Router::new().route_service("/mcp", endpoint.clone().layer(auth));
    let mut app = crate::ops::with_ops_routes(app, &health);
    let [suffixed, root] = metadata.well_known_paths();
    if root != suffixed {
        app = app.route_service(&root, metadata.service());
    }
    let app = app.route_service(&suffixed, metadata.service());
    Ok((app, endpoint))
}

/// Serves `app` on `listener` until `shutdown`, with the SDK's hardened
/// server (connection cap, header and idle timeouts; each request carries
/// the client's address, which the auth layer logs and quotas count by);
/// then shuts `endpoint` down, so that streams waiting for server messages
/// end, and returns once the requests in flight are answered.
///
/// # Errors
/// None in practice; see [`serve_service`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    endpoint: StreamableHttp<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_service(listener, app, ServeOptions::default(), async move {
        shutdown.await;
        endpoint.shutdown();
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A missing secret file stops startup before anything is fetched,
    /// naming the file; a malformed API key file names the line, never
    /// its content.
    #[tokio::test]
    async fn secret_files_fail_at_startup_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("examples-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("introspection-client-secret");
        let missing = missing.to_str().unwrap();
        // The issuer is never asked: the secret is read first.
        let e = introspection_from_file("https://auth.invalid", "rs", "aud", missing)
            .await
            .unwrap_err();
        assert!(
            e.contains("missing secret \"introspection-client-secret\"") && e.contains(missing),
            "{e}"
        );
        let keys = dir.join("api-keys");
        std::fs::write(&keys, "sk-not-a-hash-line\n").unwrap();
        let e = api_keys_from_file(keys.to_str().unwrap())
            .await
            .unwrap_err();
        assert!(e.contains("line 1") && !e.contains("sk-not"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
