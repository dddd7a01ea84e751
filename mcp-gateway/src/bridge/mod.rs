//! `mcp-gateway bridge`: a remote Streamable HTTP server, OAuth-protected
//! or not, as a local stdio server, for hosts that only launch commands.
//!
//! Frames are relayed as they are, both ways: requests, responses,
//! notifications and the server's own requests, in either protocol era.
//! The first run signs in through the browser (the URL is also written to
//! stderr); tokens are kept in a directory (by default
//! `$XDG_CACHE_HOME/mcp-rs/tokens` or `~/.cache/mcp-rs/tokens`), so later
//! runs reuse or refresh them. When stdin closes, the HTTP session is
//! ended and the bridge returns.

mod registration;
mod relay;

use std::path::PathBuf;
use std::sync::Arc;

use mcp_auth::client::OAuth;
use mcp_auth::client::store::FileTokenStore;
use mcp_client::{HttpOptions, http_transport};
use mcp_core::transport::{LineReader, LineWriter};

pub use registration::{client_config, credentials, default_token_dir};
pub use relay::{Mirroring, relay};

use crate::error::Error;

/// What the bridge connects to, and how it signs in.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Bridge {
    /// The remote MCP endpoint.
    pub url: String,
    /// Headers sent with every request (an API key, say).
    pub headers: Vec<(String, String)>,
    /// A client registered at the authorization server beforehand, and
    /// its secret if confidential; `None` registers one (RFC 7591) and
    /// keeps it in `token_dir`.
    pub client: Option<(String, Option<String>)>,
    /// The scope to ask for; by default what the server's challenge or
    /// metadata names.
    pub scope: Option<String>,
    /// Where tokens and registrations are kept; [`default_token_dir`]
    /// when `None`.
    pub token_dir: Option<PathBuf>,
    /// Only write the sign-in URL to stderr; do not open a browser.
    pub no_browser: bool,
}

impl Bridge {
    /// A bridge to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The bridge the command line `URL [--header K:V]... [--client-id ID
    /// [--client-secret S]] [--scope S] [--token-dir DIR] [--no-browser]`
    /// asks for.
    ///
    /// # Errors
    /// [`Error::Config`] saying what is wrong with the arguments.
    pub fn from_args(argv: impl IntoIterator<Item = String>) -> Result<Self, Error> {
        let mut argv = argv.into_iter();
        let mut bridge = Self::default();
        let mut client_id = None;
        let mut client_secret = None;
        let config = |why: String| Error::Config(why);
        while let Some(arg) = argv.next() {
            let mut value = || argv.next().ok_or(config(format!("{arg} needs a value")));
            match arg.as_str() {
                "--header" => {
                    let header = value()?;
                    let (k, v) = header
                        .split_once(':')
                        .ok_or(config("--header takes K:V".to_owned()))?;
                    bridge
                        .headers
                        .push((k.trim().to_owned(), v.trim().to_owned()));
                }
                "--client-id" => client_id = Some(value()?),
                "--client-secret" => client_secret = Some(value()?),
                "--scope" => bridge.scope = Some(value()?),
                "--token-dir" => bridge.token_dir = Some(value()?.into()),
                "--no-browser" => bridge.no_browser = true,
                _ if arg.starts_with('-') || !bridge.url.is_empty() => {
                    return Err(config(format!("unexpected argument {arg}")));
                }
                _ => bridge.url = arg,
            }
        }
        if bridge.url.is_empty() {
            return Err(config("no URL".to_owned()));
        }
        bridge.client = match (client_id, client_secret) {
            (Some(id), secret) => Some((id, secret)),
            (None, Some(_)) => return Err(config("--client-secret needs --client-id".to_owned())),
            (None, None) => None,
        };
        Ok(bridge)
    }

    /// The bridge as a command: reads `argv` ([`Bridge::from_args`]), runs
    /// it, and says what went wrong on stderr (after `usage` when the
    /// arguments are wrong): exit status 0, 1 when the bridge failed, 2
    /// for bad arguments.
    pub async fn command(
        argv: impl IntoIterator<Item = String>,
        usage: &str,
    ) -> std::process::ExitCode {
        let bridge = match Self::from_args(argv) {
            Ok(bridge) => bridge,
            Err(e) => {
                eprintln!("{e}\n{usage}");
                return std::process::ExitCode::from(2);
            }
        };
        match bridge.run().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bridge: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    }

    /// Relays this process's stdin and stdout to the remote server until
    /// stdin closes (then the remote session is ended) or the remote side
    /// ends. Stdout carries the protocol only: logs go to stderr.
    ///
    /// # Errors
    /// [`Error::Config`] for headers that cannot be sent or a pre-registered
    /// client the authorization server cannot be found for; a fatal
    /// transport error of either side.
    pub async fn run(self) -> Result<(), Error> {
        let dir = self.token_dir.clone().unwrap_or_else(default_token_dir);
        // A client ID for the server's authorization server, kept on disk
        // so that the tokens of one run can be refreshed by the next.
        let configured = self.client.is_some();
        let mut config = client_config();
        match credentials(&self.url, &dir, self.client.clone()).await {
            Ok(credentials) => config = config.with_credentials(credentials),
            Err(e) if configured => return Err(Error::Config(format!("the client ID: {e}"))),
            // Perhaps not protected at all; a 401 will tell.
            Err(e) => tracing::info!("no client registration ({e}); going on without"),
        }
        let mut oauth =
            OAuth::new(&self.url, config).with_store(Arc::new(FileTokenStore::new(&dir)));
        oauth = if self.no_browser {
            oauth.with_open(|url| eprintln!("To authorize, open this URL in your browser:\n{url}"))
        } else {
            oauth.with_open(|url| {
                eprintln!("To authorize, open this URL in your browser:\n{url}");
                mcp_auth::client::open_browser(url);
            })
        };
        if let Some(scope) = self.scope {
            oauth = oauth.with_scope(scope);
        }
        let mut http = HttpOptions::default().with_auth(Arc::new(oauth));
        for (name, value) in &self.headers {
            http = http
                .with_header(name, value)
                .map_err(|e| Error::Config(format!("header {name}: {e}")))?;
        }
        let remote = http_transport(&self.url, http)?;
        let local = (
            LineReader::new(tokio::io::stdin()),
            LineWriter::new(tokio::io::stdout()),
        );
        tracing::info!(url = %self.url, "bridging stdio to the remote server");
        relay(local, remote).await?;
        Ok(())
    }
}
