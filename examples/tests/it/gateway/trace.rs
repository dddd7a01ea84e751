//! One trace from the caller through the gateway to the upstream: the
//! gateway's server span continues the caller's `traceparent`, and its
//! call upstream carries its own span's context in `params._meta`.

use mcp_core::Era;
use mcp_server::Server;
use opentelemetry::trace::SpanKind;
use serde_json::json;

use super::{http_upstream, offers, serve};
use crate::support::{args, http_client, serve_http, test_router};

#[tokio::test(flavor = "current_thread")]
async fn a_trace_runs_from_the_caller_through_the_gateway_to_the_upstream() {
    crate::capture::w3c_propagation();
    let (_otel, exporter, provider) = crate::capture::watch_otel();
    let (upstream_url, _upstream) = serve_http(Server::new(test_router().0)).await;
    let config = format!(
        "{}{}",
        http_upstream("up", &upstream_url, &[]),
        http_upstream("old", &upstream_url, &["2025-11-25"]),
    );
    let (gateway, url) = serve(&config).await;
    offers(&gateway, &["up__echo", "old__echo"]).await;
    for (era, tool) in [(Era::Modern, "up__echo"), (Era::Legacy, "old__echo")] {
        exporter.reset();
        let client = http_client(&url, era).await;
        let r = client
            .call_tool(tool, args(json!({"message": "traced"})))
            .await
            .unwrap();
        assert_eq!(r.text().as_deref(), Some("traced"));
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let context = format!("{era:?}");
        let find = |name: &str, kind: SpanKind| crate::capture::span(&spans, name, &kind, &context);
        let caller = find(&format!("tools/call {tool}"), SpanKind::Client);
        let gateway_server = find(&format!("tools/call {tool}"), SpanKind::Server);
        let gateway_client = find("tools/call echo", SpanKind::Client);
        let upstream_server = find("tools/call echo", SpanKind::Server);
        for (child, parent) in [
            (gateway_server, caller),
            (gateway_client, gateway_server),
            (upstream_server, gateway_client),
        ] {
            assert_eq!(
                child.span_context.trace_id(),
                caller.span_context.trace_id(),
                "{era:?}"
            );
            assert_eq!(
                child.parent_span_id,
                parent.span_context.span_id(),
                "{era:?}: the parent of {} ({:?})",
                child.name,
                child.span_kind
            );
        }
        let _ = client.close().await;
    }
}
