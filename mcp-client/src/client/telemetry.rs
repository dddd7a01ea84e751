//! Each request's `tracing` span, by OpenTelemetry's MCP conventions
//! (client side): named `{mcp.method.name} {target}`, kind `client`, with
//! the server's address and, on failure, `error.type`. Arguments and
//! results are never recorded.
//!
//! With the `otel` feature the client also records the conventions'
//! metrics through the OpenTelemetry meter provider installed when its
//! first client connects: `mcp.client.operation.duration` per request and
//! `mcp.client.session.duration` per legacy session or stdio connection,
//! in seconds.

use std::any::Any;

use mcp_core::jsonrpc::RequestId;
use mcp_core::prompts::GetPromptParams;
use mcp_core::resources::ReadResourceParams;
use mcp_core::tools::CallToolParams;
use mcp_core::{CallToolResult, Outcome, ProtocolVersion};
use tracing::field::Empty;

use crate::Error;

/// The span of request `method` with `params`, sent as `id` in `version`
/// to `server` (host and port, over a network) on legacy session
/// `session` (its label); and whether its trace is
/// kept (`None`: no sampler looked). A trace dropped at the source has no
/// span.
pub(super) fn request(
    method: &'static str,
    id: &RequestId,
    params: &dyn Any,
    version: Option<&ProtocolVersion>,
    server: Option<&(String, u16)>,
    session: Option<&str>,
) -> (tracing::Span, Option<bool>) {
    let tool = params
        .downcast_ref::<CallToolParams>()
        .map(|p| p.name.as_str());
    let prompt = params
        .downcast_ref::<GetPromptParams>()
        .map(|p| p.name.as_str());
    let uri = params
        .downcast_ref::<ReadResourceParams>()
        .map(|p| p.uri.as_str());
    // Text made once, recorded as `&str`: a `Display` field is formatted
    // again by every layer that reads it.
    // By tool or prompt only, as the conventions say: a resource URI would
    // make a span name per resource.
    let open = || {
        // The name and id are text made for the span: not made for none.
        if !tracing::enabled!(target: "mcp_client::request", tracing::Level::INFO) {
            return tracing::Span::none();
        }
        let name = mcp_core::telemetry::span_name(method, tool.or(prompt));
        let id_text = id.as_text();
        tracing::info_span!(
            target: "mcp_client::request",
            "mcp.client.request",
            otel.name = &*name,
            otel.kind = "client",
            otel.status_code = Empty,
            mcp.method.name = method,
            jsonrpc.request.id = &*id_text,
            mcp.protocol.version = version.map(ProtocolVersion::as_str),
            mcp.session.id = session,
            gen_ai.tool.name = tool,
            gen_ai.prompt.name = prompt,
            mcp.resource.uri = uri,
            gen_ai.operation.name = tool.map(|_| "execute_tool"),
            network.transport = if server.is_some() { "tcp" } else { "pipe" },
            network.protocol.name = server.map(|_| "http"),
            server.address = server.map(|s| s.0.as_str()),
            // As i64: OpenTelemetry's layer records unsigned values as text.
            server.port = server.map(|s| i64::from(s.1)),
            error.type = Empty,
            rpc.response.status_code = Empty,
        )
    };
    // A request sent outside any span may start a trace: sampled at the
    // source, when that is on, before anything is built.
    let local_parent = || tracing::dispatcher::get_default(|d| d.current_span().id().is_some());
    mcp_core::telemetry::open_root_span(None, local_parent, open).split(tracing::Span::none)
}

/// The span of a request the server sent (on a legacy session): kind
/// `server`, as the conventions name the side that answers, continuing
/// the server's trace from the request's `_meta` (feature `otel`).
pub(super) fn serving(request: &mcp_core::Request) -> tracing::Span {
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return tracing::Span::none();
    }
    let method = request.method.as_str();
    let id = request.id.as_text();
    let span = tracing::info_span!(
        target: "mcp_client::server_request",
        "mcp.client.server_request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        mcp.method.name = method,
        jsonrpc.request.id = &*id,
        error.type = Empty,
        rpc.response.status_code = Empty,
    );
    #[cfg(feature = "otel")]
    if !span.is_disabled() {
        /// Only the params' `_meta`: the handler decodes the rest.
        #[derive(serde::Deserialize)]
        struct MetaOnly {
            #[serde(rename = "_meta")]
            meta: Option<mcp_core::JsonObject>,
        }
        if let Ok(MetaOnly { meta: Some(meta) }) = request.params::<MetaOnly>() {
            mcp_core::telemetry::continue_context(&span, &meta);
        }
    }
    span
}

