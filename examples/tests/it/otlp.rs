//! Export over OTLP/HTTP as operators run it: the example programs, with
//! only OpenTelemetry's environment variables set, send their spans and
//! metrics to a receiver that decodes them with OpenTelemetry's published
//! protobuf definitions (`tests/otlp/receiver.py`, `opentelemetry-proto`
//! from PyPI).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_core::Era;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::stdio::{example, serve_example};
use crate::support::{args, http_client};

/// A bound on each wait, so a wedged exporter fails the test. Nothing
/// waits for it to pass.
const PATIENCE: Duration = Duration::from_secs(60);

/// The receiver process and what it has printed so far.
struct Receiver {
    _child: Child,
    port: u16,
    records: Arc<Mutex<Vec<Value>>>,
    seen: watch::Receiver<usize>,
}

impl Receiver {
    /// Starts it, if the test environment has its Python.
    async fn start() -> Option<Self> {
        let Some(python) = std::env::var_os("MCP_TEST_PYTHON") else {
            eprintln!("MCP_TEST_PYTHON not set: no OTLP receiver, export not checked");
            return None;
        };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next_line()
            .await
            .unwrap()
            .expect("the receiver's port");
        let first: Value = serde_json::from_str(&first).unwrap();
        let port = u16::try_from(first["port"].as_u64().unwrap()).unwrap();
        let records = Arc::new(Mutex::new(Vec::new()));
        let (tx, seen) = watch::channel(0);
        let sink = Arc::clone(&records);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let record: Value = serde_json::from_str(&line).unwrap();
                let mut all = sink.lock().unwrap();
                all.push(record);
                tx.send_replace(all.len());
            }
        });
        Some(Self {
            _child: child,
            port,
            records,
            seen,
        })
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `found` finds something in what was received.
    async fn until<T>(&self, what: &str, found: impl Fn(&[Value]) -> Option<T>) -> T {
        match self.within(PATIENCE, found).await {
            Some(t) => t,
            None => panic!(
                "the receiver never got {what}; it got:\n{:#?}",
                self.records.lock().unwrap()
            ),
        }
    }

    /// What `found` finds in what is received within `time`, if anything.
    async fn within<T>(&self, time: Duration, found: impl Fn(&[Value]) -> Option<T>) -> Option<T> {
        let mut seen = self.seen.clone();
        let wait = async {
            loop {
                if let Some(t) = found(&self.records.lock().unwrap()) {
                    return t;
                }
                seen.changed().await.unwrap();
            }
        };
        tokio::time::timeout(time, wait).await.ok()
    }

    async fn control(&self, what: &str) {
        let url = format!("{}/control/{what}", self.endpoint());
        let res = reqwest::Client::new().post(url).send().await.unwrap();
        assert!(res.status().is_success());
    }
}

/// The first span of `service` named `name` of `kind`
/// (`SPAN_KIND_SERVER`...).
fn span<'a>(all: &'a [Value], service: &str, name: &str, kind: &str) -> Option<&'a Value> {
    all.iter().find(|r| {
        r["signal"] == "span" && r["service"] == service && r["name"] == name && r["kind"] == kind
    })
}

/// The first data point of metric `name` from `service` whose attributes
/// include `attributes`.
fn metric<'a>(
    all: &'a [Value],
    service: &str,
    name: &str,
    attributes: &Value,
) -> Option<&'a Value> {
    all.iter().find(|r| {
        r["signal"] == "metric"
            && r["service"] == service
            && r["name"] == name
            && attributes
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &r["attributes"][k] == v)
    })
}

/// The `http_server` example exporting to `receiver` as `service`, with
/// `args` and `env` added; and its URL.
async fn http_server(
    receiver: &Receiver,
    service: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, String) {
    let mut command = Command::new(example("http_server"));
    command
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_SERVICE_NAME", service)
        // Export soon after each span, so the test waits little.
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "100")
        .envs(env.iter().copied());
    serve_example(command).await
}

