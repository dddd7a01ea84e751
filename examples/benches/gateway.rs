//! `tools/call echo` through `mcp-gateway` against the same call sent
//! directly to the same upstream, in the same run.
//!
//! Run with `cargo bench -p examples --bench gateway`. Three processes,
//! each this binary run again: the upstream (`mcp-server`'s Streamable
//! HTTP endpoint serving the demo router, as `http_echo`'s server), the
//! gateway (`mcp_gateway::app` with that one upstream, reached over
//! Streamable HTTP in the 2026-07-28 era unless
//! `MCP_BENCH_UPSTREAM_ERA=legacy`), and the load generator. With one
//! upstream the gateway does not prefix names: the call is `echo` either
//! way. Downstream modes: 2026-07-28 (stateless) and legacy (a 2025-11-25
//! session); JSON answers in both (the client accepts JSON and SSE).
//!
//! Two parts, rounds alternating between the gateway and the upstream
//! called directly:
//!
//! - throughput at concurrency 32, reqwest as the load generator (in this
//!   process), nothing pinned: every process shares the machine's cores,
//!   as they would on one host (`MCP_BENCH_ONLY=throughput`). The 32
//!   callers come from four loopback addresses, 8 each, as when the
//!   gateway allowed one address the servers' default of 16 requests in
//!   flight (it now allows 64; the part first counts what one address
//!   with 32 callers gets);
//! - with `wrk` and `taskset` installed, CPU per request and throughput
//!   with each server's work on a core of its own: `wrk` (one thread, 16
//!   connections, as recorded) on core 0;
//!   called directly, the upstream alone on core 1; through the gateway,
//!   the gateway alone on core 1 and the upstream moved to core 0 beside
//!   `wrk` (`MCP_BENCH_ONLY=wrk`). The gateway's CPU (its downstream
//!   server and its upstream client) and the upstream's are read from
//!   /proc separately.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{ServerProcess, load_watching};
use common::{Round, median, paired_ratio, report};

const ROLE: &str = "MCP_BENCH_ROLE";
/// The gateway role's upstream URL.
const UPSTREAM: &str = "MCP_BENCH_UPSTREAM";
/// `legacy`: the gateway reaches its upstream in a 2025-11-25 session.
const UPSTREAM_ERA: &str = "MCP_BENCH_UPSTREAM_ERA";
const REQUESTS: usize = 4000;
const ROUNDS: usize = 5;
const CONCURRENCY: usize = 32;
/// `wrk`'s connections: as many as one client address could have in
/// flight at the gateway when the recorded numbers were taken (see
/// [`SOURCES`]); kept so that runs stay comparable.
const WRK_CONNECTIONS: usize = 16;
/// Rounds of `wrk` per side.
const WRK_ROUNDS: usize = 5;
/// Seconds per `wrk` round.
const WRK_SECONDS: u32 = 4;
/// The longest the gateway may take to list the upstream's tools.
const PATIENCE: Duration = Duration::from_secs(30);

/// The upstream: `mcp-server`'s endpoint with the demo router.
async fn upstream_server() {
    use mcp_server::Server;
    use mcp_server::http::{HttpOptions, StreamableHttp, serve};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}/mcp", listener.local_addr().unwrap());
    let endpoint = StreamableHttp::new(
        Server::new(examples::demo::router()),
        HttpOptions::default(),
    );
    serve(listener, "/mcp", endpoint, std::future::pending())
        .await
        .unwrap();
}

/// The gateway in front of the upstream at `$MCP_BENCH_UPSTREAM`, served
/// once it offers `echo`.
async fn gateway_server() {
    use mcp_gateway::{Config, Gateway};
    use mcp_server::Handler;
    use mcp_server::http::{ServeOptions, serve_service};
    let url = std::env::var(UPSTREAM).unwrap();
    let versions = match std::env::var(UPSTREAM_ERA).as_deref() {
        Ok("legacy") => "versions = [\"2025-11-25\"]\n",
        _ => "",
    };
    let config = Config::parse(&format!(
        "[[upstream]]\nname = \"up\"\nurl = \"{url}\"\n{versions}"
    ))
    .unwrap();
    let gateway = Gateway::new(config.clone(), mcp_gateway::secrets(&config));
    let mut events = gateway.events().unwrap();
    tokio::time::timeout(PATIENCE, async {
        while gateway.tool("echo").is_none() {
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = events.recv().await {
                break;
            }
        }
    })
    .await
    .unwrap();
    assert!(gateway.tool("echo").is_some(), "{:?}", gateway.status());
    let (app, _endpoint) = mcp_gateway::app(&gateway, &config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        config.listen.path
    );
    serve_service(
        listener,
        app,
        ServeOptions::default(),
        std::future::pending(),
    )
    .await
    .unwrap();
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Modern,
    Legacy,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::Modern => "2026-07-28 JSON",
            Self::Legacy => "2025-11-25 session JSON",
        }
    }
}

