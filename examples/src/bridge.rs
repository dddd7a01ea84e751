//! The pieces of the `remote_bridge` example: a frame relay between two
//! transports, and a client registration kept on disk so that later runs
//! can refresh the tokens of earlier ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mcp_auth::client::{ClientConfig, ClientCredentials, Secret, discover, register};
use mcp_core::transport::{FrameRead, FrameWrite};

/// Copies frames both ways between the `local` and `remote` transports,
/// until the local side closes (then the remote writer is closed too) or
/// the remote side ends.
///
/// # Errors
/// A fatal error of either side.
pub async fn relay(
    (mut local_in, mut local_out): (impl FrameRead, impl FrameWrite),
    (mut remote_in, mut remote_out): (impl FrameRead, impl FrameWrite),
) -> Result<(), mcp_core::Error> {
    let up = async {
        loop {
            match local_in.read_frame().await {
                Some(Ok(frame)) => remote_out.write_frame(frame).await?,
                Some(Err(e)) if !e.is_fatal() => tracing::warn!("skipped a local frame: {e}"),
                Some(Err(e)) => return Err(e),
                None => return remote_out.close().await,
            }
        }
    };
    let down = async {
        while let Some(frame) = remote_in.read_frame().await {
            match frame {
                Ok(frame) => local_out.write_frame(frame).await?,
                Err(e) if !e.is_fatal() => tracing::warn!("skipped a remote frame: {e}"),
                Err(e) => return Err(e),
            }
        }
        local_out.close().await
    };
    tokio::select! {
        done = up => done,
        done = down => done,
    }
}

/// Where tokens are kept by default: `$XDG_CACHE_HOME/mcp-rs/tokens`, else
/// `~/.cache/mcp-rs/tokens`, else `./mcp-rs-tokens`.
pub fn default_token_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    cache.map_or_else(
        || "mcp-rs-tokens".into(),
        |c| c.join("mcp-rs").join("tokens"),
    )
}

/// The client as the bridge registers it: a public client with a loopback
/// redirect on any port.
pub fn client_config() -> ClientConfig {
    ClientConfig::new("mcp-rs remote bridge", ["http://127.0.0.1/callback"])
}

/// Credentials for the authorization server of the MCP server at `url`:
/// `pre_registered` (a client ID and secret) when given, else those kept
/// in `dir/clients.json` from an earlier run, else a new registration
/// (kept there for next time). A refresh token only works for the client
/// it was issued to, so a client registered afresh on every run would
/// make the user sign in every time.
///
/// # Errors
/// When discovery or registration fails (e.g. the server is not protected),
/// or the file cannot be read or written.
pub async fn credentials(
    url: &str,
    dir: &Path,
    pre_registered: Option<(String, Option<String>)>,
) -> Result<ClientCredentials, Box<dyn std::error::Error>> {
    let file = dir.join("clients.json");
    let mut kept: BTreeMap<String, ClientCredentials> = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e.into()),
    };
    if pre_registered.is_none()
        && let Some(found) = kept.get(url)
    {
        return Ok(found.clone());
    }
    let found = discover(url, None).await?;
    if let Some((id, secret)) = pre_registered {
        return Ok(match secret {
            Some(s) => ClientCredentials::confidential(found.issuer, id, Secret::new(s)),
            None => ClientCredentials::public(found.issuer, id),
        });
    }
    let registration = register(&client_config(), &found.authorization_server).await?;
    kept.insert(url.to_owned(), registration.credentials.clone());
    std::fs::create_dir_all(dir)?;
    write_private(&file, &serde_json::to_vec_pretty(&kept)?)?;
    Ok(registration.credentials)
}

/// Writes `bytes` to `path`, readable by the owner only on Unix (it may
/// hold a client secret).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, bytes)
}
