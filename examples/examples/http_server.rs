//! The demo MCP server (the one `stdio_server` runs) over Streamable HTTP.
//!
//! Run with:
//!
//! ```text
//! cargo run --example http_server                       # http://127.0.0.1:8000/mcp
//! cargo run --example http_server -- --bind 127.0.0.1:9000
//! cargo run --example http_server -- --max-connections 500 --header-timeout 5 --idle-timeout 30
//! cargo run --example http_server -- --max-event-memory 16   # MiB of SSE events kept for resumption
//! cargo run --example http_server -- --rate-limit anonymous=60/minute --rate-limit tool:echo=5/second
//! cargo run --example http_server -- --log-json               # JSON lines on stderr (or LOG_FORMAT=json)
//! cargo run --example http_server -- --upstream http://127.0.0.1:9000/mcp   # adds ask_upstream
//! cargo run --example http_server -- --redis redis://127.0.0.1:6379/ --state-key-file key.txt   # one of many instances
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example http_server   # OTLP export
//! LOG_FORMAT=none OTEL_EXPORTER_OTLP_ENDPOINT=... cargo run --example http_server   # export only, no logs
//! PORT=8080 cargo run --example http_server -- --allowed-host mcp.example.com   # in a container
//! curl http://127.0.0.1:8000/readyz; curl http://127.0.0.1:8000/metrics
//! http_server --probe [URL]    # exit status 0 when ready (a container's health check; default: /readyz on $PORT)
//! ```
//!
//! It answers 2026-07-28 clients statelessly and legacy clients with
//! sessions, on the same endpoint. Only loopback `Host`/`Origin` values are
//! accepted (DNS-rebinding protection), and the names given with
//! `--allowed-host` (or `MCP_ALLOWED_HOSTS`, comma-separated): the public
//! name of a server behind a load balancer. In a container it listens on
//! `0.0.0.0:$PORT` when the platform sets `PORT`, and on `SIGTERM` it stops
//! accepting, lets requests in flight finish (`--grace SECS`, 10 by
//! default) and exits. The limits that keep misbehaving
//! clients from holding the server (`--max-connections`, the timeouts) have
//! defaults for the internet; `docs/security.md` lists them all. Beside the
//! endpoint: `/healthz`, `/readyz` and `/metrics` (`docs/operations.md`).
//! Inspect it with
//! `npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8000/mcp --method tools/list`.

use std::time::Duration;

use examples::ops::Stores;
use mcp_server::http::{HttpOptions, ServeOptions, serve_service};
use mcp_server::limit::RateLimits;
use mcp_server::store::MemoryEventStore;
use mcp_server::{Server, ServerOptions};

const USAGE: &str = "usage: http_server [--bind ADDR] [--max-connections N] \
                     [--header-timeout SECS] [--idle-timeout SECS] [--body-timeout SECS] \
                     [--max-sessions-per-client N] \
                     [--max-event-memory MIB] [--rate-limit CALLERS=COUNT/PERIOD]... [--log-json] \
                     [--upstream URL] [--redis URL] [--state-key-file PATH] \
                     [--allowed-host HOST]... [--grace SECS] | --probe [URL]";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--probe") {
        // By default the readiness of this server on the platform's port.
        let url = args.nth(1).unwrap_or_else(examples::ops::own_readiness);
        std::process::exit(examples::ops::probe(&url).await);
    }
    let mut limits: Option<RateLimits> = None;
    let mut json = false;
    let mut bind = mcp_server::http::listen_address("127.0.0.1:8000")
        .unwrap_or_else(|e| usage(&e.to_string()));
    let mut grace = Duration::from_secs(10);
    let mut serving = ServeOptions::default();
    let mut http = HttpOptions::default();
    let mut events = MemoryEventStore::default();
    let mut upstream = None;
    let (mut redis, mut state_key_file) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--bind" => bind = value(),
            "--allowed-host" => http.allowed = http.allowed.with_host(value()),
            "--grace" => grace = seconds(&value()),
            "--log-json" => json = true,
            "--upstream" => upstream = Some(value()),
            "--redis" => redis = Some(value()),
            "--state-key-file" => state_key_file = Some(value()),
            "--rate-limit" => {
                let policy =
                    examples::ops::parse_rate_limit(&value()).unwrap_or_else(|e| usage(&e));
                limits = Some(limits.unwrap_or_default().policy(policy));
            }
            "--max-connections" => {
                serving.max_connections =
                    value().parse().unwrap_or_else(|e| usage(&format!("{e}")));
            }
            "--header-timeout" => serving.header_timeout = seconds(&value()),
            "--idle-timeout" => serving.idle_timeout = seconds(&value()),
            "--body-timeout" => http.body_timeout = seconds(&value()),
            "--max-sessions-per-client" => {
                http.max_sessions_per_client =
                    value().parse().unwrap_or_else(|e| usage(&format!("{e}")));
            }
            "--max-event-memory" => {
                let mib: usize = value().parse().unwrap_or_else(|e| usage(&format!("{e}")));
                events = events.with_max_total_bytes(mib.saturating_mul(1024 * 1024));
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if let Ok(hosts) = std::env::var("MCP_ALLOWED_HOSTS") {
        for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            http.allowed = http.allowed.with_host(host);
        }
    }
    // SIGTERM to exit: requests in flight get the grace, connections half
    // again as long to send their answers.
    serving.drain_timeout = grace + grace / 2;
    let _telemetry = if json {
        examples::init_logging_as(true)
    } else {
        examples::init_logging()
    };
    // Legacy sessions and the events kept for their resumption: in memory
    // (within the given memory), or on Redis for many instances.
    let stores = match &redis {
        Some(url) => Stores::redis(url, &http).unwrap_or_else(|e| usage(&e)),
        None => Stores::memory(&http, events),
    };
    let mut options = ServerOptions::default();
    options.shutdown_grace = grace;
    options.rate_limits = limits.map(|l| stores.rate_limits(l));
    let _rotation = match &state_key_file {
        Some(path) => Some(
            examples::ops::state_key_from_file(path, &mut options)
                .await
                .unwrap_or_else(|e| usage(&e)),
        ),
        None => {
            if redis.is_some() {
                tracing::warn!(
                    "--redis without --state-key-file: a 2026-07-28 request that asks for \
                     input must come back to this instance"
                );
            }
            None
        }
    };
    let mut router = examples::demo::router();
    if let Some(url) = upstream {
        router = router.with_tool(examples::demo::ask_upstream(url));
    }
    let endpoint = stores.endpoint(Server::with_options(router, options), http);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    // The URL goes to stdout once the setup succeeded, so a script that
    // bound port 0 learns it (and that it is serving).
    println!("http://{}/mcp", listener.local_addr()?);
    let app = axum::Router::new().route_service("/mcp", endpoint.clone());
    let app = examples::ops::with_ops_routes(app, &endpoint.health());
    let shutdown = endpoint.shutdown_on(mcp_server::http::shutdown_signal());
    serve_service(listener, app, serving, shutdown).await
}

fn seconds(text: &str) -> Duration {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or_else(|| usage(&format!("{text:?} is not a number of seconds")))
}

fn usage(why: &str) -> ! {
    eprintln!("{why}\n{USAGE}");
    std::process::exit(2);
}
