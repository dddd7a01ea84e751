//! `tools/call echo` over Streamable HTTP with keep-alive connections:
//! `mcp-server`'s endpoint against a bare hyper handler that does the same
//! JSON work, in the same run, at concurrency 1 and 32.
//!
//! Run with `cargo bench -p examples --bench http_echo`. Both servers are
//! this binary run again as a child process (multi-threaded runtime);
//! rounds alternate between them so machine noise hits both. Modes:
//! 2026-07-28 (stateless, JSON answers) and legacy (a 2025-11-25 session,
//! answers as SSE: the client accepts only `text/event-stream`). Reported: requests/s and the ratio to bare, p50/p99
//! latency, and server CPU time per request (from /proc).
//!
//! The in-process reqwest load generator costs as much CPU per request as
//! the servers, so at concurrency 32 it saturates first and hides their
//! cost. When `wrk` and `taskset` are installed, a second part measures
//! what matters for capacity: server CPU per request with `wrk` on one
//! core and the server pinned to the other, 32 connections
//! (`MCP_BENCH_ONLY=wrk` runs only that part); it also runs the bare
//! handler behind `serve_service`, to tell what serving costs from what
//! the MCP layer costs. A third part, under `wrk`
//! too, measures what rate limiting and telemetry add
//! (`MCP_BENCH_ONLY=operations` runs only that).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use common::http::{ServerProcess, load};
use common::median;
use common::{Round, paired_ratio, report};
use serde::Deserialize;
use serde_json::Value;

const ROLE: &str = "MCP_BENCH_ROLE";
const REQUESTS: usize = 4000;
const ROUNDS: usize = 5;

/// The bare handler: parse the request, build the echo result, answer JSON.
async fn bare_handle(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<Bytes>>, hyper::Error> {
    use http_body_util::{BodyExt, Full};
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        id: Value,
        #[serde(default)]
        params: Option<Value>,
    }
    let body = req.into_body().collect().await?.to_bytes();
    let req: Req = serde_json::from_slice(&body).unwrap();
    if req.id.is_null() {
        // A notification.
        let mut res = hyper::Response::new(Full::new(Bytes::new()));
        *res.status_mut() = http::StatusCode::ACCEPTED;
        return Ok(res);
    }
    let message = req
        .params
        .as_ref()
        .and_then(|p| p.pointer("/arguments/message"))
        .cloned()
        .unwrap_or_default();
    let reply = serde_json::json!({"jsonrpc": "2.0", "id": req.id,
        "result": {"content": [{"type": "text", "text": message}]}});
    let reply = Bytes::from(serde_json::to_vec(&reply).unwrap());
    let mut res = hyper::Response::new(Full::new(reply));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// The bare server: the bare handler on hyper's HTTP/1 connection.
async fn bare_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}/mcp", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, hyper::service::service_fn(bare_handle))
                .await;
        });
    }
}

/// The bare handler served as `serve` serves the endpoint
/// (`serve_service`: HTTP/1 and HTTP/2, connection limits and timeouts,
/// requests in flight tracked for shutdown): what serving costs a handler
/// before any MCP work.
async fn bare_served() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}/mcp", listener.local_addr().unwrap());
    mcp_server::http::serve_service(
        listener,
        tower::service_fn(bare_handle),
        mcp_server::http::ServeOptions::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
}

/// The SDK's server; `with` adds what an operator would turn on:
/// `"limits"` a rate-limit policy every request counts in (never
/// refusing), `"telemetry"` a subscriber that records every request's
/// span (formatted, written nowhere).
/// An OTLP/HTTP receiver that accepts everything and decodes nothing: the
/// far end of the exporter, costing the server nothing.
async fn otlp_sink() {
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}", listener.local_addr().unwrap());
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let _ = req.into_body().collect().await?;
                let mut res = hyper::Response::new(Full::new(Bytes::new()));
                res.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-protobuf"),
                );
                Ok::<_, hyper::Error>(res)
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

async fn sdk_server(with: &str) {
    use mcp_server::http::{HttpOptions, StreamableHttp, serve};
    use mcp_server::limit::{Policy, Quota, RateLimits};
    use mcp_server::{Server, ServerOptions};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}/mcp", listener.local_addr().unwrap());
    let mut options = ServerOptions::default();
    if with == "limits" {
        options.rate_limits = Some(
            RateLimits::new()
                .policy(Policy::new("all", Quota::per_second(u32::MAX)).for_anonymous()),
        );
    }
    // Exports when OTEL_EXPORTER_OTLP_ENDPOINT is set, as the examples do;
    // held until the process is killed.
    let _telemetry = match with {
        "otel" => Some(examples::telemetry::init(examples::Logs::Off)),
        "logs" => Some(examples::telemetry::init(examples::Logs::Text)),
        _ => None,
    };
    let endpoint = StreamableHttp::new(
        Server::with_options(examples::demo::router(), options),
        HttpOptions::default(),
    );
    serve(listener, "/mcp", endpoint, std::future::pending())
        .await
        .unwrap();
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Modern,
    Legacy,
}

