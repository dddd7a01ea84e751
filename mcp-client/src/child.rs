//! A server run as a child process, spoken to over its stdin and stdout.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mcp_core::transport::{LineReader, LineWriter};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::error::Error;

/// What becomes of the child's stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Stderr {
    /// Shared with this process's stderr.
    #[default]
    Inherit,
    /// Each line logged through `tracing` (target `mcp_client::child`).
    Log,
    /// Kept in memory (the last 64 KiB); read it with
    /// [`Client::child_stderr`](crate::Client::child_stderr).
    Capture,
    /// Discarded.
    Discard,
}

/// How to start a server process.
///
/// ```no_run
/// # async fn run() -> Result<(), mcp_client::Error> {
/// use mcp_client::{ChildProcess, Client, ClientOptions, NoHandler};
/// use mcp_core::Implementation;
///
/// let client = Client::spawn(
///     ChildProcess::new("my-mcp-server").arg("--verbose"),
///     ClientOptions::new(Implementation::new("my-host", "1.0.0")),
///     NoHandler,
/// )
/// .await?;
/// let tools = client.list_all_tools().await?;
/// client.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ChildProcess {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    stderr: Stderr,
    grace: Duration,
}

/// Environment variables are how stdio servers get their API keys: their
/// names show, their values do not.
impl std::fmt::Debug for ChildProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildProcess")
            .field("program", &self.program)
            .field("args", &self.args)
            .field(
                "env",
                &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("env_clear", &self.env_clear)
            .field("cwd", &self.cwd)
            .field("stderr", &self.stderr)
            .field("grace", &self.grace)
            .finish()
    }
}

impl ChildProcess {
    /// Runs `program`, found on `PATH` if it has no slash.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            stderr: Stderr::default(),
            grace: Duration::from_secs(2),
        }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts from an empty environment instead of this process's.
    #[must_use]
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Chooses what happens to stderr.
    #[must_use]
    pub fn stderr(mut self, stderr: Stderr) -> Self {
        self.stderr = stderr;
        self
    }

    /// How long closing waits after EOF, and again after SIGTERM, before
    /// escalating (default 2 s each).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Starts the process.
    pub(crate) fn spawn(
        self,
    ) -> Result<(LineReader<ChildStdout>, LineWriter<ChildStdin>, ChildHandle), Error> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(match self.stderr {
                Stderr::Inherit => Stdio::inherit(),
                Stderr::Discard => Stdio::null(),
                Stderr::Log | Stderr::Capture => Stdio::piped(),
            })
            // Last line of defence: a dropped handle kills the child.
            .kill_on_drop(true);
        if self.env_clear {
            command.env_clear();
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        // Its own process group, so closing can signal the server's own
        // children too and none is orphaned.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(Error::Process)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::Process(std::io::Error::other("child pipes missing")));
        };
        let captured = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let mode = self.stderr;
            let captured = Arc::clone(&captured);
            tokio::spawn(async move {
                // Lines are read with a cap and decoded lossily, and the
                // pipe is drained to the end, so a noisy or broken server
                // can neither exhaust memory nor block on a full pipe.
                let mut reader = BufReader::new(stderr);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let read = (&mut reader)
                        .take(MAX_STDERR_LINE)
                        .read_until(b'\n', &mut line)
                        .await;
                    match read {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    if mode == Stderr::Log {
                        tracing::info!(target: "mcp_client::child", "{text}");
                    } else {
                        let mut buf = captured.lock().unwrap_or_else(PoisonError::into_inner);
                        buf.extend(text.bytes().chain([b'\n']));
                        let excess = buf.len().saturating_sub(CAPTURE_LIMIT);
                        buf.drain(..excess);
                    }
                }
            });
        }
        Ok((
            LineReader::new(stdout),
            LineWriter::new(stdin),
            ChildHandle {
                child,
                grace: self.grace,
                captured,
            },
        ))
    }
}

const CAPTURE_LIMIT: usize = 64 * 1024;

