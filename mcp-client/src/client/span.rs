//! Each request's `tracing` span, by OpenTelemetry's MCP conventions
//! (client side): named `{mcp.method.name} {target}`, kind `client`, with
//! the server's address and, on failure, `error.type`. Arguments and
//! results are never recorded.

use std::any::Any;
use std::fmt;

use mcp_core::jsonrpc::RequestId;
use mcp_core::prompts::GetPromptParams;
use mcp_core::resources::ReadResourceParams;
use mcp_core::tools::CallToolParams;
use mcp_core::{CallToolResult, Outcome, ProtocolVersion};
use tracing::field::Empty;

use crate::Error;

/// `{mcp.method.name} {target}`.
struct SpanName<'a>(&'static str, Option<&'a str>);

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(target) => write!(f, "{} {target}", self.0),
            None => f.write_str(self.0),
        }
    }
}

/// The span of request `method` with `params`, sent as `id` in `version`
/// to `server` (host and port, over a network).
pub(super) fn request(
    method: &'static str,
    id: &RequestId,
    params: &dyn Any,
    version: Option<&ProtocolVersion>,
    server: Option<&(String, u16)>,
) -> tracing::Span {
    let tool = params
        .downcast_ref::<CallToolParams>()
        .map(|p| p.name.as_str());
    let prompt = params
        .downcast_ref::<GetPromptParams>()
        .map(|p| p.name.as_str());
    let uri = params
        .downcast_ref::<ReadResourceParams>()
        .map(|p| p.uri.as_str());
    tracing::info_span!(
        target: "mcp_client::request",
        "mcp.client.request",
        otel.name = %SpanName(method, tool.or(prompt).or(uri)),
        otel.kind = "client",
        otel.status_code = Empty,
        mcp.method.name = method,
        jsonrpc.request.id = %id,
        jsonrpc.protocol.version = "2.0",
        mcp.protocol.version = version.map(ProtocolVersion::as_str),
        gen_ai.tool.name = tool,
        gen_ai.prompt.name = prompt,
        mcp.resource.uri = uri,
        gen_ai.operation.name = tool.map(|_| "execute_tool"),
        network.transport = if server.is_some() { "tcp" } else { "pipe" },
        network.protocol.name = server.map(|_| "http"),
        server.address = server.map(|s| s.0.as_str()),
        server.port = server.map(|s| s.1),
        error.type = Empty,
        rpc.response.status_code = Empty,
    )
}

/// With the `otel` feature: writes `span`'s W3C trace context into the
/// request's `_meta` (`traceparent`, `tracestate`, `baggage`) through the
/// globally installed propagator, so the server's span is its child.
#[cfg(feature = "otel")]
pub(super) fn propagate(span: &tracing::Span, meta: &mut Option<mcp_core::RequestMeta>) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    /// `_meta`, as a propagator writes it.
    struct Carrier<'a>(&'a mut mcp_core::JsonObject);

    impl opentelemetry::propagation::Injector for Carrier<'_> {
        fn set(&mut self, key: &str, value: String) {
            self.0
                .insert(key.to_owned(), serde_json::Value::String(value));
        }
    }

    if span.is_disabled() {
        return;
    }
    let context = span.context();
    let meta = meta.get_or_insert_with(Default::default);
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut Carrier(&mut meta.other));
    });
}

/// Records how the request ended on its span.
pub(super) fn outcome(span: &tracing::Span, result: Result<&dyn Any, &Error>) {
    let error_type = match result {
        Ok(result) => {
            // A tool's result comes as is, or as the outcome of a call
            // that may ask for input first.
            let tool_result = result.downcast_ref::<CallToolResult>().or_else(|| {
                match result.downcast_ref::<Outcome<CallToolResult>>() {
                    Some(Outcome::Complete(r)) => Some(r),
                    _ => None,
                }
            });
            let failed = tool_result.is_some_and(|r| r.is_error == Some(true));
            if !failed {
                return;
            }
            "tool_error".to_owned()
        }
        Err(Error::Remote(e)) => {
            let code = e.code().0.to_string();
            span.record("rpc.response.status_code", code.as_str());
            code
        }
        Err(Error::Timeout { .. }) => "timeout".to_owned(),
        Err(Error::Http { status, .. }) => status.to_string(),
        Err(_) => "_OTHER".to_owned(),
    };
    span.record("error.type", error_type.as_str());
    span.record("otel.status_code", "ERROR");
}
