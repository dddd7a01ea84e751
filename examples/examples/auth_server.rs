//! The demo MCP server over Streamable HTTP, protected by an external OAuth
//! 2.1 authorization server: every request needs a bearer token issued for
//! this server, with scope `mcp:read`; `save_note` also needs `mcp:admin`;
//! the `whoami` tool says whom the token stands for.
//!
//! Run with:
//!
//! ```text
//! cargo run --example auth_server -- --issuer https://auth.example.com   # http://127.0.0.1:8000/mcp
//! cargo run --example auth_server -- --issuer http://127.0.0.1:4000 --bind 127.0.0.1:9000 \
//!     --introspection-client mcp-resource-server:SECRET \
//!     --api-key-hash "$(printf %s my-long-random-key | sha256sum | cut -d' ' -f1):agent-1:mcp:read"
//! MCP_AUTHORIZATION="Bearer my-long-random-key" \
//!     cargo run --example http_client -- --call whoami http://127.0.0.1:9000/mcp
//! ```
//!
//! Options:
//!
//! - `--issuer URL` (required): the authorization server. Its metadata
//!   (RFC 8414 or OpenID Connect discovery) must name this exact issuer
//!   and a `jwks_uri`; access tokens are JWTs (RFC 9068) signed with it.
//! - `--bind ADDR` (default `127.0.0.1:8000`): the endpoint's URL goes to
//!   stdout once the server is ready, so a script can bind port 0.
//! - `--resource URL` (default `http://<bound address>/mcp`): the canonical
//!   URL clients reach the endpoint at, and the `aud` tokens must have.
//! - `--introspection-client ID:SECRET`: also accept opaque tokens, asking
//!   the authorization server's introspection endpoint (RFC 7662) as this
//!   client.
//! - `--introspection-client-secret-file PATH`: the introspection client's
//!   secret is in this file (a mounted secret) rather than on the command
//!   line, where other users of the machine can read it; then
//!   `--introspection-client` is the ID alone. The file is re-read when it
//!   changes (checked every 10 s): rotate the secret at the authorization
//!   server, then in the file, without a restart.
//! - `--api-key-hash HEX:SUBJECT:SCOPES` (repeatable): also accept the API
//!   key whose SHA-256 is `HEX`, as `SUBJECT` with the comma-separated
//!   `SCOPES`.
//! - `--api-keys-file PATH`: also accept the API keys listed in this file,
//!   one `HEX:SUBJECT:SCOPES` a line (`#` comments), reloaded when it
//!   changes (checked every 10 s); a malformed new file changes nothing.
//! - `--rate-limit CALLERS=COUNT/PERIOD` (repeatable): `user=40/hour`,
//!   `api-key=60/minute`, `tool:save_note=5/minute` (each caller its own
//!   quota; over it, 429 with `Retry-After`).
//! - `--log-json`: JSON lines on stderr (as does `LOG_FORMAT=json`).
//! - `--probe [URL]` (alone): exit status 0 when `/readyz` on `$PORT` (or
//!   `URL`) answers 200, for a container's health check.
//! - `--google-id-tokens`: accept Google-signed ID tokens whose audience is
//!   the resource (Cloud Run service-to-service) instead of access tokens;
//!   no scopes are required, and `--allow-email ADDRESS` (repeatable) names
//!   the accounts that may call. `--issuer https://accounts.google.com`.
//! - `--cognito-client ID` (repeatable): accept the Cognito user pool's
//!   access tokens (no `aud`) of these app clients; the issuer is the
//!   pool's, `https://cognito-idp.REGION.amazonaws.com/POOL_ID`.
//!   `--scope-prefix PREFIX` puts the resource server's identifier before
//!   the scopes (`https://mcp.example.com/mcp/mcp:read`).
//! - `--redis URL`: sessions, resumable events and rate limits on this
//!   Redis, shared with the other instances (see `docs/scaling.md`).
//! - `--state-key-file PATH`: the request-state key every instance shares
//!   (at least 32 bytes; rotated by replacing the file).
//!
//! A secret file that is missing or unreadable stops the server at
//! startup, with an error naming the file, never a secret's value. For
//! example, with secrets mounted in `/run/secrets`:
//!
//! ```text
//! cargo run --example auth_server -- --issuer https://auth.example.com \
//!     --introspection-client mcp-resource-server \
//!     --introspection-client-secret-file /run/secrets/introspection-client-secret \
//!     --api-keys-file /run/secrets/api-keys --state-key-file /run/secrets/state-key
//! ```
//!
//! Clients discover the authorization server from the Protected Resource
//! Metadata at `/.well-known/oauth-protected-resource/mcp` (and at the
//! root form), which the 401 challenge points at. Refusals go to the
//! security event stream (`mcp::security`). `/healthz`, `/readyz` (ready
//! once the token verifier has keys) and `/metrics` are served beside.
//!
//! To try it without an authorization server of your own, run the test
//! suite's (`npm install` in `examples/oidc` first): `node
//! examples/oidc/as.mjs` prints `READY <issuer>`, logs every user in as
//! `test-user` without asking, and serves until stopped; never expose it.

