//! One request's telemetry: its span, named and attributed by
//! OpenTelemetry's MCP conventions, and its duration metric.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mcp_core::Request;
use mcp_core::request::ClientRequest;
use mcp_core::telemetry::RootSpan;
use mcp_core::transport::Principal;
use tracing::field::Empty;

use super::metrics::Metrics;
use super::trace::{fresh_trace_id, remote_parent};
use super::{SessionLabel, Transport};

/// What a request came to, beyond its reply: set by the dispatcher.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// A tool ran and reported failure (`isError`).
    tool_error: AtomicBool,
    /// The tool's result as JSON, when the server records tool calls.
    tool_result: std::sync::OnceLock<String>,
}

impl Outcome {
    pub(crate) fn tool_failed(&self) {
        self.tool_error.store(true, Ordering::Relaxed);
    }

    /// Keeps `result` for the span (`gen_ai.tool.call.result`).
    pub(crate) fn tool_result(&self, result: &mcp_core::CallToolResult) {
        if let Ok(json) = serde_json::to_string(result) {
            let _ = self.tool_result.set(capped(json));
        }
    }
}

/// The most of a tool call's arguments or result a span records, in bytes:
/// a frame may be megabytes, and every span is held, queued and exported.
pub(crate) const RECORDED_TOOL_CALL_BYTES: usize = 16 * 1024;

/// `json`, cut to [`RECORDED_TOOL_CALL_BYTES`] on a character boundary and
/// marked with a final `…` when longer.
fn capped(mut json: String) -> String {
    if json.len() > RECORDED_TOOL_CALL_BYTES {
        let mut end = RECORDED_TOOL_CALL_BYTES;
        while !json.is_char_boundary(end) {
            end -= 1;
        }
        json.truncate(end);
        json.push('…');
    }
    json
}

/// A request being handled: its span and when it started.
pub(crate) struct Operation {
    span: tracing::Span,
    /// Its trace was dropped at the source: there is no span, and what the
    /// handler calls must know.
    dropped: bool,
    start: Instant,
    /// The method, when the protocol knows it (a bounded label).
    method: Option<&'static str>,
    /// Known versions are static strings: no allocation.
    version: Option<mcp_core::ProtocolVersion>,
    /// The tool called or the prompt got: a label if the call reaches it.
    tool: Option<String>,
    prompt: Option<String>,
}

/// Who decided whether a request's trace is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decided {
    /// A head sampler as the span opened (`Some(kept)`), or none looked.
    Here(Option<bool>),
    /// Sampling at the source kept it.
    AtSource,
    /// Sampling at the source dropped it: no span.
    Dropped,
}

/// The protocol's name for `method`, if it has one: as a `'static` str it
/// is a label no client can multiply.
fn known(method: &str) -> Option<&'static str> {
    mcp_core::method::ALL
        .iter()
        .find(|m| m.name == method)
        .map(|m| m.name)
}

