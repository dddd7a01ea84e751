//! The bridge's client at the remote server's authorization server: a
//! registration kept on disk, so that later runs can refresh the tokens of
//! earlier ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mcp_auth::client::{ClientConfig, ClientCredentials, Secret, discover, register};

use crate::error::Error;

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
) -> Result<ClientCredentials, Error> {
    let file = dir.join("clients.json");
    let mut kept: BTreeMap<String, ClientCredentials> = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Config(format!("{}: {e}", file.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(Error::Io(file.display().to_string(), e)),
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
    std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
    let bytes = serde_json::to_vec_pretty(&kept)
        .map_err(|e| Error::Config(format!("the registrations: {e}")))?;
    write_private(&file, &bytes).map_err(|e| Error::Io(file.display().to_string(), e))?;
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
