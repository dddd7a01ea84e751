//! The example server as a container platform runs it: on `$PORT`, behind
//! a public host name, probed for readiness by its own binary, and stopped
//! with `SIGTERM` while a request is in flight.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::stdio::{example, serve_example};

const PATIENCE: Duration = Duration::from_secs(30);

async fn probe(url: &str) -> i32 {
    let status = Command::new(example("http_server"))
        .args(["--probe", url])
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    status.code().unwrap()
}

fn call(host: &str, url: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("host", host)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", body["params"]["name"].as_str().unwrap())
        .body(body.to_string())
}

fn tool(name: &str, arguments: &serde_json::Value) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": name, "arguments": arguments,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {},
                  "progressToken": "p"}}})
}

#[tokio::test]
async fn on_port_behind_a_host_name_probed_and_drained_on_sigterm() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(example("http_server"));
    command
        .env("PORT", port.to_string())
        .env("MCP_ALLOWED_HOSTS", "mcp.example.com, other.example.com")
        .args(["--grace", "5"]);
    let (mut child, printed) = serve_example(command).await;
    // All interfaces, on the platform's port.
    assert_eq!(printed, format!("http://0.0.0.0:{port}/mcp"));
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/mcp");
    assert_eq!(probe(&format!("{base}/readyz")).await, 0);
    // As a container's health check runs it: no URL, the port from $PORT.
    let own = Command::new(example("http_server"))
        .arg("--probe")
        .env("PORT", port.to_string())
        .status()
        .await
        .unwrap();
    assert!(own.success());
    let auth_server = Command::new(example("auth_server"))
        .args(["--probe", &format!("{base}/readyz")])
        .status()
        .await
        .unwrap();
    assert!(auth_server.success(), "auth_server probes alike");
    // The public name is served; any other is refused (DNS rebinding).
    let echo = tool("echo", &json!({"message": "hi"}));
    let res = call("mcp.example.com", &url, &echo).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = call("evil.example.net", &url, &echo).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // A call in flight when the platform says stop gets its answer…
    let slow = tool("count", &json!({"to": 3, "delay_ms": 300}));
    let mut running = call("mcp.example.com", &url, &slow).send().await.unwrap();
    let first = tokio::time::timeout(PATIENCE, running.chunk())
        .await
        .unwrap()
        .unwrap();
    let first = String::from_utf8(first.unwrap().to_vec()).unwrap();
    assert!(
        first.contains("notifications/progress"),
        "the call runs: {first}"
    );
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await;
    assert!(killed.unwrap().success());
    let rest = tokio::time::timeout(PATIENCE, running.text())
        .await
        .unwrap()
        .unwrap();
    assert!(rest.contains("counted to 3"), "{rest}");
    // …and then the process exits by itself, cleanly, and is not ready.
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(probe(&format!("{base}/readyz")).await, 1);
}
