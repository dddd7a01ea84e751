//! A request the server sends its client on a legacy session
//! (`elicitation/create`, `sampling/createMessage`, `roots/list`): its span,
//! of kind `client` as the conventions name the side that asks, inside the
//! span of the request being handled; its trace context goes along in the
//! request's `_meta`, so the client's span for it is its child.

use mcp_core::RequestMeta;
use mcp_core::jsonrpc::RequestId;
use tracing::field::Empty;

use crate::error::Error;

/// Opens the span of request `id` for `method`, and writes its trace
/// context into `meta` (feature `otel`).
pub(crate) fn start(
    method: &'static str,
    id: &RequestId,
    meta: &mut Option<RequestMeta>,
) -> tracing::Span {
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return tracing::Span::none();
    }
    let open = || {
        let id = id.as_text();
        tracing::info_span!(
            target: "mcp_server::peer_request",
            "mcp.server.peer_request",
            otel.name = method,
            otel.kind = "client",
            otel.status_code = Empty,
            mcp.method.name = method,
            jsonrpc.request.id = &*id,
            error.type = Empty,
            rpc.response.status_code = Empty,
        )
    };
    // Asked while a request is handled, so under its span (or in its
    // dropped trace).
    let local_parent = || tracing::dispatcher::get_default(|d| d.current_span().id().is_some());
    let (span, kept) =
        mcp_core::telemetry::open_root_span(None, local_parent, open).split(tracing::Span::none);
    #[cfg(feature = "otel")]
    mcp_core::telemetry::inject_context(&span, kept, meta);
    #[cfg(not(feature = "otel"))]
    let _ = (kept, meta);
    span
}

/// Records how the request ended on its span.
pub(crate) fn finish(span: &tracing::Span, result: Result<(), &Error>) {
    let error_type = match result {
        Ok(()) => return,
        Err(Error::Protocol(e)) => {
            let code = e.code().0.to_string();
            span.record("rpc.response.status_code", code.as_str());
            code
        }
        Err(Error::Timeout) => "timeout".to_owned(),
        Err(_) => "_OTHER".to_owned(),
    };
    span.record("error.type", error_type.as_str());
    span.record("otel.status_code", "ERROR");
}
