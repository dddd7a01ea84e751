//! What OpenTelemetry's semantic conventions for MCP fix that servers and
//! clients share, and head sampling for the spans they export.
//!
//! # Head sampling
//!
//! Whether a trace is kept, decided when its first span
//! opens, before anything is built for it.
//!
//! An OpenTelemetry bridge for `tracing` (such as `tracing-opentelemetry`)
//! turns every span it sees into an OpenTelemetry span, attributes and
//! all, and only then asks the SDK's sampler whether to keep it. On a
//! request that takes microseconds that is most of the cost of tracing,
//! paid for the nine traces in ten a 10% sampler throws away.
//! `HeadSampler` (feature `trace-sampling`) is a per-layer filter that decides first: put it on the
//! bridge (`bridge.with_filter(HeadSampler::new(sampling))`) and the bridge
//! sees only the spans and events of the traces that are kept. Other
//! layers (logs) see everything, as before.
//!
//! The decision follows the W3C and OpenTelemetry rules: a span opened
//! while a kept span is current is kept, one opened in a dropped trace is
//! dropped, and a trace's first span is kept with the configured
//! probability. A span that continues a remote trace (a server request
//! whose caller sent a `traceparent`) follows the caller's `sampled` flag
//! when the sampling is parent-based: the code that opens it says so with
//! [`open_span`], as `mcp-server` does for each request.
//!
//! Keep the SDK's own sampler at `AlwaysOn` (or parent-based `AlwaysOn`):
//! it then keeps every span this filter lets through.
//!
//! # Sampling at the source
//!
//! The filter hides a dropped trace from the bridge, but `tracing` still
//! builds its spans for the layers that may read them (logs name a
//! request's trace, id and method on every line). A process that writes no
//! such logs can decide before anything is built: [`sample_at_source`].
//! Servers and clients then open each request's span with
//! [`open_root_span`], which skips a dropped trace's span altogether, and
//! run its work [`in_dropped_trace`], so that what it calls knows.

#[cfg(feature = "otel")]
mod context;
mod sampling;

#[cfg(feature = "otel")]
pub use self::context::{continue_context, inject_context};

#[cfg(feature = "trace-sampling")]
pub use self::sampling::HeadSampler;
pub use self::sampling::{
    RootSpan, Sampling, in_dropped_trace, open_root_span, open_span, sample_at_source, trace_id,
    unsampled_traceparent,
};

/// The bucket bounds (seconds) the conventions recommend for
/// `mcp.server.operation.duration`, `mcp.client.operation.duration` and the
/// session durations.
pub const DURATION_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// A span's name by the conventions: `{mcp.method.name} {target}` (the
/// tool or prompt; never a resource URI, which would make a name per
/// resource), or the method alone.
///
/// ```
/// use mcp_core::telemetry::span_name;
/// assert_eq!(span_name("tools/call", Some("get_weather")), "tools/call get_weather");
/// assert_eq!(span_name("tools/list", None), "tools/list");
/// ```
pub fn span_name<'a>(method: &'a str, target: Option<&str>) -> std::borrow::Cow<'a, str> {
    match target {
        // Joined by hand: `format!` costs several times as much, on every
        // request.
        Some(target) => {
            let mut name = String::with_capacity(method.len() + 1 + target.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(target);
            std::borrow::Cow::Owned(name)
        }
        None => std::borrow::Cow::Borrowed(method),
    }
}
