//! Opening a connection to an upstream as its configuration says: a child
//! process over stdio, or Streamable HTTP (either era, with the client's
//! fallbacks) signed in with headers, secrets or OAuth.

use std::sync::Arc;

use mcp_auth::client::store::FileTokenStore;
use mcp_auth::client::{OAuth, Secret};
use mcp_client::{ChildProcess, Client, ClientHandler, ClientOptions, HttpOptions, Stderr};
use mcp_core::Implementation;
use mcp_server::secrets::Secrets;

use crate::bridge::{client_config, credentials, default_token_dir};
use crate::config::{UpstreamConfig, UpstreamOAuth};
use crate::error::Error;

/// Connects to `upstream`, its server requests answered by `handler`: as
/// the gateway itself, or, with `on_behalf`, as the caller whose access
/// token that is, issued by the issuer given with it (token exchange
/// upstreams only: the token is exchanged at that issuer and nowhere
/// else).
pub(crate) async fn connect(
    upstream: &UpstreamConfig,
    secrets: &Secrets,
    handler: impl ClientHandler,
    on_behalf: Option<(&Secret, &str)>,
) -> Result<Client, Error> {
    let mut options = ClientOptions::new(Implementation::new(
        "mcp-gateway",
        env!("CARGO_PKG_VERSION"),
    ));
    options.request_timeout = upstream.timeout();
    if !upstream.versions.is_empty() {
        options.supported_versions = upstream
            .versions
            .iter()
            .map(|v| mcp_core::ProtocolVersion::new(v.clone()))
            .collect();
    }
    if let Some(command) = &upstream.command {
        let mut process = ChildProcess::new(command)
            .args(&upstream.args)
            .stderr(Stderr::Log);
        for (key, value) in &upstream.env {
            process = process.env(key, value);
        }
        for (key, secret) in &upstream.env_secrets {
            process = process.env(key, require(secrets, upstream, secret).await?);
        }
        if let Some(dir) = &upstream.cwd {
            process = process.current_dir(dir);
        }
        return Ok(Client::spawn(process, options, handler).await?);
    }
    let url = upstream.url.as_deref().unwrap_or_default();
    let mut http = HttpOptions::default();
    let header = |http: HttpOptions, name: &str, value: &str| {
        http.with_header(name, value).map_err(|e| {
            Error::Config(format!(
                "upstream {:?}: header {name}: {e}",
                upstream.name()
            ))
        })
    };
    for (name, value) in &upstream.headers {
        http = header(http, name, value)?;
    }
    for (name, secret) in &upstream.header_secrets {
        let value = require(secrets, upstream, secret).await?;
        http = header(http, name, &value)?;
    }
    match &upstream.oauth {
        None => {}
        Some(
            UpstreamOAuth::ClientCredentials {
                client_id,
                client_secret,
                scope,
            }
            | UpstreamOAuth::TokenExchange {
                client_id,
                client_secret,
                scope,
            },
        ) => {
            let secret = require(secrets, upstream, client_secret).await?;
            let dir = default_token_dir();
            let found = credentials(url, &dir, Some((client_id.clone(), Some(secret)))).await?;
            let config = client_config().with_credentials(found);
            let mut oauth = match on_behalf {
                Some((subject, issuer)) => {
                    OAuth::token_exchange(url, config, subject.clone(), issuer)
                }
                None => OAuth::client_credentials(url, config),
            };
            if let Some(scope) = scope {
                oauth = oauth.with_scope(scope);
            }
            http = http.with_auth(Arc::new(oauth));
        }
        Some(UpstreamOAuth::AuthorizationCode {
            client_id,
            scope,
            token_dir,
        }) => {
            let dir = token_dir
                .as_ref()
                .map_or_else(default_token_dir, Into::into);
            let pre = client_id.clone().map(|id| (id, None));
            let mut config = client_config();
            match credentials(url, &dir, pre).await {
                Ok(found) => config = config.with_credentials(found),
                Err(e) => {
                    tracing::info!(upstream = upstream.name(), "no client registration ({e})");
                }
            }
            let mut oauth = OAuth::new(url, config)
                .with_store(Arc::new(FileTokenStore::new(&dir)))
                .with_open(|url| {
                    eprintln!("To authorize, open this URL in your browser:\n{url}");
                    mcp_auth::client::open_browser(url);
                });
            if let Some(scope) = scope {
                oauth = oauth.with_scope(scope);
            }
            http = http.with_auth(Arc::new(oauth));
        }
    }
    let (reader, writer) = mcp_client::http_transport(url, http)?;
    Ok(Client::connect(reader, writer, options, handler).await?)
}

/// The secret `name`, or an error naming it (never its value).
async fn require(
    secrets: &Secrets,
    upstream: &UpstreamConfig,
    name: &str,
) -> Result<String, Error> {
    let secret = secrets.require(name).await.map_err(|e| {
        Error::Config(format!(
            "upstream {:?}: secret {name:?}: {e}",
            upstream.name()
        ))
    })?;
    Ok(secret.expose().to_owned())
}
