//! The `http_server` example run as an operator would: with a rate limit
//! and JSON logs from the command line, probes and metrics beside the
//! endpoint, and each log line a JSON object carrying the request's
//! correlation fields.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::stdio::example;

#[tokio::test]
async fn the_http_example_serves_probes_metrics_rate_limits_and_json_logs() {
    let mut child = tokio::process::Command::new(example("http_server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--rate-limit",
            "anonymous=2/hour",
            "--log-json",
        ])
        .env("RUST_LOG", "info,mcp_server::request=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = stdout.next_line().await.unwrap().unwrap();
    let base = url.trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let call = |id: u64| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo")
            .body(
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                    "name": "echo", "arguments": {"message": "hi"},
                    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                              "io.modelcontextprotocol/clientCapabilities": {}}}})
                .to_string(),
            )
            .send()
    };
    assert_eq!(call(1).await.unwrap().status(), 200);
    assert_eq!(call(2).await.unwrap().status(), 200);
    let refused = call(3).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1800");

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("mcp_server_rate_limited_total{policy=\"anonymous\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gen_ai_tool_name=\"echo\""), "{metrics}");

    // Stop it, then read what it logged: every line JSON, and the rate
    // limit's security event among them.
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut events = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        events.push(event);
    }
    let limited = events
        .iter()
        .find(|e| e["target"] == "mcp::security")
        .unwrap_or_else(|| panic!("no security event in {events:?}"));
    assert_eq!(limited["fields"]["event"], "rate_limited");
    assert_eq!(limited["fields"]["client.address"], "127.0.0.1");
    // As each request ends, a line with its span's correlation fields.
    let served: Vec<&Value> = events
        .iter()
        .filter(|e| e["span"]["otel.name"] == "tools/call echo")
        .collect();
    assert_eq!(served.len(), 2, "{events:?}");
    let span = &served[0]["span"];
    assert_eq!(span["mcp.method.name"], "tools/call", "{span}");
    assert_eq!(span["client.address"], "127.0.0.1", "{span}");
    assert_eq!(span["trace_id"].as_str().map(str::len), Some(32), "{span}");
    assert!(span["jsonrpc.request.id"].is_string(), "{span}");
}