#[tokio::test]
async fn spans_and_metrics_reach_an_otlp_receiver_from_client_to_server_to_a_nested_call() {
    let Some(receiver) = Receiver::start().await else {
        return;
    };
    let (_upstream, upstream_url) = http_server(&receiver, "upstream", &[], &[]).await;
    // The front server's `ask_upstream` tool calls the upstream server.
    let (_front, url) = http_server(&receiver, "front", &["--upstream", &upstream_url], &[]).await;
    let tokens = std::env::temp_dir().join(format!("mcp-otlp-{}", std::process::id()));
    // stdio_client -> remote_bridge (a relay: the trace context passes
    // through it) -> front -> upstream. The program without
    // OTEL_SERVICE_NAME is named after itself.
    let out = Command::new(example("stdio_client"))
        .args(["--call", "ask_upstream", "--args"])
        .arg(r#"{"tool":"echo","arguments":{"message":"not-recorded"}}"#)
        .arg(example("remote_bridge"))
        .arg(&url)
        .arg("--token-dir")
        .arg(&tokens)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env_remove("OTEL_SERVICE_NAME")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(PATIENCE, out).await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&tokens);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("not-recorded"));

    let (outer, inner) = ("tools/call ask_upstream", "tools/call echo");
    let [client, front_in, front_out, server] = receiver
        .until("the four spans of the call", |all| {
            Some([
                span(all, "stdio_client", outer, "SPAN_KIND_CLIENT")?.clone(),
                span(all, "front", outer, "SPAN_KIND_SERVER")?.clone(),
                span(all, "front", inner, "SPAN_KIND_CLIENT")?.clone(),
                span(all, "upstream", inner, "SPAN_KIND_SERVER")?.clone(),
            ])
        })
        .await;
    // One trace, each span the child of the one before it.
    for (parent, child) in [
        (&client, &front_in),
        (&front_in, &front_out),
        (&front_out, &server),
    ] {
        assert_eq!(child["trace_id"], client["trace_id"], "{child:#}");
        assert_eq!(child["parent_span_id"], parent["span_id"], "{child:#}");
    }
    assert_eq!(client["parent_span_id"], "", "{client:#}");
    for (s, tool) in [
        (&client, "ask_upstream"),
        (&front_in, "ask_upstream"),
        (&front_out, "echo"),
        (&server, "echo"),
    ] {
        let a = &s["attributes"];
        assert_eq!(a["mcp.method.name"], "tools/call", "{s:#}");
        assert_eq!(a["gen_ai.tool.name"], tool, "{s:#}");
        assert_eq!(a["gen_ai.operation.name"], "execute_tool", "{s:#}");
        assert!(a["jsonrpc.request.id"].is_string(), "{s:#}");
        assert!(a["mcp.protocol.version"].is_string(), "{s:#}");
        assert_eq!(s["status"], "STATUS_CODE_UNSET", "{s:#}");
        // Arguments and results are never recorded.
        assert!(!s.to_string().contains("not-recorded"), "{s:#}");
    }
    assert_eq!(client["attributes"]["network.transport"], "pipe");
    for s in [&front_in, &front_out, &server] {
        assert_eq!(s["attributes"]["network.transport"], "tcp", "{s:#}");
        assert_eq!(s["attributes"]["network.protocol.name"], "http", "{s:#}");
    }
    assert_eq!(front_out["attributes"]["server.address"], "127.0.0.1");
    assert!(
        front_out["attributes"]["server.port"].is_i64(),
        "{front_out:#}"
    );
    assert_eq!(server["attributes"]["client.address"], "127.0.0.1");
    assert!(server["attributes"]["client.port"].is_i64(), "{server:#}");

    let call = json!({"mcp.method.name": "tools/call", "gen_ai.tool.name": "ask_upstream"});
    let (server_duration, client_duration) = receiver
        .until("the operation durations", |all| {
            Some((
                metric(all, "front", "mcp.server.operation.duration", &call)?.clone(),
                metric(all, "stdio_client", "mcp.client.operation.duration", &call)?.clone(),
            ))
        })
        .await;
    for m in [&server_duration, &client_duration] {
        assert_eq!(m["type"], "histogram", "{m:#}");
        assert_eq!(m["unit"], "s", "{m:#}");
        assert!(m["count"].as_u64().unwrap() >= 1, "{m:#}");
        assert_eq!(m["bounds"][0], 0.01, "{m:#}");
        assert_eq!(m["bounds"][13], 300.0, "{m:#}");
    }
    assert_eq!(server_duration["scope"], "mcp-server");
    assert_eq!(client_duration["scope"], "mcp-client");
    let events = receiver
        .until("the security event counter", |all| {
            metric(
                all,
                "upstream",
                "mcp.security.events",
                &json!({"event": "auth_failure"}),
            )
            .cloned()
        })
        .await;
    assert_eq!(events["type"], "sum", "{events:#}");
    receiver
        .until("the client's connection duration", |all| {
            let pipe = json!({"network.transport": "pipe"});
            metric(all, "stdio_client", "mcp.client.session.duration", &pipe).cloned()
        })
        .await;
}

