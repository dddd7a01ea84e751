//! Telemetry by OpenTelemetry's MCP conventions, seen from outside: each
//! request's span (name, kind, attributes) over stdio and HTTP in both
//! eras, the caller's `traceparent` continued, what a handler logs
//! carrying the request's correlation fields, and the metrics endpoint
//! parsed by the Prometheus client library's own parser.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mcp_core::Era;
use mcp_server::http::{HttpOptions, StreamableHttp, serve_service};
use mcp_server::telemetry::MetricsService;
use mcp_server::{Error, Router, Server, tool};
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::support::{Host, Wire, args, connect_with};

type Fields = BTreeMap<String, String>;

/// Spans of `mcp_server::request` with their fields, and the events
/// logged inside them with the fields of the span they were in.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<Fields>>>,
    client_spans: Arc<Mutex<Vec<Fields>>>,
    inside: Arc<Mutex<Vec<Fields>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// The fields of a span, kept in its extensions as they are recorded.
struct Recorded(Fields);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Recorded(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(recorded) = span.extensions_mut().get_mut::<Recorded>()
        {
            values.record(&mut Collect(&mut recorded.0));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "handler" {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        if let Some(recorded) = span.extensions().get::<Recorded>() {
            self.inside.lock().unwrap().push(recorded.0.clone());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let kept = match span.metadata().target() {
            "mcp_server::request" => &self.spans,
            "mcp_client::request" => &self.client_spans,
            _ => return,
        };
        if let Some(recorded) = span.extensions().get::<Recorded>() {
            kept.lock().unwrap().push(recorded.0.clone());
        }
    }
}

impl Capture {
    fn install(&self) -> crate::capture::Watching {
        crate::capture::watch(self.clone())
    }

    /// The spans named `name`.
    fn named(&self, name: &str) -> Vec<Fields> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .filter(|s| s.get("otel.name").map(String::as_str) == Some(name))
            .cloned()
            .collect()
    }
}

/// Adds a tool that logs and one that fails to `router`.
fn add_tools(router: &Router) {
    router.add_tool(tool(
        "telemetry_logs",
        "Logs a line",
        |_: mcp_server::NoArgs| async {
            tracing::info!(target: "handler", "inside the handler");
            "logged"
        },
    ));
    router.add_tool(tool(
        "telemetry_fails",
        "Fails as a tool",
        |_: mcp_server::NoArgs| async { Err::<String, _>(Error::tool("no luck")) },
    ));
}

/// Calls `echo` with "hi" and the tool that fails, which must answer as
/// a tool error.
async fn echo_and_a_failure(client: &mcp_client::Client) {
    client
        .call_tool("echo", args(json!({"message": "hi"})))
        .await
        .unwrap();
    let failed = client.call_tool("telemetry_fails", args(json!({}))).await;
    assert_eq!(failed.unwrap().is_error, Some(true));
}

/// The test tools and those above.
fn router() -> Router {
    let router = crate::support::test_router().0;
    add_tools(&router);
    router
}

/// A tool, `relay`, that calls `echo` on `upstream`: a server that is a
/// client too.
fn relay(upstream: mcp_client::Client) -> mcp_server::ToolRoute {
    tool(
        "relay",
        "Calls echo upstream",
        move |_: mcp_server::NoArgs| {
            let upstream = upstream.clone();
            async move {
                let r = upstream
                    .call_tool("echo", args(json!({"message": "relayed"})))
                    .await
                    .map_err(Error::tool)?;
                Ok::<_, Error>(r.text().unwrap_or_default())
            }
        },
    )
}

/// Posts a 2026-07-28 `tools/call` of `tool` with `params` as is (its
/// `_meta` included) to `url`, with the headers that mirror it.
async fn post_call(url: &str, id: Value, tool: &str, params: Value) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn spans_follow_the_conventions_in_both_eras_over_stdio_and_http() {
    let capture = Capture::default();
    let _guard = capture.install();
    for wire in [Wire::Duplex, Wire::Http] {
        for era in [Era::Modern, Era::Legacy] {
            capture.spans.lock().unwrap().clear();
            capture.client_spans.lock().unwrap().clear();
            let pair = connect_with(wire, era, Host::default(), Default::default()).await;
            add_tools(&pair.router);
            echo_and_a_failure(&pair.client).await;
            let unknown = pair.client.call_tool("no_such_tool", args(json!({}))).await;
            assert!(unknown.is_err());
            pair.router.add_resource(mcp_server::resource(
                mcp_core::resources::Resource::new("memo://spans", "spans"),
                |_ctx, uri| async move { Ok(vec![mcp_core::ResourceContents::text(uri, "x")]) },
            ));
            pair.client.read_resource("memo://spans").await.unwrap();
            let code = [("code".to_owned(), "fn main() {}".to_owned())];
            pair.client
                .get_prompt("review_code", code.into())
                .await
                .unwrap();
            drop(pair);

            let context = format!("{wire:?} {era:?}");
            let echo = capture.named("tools/call echo");
            assert_eq!(
                echo.len(),
                1,
                "{context}: {:?}",
                capture.spans.lock().unwrap()
            );
            let echo = &echo[0];
            assert_eq!(echo["otel.kind"], "server", "{context}");
            assert_eq!(echo["mcp.method.name"], "tools/call");
            assert_eq!(echo["gen_ai.tool.name"], "echo");
            assert_eq!(echo["gen_ai.operation.name"], "execute_tool");
            // Conditionally required: only when not 2.0.
            assert!(echo.get("jsonrpc.protocol.version").is_none());
            assert!(echo.contains_key("jsonrpc.request.id"), "{context}");
            assert_eq!(echo["trace_id"].len(), 32, "{context}");
            assert!(!echo.contains_key("error.type"), "{context}");
            // Opt-in only.
            assert!(
                !echo.contains_key("gen_ai.tool.call.arguments"),
                "{context}"
            );
            assert!(!echo.contains_key("gen_ai.tool.call.result"), "{context}");
            let version = &echo["mcp.protocol.version"];
            match era {
                Era::Modern => {
                    assert_eq!(version, "2026-07-28");
                    assert!(!echo.contains_key("mcp.session.id"), "{context}");
                }
                _ => assert!(version.starts_with("2025-"), "{context}: {version}"),
            }
            match wire {
                Wire::Duplex => {
                    assert_eq!(echo["network.transport"], "pipe");
                    assert!(!echo.contains_key("client.address"));
                }
                Wire::Http => {
                    assert_eq!(echo["network.transport"], "tcp");
                    assert_eq!(echo["network.protocol.name"], "http");
                    assert_eq!(echo["client.address"], "127.0.0.1");
                    assert!(echo["client.port"].parse::<u16>().is_ok());
                    if era == Era::Legacy {
                        // A digest, not the id a reader could use.
                        assert_eq!(echo["mcp.session.id"].len(), 16, "{context}");
                    }
                }
            }
            let server_session = echo.get("mcp.session.id").cloned();
            let failed = &capture.named("tools/call telemetry_fails")[0];
            assert_eq!(failed["error.type"], "tool_error", "{context}");
            let unknown = &capture.named("tools/call no_such_tool")[0];
            assert_eq!(unknown["error.type"], "-32602", "{context}");
            assert_eq!(unknown["rpc.response.status_code"], "-32602", "{context}");
            // A resource is an attribute, never part of the name (a name
            // per resource); a prompt is both.
            let read = capture.named("resources/read");
            assert_eq!(read.len(), 1, "{context}: {read:?}");
            assert_eq!(read[0]["mcp.resource.uri"], "memo://spans", "{context}");
            assert!(!read[0].contains_key("gen_ai.tool.name"), "{context}");
            let prompt = &capture.named("prompts/get review_code")[0];
            assert_eq!(prompt["gen_ai.prompt.name"], "review_code", "{context}");
            assert!(!prompt.contains_key("gen_ai.operation.name"), "{context}");

            // The client's side of the same calls.
            let client = capture.client_spans.lock().unwrap().clone();
            let named = |name: &str| {
                client
                    .iter()
                    .find(|s| s["otel.name"] == name)
                    .unwrap_or_else(|| panic!("{context}: no client span {name}: {client:?}"))
                    .clone()
            };
            let echo = named("tools/call echo");
            assert_eq!(echo["otel.kind"], "client", "{context}");
            // Both sides name a legacy HTTP session alike, and nothing else.
            assert_eq!(
                echo.get("mcp.session.id"),
                server_session.as_ref(),
                "{context}"
            );
            assert_eq!(
                server_session.is_some(),
                wire == Wire::Http && era == Era::Legacy,
                "{context}"
            );
            assert_eq!(echo["gen_ai.tool.name"], "echo");
            assert!(!echo.contains_key("error.type"), "{context}");
            match wire {
                Wire::Duplex => assert_eq!(echo["network.transport"], "pipe"),
                Wire::Http => {
                    assert_eq!(echo["network.transport"], "tcp");
                    assert_eq!(echo["server.address"], "127.0.0.1");
                    assert!(echo["server.port"].parse::<u16>().is_ok());
                }
            }
            assert_eq!(
                named("tools/call telemetry_fails")["error.type"],
                "tool_error"
            );
            assert_eq!(named("tools/call no_such_tool")["error.type"], "-32602");
            assert_eq!(named("resources/read")["mcp.resource.uri"], "memo://spans");
            assert_eq!(
                named("prompts/get review_code")["gen_ai.prompt.name"],
                "review_code"
            );
        }
    }
}

/// The caller's `traceparent` names the trace; what the handler logs is
/// inside the request's span, so it carries the trace id, the request id,
/// the method and the principal.
#[tokio::test(flavor = "current_thread")]
async fn a_callers_traceparent_is_continued_and_handler_logs_carry_it() {
    let capture = Capture::default();
    let _guard = capture.install();
    let endpoint = StreamableHttp::new(Server::new(router()), HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    // What an authentication layer does: vouch for the caller.
    let app = axum::Router::new()
        .route_service("/mcp", endpoint)
        .layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                let principal = mcp_core::transport::Principal("ada".into());
                req.extensions_mut().insert(principal);
                next.run(req).await
            },
        ));
    tokio::spawn(serve_service(
        listener,
        app,
        Default::default(),
        std::future::pending(),
    ));
    let params = json!({
        "name": "telemetry_logs", "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        }
    });
    let answer = post_call(&url, json!("req-7"), "telemetry_logs", params).await;
    assert_eq!(answer.status(), 200);
    let inside = capture.inside.lock().unwrap().clone();
    assert_eq!(inside.len(), 1, "{inside:?}");
    assert_eq!(inside[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(inside[0]["jsonrpc.request.id"], "req-7");
    assert_eq!(inside[0]["mcp.method.name"], "tools/call");
    assert_eq!(inside[0]["otel.name"], "tools/call telemetry_logs");
    assert_eq!(inside[0]["principal"], "ada");
}

/// The metrics endpoint, read by the parser of the Prometheus client
/// library (`prometheus_client` for Python, from the test tools).
#[tokio::test]
async fn the_metrics_endpoint_parses_as_prometheus_text() {
    let pair = connect_with(Wire::Http, Era::Modern, Host::default(), Default::default()).await;
    for _ in 0..3 {
        pair.client
            .call_tool("echo", args(json!({"message": "hi"})))
            .await
            .unwrap();
    }
    drop(pair);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let app = axum::Router::new().route_service("/metrics", MetricsService::new());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let Some(python) = std::env::var_os("MCP_TEST_PYTHON") else {
        eprintln!("MCP_TEST_PYTHON not set: the exposition was not parsed by prometheus_client");
        assert!(text.contains("# TYPE mcp_server_operation_duration_seconds histogram"));
        return;
    };
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
print(json.dumps(out))
"#;
    let mut child = tokio::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, text.as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "the parser refused:\n{text}");
    let families: Value = serde_json::from_slice(&output.stdout).unwrap();
    let operations = &families["mcp_server_operation_duration_seconds"];
    assert_eq!(operations["type"], "histogram");
    let echo_count = operations["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["name"] == "mcp_server_operation_duration_seconds_count"
                && s["labels"]["gen_ai_tool_name"] == "echo"
                && s["labels"]["mcp_protocol_version"] == "2026-07-28"
        })
        .unwrap_or_else(|| panic!("no echo series in {operations}"));
    assert!(echo_count["value"].as_f64().unwrap() >= 3.0);
    assert_eq!(families["mcp_security_events"]["type"], "counter");
    assert_eq!(
        families["mcp_server_session_duration_seconds"]["type"],
        "histogram"
    );
}

