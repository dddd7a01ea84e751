//! Secrets from somewhere other than the code: the environment (for
//! development), files (mounted secrets, as Kubernetes, Cloud Run and ECS
//! provide them), or a vault of your own ([`SecretSource`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use mcp_server::{ServerOptions, StateKey};
//! use mcp_server::secrets::{EnvSecrets, FileSecrets, Secrets};
//!
//! # async fn run() -> Result<(), mcp_server::Error> {
//! // `/run/secrets/state-key`, else `MCP_STATE_KEY`.
//! let secrets = Secrets::new()
//!     .with(FileSecrets::new("/run/secrets"))
//!     .with(EnvSecrets::new("MCP_"));
//! // Missing: an error naming the secret and where it was looked for.
//! let key = StateKey::from_secret(&secrets.require("state-key").await?)?;
//! let mut options = ServerOptions::default();
//! options.state_key = key.clone();
//! // A new value in the file rotates the key: states sealed with the
//! // previous one still open.
//! let _watch = secrets
//!     .watch("state-key", Duration::from_secs(30), move |secret| {
//!         if let Err(e) = key.rotate_to(&secret) {
//!             tracing::error!(error = %e, "request-state key not rotated");
//!         }
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Values never appear in `Debug`, logs or errors: [`Secret`] redacts
//! them, and errors name the secret and the places looked in.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use mcp_core::secret::Secret;

use crate::Error;

/// Where secrets are read from. Implement it for a vault; `read` is called
/// at startup and on every [`Secrets::watch`] poll.
#[async_trait::async_trait]
pub trait SecretSource: Send + Sync + fmt::Debug + 'static {
    /// The secret `name`; `None` when this source does not have it.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the source cannot be read (a vault that
    /// does not answer); never holding the value.
    async fn read(&self, name: &str) -> Result<Option<Secret>, Error>;

    /// Where this source looks for `name`, for error messages
    /// (`"file /run/secrets/state-key"`).
    fn location(&self, name: &str) -> String;
}

/// Secrets from environment variables: `name` uppercased, `-` and `.` as
/// `_`, after a prefix (`MCP_` makes `state-key` `MCP_STATE_KEY`). For
/// development: the environment of a process is readable by more than it.
#[derive(Debug, Clone)]
pub struct EnvSecrets {
    prefix: String,
}

impl EnvSecrets {
    /// Variables named `prefix` followed by the secret's name.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    fn variable(&self, name: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| match c {
                '-' | '.' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        format!("{}{name}", self.prefix)
    }
}

#[async_trait::async_trait]
impl SecretSource for EnvSecrets {
    async fn read(&self, name: &str) -> Result<Option<Secret>, Error> {
        Ok(std::env::var(self.variable(name)).ok().map(Secret::new))
    }

    fn location(&self, name: &str) -> String {
        format!("environment variable {}", self.variable(name))
    }
}

/// Secrets from files in a directory, one file per secret named as the
/// secret (how orchestrators mount them). A trailing newline is not part
/// of the value. Files over 64 KiB are refused: no secret is that large,
/// and the file would be read on every poll.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    dir: PathBuf,
}

const MAX_SECRET_FILE: u64 = 64 * 1024;

impl FileSecrets {
    /// Secrets in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        // A name is a file name, never a path out of the directory.
        let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
        plain.then(|| self.dir.join(name))
    }
}

#[async_trait::async_trait]
impl SecretSource for FileSecrets {
    async fn read(&self, name: &str) -> Result<Option<Secret>, Error> {
        let Some(path) = self.path(name) else {
            return Ok(None);
        };
        let unreadable = |e: std::io::Error| {
            Error::Unavailable(format!("secret {name:?} in {}: {e}", path.display()))
        };
        let metadata = match tokio::fs::metadata(&path).await {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e)),
        };
        if metadata.len() > MAX_SECRET_FILE {
            return Err(Error::Config(format!(
                "secret {name:?} in {} is over {MAX_SECRET_FILE} bytes",
                path.display()
            )));
        }
        let text = tokio::fs::read_to_string(&path).await.map_err(unreadable)?;
        let value = text.strip_suffix('\n').unwrap_or(&text);
        let value = value.strip_suffix('\r').unwrap_or(value);
        Ok(Some(Secret::new(value)))
    }

    fn location(&self, name: &str) -> String {
        match self.path(name) {
            Some(path) => format!("file {}", path.display()),
            None => format!("no file (the name {name:?} is not a file name)"),
        }
    }
}

/// Sources asked in order: the first that has a secret gives it.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    sources: Vec<Arc<dyn SecretSource>>,
}

