//! An upstream killed mid-call: the caller gets a clear error, the circuit
//! opens, the upstream is restarted and service resumes; the other
//! upstream is never affected.

use std::time::Duration;

use mcp_client::CallOptions;
use mcp_core::{CallToolParams, Era};
use mcp_gateway::CircuitState;
use serde_json::json;

use super::{PATIENCE, offers, serve, stdio_upstream};
use crate::support::{args, http_client};

/// Polls `done` until it holds, failing after [`PATIENCE`]: the gateway's
/// supervisor works in the background and reports only through status.
async fn until(mut done: impl FnMut() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upstream_fails_its_calls_and_comes_back() {
    let dir = std::env::temp_dir().join(format!("mcp-gateway-victim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (pids, go) = (dir.join("pids"), dir.join("go"));
    // Each start appends its pid; a restart waits for the test's go-ahead,
    // so the test sees the upstream down for as long as it needs.
    let script = format!(
        "if [ -s '{pids}' ]; then while [ ! -e '{go}' ]; do sleep 0.05; done; fi; echo $$ >> '{pids}'; exec '{server}'",
        pids = pids.display(),
        go = go.display(),
        server = crate::stdio::example("stdio_server").display(),
    );
    let config = format!(
        "[[upstream]]\nname = \"victim\"\ncommand = \"sh\"\nargs = [\"-c\", {script:?}]\nopen_secs = 3600\n\n{}",
        stdio_upstream("other")
    );
    let (gateway, url) = serve(&config).await;
    offers(&gateway, &["victim__echo", "other__echo"]).await;
    let client = http_client(&url, Era::Modern).await;

    // A long call; once it reports progress, the upstream is killed.
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let started_tx = std::sync::Mutex::new(Some(started_tx));
    let options = CallOptions::default().on_progress(move |_| {
        if let Some(tx) = started_tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
    });
    let params = CallToolParams::new("victim__count")
        .with_arguments(args(json!({"to": 100, "delay_ms": 200})));
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call_tool_with(params, options).await }
    });
    tokio::time::timeout(PATIENCE, started)
        .await
        .unwrap()
        .unwrap();
    let pid = std::fs::read_to_string(&pids).unwrap().trim().to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    let r = tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(r.text().unwrap().contains("upstream victim"), "{r:?}");

    // Down: calls fail at once with a clear error; the circuit is open.
    until(|| gateway.status()[0].circuit == CircuitState::Open).await;
    let r = client
        .call_tool("victim__echo", args(json!({"message": "x"})))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let text = r.text().unwrap();
    assert!(text.contains("upstream victim"), "{text}");
    // The other upstream never noticed.
    let r = client
        .call_tool("other__echo", args(json!({"message": "fine"})))
        .await
        .unwrap();
    assert_eq!(r.text().unwrap(), "fine");
    assert_eq!(gateway.status()[1].connects, 1);

    // Restarted (with backoff), and serving again.
    std::fs::write(&go, "").unwrap();
    until(|| gateway.status()[0].connects == 2 && gateway.status()[0].connected).await;
    assert_eq!(gateway.status()[0].circuit, CircuitState::Closed);
    let r = client
        .call_tool("victim__echo", args(json!({"message": "back"})))
        .await
        .unwrap();
    assert_eq!(r.text().unwrap(), "back", "{r:?}");
    assert_eq!(std::fs::read_to_string(&pids).unwrap().lines().count(), 2);

    // What happened, in the metrics.
    let metrics = reqwest::get(url.replace("/mcp", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "mcp_gateway_upstream_up{upstream=\"victim\"} 1",
        "mcp_gateway_upstream_connects_total{upstream=\"victim\"} 2",
        "mcp_gateway_upstream_calls_total{upstream=\"victim\",outcome=\"failed\"} 1",
        "mcp_gateway_upstream_calls_total{upstream=\"victim\",outcome=\"refused\"} 1",
        "mcp_gateway_upstream_calls_total{upstream=\"other\",outcome=\"answered\"} 1",
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