fn body(mode: Mode, id: usize) -> String {
    match mode {
        Mode::Modern => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
        ),
        Mode::Legacy => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello"}}}}}}"#
        ),
    }
}

/// Opens a legacy session on `url` (for the bare server, a dummy id).
async fn open_session(http: &reqwest::Client, url: &str) -> String {
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#;
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init)
        .send()
        .await
        .unwrap();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map_or_else(|| "none".to_owned(), |v| v.to_str().unwrap().to_owned());
    let _ = response.bytes().await;
    let _ = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    session
}

async fn round(server: &ServerProcess, mode: Mode, concurrency: usize) -> Round {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let url: Arc<str> = server.url.as_str().into();
    let session: Arc<str> = match mode {
        Mode::Legacy => open_session(&http, &url).await.into(),
        Mode::Modern => "".into(),
    };
    let call = |id: usize| {
        let mut request = http
            .post(&*url)
            .header("content-type", "application/json")
            .body(body(mode, id));
        request = match mode {
            Mode::Modern => request
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "echo"),
            Mode::Legacy => request
                .header("accept", "text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .header("mcp-session-id", &*session),
        };
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let text = response.bytes().await.unwrap();
            assert!(text.windows(5).any(|w| w == b"hello"));
            started.elapsed()
        }
    };
    load(server, concurrency, REQUESTS, call).await
}

fn main() {
    let role = std::env::var(ROLE);
    if let Ok(role) = role.as_deref() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        match role {
            "bare" => runtime.block_on(bare_server()),
            "bare-served" => runtime.block_on(bare_served()),
            "sdk-limits" => runtime.block_on(sdk_server("limits")),
            "sdk-otel" => runtime.block_on(sdk_server("otel")),
            "sdk-logs" => runtime.block_on(sdk_server("logs")),
            "otlp-sink" => runtime.block_on(otlp_sink()),
            _ => runtime.block_on(sdk_server("")),
        }
        return;
    }
    // `cargo test` runs benchmarks without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("MCP_BENCH_ONLY").ok();
    if only.is_none() {
        with_reqwest(&runtime);
    }
    if common::wrk::available() {
        if only.as_deref() != Some("operations") {
            with_wrk(&runtime);
        }
        if only.as_deref() != Some("wrk") {
            operations_cost();
        }
    } else {
        println!("(wrk or taskset not installed: server CPU under wrk not measured)");
    }
}

/// Rounds of `wrk`, alternating between the servers.
const WRK_ROUNDS: usize = 5;
/// Seconds per `wrk` round.
const WRK_SECONDS: u32 = 4;

fn with_wrk(runtime: &tokio::runtime::Runtime) {
    println!(
        "server CPU per request under wrk (1 core each, 32 connections, {WRK_ROUNDS} x {WRK_SECONDS} s, medians):"
    );
    for mode in [Mode::Modern, Mode::Legacy] {
        let bare = common::wrk::pinned_server(&[(ROLE, "bare")]);
        let sdk = common::wrk::pinned_server(&[(ROLE, "sdk")]);
        let served = common::wrk::pinned_server(&[(ROLE, "bare-served")]);
        let http = reqwest::Client::new();
        let headers = |session: &'static str| -> Vec<(&'static str, &'static str)> {
            match mode {
                Mode::Modern => vec![
                    ("content-type", "application/json"),
                    ("accept", "application/json, text/event-stream"),
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "echo"),
                ],
                // JSON answers, as the bare handler gives (the reqwest
                // part above measures SSE answers).
                Mode::Legacy => vec![
                    ("content-type", "application/json"),
                    ("accept", "application/json, text/event-stream"),
                    ("mcp-protocol-version", "2025-11-25"),
                    ("mcp-session-id", session),
                ],
            }
        };
        let session = |server: &ServerProcess| -> &'static str {
            match mode {
                Mode::Legacy => runtime.block_on(open_session(&http, &server.url)).leak(),
                Mode::Modern => "",
            }
        };
        let (ours_headers, bare_headers) = (headers(session(&sdk)), headers(session(&bare)));
        let served_headers = headers(session(&served));
        let request = body(mode, 1);
        let (mut ours, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut floor, mut floor_ratios) = (Vec::new(), Vec::new());
        for _ in 0..WRK_ROUNDS {
            let (n_ours, us_ours) =
                common::wrk::run(&sdk, 32, WRK_SECONDS, &ours_headers, &request);
            let (n_bare, us_bare) =
                common::wrk::run(&bare, 32, WRK_SECONDS, &bare_headers, &request);
            let (n_served, us_served) =
                common::wrk::run(&served, 32, WRK_SECONDS, &served_headers, &request);
            ours.push((n_ours, us_ours));
            base.push((n_bare, us_bare));
            floor.push((n_served, us_served));
            ratios.push(us_ours / us_bare);
            floor_ratios.push(us_ours / us_served);
        }
        let per_s = |v: &[(u64, f64)]| {
            median(v.iter().map(|r| r.0 as f64).collect()) / f64::from(WRK_SECONDS)
        };
        let cpu = |v: &[(u64, f64)]| median(v.iter().map(|r| r.1).collect());
        let label = match mode {
            Mode::Modern => "2026-07-28 JSON",
            Mode::Legacy => "2025-11-25 session JSON",
        };
        println!("{label}:");
        println!(
            "  mcp-server  {:>9.0} req/s  {:>6.2} us CPU/request",
            per_s(&ours),
            cpu(&ours)
        );
        println!(
            "  bare hyper  {:>9.0} req/s  {:>6.2} us CPU/request",
            per_s(&base),
            cpu(&base)
        );
        println!(
            "  bare, served {:>8.0} req/s  {:>6.2} us CPU/request  (the bare handler behind `serve_service`)",
            per_s(&floor),
            cpu(&floor)
        );
        println!(
            "  ratio       {:.2}x bare CPU per request (median of paired rounds); {:.2}x the served bare handler's",
            median(ratios),
            median(floor_ratios)
        );
    }
}

