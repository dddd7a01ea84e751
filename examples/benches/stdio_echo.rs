//! Sequential `tools/call echo` round trips over stdio: our client against
//! our server, and the same client against a bare server (std I/O and
//! serde_json, no SDK), in the same run.
//!
//! Run with `cargo bench -p examples --bench stdio_echo`. The servers are
//! this binary run again as a child process; rounds alternate between
//! them so machine noise hits both. A third server, the bare one on tokio,
//! shows what the async runtime alone costs against blocking I/O.
//! Reported: calls/s (and its ratio), p50/p99 latency, and server CPU
//! time per call (from /proc). Twice: with a 9-byte message, and with a
//! 100 KB one (where copies show).
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

/// The bare server's answer to one line, if it is a request.
fn bare_reply(line: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Req<'a> {
        #[serde(borrow)]
        id: Option<&'a serde_json::value::RawValue>,
        method: &'a str,
        #[serde(default)]
        params: Option<Value>,
    }
    let req = serde_json::from_str::<Req<'_>>(line).ok()?;
    let id = req.id?.get();
    Some(match req.method {
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
    })
}

/// The bare server: one line in, one line out, with blocking std I/O.
fn bare_server() {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let Some(reply) = bare_reply(&line) else {
            continue;
        };
        let _ = out.write_all(reply.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
}

/// The bare server on the runtime ours runs on: a current-thread tokio
/// runtime, stdin and stdout as non-blocking pipes (as `serve_stdio`
/// opens them), so each line waits in `epoll_wait` instead of a blocking
/// `read`. What it loses to [`bare_server`] is the async runtime's share,
/// which no tokio server can avoid.
fn bare_tokio_server() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    use tokio::net::unix::pipe;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use std::os::fd::AsFd;
        let stdin = std::io::stdin().as_fd().try_clone_to_owned().unwrap();
        let stdout = std::io::stdout().as_fd().try_clone_to_owned().unwrap();
        let mut lines =
            tokio::io::BufReader::new(pipe::Receiver::from_owned_fd(stdin).unwrap()).lines();
        let mut out = pipe::Sender::from_owned_fd(stdout).unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(mut reply) = bare_reply(&line) else {
                continue;
            };
            reply.push('\n');
            let _ = out.write_all(reply.as_bytes()).await;
        }
    });
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
        Ok("bare-tokio") => return bare_tokio_server(),
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
    let mut bare_tokio = Vec::new();
    for _ in 0..ROUNDS {
        sdk.push(runtime.block_on(round("sdk", Era::Legacy, message, calls)));
        bare.push(runtime.block_on(round("bare", Era::Legacy, message, calls)));
        modern.push(runtime.block_on(round("sdk", Era::Modern, message, calls)));
        bare_tokio.push(runtime.block_on(round("bare-tokio", Era::Legacy, message, calls)));
    }
    println!(
        "sequential tools/call echo over stdio, {label}, {calls} calls x {ROUNDS} rounds (medians), same client, 2025-11-25:"
    );
    let ours = report("mcp-server", "call", &sdk);
    let base = report("bare", "call", &bare);
    report("  modern", "call", &modern);
    report("bare on tokio", "call", &bare_tokio);
    let paired = paired_ratio(&sdk, &bare);
    println!(
        "  ratio        {paired:.2}x the bare server's calls/s (median of paired rounds; {:.2}x of medians)",
        ours / base
    );
    println!(
        "  runtime      {:.2}x: the bare server on tokio against the bare server; {:.2}x: ours against the bare server on tokio",
        paired_ratio(&bare_tokio, &bare),
        paired_ratio(&sdk, &bare_tokio)
    );
}