impl Secrets {
    /// No sources yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks `source` after the sources added before it.
    #[must_use]
    pub fn with(mut self, source: impl SecretSource) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    /// The secret `name` from the first source that has it, or `None`.
    ///
    /// # Errors
    /// A source that cannot be read.
    pub async fn get(&self, name: &str) -> Result<Option<Secret>, Error> {
        for source in &self.sources {
            if let Some(secret) = source.read(name).await? {
                return Ok(Some(secret));
            }
        }
        Ok(None)
    }

    /// The secret `name`, which the server cannot run without.
    ///
    /// # Errors
    /// [`Error::Config`] naming the secret and every place looked in when
    /// no source has it (check this at startup); a source that cannot be
    /// read.
    pub async fn require(&self, name: &str) -> Result<Secret, Error> {
        self.get(name).await?.ok_or_else(|| {
            let places: Vec<String> = self.sources.iter().map(|s| s.location(name)).collect();
            Error::Config(format!(
                "missing secret {name:?} (looked in: {})",
                if places.is_empty() {
                    "no sources configured".to_owned()
                } else {
                    places.join(", ")
                }
            ))
        })
    }

    /// Calls `on_change` with the secret `name` whenever its value differs
    /// from the last one seen, checking every `every`. The value now is
    /// read before this returns and counts as seen. A source that fails
    /// later is logged and tried again next time; a secret that disappears
    /// keeps its last value. Dropping the watch stops it.
    ///
    /// # Errors
    /// A source that cannot be read now.
    pub async fn watch<F>(
        &self,
        name: &str,
        every: Duration,
        on_change: F,
    ) -> Result<SecretWatch, Error>
    where
        F: Fn(Secret) + Send + Sync + 'static,
    {
        let inner = Arc::new(WatchInner {
            secrets: self.clone(),
            name: name.to_owned(),
            last: Mutex::new(None),
            on_change: Box::new(on_change),
        });
        inner.check(false).await?;
        let poller = Arc::clone(&inner);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(e) = poller.check(true).await {
                    tracing::warn!(secret = %poller.name, error = %e, "secret not re-read");
                }
            }
        });
        Ok(SecretWatch {
            inner,
            task: task.abort_handle(),
        })
    }
}

/// A running [`Secrets::watch`]. Dropping it stops the watch.
pub struct SecretWatch {
    inner: Arc<WatchInner>,
    task: tokio::task::AbortHandle,
}

impl fmt::Debug for SecretWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretWatch")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl SecretWatch {
    /// Reads the secret now, calling the change callback if it changed;
    /// whether it did. For a rotation that cannot wait for the next poll
    /// (an operator's signal, a test).
    ///
    /// # Errors
    /// A source that cannot be read.
    pub async fn refresh(&self) -> Result<bool, Error> {
        self.inner.check(true).await
    }
}

impl Drop for SecretWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct WatchInner {
    secrets: Secrets,
    name: String,
    last: Mutex<Option<Secret>>,
    on_change: Box<dyn Fn(Secret) + Send + Sync>,
}

impl WatchInner {
    /// Reads the secret; when it differs from the last value seen,
    /// remembers it and, if `notify`, calls back.
    async fn check(&self, notify: bool) -> Result<bool, Error> {
        let Some(now) = self.secrets.get(&self.name).await? else {
            return Ok(false);
        };
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if last.as_ref() == Some(&now) {
                return Ok(false);
            }
            let first = last.is_none();
            *last = Some(now.clone());
            if first && !notify {
                return Ok(false);
            }
        }
        tracing::info!(secret = %self.name, "secret changed");
        (self.on_change)(now);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_follow_the_secret_names() {
        assert_eq!(
            EnvSecrets::new("MCP_").variable("state-key"),
            "MCP_STATE_KEY"
        );
        assert_eq!(EnvSecrets::new("").variable("api.keys"), "API_KEYS");
    }

    #[tokio::test]
    async fn files_are_read_trimmed_and_names_stay_in_their_directory() {
        let dir = std::env::temp_dir().join(format!("mcp-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), "s3cret\n").unwrap();
        let files = FileSecrets::new(&dir);
        assert_eq!(
            files.read("token").await.unwrap().unwrap().expose(),
            "s3cret"
        );
        assert!(files.read("absent").await.unwrap().is_none());
        for escape in ["../token", "/etc/passwd", ".hidden", ""] {
            assert!(files.read(escape).await.unwrap().is_none(), "{escape}");
        }
        let secrets = Secrets::new()
            .with(files)
            .with(EnvSecrets::new("MCP_TEST_NONE_"));
        let e = secrets.require("state-key").await.unwrap_err().to_string();
        assert!(e.contains("missing secret \"state-key\""), "{e}");
        assert!(e.contains("MCP_TEST_NONE_STATE_KEY"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