impl Operation {
    /// Opens the span of `req` (params decoded as `call`, if they did),
    /// served over `transport` with what the transport put in
    /// `extensions`, in `version`; with a tool call's arguments when
    /// `record_tool_calls`.
    pub(crate) fn start(
        req: &Request,
        call: Option<&ClientRequest>,
        transport: Transport,
        extensions: &http::Extensions,
        version: Option<mcp_core::ProtocolVersion>,
        record_tool_calls: bool,
    ) -> Self {
        let method = req.method.as_str();
        let (tool, prompt, uri) = match call {
            Some(ClientRequest::CallTool(p)) => (Some(p.name.as_str()), None, None),
            Some(ClientRequest::GetPrompt(p)) => (None, Some(p.name.as_str()), None),
            Some(ClientRequest::ReadResource(p)) => (None, None, Some(p.uri.as_str())),
            _ => (None, None, None),
        };
        let peer = extensions.get::<SocketAddr>();
        // Nothing listens at `info` (no subscriber, or a stricter level):
        // no span, and none of the text it would carry.
        let (span, decided, remote) = if tracing::level_enabled!(tracing::Level::INFO) {
            let remote = call
                .and_then(ClientRequest::meta)
                .and_then(|m| m.other_str(mcp_core::meta::keys::TRACEPARENT))
                .and_then(remote_parent);
            let open = || {
                // Values as text made once, recorded as `&str`: a `Display`
                // field is formatted again by every layer that reads it.
                // The conventions name spans by tool or prompt only: a
                // resource URI would make a name per resource.
                let name = mcp_core::telemetry::span_name(method, tool.or(prompt));
                let id = req.id.as_text();
                let arguments = match call {
                    Some(ClientRequest::CallTool(p)) if record_tool_calls => {
                        serde_json::to_string(&p.arguments).ok().map(capped)
                    }
                    _ => None,
                };
                tracing::info_span!(
                    target: "mcp_server::request",
                    "mcp.server.request",
                    otel.name = &*name,
                    otel.kind = "server",
                    otel.status_code = Empty,
                    mcp.method.name = method,
                    jsonrpc.request.id = &*id,
                    mcp.protocol.version = version.as_ref().map(mcp_core::ProtocolVersion::as_str),
                    mcp.session.id = extensions.get::<SessionLabel>().map(|s| &*s.0),
                    gen_ai.tool.name = tool,
                    gen_ai.prompt.name = prompt,
                    mcp.resource.uri = uri,
                    gen_ai.operation.name = tool.map(|_| "execute_tool"),
                    gen_ai.tool.call.arguments = arguments.as_deref(),
                    gen_ai.tool.call.result = Empty,
                    network.transport = transport.network(),
                    network.protocol.name = transport.protocol(),
                    client.address = peer.map(|p| tracing::field::display(p.ip())),
                    // As i64: OpenTelemetry's layer records unsigned values as text.
                    client.port = peer.map(|p| i64::from(p.port())),
                    error.type = Empty,
                    rpc.response.status_code = Empty,
                    trace_id = Empty,
                    principal = extensions.get::<Principal>().map(|p| &*p.0),
                )
            };
            // A head sampler follows the caller's decision for its trace.
            let opened = mcp_core::telemetry::open_root_span(
                remote.map(|r| r.sampled),
                || tracing::dispatcher::get_default(|d| d.current_span().id().is_some()),
                open,
            );
            match opened {
                RootSpan::Opened(span, kept) => (span, Decided::Here(kept), remote),
                RootSpan::Kept(span) => (span, Decided::AtSource, remote),
                // Nothing to record: only the sampled exporter reads spans.
                _ => (tracing::Span::none(), Decided::Dropped, None),
            }
        } else {
            (tracing::Span::none(), Decided::Here(None), None)
        };
        #[cfg(feature = "otel")]
        if let Some(meta) = call.and_then(ClientRequest::meta) {
            mcp_core::telemetry::continue_context(&span, &meta.other);
        }
        // The caller's trace, else the one OpenTelemetry started, else a
        // fresh id: logs name the trace the exported spans are in. (With
        // sampling at the source no logs read it, and the exported span has
        // its trace id already.)
        if let Decided::Here(kept) = decided
            && !span.is_disabled()
        {
            // (A trace a head sampler dropped has no OpenTelemetry span to
            // ask.)
            let exported = || match kept {
                Some(false) => None,
                _ => super::trace::exported_trace_id(&span),
            };
            let trace_id = remote
                .map(|r| r.trace_id)
                .or_else(exported)
                .unwrap_or_else(fresh_trace_id);
            span.record("trace_id", trace_id.hex().as_str());
        }
        Self {
            span,
            dropped: decided == Decided::Dropped,
            start: Instant::now(),
            // Decoded requests know their method without a search.
            method: call
                .and_then(ClientRequest::method)
                .or_else(|| known(method)),
            version,
            tool: tool.map(str::to_owned),
            prompt: prompt.map(str::to_owned),
        }
    }

    /// Runs `work` (a poll of the request's handling) in the request's
    /// span, or as part of its dropped trace.
    pub(crate) fn enter<R>(&self, work: impl FnOnce() -> R) -> R {
        if self.dropped {
            return mcp_core::telemetry::in_dropped_trace(work);
        }
        let _entered = self.span.enter();
        work()
    }

    /// Closes the operation: its outcome on the span, its duration in the
    /// metrics. Tool and prompt names are labels only for calls that
    /// reached one (an unknown name is an error), so clients cannot make
    /// up label values.
    pub(crate) fn finish(self, reply: Result<(), i32>, outcome: &Outcome) {
        let code;
        let error_type = match reply {
            Err(c) => {
                code = c.to_string();
                self.span.record("rpc.response.status_code", code.as_str());
                Some(code.as_str())
            }
            Ok(()) if outcome.tool_error.load(Ordering::Relaxed) => Some("tool_error"),
            Ok(()) => None,
        };
        if let Some(error_type) = error_type {
            self.span.record("error.type", error_type);
            self.span.record("otel.status_code", "ERROR");
        }
        if let Some(result) = outcome.tool_result.get() {
            self.span.record("gen_ai.tool.call.result", result.as_str());
        }
        let reached = reply.is_ok();
        Metrics::global().operation(
            [
                Some(self.method.unwrap_or("_other")),
                self.tool.as_deref().filter(|_| reached),
                self.prompt.as_deref().filter(|_| reached),
                error_type,
                self.version.as_ref().map(mcp_core::ProtocolVersion::as_str),
            ],
            self.start.elapsed(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_tool_calls_are_capped_on_a_character_boundary() {
        assert_eq!(capped("{}".to_owned()), "{}");
        // A two-byte character straddles the limit: cut before it.
        let long = format!(
            "{}é{}",
            "a".repeat(RECORDED_TOOL_CALL_BYTES - 1),
            "b".repeat(10)
        );
        let cut = capped(long);
        assert!(cut.ends_with('…'), "{}", &cut[cut.len() - 8..]);
        assert_eq!(cut.len(), RECORDED_TOOL_CALL_BYTES - 1 + '…'.len_utf8());
    }
}