fn body(mode: Mode, id: impl std::fmt::Display) -> String {
    match mode {
        Mode::Modern => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
        ),
        Mode::Legacy => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello"}}}}}}"#
        ),
    }
}

/// The headers of a call in `mode` (`session`: the legacy session's id).
fn headers(mode: Mode, session: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
    ];
    match mode {
        Mode::Modern => headers.extend([
            ("mcp-protocol-version", "2026-07-28".to_owned()),
            ("mcp-method", "tools/call".to_owned()),
            ("mcp-name", "echo".to_owned()),
        ]),
        Mode::Legacy => headers.extend([
            ("mcp-protocol-version", "2025-11-25".to_owned()),
            ("mcp-session-id", session.to_owned()),
        ]),
    }
    headers
}

/// Opens a legacy session on `url`: its id.
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
    assert!(response.status().is_success(), "{}", response.status());
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await;
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    session
}

/// The session id `mode` needs on `server` ("" when stateless).
async fn session(http: &reqwest::Client, server: &ServerProcess, mode: Mode) -> String {
    match mode {
        Mode::Legacy => open_session(http, &server.url).await,
        Mode::Modern => String::new(),
    }
}

/// One call with `headers`: its latency if the echo came back, else what
/// came instead.
async fn call(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&'static str, String)],
    body: String,
) -> Result<Duration, String> {
    let mut request = http.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.bytes().await.map_err(|e| e.to_string())?;
    let has = |s: &[u8]| text.windows(s.len()).any(|w| w == s);
    if status.is_success() && has(b"hello") && !has(b"isError") && !has(b"\"error\"") {
        Ok(started.elapsed())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&text)))
    }
}

/// [`call`], which must succeed.
async fn call_once(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&'static str, String)],
    body: String,
) -> Duration {
    call(http, url, headers, body).await.unwrap()
}

/// Loopback addresses the load comes from, [`CONCURRENCY`] / 4 workers
/// each: the setup of the recorded numbers, taken when the gateway had
/// the servers' default per-client quota (16 in flight, while a gateway
/// holds each request for its whole upstream round trip; it now allows
/// 64). [`one_address`] counts what one address with 32 callers gets.
const SOURCES: [[u8; 4]; 4] = [
    [127, 0, 0, 2],
    [127, 0, 0, 3],
    [127, 0, 0, 4],
    [127, 0, 0, 5],
];

/// A client whose connections come from `source`.
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap()
}

