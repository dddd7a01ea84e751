//! `mcp-gateway bridge` as a host runs it: the binary, stdio in and out,
//! in front of a real Streamable HTTP server.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use std::process::Stdio;
use std::time::Duration;

use mcp_server::http::{HttpOptions, StreamableHttp, serve};
use mcp_server::{Error, NoArgs, RequestContext, Router, Server, tool};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const PATIENCE: Duration = Duration::from_secs(30);

/// A server with one tool, on a free loopback port: its URL.
async fn upstream() -> String {
    let router = Router::new("upstream", "1.0").with_tool(tool(
        "hello",
        "Says hello",
        |_ctx: RequestContext, _: NoArgs| async { Ok::<_, Error>("hello from upstream") },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let endpoint = StreamableHttp::new(Server::new(router), HttpOptions::default());
    tokio::spawn(serve(listener, "/mcp", endpoint, std::future::pending()));
    url
}

type Io<'a> = (
    &'a mut tokio::process::ChildStdin,
    &'a mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
);

/// Writes `message` to the bridge, and reads its answer.
async fn exchange(io: &mut Io<'_>, message: Value) -> Value {
    io.0.write_all(format!("{message}\n").as_bytes())
        .await
        .unwrap();
    let line = tokio::time::timeout(PATIENCE, io.1.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn a_host_drives_a_remote_server_through_the_bridge_in_both_eras() {
    let url = upstream().await;
    let tokens = std::env::temp_dir().join(format!("mcp-gateway-bridge-{}", std::process::id()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["bridge", &url, "--no-browser", "--token-dir"])
        .arg(&tokens)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let io = &mut (&mut stdin, &mut lines);
    // A 2026-07-28 request: stateless, as is.
    let modern = exchange(
        io,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "hello", "arguments": {},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}}),
    )
    .await;
    assert_eq!(
        modern["result"]["content"][0]["text"], "hello from upstream",
        "{modern}"
    );
    // A legacy session over the same bridge.
    let init = exchange(
        io,
        json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "host", "version": "1"}}}),
    )
    .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25", "{init}");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    io.0.write_all(format!("{note}\n").as_bytes())
        .await
        .unwrap();
    let legacy = exchange(
        io,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "hello", "arguments": {}}}),
    )
    .await;
    assert_eq!(
        legacy["result"]["content"][0]["text"], "hello from upstream",
        "{legacy}"
    );
    // The host closes stdin: the bridge ends the session and exits.
    drop(stdin);
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&tokens);
}

#[tokio::test]
async fn a_bad_command_line_says_what_is_wrong() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["bridge", "--client-secret", "s", "http://127.0.0.1:1/mcp"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(said.contains("--client-secret needs --client-id"), "{said}");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