/// Records how a request the server sent ended on its span: `error.type`
/// is the JSON-RPC code of a refusal.
pub(super) fn served(span: &tracing::Span, reply: Result<(), &mcp_core::ErrorObject>) {
    if let Err(e) = reply {
        let code = e.code().0.to_string();
        span.record("rpc.response.status_code", code.as_str());
        span.record("error.type", code.as_str());
        span.record("otel.status_code", "ERROR");
    }
}

/// Records how the request ended on its span; its `error.type`, if it
/// failed.
pub(super) fn outcome(span: &tracing::Span, result: Result<&dyn Any, &Error>) -> Option<String> {
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
                return None;
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
    Some(error_type)
}

/// The client's instruments (feature `otel`).
#[cfg(feature = "otel")]
pub(super) mod metrics {
    use std::any::Any;
    use std::sync::LazyLock;
    use std::time::Duration;

    use mcp_core::ProtocolVersion;
    use mcp_core::prompts::GetPromptParams;
    use mcp_core::tools::CallToolParams;
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::Histogram;

    struct Instruments {
        operations: Histogram<f64>,
        sessions: Histogram<f64>,
    }

    static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
        let meter = opentelemetry::global::meter_with_scope(
            opentelemetry::InstrumentationScope::builder("mcp-client")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(mcp_core::telemetry::DURATION_BOUNDS.to_vec())
                .build()
        };
        Instruments {
            operations: histogram(
                "mcp.client.operation.duration",
                "Duration of the MCP requests the client sent.",
            ),
            sessions: histogram(
                "mcp.client.session.duration",
                "Duration of the MCP sessions the client held.",
            ),
        }
    });

    /// Binds the instruments to the meter provider installed now.
    pub(in crate::client) fn init() {
        LazyLock::force(&INSTRUMENTS);
    }

    fn transport(server: Option<&(String, u16)>) -> KeyValue {
        KeyValue::new(
            "network.transport",
            if server.is_some() { "tcp" } else { "pipe" },
        )
    }

    /// Records one request: `method` with `params` in `version` to
    /// `server`, failed with `error_type` if it did, after `took`.
    pub(in crate::client) fn operation(
        method: &'static str,
        params: &dyn Any,
        version: Option<&ProtocolVersion>,
        server: Option<&(String, u16)>,
        error_type: Option<String>,
        took: Duration,
    ) {
        let mut attributes = Vec::with_capacity(6);
        attributes.push(KeyValue::new("mcp.method.name", method));
        attributes.push(transport(server));
        if let Some(p) = params.downcast_ref::<CallToolParams>() {
            attributes.push(KeyValue::new("gen_ai.tool.name", p.name.clone()));
        }
        if let Some(p) = params.downcast_ref::<GetPromptParams>() {
            attributes.push(KeyValue::new("gen_ai.prompt.name", p.name.clone()));
        }
        if let Some(v) = version {
            attributes.push(KeyValue::new("mcp.protocol.version", v.as_str().to_owned()));
        }
        if let Some(server) = server {
            attributes.push(KeyValue::new("server.address", server.0.clone()));
        }
        if let Some(e) = error_type {
            attributes.push(KeyValue::new("error.type", e));
        }
        INSTRUMENTS
            .operations
            .record(took.as_secs_f64(), &attributes);
    }

    /// Records one legacy session or stdio connection that ended.
    pub(in crate::client) fn session(
        version: Option<&ProtocolVersion>,
        server: Option<&(String, u16)>,
        lasted: Duration,
    ) {
        let mut attributes = vec![transport(server)];
        if let Some(v) = version {
            attributes.push(KeyValue::new("mcp.protocol.version", v.as_str().to_owned()));
        }
        INSTRUMENTS
            .sessions
            .record(lasted.as_secs_f64(), &attributes);
    }
}