/// What rate limiting and telemetry cost: the SDK's server CPU per
/// 2026-07-28 request with each turned on, against the same server with
/// none, under `wrk` (32 connections), rounds alternating. Telemetry is
/// the examples' setup: spans and metrics exported over OTLP/HTTP in
/// batches (to a sink on the load generator's core), and text logs.
fn operations_cost() {
    println!(
        "cost of rate limits and telemetry, 2026-07-28 JSON (server CPU per request under wrk, {WRK_ROUNDS} x {WRK_SECONDS} s, medians):"
    );
    let sink = ServerProcess::start_with(Some(&["taskset", "-c", "0"]), &[(ROLE, "otlp-sink")]);
    let otlp = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url.as_str()),
        ("OTEL_SERVICE_NAME", "bench"),
    ];
    let plain = common::wrk::pinned_server(&[(ROLE, "sdk")]);
    let otel_server = |extra: &[(&str, &str)]| {
        common::wrk::pinned_server(&[&[(ROLE, "sdk-otel")][..], &otlp, extra].concat())
    };
    let servers = [
        (
            "rate limits",
            common::wrk::pinned_server(&[(ROLE, "sdk-limits")]),
        ),
        (
            "OTLP metrics",
            otel_server(&[("OTEL_TRACES_EXPORTER", "none")]),
        ),
        (
            "+ spans, 1 in 10",
            otel_server(&[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
            ]),
        ),
        ("+ spans, all", otel_server(&[])),
        (
            "text logs",
            common::wrk::pinned_server(&[(ROLE, "sdk-logs")]),
        ),
    ];
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "echo"),
    ];
    let request = body(Mode::Modern, 1);
    let mut cpu = Vec::new();
    let mut ratios = vec![Vec::new(); servers.len()];
    for _ in 0..WRK_ROUNDS {
        let (_, base) = common::wrk::run(&plain, 32, WRK_SECONDS, &headers, &request);
        cpu.push(base);
        for ((_, server), ratios) in servers.iter().zip(&mut ratios) {
            let (_, with) = common::wrk::run(server, 32, WRK_SECONDS, &headers, &request);
            ratios.push(with / base);
        }
    }
    println!(
        "  none                  {:>6.2} us CPU/request",
        median(cpu)
    );
    for ((label, _), ratios) in servers.iter().zip(ratios) {
        println!(
            "  {label:<21} {:.3}x (median of paired rounds)",
            median(ratios)
        );
    }
}

fn with_reqwest(runtime: &tokio::runtime::Runtime) {
    let bare = ServerProcess::start(&[(ROLE, "bare")]);
    let sdk = ServerProcess::start(&[(ROLE, "sdk")]);
    println!(
        "tools/call echo over Streamable HTTP, {REQUESTS} requests x {ROUNDS} rounds (medians):"
    );
    for concurrency in [1, 32] {
        for mode in [Mode::Modern, Mode::Legacy] {
            let (mut ours, mut base) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                ours.push(runtime.block_on(round(&sdk, mode, concurrency)));
                base.push(runtime.block_on(round(&bare, mode, concurrency)));
            }
            let label = match mode {
                Mode::Modern => "2026-07-28 JSON",
                Mode::Legacy => "2025-11-25 session SSE",
            };
            println!("c={concurrency}, {label}:");
            report("mcp-server", "request", &ours);
            report("bare hyper", "request", &base);
            let paired = paired_ratio(&ours, &base);
            println!("  ratio                  {paired:.2}x bare (median of paired rounds)");
        }
    }
}