/// With OpenTelemetry installed (`tracing-opentelemetry`, the SDK, the
/// W3C propagator), one trace runs from our client through our server into
/// a call its tool makes to another server, in both eras: every span's
/// parent is the span before it, across processes' worth of HTTP.
#[tokio::test(flavor = "current_thread")]
async fn a_trace_continues_from_client_to_server_to_a_nested_call() {
    use opentelemetry::trace::SpanKind;

    crate::capture::w3c_propagation();
    let (_otel, exporter, provider) = crate::capture::watch_otel();

    // The inner server, and the outer one whose `relay` tool calls it.
    let inner = Server::new(crate::support::test_router().0);
    let (inner_url, _inner) = crate::support::serve_http(inner).await;
    for era in [Era::Modern, Era::Legacy] {
        exporter.reset();
        let upstream = crate::support::http_client(&inner_url, era).await;
        let outer = crate::support::test_router().0;
        outer.add_tool(relay(upstream));
        let (outer_url, _outer) = crate::support::serve_http(Server::new(outer)).await;
        let client = crate::support::http_client(&outer_url, era).await;
        let r = client.call_tool("relay", args(json!({}))).await.unwrap();
        assert_eq!(r.text().as_deref(), Some("relayed"));
        provider.force_flush().unwrap();

        let spans = exporter.get_finished_spans().unwrap();
        let context = format!("{era:?}");
        let find = |name: &str, kind: SpanKind| crate::capture::span(&spans, name, &kind, &context);
        let outer_client = find("tools/call relay", SpanKind::Client);
        let outer_server = find("tools/call relay", SpanKind::Server);
        let inner_client = find("tools/call echo", SpanKind::Client);
        let inner_server = find("tools/call echo", SpanKind::Server);
        let trace = outer_client.span_context.trace_id();
        for (child, parent) in [
            (outer_server, outer_client),
            (inner_client, outer_server),
            (inner_server, inner_client),
        ] {
            assert_eq!(
                child.span_context.trace_id(),
                trace,
                "{era:?}: {}",
                child.name
            );
            assert_eq!(
                child.parent_span_id,
                parent.span_context.span_id(),
                "{era:?}: the parent of {} ({:?})",
                child.name,
                child.span_kind
            );
        }
        let attribute = |span: &opentelemetry_sdk::trace::SpanData, key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(
            attribute(inner_server, "gen_ai.tool.name").as_deref(),
            Some("echo")
        );
        assert_eq!(
            attribute(inner_server, "mcp.method.name").as_deref(),
            Some("tools/call")
        );
        assert_eq!(
            attribute(outer_client, "server.address").as_deref(),
            Some("127.0.0.1")
        );
        // What logs name the trace by is the exported trace.
        for span in [outer_server, inner_server] {
            assert_eq!(
                attribute(span, "trace_id"),
                Some(span.span_context.trace_id().to_string()),
                "{era:?}: {}",
                span.name
            );
        }
    }

    // A request without a `traceparent` starts a trace, and its logs name
    // that one, not an id of their own.
    exporter.reset();
    let params = json!({
        "name": "echo", "arguments": {"message": "m"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}});
    let answer = post_call(&inner_url, json!(1), "echo", params).await;
    assert_eq!(answer.status(), 200);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let root = spans
        .iter()
        .find(|s| s.name == "tools/call echo" && s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(root.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    let logged = root
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "trace_id");
    assert_eq!(
        logged.map(|kv| kv.value.to_string()),
        Some(root.span_context.trace_id().to_string())
    );
}

/// On a legacy session a tool that asks its client for input sends a
/// request the other way: the server's span for it (kind client) is the
/// child of the request being handled, and the client's span answering it
/// (kind server) is the child of that, through the request's `_meta`.
#[tokio::test(flavor = "current_thread")]
async fn a_servers_request_to_its_client_is_traced_both_ways() {
    use opentelemetry::trace::SpanKind;

    crate::capture::w3c_propagation();
    let (_otel, exporter, provider) = crate::capture::watch_otel();
    exporter.reset();
    let (url, _server) =
        crate::support::serve_http(Server::new(crate::support::test_router().0)).await;
    let client = mcp_client::Client::connect_http(
        &url,
        crate::support::options(Era::Legacy),
        mcp_client::HttpOptions::default(),
        crate::support::Host::full(),
    )
    .await
    .unwrap();
    let r = client
        .call_tool("ask_wrapped", args(json!({})))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let find = |name: &str, kind: SpanKind| crate::capture::span(&spans, name, &kind, "legacy");
    let call = find("tools/call ask_wrapped", SpanKind::Client);
    let handled = find("tools/call ask_wrapped", SpanKind::Server);
    let asked = find("elicitation/create", SpanKind::Client);
    let answered = find("elicitation/create", SpanKind::Server);
    for (child, parent) in [(handled, call), (asked, handled), (answered, asked)] {
        assert_eq!(
            child.span_context.trace_id(),
            call.span_context.trace_id(),
            "{}",
            child.name
        );
        assert_eq!(
            child.parent_span_id,
            parent.span_context.span_id(),
            "the parent of {} ({:?})",
            child.name,
            child.span_kind
        );
    }
    for span in [asked, answered] {
        let attribute = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(
            attribute("mcp.method.name").as_deref(),
            Some("elicitation/create")
        );
        assert!(
            attribute("jsonrpc.request.id").is_some(),
            "{:?}",
            span.attributes
        );
        assert_eq!(attribute("error.type"), None);
    }
}

/// With `record_tool_calls` a tool call's span carries its arguments and
/// its result (a tool error's too), as the conventions' opt-in attributes.
#[tokio::test(flavor = "current_thread")]
async fn tool_arguments_and_results_are_recorded_only_when_asked() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut options = mcp_server::ServerOptions::default();
    options.record_tool_calls = true;
    let pair = connect_with(Wire::Duplex, Era::Modern, Host::default(), options).await;
    add_tools(&pair.router);
    echo_and_a_failure(&pair.client).await;
    drop(pair);
    let echo = &capture.named("tools/call echo")[0];
    let arguments: Value = serde_json::from_str(&echo["gen_ai.tool.call.arguments"]).unwrap();
    assert_eq!(arguments, json!({"message": "hi"}));
    let result: Value = serde_json::from_str(&echo["gen_ai.tool.call.result"]).unwrap();
    assert_eq!(result["content"][0]["text"], "hi", "{result}");
    let failed = &capture.named("tools/call telemetry_fails")[0];
    let result: Value = serde_json::from_str(&failed["gen_ai.tool.call.result"]).unwrap();
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(result["content"][0]["text"], "no luck", "{result}");
}