/// Longest stderr line kept whole; longer ones are split.
const MAX_STDERR_LINE: u64 = 16 * 1024;

/// The running child: stopped by `Client::close`, killed on drop.
#[derive(Debug)]
pub(crate) struct ChildHandle {
    child: Child,
    grace: Duration,
    captured: Arc<Mutex<VecDeque<u8>>>,
}

impl ChildHandle {
    /// EOF was sent (the writer is gone); wait, then SIGTERM, then SIGKILL.
    pub(crate) async fn close(mut self) -> Result<ExitStatus, Error> {
        if let Ok(status) = tokio::time::timeout(self.grace, self.child.wait()).await {
            return status.map_err(Error::Process);
        }
        self.signal_group(false);
        if let Ok(status) = tokio::time::timeout(self.grace, self.child.wait()).await {
            return status.map_err(Error::Process);
        }
        self.signal_group(true);
        self.child.kill().await.map_err(Error::Process)?;
        self.child.wait().await.map_err(Error::Process)
    }

    #[cfg(unix)]
    fn signal_group(&self, kill: bool) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let signal = if kill {
                Signal::SIGKILL
            } else {
                Signal::SIGTERM
            };
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }

    #[cfg(not(unix))]
    fn signal_group(&mut self, _kill: bool) {
        let _ = self.child.start_kill();
    }

    /// The process id, while the child runs.
    pub(crate) fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// What the child wrote to stderr (when captured).
    pub(crate) fn stderr(&self) -> String {
        let buf = self.captured.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buf.iter().copied().collect::<Vec<u8>>()).into_owned()
    }
}

impl Drop for ChildHandle {
    fn drop(&mut self) {
        // Still running (close was not called): take the whole group down.
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal_group(true);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use mcp_core::transport::FrameWrite;

    fn alive(pid: u32) -> bool {
        // A zombie still has a /proc entry; its state is 'Z'.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    }

    fn descendants_of_group(pgid: u32) -> Vec<u32> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name: state ppid pgrp …
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
                && fields.first() != Some(&"Z")
            {
                found.push(pid);
            }
        }
        found
    }

    /// A server that ignores EOF and SIGTERM, and has a child of its own,
    /// is killed with its whole group: nothing is left running.
    #[tokio::test]
    async fn close_escalates_and_leaves_no_orphans() {
        let script = "trap '' TERM; sleep 300 & while :; do sleep 0.05; done";
        let (_reader, mut writer, handle) = ChildProcess::new("sh")
            .args(["-c", script])
            .grace(Duration::from_millis(200))
            .spawn()
            .unwrap();
        let pid = handle.child.id().unwrap();
        // Wait until the grandchild exists.
        for _ in 0..100 {
            if descendants_of_group(pid).len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            descendants_of_group(pid).len() >= 2,
            "the script and its sleep run"
        );
        writer.close().await.unwrap();
        let status = handle.close().await.unwrap();
        assert!(!status.success());
        assert!(!alive(pid));
        for _ in 0..100 {
            if descendants_of_group(pid).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            descendants_of_group(pid).is_empty(),
            "no process of the group survives"
        );
    }

    /// A server that exits on EOF is just waited for.
    #[tokio::test]
    async fn close_waits_for_a_clean_exit() {
        let (_reader, writer, handle) = ChildProcess::new("cat").spawn().unwrap();
        // Dropping the writer closes the child's stdin: EOF.
        drop(writer);
        let status = handle.close().await.unwrap();
        assert!(status.success());
    }

    #[tokio::test]
    async fn captured_stderr_is_kept() {
        let (_reader, _writer, handle) = ChildProcess::new("sh")
            .args(["-c", "echo oops >&2"])
            .stderr(Stderr::Capture)
            .spawn()
            .unwrap();
        let handle = handle;
        for _ in 0..100 {
            if handle.stderr().contains("oops") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(handle.stderr(), "oops\n");
    }
}
