//! Where a client keeps its tokens: the [`TokenStore`] trait, keyed by
//! MCP server and issuer, with [`MemoryTokenStore`] and
//! [`FileTokenStore`].

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Reason};
use crate::secret::Secret;

/// What tokens are for: one MCP server (its canonical resource URL) at one
/// authorization server (its issuer). Tokens issued by one issuer are never
/// offered to another's server, nor the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TokenKey {
    /// The MCP server's canonical URL, as sent in `resource`.
    pub resource: String,
    /// The authorization server's issuer.
    pub issuer: String,
}

impl TokenKey {
    /// The key for `resource`'s tokens from `issuer`.
    pub fn new(resource: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            issuer: issuer.into(),
        }
    }
}

/// The tokens a client holds for one [`TokenKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredTokens {
    /// Sent as `Authorization: Bearer …`.
    pub access_token: Secret,
    /// Exchanged for a new access token when that one expires.
    pub refresh_token: Option<Secret>,
    /// When the access token expires, when the server said
    /// (`expires_in`). Absolute, so it survives a restart.
    pub expires_at: Option<SystemTime>,
    /// The scopes granted (or requested, when the server did not say).
    pub scopes: Vec<String>,
    /// `Bearer`, the only kind used.
    pub token_type: String,
}

impl StoredTokens {
    /// A Bearer `access_token`, with no refresh token, expiry or scopes.
    pub fn new(access_token: Secret) -> Self {
        Self {
            access_token,
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
            token_type: "Bearer".to_owned(),
        }
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: Secret) -> Self {
        self.refresh_token = Some(refresh_token);
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the access token expires within `margin` from now (time to
    /// refresh). `false` when the expiry is unknown.
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|at| at <= SystemTime::now() + margin)
    }
}

/// Where tokens are kept between uses (and restarts). Object-safe: hold it
/// as `Arc<dyn TokenStore>`.
///
/// A store replaces the tokens of a key as a whole: after a refresh that
/// rotated the refresh token, the old one is gone.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The tokens for `key`, if any.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be read or holds something
    /// corrupt for this key.
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredTokens>, Error>;

    /// Keeps `tokens` for `key`, replacing what was there.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be written.
    async fn save(&self, key: &TokenKey, tokens: &StoredTokens) -> Result<(), Error>;

    /// Forgets the tokens for `key` (after `invalid_grant`, or on sign
    /// out). Forgetting nothing is not an error.
    ///
    /// # Errors
    /// [`Error::Storage`] when the store cannot be written.
    async fn remove(&self, key: &TokenKey) -> Result<(), Error>;
}

/// Tokens in memory, gone with the process.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MemoryTokenStore {
    tokens: Mutex<HashMap<TokenKey, StoredTokens>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, StoredTokens>> {
        // Nothing can be left half-done under this lock.
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredTokens>, Error> {
        Ok(self.map().get(key).cloned())
    }

    async fn save(&self, key: &TokenKey, tokens: &StoredTokens) -> Result<(), Error> {
        self.map().insert(key.clone(), tokens.clone());
        Ok(())
    }

    async fn remove(&self, key: &TokenKey) -> Result<(), Error> {
        self.map().remove(key);
        Ok(())
    }
}

/// Tokens in files: one JSON file per [`TokenKey`] in a directory, named
/// after a SHA-256 of the key (`tokens-<hex>.json`), holding the key
/// itself too (a file found under another key's name is refused).
///
/// One file per key means keys never clash, and saving one never rewrites
/// another. On Unix the directory is created with mode 0700 when missing
/// (an existing one is used as it is) and every file is written with mode
/// 0600. Writes are atomic: a temporary file in the same directory is
/// written, flushed to disk and renamed over the old one, so a reader sees
/// the old tokens or the new, never a mix, even after a crash. A file that
/// does not parse is an error ([`Error::Storage`]), not an absence.
///
/// Expiry times are kept to the second, rounded down.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileTokenStore {
    dir: PathBuf,
}

/// The file format; `version` lets a later one tell.
#[derive(Serialize, Deserialize)]
struct Record {
    version: u32,
    resource: String,
    issuer: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
    token_type: String,
}

impl FileTokenStore {
    /// A store in `dir`, created on the first save.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `key`'s tokens.
    pub fn path_for(&self, key: &TokenKey) -> PathBuf {
        // Length-prefixed, so no two keys hash the same input.
        let mut hash = Sha256::new();
        for part in [&key.resource, &key.issuer] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        let hex = mcp_core::hex::encode(&hash.finalize());
        self.dir.join(format!("tokens-{hex}.json"))
    }
}