/// One round of [`REQUESTS`] calls at [`CONCURRENCY`] on `server`; with
/// `behind`, that server's CPU per request too.
async fn round(
    server: &ServerProcess,
    behind: Option<&ServerProcess>,
    mode: Mode,
) -> (Round, Option<Duration>) {
    let clients: Arc<[reqwest::Client]> = SOURCES.map(client_from).into();
    let session = session(&clients[0], server, mode).await;
    let headers: Arc<[(&'static str, String)]> = headers(mode, &session).into();
    let url: Arc<str> = server.url.as_str().into();
    let per_worker = REQUESTS / CONCURRENCY;
    let call = |id: usize| {
        // `load` numbers worker w's calls from 1000 + w * per_worker: each
        // worker keeps to one address.
        let worker = id.saturating_sub(1000) / per_worker;
        let http = clients[worker % clients.len()].clone();
        let (url, headers) = (Arc::clone(&url), Arc::clone(&headers));
        async move { call_once(&http, &url, &headers, body(mode, id)).await }
    };
    load_watching(server, behind, CONCURRENCY, REQUESTS, call).await
}

/// What one client address with `concurrency` callers gets from
/// `server`: calls made and calls refused, with the first refusal.
async fn one_address(
    server: &ServerProcess,
    mode: Mode,
    concurrency: usize,
) -> (usize, usize, Option<String>) {
    const PER_WORKER: usize = 20;
    let http = client_from([127, 0, 0, 1]);
    let session = session(&http, server, mode).await;
    let headers: Arc<[(&'static str, String)]> = headers(mode, &session).into();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let (http, url, headers) = (http.clone(), server.url.clone(), Arc::clone(&headers));
        workers.spawn(async move {
            let mut refused = Vec::new();
            for i in 0..PER_WORKER {
                if let Err(e) = call(&http, &url, &headers, body(mode, w * PER_WORKER + i)).await {
                    refused.push(e);
                }
            }
            refused
        });
    }
    let mut refused = Vec::new();
    while let Some(done) = workers.join_next().await {
        refused.extend(done.unwrap());
    }
    let n = refused.len();
    (concurrency * PER_WORKER, n, refused.into_iter().next())
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        match role.as_str() {
            "gateway" => runtime.block_on(gateway_server()),
            _ => runtime.block_on(upstream_server()),
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
    let upstream_era = match std::env::var(UPSTREAM_ERA).as_deref() {
        Ok("legacy") => "legacy",
        _ => "2026-07-28",
    };
    println!("gateway -> one Streamable HTTP upstream ({upstream_era} era)");
    if only.as_deref() != Some("wrk") {
        throughput(&runtime);
    }
    if only.as_deref() != Some("throughput") {
        if common::wrk::available() {
            with_wrk(&runtime);
        } else {
            println!("(wrk or taskset not installed: CPU per request under wrk not measured)");
        }
    }
}

/// The gateway in front of `upstream`, started by `wrapper` if any.
fn start_gateway(wrapper: Option<&[&str]>, upstream: &ServerProcess) -> ServerProcess {
    let era = std::env::var(UPSTREAM_ERA).unwrap_or_default();
    ServerProcess::start_with(
        wrapper,
        &[
            (ROLE, "gateway"),
            (UPSTREAM, upstream.url.as_str()),
            (UPSTREAM_ERA, era.as_str()),
        ],
    )
}

fn as_refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

fn micros(d: Option<Duration>) -> String {
    d.map_or_else(
        || "n/a".to_owned(),
        |d| format!("{:.1} µs", d.as_secs_f64() * 1e6),
    )
}

/// Throughput at concurrency 32, nothing pinned.
fn throughput(runtime: &tokio::runtime::Runtime) {
    let upstream = ServerProcess::start(&[(ROLE, "upstream")]);
    let gateway = start_gateway(None, &upstream);
    println!(
        "tools/call echo at concurrency {CONCURRENCY} (from {} loopback addresses), reqwest, nothing pinned, {REQUESTS} requests x {ROUNDS} rounds (medians):",
        SOURCES.len()
    );
    for mode in [Mode::Modern, Mode::Legacy] {
        let (mut through, mut direct, mut behind) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            // Which side goes first alternates too.
            let gateway_round = || runtime.block_on(round(&gateway, Some(&upstream), mode));
            let direct_round = || runtime.block_on(round(&upstream, None, mode)).0;
            let (g, d) = if i % 2 == 0 {
                let g = gateway_round();
                (g, direct_round())
            } else {
                let d = direct_round();
                (gateway_round(), d)
            };
            through.push(g.0);
            behind.push(g.1);
            direct.push(d);
        }
        println!("{}:", mode.label());
        let (made, refused, first) = runtime.block_on(one_address(&gateway, mode, CONCURRENCY));
        println!(
            "  one client address, {CONCURRENCY} at once, through the gateway: {refused} of {made} refused{}",
            first.map_or_else(String::new, |e| format!(" ({})", e.trim()))
        );
        report("through the gateway", "request", &through);
        report("upstream directly", "request", &direct);
        println!(
            "  upstream's CPU behind the gateway: {}/request",
            micros(behind.into_iter().collect::<Option<Vec<_>>>().map(median))
        );
        println!(
            "  throughput ratio       {:.2}x direct (median of paired rounds)",
            paired_ratio(&through, &direct)
        );
        let cpu_ratio: Option<Vec<f64>> = through
            .iter()
            .zip(&direct)
            .map(|(g, d)| Some(g.cpu?.as_secs_f64() / d.cpu?.as_secs_f64()))
            .collect();
        if let Some(ratios) = cpu_ratio {
            println!(
                "  CPU ratio              {:.2}x (gateway process / upstream called directly, median of paired rounds)",
                median(ratios)
            );
        }
    }
}

/// CPU per request and throughput under `wrk`, each server's work on a
/// core of its own.
fn with_wrk(runtime: &tokio::runtime::Runtime) {
    println!(
        "under wrk ({WRK_CONNECTIONS} connections on core 0; the measured server alone on core 1), {WRK_ROUNDS} x {WRK_SECONDS} s, medians:"
    );
    let upstream = common::wrk::pinned_server(&[(ROLE, "upstream")]);
    let gateway = start_gateway(Some(&["taskset", "-c", "1"]), &upstream);
    let http = reqwest::Client::new();
    for mode in [Mode::Modern, Mode::Legacy] {
        // Numbered: a legacy session refuses an id it is still answering.
        let request = body(mode, common::wrk::REQUEST_ID);
        let headers_of = |server: &ServerProcess| {
            let session = runtime.block_on(session(&http, server, mode));
            let headers = headers(mode, &session);
            runtime.block_on(call_once(&http, &server.url, &headers, body(mode, 1)));
            headers
        };
        let (gateway_owned, direct_owned) = (headers_of(&gateway), headers_of(&upstream));
        // wrk sees HTTP errors only: a legacy session's refusals are
        // JSON-RPC errors in 200 answers. None at this concurrency.
        let (_, refused, first) = runtime.block_on(one_address(&gateway, mode, WRK_CONNECTIONS));
        assert_eq!(refused, 0, "{first:?}");
        let (gateway_headers, direct_headers) = (as_refs(&gateway_owned), as_refs(&direct_owned));
        // (requests/s, gateway µs, upstream-behind µs) and (requests/s, µs).
        let (mut through, mut direct) = (Vec::new(), Vec::new());
        let (mut rate_ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
        for _ in 0..WRK_ROUNDS {
            common::wrk::pin(&upstream, 0);
            let (n, cpu) = common::wrk::run_watching(
                &gateway,
                &[&gateway, &upstream],
                WRK_CONNECTIONS,
                WRK_SECONDS,
                &gateway_headers,
                &request,
            );
            let g = (n as f64 / f64::from(WRK_SECONDS), cpu[0], cpu[1]);
            common::wrk::pin(&upstream, 1);
            let (n, cpu) = common::wrk::run(
                &upstream,
                WRK_CONNECTIONS,
                WRK_SECONDS,
                &direct_headers,
                &request,
            );
            let d = (n as f64 / f64::from(WRK_SECONDS), cpu);
            rate_ratios.push(g.0 / d.0);
            cpu_ratios.push(g.1 / d.1);
            through.push(g);
            direct.push(d);
        }
        let busy = |per_s: f64, us: f64| per_s * us / 1e4;
        let g_rate = median(through.iter().map(|r| r.0).collect());
        let g_cpu = median(through.iter().map(|r| r.1).collect());
        let g_up = median(through.iter().map(|r| r.2).collect());
        let d_rate = median(direct.iter().map(|r| r.0).collect());
        let d_cpu = median(direct.iter().map(|r| r.1).collect());
        println!("{}:", mode.label());
        println!(
            "  through the gateway  {g_rate:>8.0} req/s   gateway {g_cpu:>6.2} µs CPU/request (core 1 {:.0}% busy), upstream behind it {g_up:>6.2} µs",
            busy(g_rate, g_cpu)
        );
        println!(
            "  upstream directly    {d_rate:>8.0} req/s   upstream {d_cpu:>6.2} µs CPU/request (core 1 {:.0}% busy)",
            busy(d_rate, d_cpu)
        );
        println!(
            "  throughput ratio     {:.2}x direct; CPU ratio {:.2}x (gateway / upstream called directly); medians of paired rounds",
            median(rate_ratios),
            median(cpu_ratios)
        );
    }
}