#[tokio::test]
async fn a_stalled_collector_holds_no_request_drops_spans_counted_and_export_resumes() {
    let Some(receiver) = Receiver::start().await else {
        return;
    };
    receiver.control("stall").await;
    let (_server, url) = http_server(
        &receiver,
        "stalled",
        &[],
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
            // Longer than the test: the exports hang until resumed.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
        ],
    )
    .await;
    let client = http_client(&url, Era::Modern).await;
    let echo = || client.call_tool("echo", args(json!({"message": "x"})));
    echo().await.unwrap();
    receiver
        .until("a stalled export", |all| {
            all.iter().find(|r| r["signal"] == "stalled").cloned()
        })
        .await;
    // Far more spans than the queue holds, while the exporter hangs: every
    // request is answered (a wedged request would trip PATIENCE).
    for n in 0..300 {
        let answered = tokio::time::timeout(PATIENCE, echo()).await;
        assert!(answered.is_ok_and(|r| r.is_ok()), "request {n}");
    }

    receiver.control("resume").await;
    // Until the queue has drained, a new span may still find it full and
    // be dropped: ask again until one gets through.
    a_span_gets_through(&receiver, &client, "stalled").await;
    let dropped = receiver
        .until("the count of spans dropped from the full queue", |all| {
            all.iter()
                .filter(|r| {
                    r["signal"] == "metric"
                        && r["service"] == "stalled"
                        && r["name"] == "otel.sdk.processor.span.processed"
                        && r["attributes"]["error.type"] == "queue_full"
                })
                .filter_map(|r| r["value"].as_u64())
                .max()
        })
        .await;
    // 301 spans, at most 16 queued and 4 in the hung export.
    assert!(dropped >= 301 - 16 - 4, "{dropped} dropped");
    let exported = receiver
        .records
        .lock()
        .unwrap()
        .iter()
        .filter(|r| {
            r["signal"] == "span" && r["service"] == "stalled" && r["name"] == "tools/call echo"
        })
        .count();
    // At most the hung batch and a full queue.
    assert!((1..=4 + 16).contains(&exported), "{exported} exported");
    client.close().await.unwrap();
}

/// A 2026-07-28 `tools/call` posted as is, with `traceparent` in its
/// `_meta` when given, which must succeed.
async fn call_with_trace(url: &str, traceparent: Option<&str>, tool: &str, arguments: Value) {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    if let Some(traceparent) = traceparent {
        meta["traceparent"] = json!(traceparent);
    }
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": meta},
    });
    let res = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let text = res.text().await.unwrap();
    assert!(text.contains("\"result\""), "{text}");
}

/// The front server: parent-based, and no new trace kept, so only its
/// callers' sampled traces.
const ONLY_CALLERS_SAMPLED: [(&str, &str); 2] = [
    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
    ("OTEL_TRACES_SAMPLER_ARG", "0"),
];

#[tokio::test]
async fn head_sampling_keeps_the_traces_callers_sample_whole_and_nothing_of_the_rest() {
    sampled_whole_or_not_at_all(&ONLY_CALLERS_SAMPLED, true).await;
}

/// With logs off the front server decides before building a request's
/// span (`sample_at_source`): the same traces are kept, and a dropped
/// one is sent on as dropped although it has no span to say so.
#[tokio::test]
async fn sampling_at_the_source_keeps_and_drops_the_same_traces() {
    let front = [&ONLY_CALLERS_SAMPLED[..], &[("LOG_FORMAT", "none")]].concat();
    sampled_whole_or_not_at_all(&front, true).await;
    // A front server that keeps every new trace: the request its caller
    // dropped has no span, and the call its handler makes must still
    // follow the caller's decision, not draw one of its own.
    let front = [
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
        ("LOG_FORMAT", "none"),
    ];
    sampled_whole_or_not_at_all(&front, false).await;
}

