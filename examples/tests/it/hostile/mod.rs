//! Hostile peers against the real example binaries, on 127.0.0.1 only:
//! each test makes an attack of `docs/security.md`'s threat model, asserts
//! that it is refused or cut off (and that memory stays under its cap),
//! and that a normal client is served meanwhile and afterwards. Every
//! loop is bounded in count, and every wait by [`PATIENCE`].

mod client;
mod connections;
mod hosts;
mod memory;
mod quotas;
mod scopes;

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::stdio::example;

/// The bound on every wait: an attack that is not cut off fails the test
/// by reaching it. Nothing waits for it to pass.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// The 2026-07-28 `_meta` every stateless request carries.
pub(crate) const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

/// A running example server; killed when dropped.
pub(crate) struct Running {
    child: Child,
    pub(crate) url: String,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts example `name` with `args` (it binds 127.0.0.1:0 and prints
    /// its URL), with at most `fds` open files when given.
    pub(crate) async fn start(name: &str, args: &[&str], fds: Option<u32>) -> Self {
        let mut command = match fds {
            None => Command::new(example(name)),
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(r#"ulimit -n "$1" && shift && exec "$@""#)
                    .arg("sh")
                    .arg(limit.to_string())
                    .arg(example(name));
                sh
            }
        };
        command
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        // Drained all along (a full pipe would block the server's logging),
        // keeping the last 64 KiB.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut line = String::new();
            while pipe.read_line(&mut line).await.unwrap_or(0) > 0 {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                if log.len() > 64 * 1024 {
                    let cut = log.len() - 32 * 1024;
                    let cut = (cut..log.len()).find(|&i| log.is_char_boundary(i)).unwrap();
                    log.drain(..cut);
                }
                line.clear();
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        tokio::time::timeout(PATIENCE, stdout.read_line(&mut url))
            .await
            .expect("the server printed its URL")
            .unwrap();
        // Keep stdout open for the server's whole life.
        tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink).await;
        });
        Self {
            child,
            url: url.trim().to_owned(),
            stderr,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        let authority = self
            .url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap();
        authority.parse().unwrap()
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// The server's resident memory now, in bytes.
    pub(crate) fn rss(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:").unwrap_or(0) * 1024
    }

    /// Whether the server has exited.
    pub(crate) fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// What the server logged (its last 64 KiB).
    pub(crate) fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the server logged `text`.
    pub(crate) async fn wait_for_log(&self, text: &str) {
        let found = tokio::time::timeout(PATIENCE, async {
            while !self.log().contains(text) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "no {text:?} in the log:\n{}", self.log());
    }
}

/// A field of `/proc/PID/status`, in KiB.
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// An HTTP client whose connections come from `from` (another loopback
/// address is another client, as far as per-client quotas go).
pub(crate) fn http_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

/// A stateless 2026-07-28 request, its mirrored headers set as a client
/// sets them.
pub(crate) fn modern(
    http: &reqwest::Client,
    url: &str,
    method: &str,
    name: Option<&str>,
    body: String,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .body(body);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    request
}

/// Calls `echo` statelessly; its status, headers and body.
pub(crate) async fn echo(
    http: &reqwest::Client,
    url: &str,
    message: &str,
) -> (StatusCode, HeaderMap, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": message}},
    });
    let body = with_meta(&body);
    let response = modern(http, url, "tools/call", Some("echo"), body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// Asserts that a normal client gets its `echo` answered.
pub(crate) async fn served(http: &reqwest::Client, url: &str) {
    let (status, _, body) = echo(http, url, "still here").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("still here"), "{body}");
}

/// `request` (a JSON-RPC request object) with the 2026-07-28 `_meta` in
/// its params.
pub(crate) fn with_meta(request: &Value) -> String {
    let mut request = request.clone();
    let meta: Value = serde_json::from_str(&format!("{{{META}}}")).unwrap();
    request["params"]["_meta"] = meta["_meta"].clone();
    request.to_string()
}

/// A legacy session of `http`'s client: its id (after `initialize` and
/// `notifications/initialized`).
pub(crate) async fn legacy_session(
    http: &reqwest::Client,
    url: &str,
    version: &str,
) -> Result<String, (StatusCode, HeaderMap, String)> {
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "hostile", "version": "1"}},
    });
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    let Some(id) = headers.get("mcp-session-id") else {
        return Err((status, headers, body));
    };
    let id = id.to_str().unwrap().to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let done = legacy_post(http, url, &id, version, initialized.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::ACCEPTED);
    Ok(id)
}

/// A POST of session `id`, accepting JSON and SSE.
pub(crate) fn legacy_post(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    version: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    legacy_post_accepting(
        http,
        url,
        id,
        version,
        "application/json, text/event-stream",
        body,
    )
}

/// A POST of session `id`, accepting `accept`.
pub(crate) fn legacy_post_accepting(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    version: &str,
    accept: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    http.post(url)
        .header("content-type", "application/json")
        .header("accept", accept)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", version)
        .body(body)
}