fn storage(path: &Path, what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Storage(Reason::caused_by(
        format!("{}: {what}: {e}", path.display()),
        e,
    ))
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Storage(Reason::caused_by(format!("file task failed: {e}"), e)))?
}

fn read(path: &Path, key: &TokenKey) -> Result<Option<StoredTokens>, Error> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage(path, "cannot read", e)),
    };
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| storage(path, "corrupt", e))?;
    if record.version != 1 {
        return Err(Error::Storage(
            format!("{}: unknown version {}", path.display(), record.version).into(),
        ));
    }
    if record.resource != key.resource || record.issuer != key.issuer {
        return Err(Error::Storage(
            format!(
                "{}: corrupt: holds the tokens of another key",
                path.display()
            )
            .into(),
        ));
    }
    Ok(Some(StoredTokens {
        access_token: Secret::new(record.access_token),
        refresh_token: record.refresh_token.map(Secret::new),
        expires_at: record
            .expires_at
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
        scopes: record.scopes,
        token_type: record.token_type,
    }))
}

fn write(dir: &Path, path: &Path, key: &TokenKey, tokens: &StoredTokens) -> Result<(), Error> {
    let expires_at = tokens
        .expires_at
        .map(|at| at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()))
        .transpose()
        .map_err(|e| storage(path, "expiry before 1970", e))?;
    let record = Record {
        version: 1,
        resource: key.resource.clone(),
        issuer: key.issuer.clone(),
        access_token: tokens.access_token.expose().to_owned(),
        refresh_token: tokens.refresh_token.as_ref().map(|s| s.expose().to_owned()),
        expires_at,
        scopes: tokens.scopes.clone(),
        token_type: tokens.token_type.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&record).map_err(|e| storage(path, "encode", e))?;

    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| storage(dir, "cannot create directory", e))?;

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = crate::client::pkce::random_b64(9)?;
    let temp = dir.join(format!(".{name}.{suffix}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    // create_new: never through a symlink or onto another writer's file.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp)
        .map_err(|e| storage(&temp, "cannot create", e))?;
    let written = file
        .write_all(&bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&temp, path)
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(storage(path, "cannot write", e));
    }
    // The rename itself is durable once the directory is.
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| storage(dir, "cannot sync directory", e))?;
    Ok(())
}

#[async_trait::async_trait]
impl TokenStore for FileTokenStore {
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredTokens>, Error> {
        let path = self.path_for(key);
        let key = key.clone();
        blocking(move || read(&path, &key)).await
    }

    async fn save(&self, key: &TokenKey, tokens: &StoredTokens) -> Result<(), Error> {
        let (dir, path) = (self.dir.clone(), self.path_for(key));
        let (key, tokens) = (key.clone(), tokens.clone());
        blocking(move || write(&dir, &path, &key, &tokens)).await
    }