/// `tracestate` and `baggage` travel with `traceparent`: what a caller
/// sends in `_meta` reaches the server and goes on from it, in `_meta`
/// again, into the request its handler makes of another server.
#[tokio::test(flavor = "current_thread")]
async fn tracestate_and_baggage_travel_on_with_the_trace() {
    crate::capture::w3c_propagation();
    let (_otel, _, _) = crate::capture::watch_otel();
    // The inner server, and what reached it: each request's body.
    let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = Arc::clone(&bodies);
    let inner = StreamableHttp::new(
        Server::new(crate::support::test_router().0),
        HttpOptions::default(),
    );
    let app = axum::Router::new()
        .route_service("/mcp", inner)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let seen = Arc::clone(&seen);
                async move {
                    let (parts, body) = req.into_parts();
                    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                    if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
                        seen.lock().unwrap().push(body);
                    }
                    let req = axum::extract::Request::from_parts(parts, bytes.into());
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inner_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(serve_service(
        listener,
        app,
        Default::default(),
        std::future::pending(),
    ));
    let upstream = crate::support::http_client(&inner_url, Era::Modern).await;
    let outer = crate::support::test_router().0;
    outer.add_tool(relay(upstream));
    let (outer_url, _outer) = crate::support::serve_http(Server::new(outer)).await;

    // A call of `relay` in a caller's trace, with its trace state and baggage.
    let relay_call = |tracestate: &str, baggage: &str| {
        json!({
            "name": "relay", "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "tracestate": tracestate,
                "baggage": baggage,
            }
        })
    };
    let params = relay_call("vendor=abc", "user=ada");
    let answer = post_call(&outer_url, json!(1), "relay", params).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("relayed"));

    // The last `tools/call` that reached the inner server: its `_meta`.
    let last_meta = || {
        let bodies = bodies.lock().unwrap();
        let call = bodies
            .iter()
            .rfind(|b| b["method"] == "tools/call")
            .unwrap_or_else(|| panic!("no tools/call reached the inner server: {bodies:?}"));
        call["params"]["_meta"].clone()
    };
    let meta = last_meta();
    let traceparent = meta["traceparent"].as_str().unwrap_or_default();
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{meta}"
    );
    assert!(traceparent.ends_with("-01"), "{meta}");
    assert_eq!(meta["tracestate"], "vendor=abc", "{meta}");
    assert_eq!(meta["baggage"], "user=ada", "{meta}");

    // A caller cannot make the server carry more on: a longer trace state
    // is cut to 32 members, and baggage past OpenTelemetry's bounds (64
    // entries, 8,192 bytes) is not passed on.
    let members: Vec<String> = (0..40).map(|i| format!("k{i}=v{i}")).collect();
    let entries: Vec<String> = (0..200)
        .map(|i| format!("b{i}={}", "x".repeat(60)))
        .collect();
    let params = relay_call(&members.join(","), &entries.join(","));
    let answer = post_call(&outer_url, json!(2), "relay", params).await;
    assert_eq!(answer.status(), 200);
    let meta = last_meta();
    let tracestate = meta["tracestate"].as_str().unwrap_or_default();
    assert!(tracestate.split(',').count() <= 32, "{tracestate}");
    let baggage = meta["baggage"].as_str().unwrap_or_default();
    assert!(baggage.split(',').count() <= 64, "{baggage}");
    assert!(baggage.len() <= 8192, "{}", baggage.len());
}
