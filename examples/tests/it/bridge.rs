//! The `remote_bridge` example as the stdio server of a real client: it
//! relays to the protected example application over Streamable HTTP,
//! signing in at the real authorization server (`examples/oidc/as.mjs`)
//! the first time and reusing the kept tokens the next.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_client::Client;
use mcp_core::Era;
use mcp_core::transport::{LineReader, LineWriter};
use reqwest::Url;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::auth_provider::serve;
use crate::oidc::Oidc;
use crate::stdio::example;
use crate::support::{Host, options};

/// A bound on each step, so a wedged bridge fails the test. Nothing waits
/// for it to pass.
const PATIENCE: Duration = Duration::from_secs(60);

/// A directory of its own for the tokens, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mcp-bridge-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> String {
    let url = Url::parse(url).unwrap();
    let found = url.query_pairs().find(|(k, _)| k == name);
    found.unwrap().1.into_owned()
}

/// Runs the bridge to `url` with tokens in `dir`, connects a client in
/// `era` through it and uses the remote server: tools, `whoami`, `echo`,
/// and `show_roots` (the server asks the client, through the bridge).
/// Every authorization URL the bridge prints is followed by `oidc`'s
/// browser. Returns how many there were.
async fn run(oidc: &Arc<Oidc>, url: &str, dir: &TempDir, era: Era) -> usize {
    let mut child = Command::new(example("remote_bridge"))
        .arg(url)
        .args(["--no-browser", "--token-dir"])
        .arg(&dir.0)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // The user: reads the bridge's stderr, and signs in at each URL there.
    let sign_ins = Arc::new(AtomicUsize::new(0));
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (user, counted, log) = (oidc.clone(), sign_ins.clone(), stderr.clone());
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if !line.starts_with("http") {
                continue;
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let redirect_uri = param(&line, "redirect_uri");
            let answer = user.browse(&line, &redirect_uri).await;
            let mut callback = Url::parse(&redirect_uri).unwrap();
            callback.query_pairs_mut().extend_pairs(&answer);
            let page = reqwest::get(callback).await.unwrap();
            assert_eq!(page.status(), reqwest::StatusCode::OK);
        }
    });

    let host = Host::full();
    let stdin = LineWriter::new(child.stdin.take().unwrap());
    let stdout = LineReader::new(child.stdout.take().unwrap());
    let connect = Client::connect(stdout, stdin, options(era), host.clone());
    let connected = tokio::time::timeout(PATIENCE, connect).await.unwrap();
    let client = connected.unwrap_or_else(|e| panic!("{e}; stderr:\n{}", stderr.lock().unwrap()));
    assert_eq!(client.server().era, era);

    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "whoami"), "{tools:?}");
    let args = |v: serde_json::Value| v.as_object().cloned().unwrap();
    let me = client.call_tool("whoami", args(json!({}))).await.unwrap();
    assert_eq!(me.structured_content.unwrap()["subject"], "test-user");
    let echo = json!({"message": "through the bridge"});
    let r = client.call_tool("echo", args(echo)).await.unwrap();
    assert_eq!(r.content[0].as_text(), Some("through the bridge"));
    let r = client.call_tool("show_roots", args(json!({}))).await;
    let r = r.unwrap();
    assert_eq!(r.content[0].as_text(), Some("file:///projects/demo"));
    assert_eq!(host.asked.lock().unwrap().roots, 1);

    // EOF on its stdin: the bridge ends the session and exits by itself.
    client.close().await.unwrap();
    let status = tokio::time::timeout(PATIENCE, child.wait()).await;
    assert!(status.unwrap().unwrap().success());
    tokio::time::timeout(PATIENCE, reader)
        .await
        .unwrap()
        .unwrap();
    let log = stderr.lock().unwrap().clone();
    assert!(log.contains("bridging stdio"), "{log}");
    sign_ins.load(Ordering::SeqCst)
}

async fn sign_in_once(first: Era, second: Era) {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let oidc = Arc::new(oidc);
    let url = serve(&oidc).await;
    let dir = TempDir::new(&format!("{first:?}"));
    assert_eq!(run(&oidc, &url, &dir, first).await, 1, "signs in");
    // The kept registration and tokens: no sign-in this time.
    assert_eq!(run(&oidc, &url, &dir, second).await, 0, "reuses the tokens");
}

#[tokio::test]
async fn bridge_signs_in_once_modern_then_legacy() {
    sign_in_once(Era::Modern, Era::Legacy).await;
}

#[tokio::test]
async fn bridge_signs_in_once_legacy_then_modern() {
    sign_in_once(Era::Legacy, Era::Modern).await;
}

#[tokio::test]
async fn bridge_without_a_url_prints_its_usage() {
    let out = Command::new(example("remote_bridge"))
        .arg("--no-browser")
        .stdin(Stdio::null())
        .output();
    let out = tokio::time::timeout(PATIENCE, out).await.unwrap().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "stdout is the protocol's");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no URL") && stderr.contains("usage:"),
        "{stderr}"
    );
}