    async fn remove(&self, key: &TokenKey) -> Result<(), Error> {
        let path = self.path_for(key);
        blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(storage(&path, "cannot remove", e))
            }
            _ => Ok(()),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: &str, refresh: Option<&str>) -> StoredTokens {
        let mut t = StoredTokens::new(Secret::new(access))
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
            .with_scopes(["mcp:read", "mcp:write"]);
        t.refresh_token = refresh.map(Secret::new);
        t
    }

    /// A fresh directory under the system's temporary one, removed when
    /// dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let name = crate::client::pkce::random_b64(12).unwrap();
            Self(std::env::temp_dir().join(format!("mcp-auth-store-{name}")))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let t = tokens("at-SECRET", Some("rt-SECRET"));
        let debug = format!("{t:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert_eq!(t.access_token.expose(), "at-SECRET");
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("ab"));
    }

    #[test]
    fn expiry_margin() {
        let mut t = tokens("a", None);
        assert!(!t.expires_within(Duration::from_secs(60)));
        t.expires_at = Some(SystemTime::now() + Duration::from_secs(30));
        assert!(t.expires_within(Duration::from_secs(60)));
        t.expires_at = None;
        assert!(!t.expires_within(Duration::from_secs(60)));
    }

    #[tokio::test]
    async fn memory_round_trip() {
        let store: Box<dyn TokenStore> = Box::new(MemoryTokenStore::new());
        let key = TokenKey::new("https://mcp.example/mcp", "https://as.example");
        assert_eq!(store.load(&key).await.unwrap(), None);
        store.save(&key, &tokens("a1", Some("r1"))).await.unwrap();
        assert_eq!(
            store.load(&key).await.unwrap(),
            Some(tokens("a1", Some("r1")))
        );
        store.save(&key, &tokens("a2", None)).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), Some(tokens("a2", None)));
        store.remove(&key).await.unwrap();
        store.remove(&key).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn file_round_trip_and_keys_apart() {
        let dir = TempDir::new();
        let store = FileTokenStore::new(dir.0.join("nested/tokens"));
        let a = TokenKey::new("https://mcp.example/mcp", "https://as.example");
        let b = TokenKey::new("https://mcp.example/mcp", "https://other-as.example");
        let c = TokenKey::new("https://mcp.example/mcpx", "https://as.example");
        assert_eq!(store.load(&a).await.unwrap(), None);
        store.save(&a, &tokens("a", Some("ra"))).await.unwrap();
        store.save(&b, &tokens("b", None)).await.unwrap();
        store.save(&c, &tokens("c", Some("rc"))).await.unwrap();
        assert_eq!(store.load(&a).await.unwrap(), Some(tokens("a", Some("ra"))));
        assert_eq!(store.load(&b).await.unwrap(), Some(tokens("b", None)));
        assert_eq!(store.load(&c).await.unwrap(), Some(tokens("c", Some("rc"))));
        let paths = [store.path_for(&a), store.path_for(&b), store.path_for(&c)];
        assert!(paths[0] != paths[1] && paths[1] != paths[2] && paths[0] != paths[2]);
        // The name does not reveal the URLs.
        assert!(!paths[0].to_string_lossy().contains("example"));

        store.remove(&a).await.unwrap();
        assert_eq!(store.load(&a).await.unwrap(), None);
        assert_eq!(store.load(&b).await.unwrap(), Some(tokens("b", None)));
        store.remove(&a).await.unwrap();

        // Sub-second expiry is rounded down.
        let mut t = tokens("d", None);
        t.expires_at = Some(UNIX_EPOCH + Duration::from_millis(1_900_000_000_900));
        store.save(&a, &t).await.unwrap();
        let back = store.load(&a).await.unwrap().unwrap();
        assert_eq!(
            back.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TempDir::new();
        let store = FileTokenStore::new(dir.0.join("store"));
        let key = TokenKey::new("https://mcp.example/mcp", "https://as.example");
        store.save(&key, &tokens("a", Some("r"))).await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.dir()), 0o700);
        assert_eq!(mode(&store.path_for(&key)), 0o600);
        // A file left readable by someone else is replaced by a private one.
        std::fs::set_permissions(store.path_for(&key), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        store.save(&key, &tokens("b", None)).await.unwrap();
        assert_eq!(mode(&store.path_for(&key)), 0o600);
    }

    #[tokio::test]
    async fn replacing_is_atomic() {
        let dir = TempDir::new();
        let store = FileTokenStore::new(&dir.0);
        let key = TokenKey::new("https://mcp.example/mcp", "https://as.example");
        store
            .save(&key, &tokens("old", Some("old-r")))
            .await
            .unwrap();
        let path = store.path_for(&key);
        let before = std::fs::read(&path).unwrap();
        // A reader holding the old file...
        let held = std::fs::File::open(&path).unwrap();
        store
            .save(&key, &tokens("new", Some("new-r")))
            .await
            .unwrap();
        // ...still reads the whole old file: the new one was renamed into
        // place, not written over it.
        let mut old = Vec::new();
        std::io::Read::read_to_end(&mut &held, &mut old).unwrap();
        assert_eq!(old, before);
        assert_eq!(
            store.load(&key).await.unwrap(),
            Some(tokens("new", Some("new-r")))
        );
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [path.file_name().unwrap().to_owned()]);
    }

    #[tokio::test]
    async fn corrupt_files_are_errors() {
        let dir = TempDir::new();
        let store = FileTokenStore::new(&dir.0);
        let key = TokenKey::new("https://mcp.example/mcp", "https://as.example");
        let other = TokenKey::new("https://evil.example/mcp", "https://as.example");
        store.save(&other, &tokens("x", None)).await.unwrap();
        // Another key's file under this key's name.
        std::fs::copy(store.path_for(&other), store.path_for(&key)).unwrap();
        assert!(matches!(store.load(&key).await, Err(Error::Storage(_))));
        for junk in [&b"{not json"[..], b"", b"{\"version\":1}", b"[]"] {
            std::fs::write(store.path_for(&key), junk).unwrap();
            let e = store.load(&key).await.unwrap_err();
            assert!(
                matches!(&e, Error::Storage(m) if m.contains("corrupt")),
                "{e}"
            );
        }
        // Saving replaces a corrupt file.
        store.save(&key, &tokens("y", None)).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), Some(tokens("y", None)));
    }
}