use examples::auth::{self, Config, IntrospectionClient};

const USAGE: &str = "usage: auth_server --issuer URL [--bind ADDR] [--resource URL] \
                     [--introspection-client ID:SECRET | --introspection-client ID \
                     --introspection-client-secret-file PATH] \
                     [--api-key-hash HEX:SUBJECT:SCOPES]... [--api-keys-file PATH] \
                     [--rate-limit CALLERS=COUNT/PERIOD]... [--log-json] \
                     [--redis URL] [--state-key-file PATH] \
                     [--google-id-tokens [--allow-email ADDRESS]...] \
                     [--cognito-client ID]... [--scope-prefix PREFIX] | --probe [URL]";

/// The command line, before the address is bound.
struct Args {
    issuer: String,
    bind: String,
    resource: Option<String>,
    /// ID and secret.
    introspection: Option<(String, String)>,
    /// ID and the secret's file.
    introspection_from_file: Option<(String, String)>,
    api_keys: Vec<String>,
    api_keys_file: Option<String>,
    rate_limits: Option<mcp_server::limit::RateLimits>,
    log_json: bool,
    redis: Option<String>,
    state_key_file: Option<String>,
    google_id_tokens: bool,
    allow_emails: Vec<String>,
    cognito_clients: Vec<String>,
    scope_prefix: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    // Split once every flag is read: with a secret file the value is the
    // ID alone, colons and all.
    let (mut introspection, mut introspection_secret_file) = (None, None);
    let mut parsed = Args {
        issuer: String::new(),
        // `0.0.0.0:$PORT` in a container whose platform sets `PORT`.
        bind: mcp_server::http::listen_address("127.0.0.1:8000").map_err(|e| e.to_string())?,
        resource: None,
        introspection: None,
        introspection_from_file: None,
        api_keys: Vec::new(),
        api_keys_file: None,
        rate_limits: None,
        log_json: false,
        redis: None,
        state_key_file: None,
        google_id_tokens: false,
        allow_emails: Vec::new(),
        cognito_clients: Vec::new(),
        scope_prefix: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--issuer" => parsed.issuer = value()?,
            "--bind" => parsed.bind = value()?,
            "--resource" => parsed.resource = Some(value()?),
            "--introspection-client" => introspection = Some(value()?),
            "--introspection-client-secret-file" => introspection_secret_file = Some(value()?),
            "--api-key-hash" => parsed.api_keys.push(value()?),
            "--api-keys-file" => parsed.api_keys_file = Some(value()?),
            "--rate-limit" => {
                let policy = examples::ops::parse_rate_limit(&value()?)?;
                parsed.rate_limits = Some(parsed.rate_limits.unwrap_or_default().policy(policy));
            }
            "--log-json" => parsed.log_json = true,
            "--redis" => parsed.redis = Some(value()?),
            "--state-key-file" => parsed.state_key_file = Some(value()?),
            "--google-id-tokens" => parsed.google_id_tokens = true,
            "--allow-email" => parsed.allow_emails.push(value()?),
            "--cognito-client" => parsed.cognito_clients.push(value()?),
            "--scope-prefix" => parsed.scope_prefix = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.issuer.is_empty() {
        return Err("--issuer is required".to_owned());
    }
    match (introspection, introspection_secret_file) {
        (Some(id), Some(path)) => parsed.introspection_from_file = Some((id, path)),
        (Some(value), None) => {
            let (id, secret) = value
                .split_once(':')
                .ok_or("--introspection-client is ID:SECRET")?;
            parsed.introspection = Some((id.to_owned(), secret.to_owned()));
        }
        (None, Some(_)) => {
            return Err(
                "--introspection-client-secret-file needs --introspection-client ID".into(),
            );
        }
        (None, None) => {}
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A container's health check: readiness on $PORT (or the URL given).
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--probe") {
        let url = argv.next().unwrap_or_else(examples::ops::own_readiness);
        let code = examples::ops::probe(&url).await;
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let _telemetry = if args.log_json {
        examples::init_logging_as(true)
    } else {
        examples::init_logging()
    };
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .map_err(|e| format!("bind {}: {e}", args.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let resource = args
        .resource
        .unwrap_or_else(|| format!("http://{addr}/mcp"));
    let mut config = Config::new(args.issuer, resource.clone());
    config.introspection =
        args.introspection
            .map(|(client_id, client_secret)| IntrospectionClient {
                client_id,
                client_secret: mcp_auth::Secret::new(client_secret),
                audience: resource.clone(),
            });
    // Secret files are watched for rotation while the server runs; each
    // watch stops when dropped, so they live as long as `run`.
    let mut watches = Vec::new();
    if let Some((client_id, path)) = &args.introspection_from_file {
        let (introspection, watch) =
            auth::introspection_from_file(&config.issuer, client_id, &resource, path).await?;
        config.rotated_introspection = Some(introspection);
        watches.push(watch);
    }
    if let Some(path) = &args.api_keys_file {
        let (keys, watch) = auth::api_keys_from_file(path).await?;
        config.reloaded_api_keys = Some(keys);
        watches.push(watch);
    }
    config.rate_limits = args.rate_limits;
    if args.google_id_tokens {
        let mut jwt = mcp_auth::JwtConfig::google_id_tokens(resource.clone());
        if !args.allow_emails.is_empty() {
            jwt.required_claims
                .push(("email".to_owned(), args.allow_emails.clone()));
        }
        config.jwt = Some(jwt);
        config.scopes = Some(mcp_auth::RequiredScopes::new());
    } else if !args.cognito_clients.is_empty() {
        // https://cognito-idp.REGION.amazonaws.com/POOL_ID
        let (region, pool) = config
            .issuer
            .strip_prefix("https://cognito-idp.")
            .and_then(|rest| rest.split_once(".amazonaws.com/"))
            .ok_or("--cognito-client needs the user pool's issuer as --issuer")?;
        let jwt = mcp_auth::JwtConfig::cognito(region, pool, args.cognito_clients.clone());
        config.jwt = Some(jwt);
    }
    if let Some(prefix) = &args.scope_prefix {
        config.scopes = Some(auth::scopes_with_prefix(prefix));
    }
    if let Some(url) = &args.redis {
        config.redis = Some(mcp_server::redis::Redis::new(url).map_err(|e| e.to_string())?);
    }
    // Watched for rotation while the server runs.
    let _rotation = match &args.state_key_file {
        Some(path) => {
            let mut options = mcp_server::ServerOptions::default();
            let watch = examples::ops::state_key_from_file(path, &mut options).await?;
            config.state_key = Some(options.state_key);
            Some(watch)
        }
        None => None,
    };
    for spec in &args.api_keys {
        config.api_keys.push(auth::parse_api_key(spec)?);
    }
    // Fails here, at start-up, when the authorization server is wrong.
    let (app, endpoint) = auth::app(&config).await.map_err(|e| e.to_string())?;
    // The URL goes to stdout, so a script that bound port 0 learns it.
    println!("http://{addr}/mcp");
    tracing::info!(%resource, issuer = %config.issuer, "serving; tokens must be for the resource");
    auth::serve(listener, app, endpoint, mcp_server::http::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
