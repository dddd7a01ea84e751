//! A remote, OAuth-protected Streamable HTTP MCP server as a local stdio
//! server, for hosts that can only launch commands.
//!
//! ```text
//! cargo run --example remote_bridge -- https://host/mcp [--header K:V]... \
//!     [--client-id ID [--client-secret S]] [--scope S] [--token-dir DIR] [--no-browser]
//! ```
//!
//! Frames are relayed as they are, both ways: requests, responses,
//! notifications and the server's own requests, in either protocol era.
//! The first run signs in through the browser (the URL is also printed to
//! stderr); tokens are kept in `--token-dir` (by default
//! `$XDG_CACHE_HOME/mcp-rs/tokens` or `~/.cache/mcp-rs/tokens`), so later
//! runs reuse or refresh them. Stdout is the protocol channel: everything
//! else, logs included, goes to stderr. When stdin closes, the HTTP
//! session is ended and the bridge exits.

use std::path::PathBuf;
use std::sync::Arc;

use examples::bridge;
use mcp_auth::client::OAuth;
use mcp_auth::client::store::FileTokenStore;
use mcp_client::{HttpOptions, http_transport};
use mcp_core::transport::{LineReader, LineWriter};

const USAGE: &str = "usage: remote_bridge URL [--header K:V]... [--client-id ID [--client-secret S]] \
                     [--scope S] [--token-dir DIR] [--no-browser]";

/// The command line.
#[derive(Default)]
struct Args {
    url: String,
    headers: Vec<(String, String)>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    token_dir: Option<PathBuf>,
    no_browser: bool,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--header" => {
                let header = value()?;
                let (k, v) = header.split_once(':').ok_or("--header takes K:V")?;
                args.headers
                    .push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "--client-id" => args.client_id = Some(value()?),
            "--client-secret" => args.client_secret = Some(value()?),
            "--scope" => args.scope = Some(value()?),
            "--token-dir" => args.token_dir = Some(value()?.into()),
            "--no-browser" => args.no_browser = true,
            _ if arg.starts_with('-') || !args.url.is_empty() => {
                return Err(format!("unexpected argument {arg}"));
            }
            _ => args.url = arg,
        }
    }
    if args.url.is_empty() {
        return Err("no URL".to_owned());
    }
    if args.client_secret.is_some() && args.client_id.is_none() {
        return Err("--client-secret needs --client-id".to_owned());
    }
    Ok(args)
}

/// Sends the user to `url`: the system browser, and the URL on stderr
/// whether that works or not.
fn open_browser(url: &str) {
    eprintln!("To authorize, open this URL in your browser:\n{url}");
    mcp_auth::client::open_browser(url);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _telemetry = examples::init_logging();
    let args = parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("{e}\n{USAGE}");
        std::process::exit(2)
    });
    let dir = args.token_dir.unwrap_or_else(bridge::default_token_dir);

    // A client ID for the server's authorization server, kept on disk so
    // that the tokens of one run can be refreshed by the next.
    let pre_registered = args.client_id.map(|id| (id, args.client_secret));
    let configured = pre_registered.is_some();
    let mut config = bridge::client_config();
    match bridge::credentials(&args.url, &dir, pre_registered).await {
        Ok(credentials) => config = config.with_credentials(credentials),
        Err(e) if configured => return Err(format!("--client-id: {e}").into()),
        // Perhaps not protected at all; a 401 will tell.
        Err(e) => tracing::info!("no client registration ({e}); going on without"),
    }
    let mut oauth = OAuth::new(&args.url, config).with_store(Arc::new(FileTokenStore::new(&dir)));
    oauth = if args.no_browser {
        oauth.with_open(|url| eprintln!("To authorize, open this URL in your browser:\n{url}"))
    } else {
        oauth.with_open(open_browser)
    };
    if let Some(scope) = args.scope {
        oauth = oauth.with_scope(scope);
    }
    let mut http = HttpOptions::default().with_auth(Arc::new(oauth));
    for (name, value) in &args.headers {
        http = http.with_header(name, value)?;
    }

    let remote = http_transport(&args.url, http)?;
    let local = (
        LineReader::new(tokio::io::stdin()),
        LineWriter::new(tokio::io::stdout()),
    );
    tracing::info!(url = %args.url, "bridging stdio to the remote server");
    bridge::relay(local, remote).await?;
    Ok(())
}