/// Calls through a front server (`front`: its environment) to an upstream
/// that keeps all but the traces it is told were dropped: one in a new
/// trace (when `new_trace`, which the front server must drop), one in a
/// trace its caller dropped, one in a trace its caller sampled. Only the
/// sampled call's three spans are exported, as one trace.
async fn sampled_whole_or_not_at_all(front: &[(&str, &str)], new_trace: bool) {
    let Some(receiver) = Receiver::start().await else {
        return;
    };
    let always = [("OTEL_TRACES_SAMPLER", "parentbased_always_on")];
    let (_upstream, upstream_url) = http_server(&receiver, "sampled-up", &[], &always).await;
    let (_front, url) = http_server(
        &receiver,
        "sampled-front",
        &["--upstream", &upstream_url],
        front,
    )
    .await;
    let nested = || json!({"tool": "echo", "arguments": {"message": "x"}});
    // No trace context: a new trace, not kept.
    if new_trace {
        call_with_trace(&url, None, "ask_upstream", nested()).await;
    }
    // The caller's trace, not sampled by the caller.
    let dropped = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    call_with_trace(&url, Some(dropped), "ask_upstream", nested()).await;
    // The caller's trace, sampled: kept on both servers, as one trace.
    let kept = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    call_with_trace(&url, Some(kept), "ask_upstream", nested()).await;

    let [front_in, front_out, up] = receiver
        .until("the three spans of the sampled call", |all| {
            Some([
                span(
                    all,
                    "sampled-front",
                    "tools/call ask_upstream",
                    "SPAN_KIND_SERVER",
                )?
                .clone(),
                span(all, "sampled-front", "tools/call echo", "SPAN_KIND_CLIENT")?.clone(),
                span(all, "sampled-up", "tools/call echo", "SPAN_KIND_SERVER")?.clone(),
            ])
        })
        .await;
    assert_eq!(front_in["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(front_in["parent_span_id"], "00f067aa0ba902b7");
    for (parent, child) in [(&front_in, &front_out), (&front_out, &up)] {
        assert_eq!(child["trace_id"], front_in["trace_id"], "{child:#}");
        assert_eq!(child["parent_span_id"], parent["span_id"], "{child:#}");
    }
    // Each process exports its spans in the order they ended, and the
    // dropped calls ended first: had they been exported, they would be
    // here already.
    let records = receiver.records.lock().unwrap();
    let spans: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["signal"] == "span"
                && r["service"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("sampled-"))
        })
        .collect();
    assert_eq!(spans.len(), 3, "{spans:#?}");
}

/// A loopback port where nothing listens, so connecting to it is refused,
/// until [`Unreachable::open`]. The port is held by a socket bound to it
/// but not listening: nothing else can take it meanwhile.
struct Unreachable {
    socket: tokio::net::TcpSocket,
    port: u16,
}

impl Unreachable {
    fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        let port = socket.local_addr().unwrap().port();
        Self { socket, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Listens on the port at last, passing each connection on to
    /// `receiver`: the collector is back, at the address the exporter
    /// was given.
    fn open(self, receiver: &Receiver) {
        let listener = self.socket.listen(64).unwrap();
        let to = (Ipv4Addr::LOCALHOST, receiver.port);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    }
}

#[tokio::test]
async fn an_unreachable_collector_holds_no_request_and_export_resumes_when_it_listens() {
    let Some(receiver) = Receiver::start().await else {
        return;
    };
    let gone = Unreachable::new();
    let endpoint = gone.endpoint();
    let (_server, url) = http_server(
        &receiver,
        "unreachable",
        &[],
        &[
            // Overrides the receiver's endpoint (the later setting wins):
            // every export, of spans and of metrics, is refused.
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
            // An export every 4 spans: the requests below make the
            // exporter try, and fail, many times.
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
            // Longer than the test: a request that waited for its span to
            // be delivered, or for an export to give up, would still be
            // waiting when `PATIENCE` runs out.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
        ],
    )
    .await;
    let client = http_client(&url, Era::Modern).await;
    // Every request is answered while no export can succeed. Nothing
    // listens until they all are, so one that waited on export would
    // wait past the deadline.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for n in 0..300 {
        let echo = client.call_tool("echo", args(json!({"message": "x"})));
        let answered = tokio::time::timeout_at(deadline, echo).await;
        assert!(answered.is_ok_and(|r| r.is_ok()), "request {n}");
    }

    gone.open(&receiver);
    // No `tools/list` was made before: one received is from a request made
    // after the collector came back. A span may still find the queue full
    // of spans from before (which are exported, or dropped, first).
    a_span_gets_through(&receiver, &client, "unreachable").await;
    client.close().await.unwrap();
}

/// Calls `tools/list` until the span of one reaches `receiver` from
/// `service` (a bounded number of times): a collector that came back
/// receives spans again.
async fn a_span_gets_through(receiver: &Receiver, client: &mcp_client::Client, service: &str) {
    for _ in 0..100 {
        client.list_tools(None).await.unwrap();
        let through = receiver
            .within(Duration::from_millis(500), |all| {
                span(all, service, "tools/list", "SPAN_KIND_SERVER").cloned()
            })
            .await;
        if through.is_some() {
            return;
        }
    }
    panic!("no span got through after the collector came back");
}
