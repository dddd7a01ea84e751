//! Sequential `tools/call echo` round trips over stdio: our client against
//! our server, and the same client against a bare server (std I/O and
//! serde_json, no SDK), in the same run.
//!
//! Run with `cargo bench -p examples --bench stdio_echo`. Both servers are
//! this binary run again as a child process; rounds alternate between
//! them so machine noise hits both. Reported: calls/s (and its ratio),
//! p50/p99 latency, and server CPU time per call (from /proc). Twice: with
//! a 9-byte message, and with a 100 KB one (where copies show).
//! `MCP_BENCH_SDK_SERVER=<path>` runs another build of this benchmark as
//! our server, to compare two versions of it with the same client.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

mod common;

use std::io::{BufRead, Write};
use std::time::Instant;

use common::{Round, cpu_ns, paired_ratio, report};
use mcp_client::{ChildProcess, Client, ClientOptions, NoHandler, Stderr};
use mcp_core::{Era, Implementation, JsonObject};
use serde::Deserialize;
use serde_json::Value;

const ROLE: &str = "MCP_BENCH_ROLE";
const SDK_SERVER: &str = "MCP_BENCH_SDK_SERVER";
const WARMUP: usize = 300;
const CALLS: usize = 3000;
const ROUNDS: usize = 7;
/// Calls per round with 100 KB messages.
const BIG_CALLS: usize = 400;

/// The bare server: one line in, one line out.
fn bare_server() {
    #[derive(Deserialize)]
    struct Req<'a> {
        #[serde(borrow)]
        id: Option<&'a serde_json::value::RawValue>,
        method: &'a str,
        #[serde(default)]
        params: Option<Value>,
    }
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let Ok(req) = serde_json::from_str::<Req<'_>>(&line) else {
            continue;
        };
        let Some(id) = req.id else { continue };
        let id = id.get();
        let reply = match req.method {
            "initialize" => format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-11-25","capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"bare","version":"0"}}}}}}"#
            ),
            "tools/call" => {
                let message = req
                    .params
                    .as_ref()
                    .and_then(|p| p.pointer("/arguments/message"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let result = serde_json::json!({"content": [{"type": "text", "text": message}]});
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#)
            }
            other => format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"Method not found: {other}"}}}}"#
            ),
        };
        let _ = out.write_all(reply.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
}

/// Our server: the examples' demo server, as `stdio_server` runs it.
fn sdk_server() {
    let runtime = if std::env::var("MCP_BENCH_MT").is_ok() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    runtime
        .block_on(mcp_server::Server::new(examples::demo::router()).serve_stdio())
        .unwrap();
}

async fn round(role: &str, era: Era, message: &str, calls: usize) -> Round {
    // `MCP_BENCH_SDK_SERVER` names another build of this benchmark to run
    // as our server (an older commit's, say): same client, same bare
    // server, two versions of the SDK's server compared in one run.
    let exe = match std::env::var_os(SDK_SERVER) {
        Some(other) if role == "sdk" => std::path::PathBuf::from(other),
        _ => std::env::current_exe().unwrap(),
    };
    let child = ChildProcess::new(exe)
        .env(ROLE, role)
        .stderr(Stderr::Discard);
    let mut options = ClientOptions::new(Implementation::new("bench", "0"));
    // The bare server speaks 2025-11-25; a legacy client makes the same
    // requests of both servers.
    options
        .supported_versions
        .retain(|v| era == Era::Modern || v.era() == Some(Era::Legacy));
    let client = Client::spawn(child, options, NoHandler).await.unwrap();
    let pid = client.child_id().await.unwrap();
    let mut args = JsonObject::new();
    args.insert("message".into(), Value::String(message.into()));
    for _ in 0..WARMUP.min(calls) {
        client.call_tool("echo", args.clone()).await.unwrap();
    }
    let cpu_before = cpu_ns(pid);
    let mut latencies = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let r = client.call_tool("echo", args.clone()).await.unwrap();
        latencies.push(t.elapsed());
        assert_eq!(r.content[0].as_text(), Some(message));
    }
    let elapsed = start.elapsed();
    let cpu_after = cpu_ns(pid);
    client.close().await.unwrap();
    Round::new(latencies, elapsed, cpu_before, cpu_after)
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("bare") => return bare_server(),
        Ok("sdk") => return sdk_server(),
        _ => {}
    }
    // `cargo test` runs benchmarks without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let big = "x".repeat(100 * 1024);
    for (message, calls, label) in [
        ("hello mcp", CALLS, "a 9-byte message"),
        (big.as_str(), BIG_CALLS, "a 100 KB message"),
    ] {
        compare(&runtime, message, calls, label);
    }
}

fn compare(runtime: &tokio::runtime::Runtime, message: &str, calls: usize, label: &str) {
    let mut sdk = Vec::new();
    let mut modern = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..ROUNDS {
        sdk.push(runtime.block_on(round("sdk", Era::Legacy, message, calls)));
        bare.push(runtime.block_on(round("bare", Era::Legacy, message, calls)));
        modern.push(runtime.block_on(round("sdk", Era::Modern, message, calls)));
    }
    println!(
        "sequential tools/call echo over stdio, {label}, {calls} calls x {ROUNDS} rounds (medians), same client, 2025-11-25:"
    );
    let ours = report("mcp-server", "call", &sdk);
    let base = report("bare", "call", &bare);
    report("  modern", "call", &modern);
    let paired = paired_ratio(&sdk, &bare);
    println!(
        "  ratio        {paired:.2}x the bare server's calls/s (median of paired rounds; {:.2}x of medians)",
        ours / base
    );
}
