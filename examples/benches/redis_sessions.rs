//! Legacy sessions with their state on Redis against the same server with
//! it in memory, in the same run: `tools/call echo` in one 2025-11-25
//! session, JSON answers and SSE answers, under `wrk` (32 connections,
//! the server pinned to one core; `wrk` and `redis-server` on the other),
//! and the Redis round trips each request makes.
//!
//! Run with `cargo bench -p examples --bench redis_sessions` (needs `wrk`,
//! `taskset` and `redis-server`).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

mod common;

use std::process::{Child, Command, Stdio};

use common::median;

const ROLE: &str = "MCP_BENCH_ROLE";
const REDIS: &str = "MCP_BENCH_REDIS";
const ROUNDS: usize = 5;
const SECONDS: u32 = 4;

async fn server() {
    use mcp_server::Server;
    use mcp_server::http::{HttpOptions, serve};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}/mcp", listener.local_addr().unwrap());
    let http = HttpOptions::default();
    let stores = match std::env::var(REDIS) {
        Ok(url) => examples::ops::Stores::redis(&url, &http).unwrap(),
        Err(_) => examples::ops::Stores::memory(&http, Default::default()),
    };
    // On Redis, with the event bus too, as the example server runs.
    let endpoint = stores.endpoint(Server::new(examples::demo::router()), http);
    serve(listener, "/mcp", endpoint, std::future::pending())
        .await
        .unwrap();
}

/// Opens a legacy session: its id.
fn open_session(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", url])
        .args(["-H", "content-type: application/json"])
        .args(["-H", "accept: application/json, text/event-stream"])
        .args(["-d", r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#])
        .output()
        .unwrap();
    let headers = String::from_utf8(out.stdout).unwrap();
    let id = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("mcp-session-id: ")
                .map(|v| v.trim().to_owned())
        })
        .unwrap();
    let note = Command::new("curl")
        .args(["-s", "-o", "/dev/null", url])
        .args(["-H", "content-type: application/json"])
        .args(["-H", "accept: application/json, text/event-stream"])
        .args(["-H", "mcp-protocol-version: 2025-11-25"])
        .args(["-H", &format!("mcp-session-id: {id}")])
        .args([
            "-d",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ])
        .status()
        .unwrap();
    assert!(note.success());
    id
}

/// `redis-server` on core 0 (with `wrk`), on a free port.
fn redis_server() -> Option<(Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("taskset")
        .args([
            "-c",
            "0",
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((child, port));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

/// Scripts (and other commands) Redis has run for its clients.
fn redis_calls(port: u16) -> u64 {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "info", "commandstats"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(role, "server");
        runtime.block_on(server());
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !common::wrk::available() {
        println!("(wrk or taskset not installed: not measured)");
        return;
    }
    let Some((mut redis, port)) = redis_server() else {
        println!("(redis-server not installed: not measured)");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}/");
    let memory = common::wrk::pinned_server(&[(ROLE, "server")]);
    let shared = common::wrk::pinned_server(&[(ROLE, "server"), (REDIS, &url)]);
    println!(
        "2025-11-25 session, tools/call echo under wrk (32 connections, {ROUNDS} x {SECONDS} s, medians):"
    );
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}"#;
    for (label, accept) in [
        ("JSON answers", "application/json, text/event-stream"),
        ("SSE answers", "text/event-stream"),
    ] {
        let sessions = [open_session(&memory.url), open_session(&shared.url)];
        let headers = |session: &str| {
            vec![
                ("content-type", "application/json"),
                ("accept", accept),
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-session-id", session.to_owned().leak() as &str),
            ]
        };
        let (mut throughput, mut cpu, mut trips) = (Vec::new(), Vec::new(), Vec::new());
        let mut base_cpu = Vec::new();
        for _ in 0..ROUNDS {
            let (n_mem, cpu_mem) =
                common::wrk::run(&memory, 32, SECONDS, &headers(&sessions[0]), body);
            let before = redis_calls(port);
            let (n_redis, cpu_redis) =
                common::wrk::run(&shared, 32, SECONDS, &headers(&sessions[1]), body);
            let calls = redis_calls(port) - before;
            throughput.push(n_redis as f64 / n_mem as f64);
            cpu.push(cpu_redis);
            base_cpu.push(cpu_mem);
            trips.push(calls as f64 / n_redis as f64);
        }
        println!("{label}:");
        println!("  in memory   {:>6.2} us CPU/request", median(base_cpu));
        println!("  on Redis    {:>6.2} us CPU/request", median(cpu));
        println!(
            "  throughput  {:.2}x in memory's (median of paired rounds)",
            median(throughput)
        );
        println!("  Redis round trips per request: {:.2}", median(trips));
    }
    let _ = redis.kill();
}
