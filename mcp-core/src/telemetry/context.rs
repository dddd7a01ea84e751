//! W3C trace context as MCP carries it: in `params._meta` (`traceparent`,
//! `tracestate`, `baggage`), read and written by the globally installed
//! OpenTelemetry propagator, on both sides of every request.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::JsonObject;
use crate::meta::{RequestMeta, keys};

/// `_meta`'s string values, as a propagator reads and writes them.
struct Carrier<'a>(&'a JsonObject);

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(serde_json::Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct CarrierMut<'a>(&'a mut JsonObject);

impl Injector for CarrierMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0
            .insert(key.to_owned(), serde_json::Value::String(value));
    }
}

/// Writes `span`'s trace context into a request's `_meta`, so that the
/// peer's span for it is `span`'s child. `kept` is what sampling decided
/// for `span`'s trace: a dropped one (`Some(false)`, with or without a
/// span) is sent on as not sampled ([`unsampled_traceparent`]), so the
/// peer drops its part too.
///
/// [`unsampled_traceparent`]: super::unsampled_traceparent
///
/// ```
/// let mut meta = None;
/// mcp_core::telemetry::inject_context(&tracing::Span::none(), Some(false), &mut meta);
/// let traceparent = meta.unwrap().other["traceparent"].as_str().unwrap().to_owned();
/// assert!(traceparent.ends_with("-00"));
/// ```
pub fn inject_context(span: &tracing::Span, kept: Option<bool>, meta: &mut Option<RequestMeta>) {
    if kept == Some(false) {
        meta.get_or_insert_with(Default::default).other.insert(
            keys::TRACEPARENT.to_owned(),
            serde_json::Value::String(super::unsampled_traceparent()),
        );
        return;
    }
    if span.is_disabled() {
        return;
    }
    let meta = meta.get_or_insert_with(Default::default);
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut CarrierMut(&mut meta.other));
    });
}

/// Makes the trace context a peer wrote into `meta` (a request's `_meta`)
/// the parent of `span`, so the trace continues from the peer into this
/// request and on into what its handling calls. Nothing happens without a
/// `traceparent`, or without an OpenTelemetry layer to link the span.
///
/// ```
/// let meta = mcp_core::JsonObject::new();
/// mcp_core::telemetry::continue_context(&tracing::Span::none(), &meta);
/// ```
pub fn continue_context(span: &tracing::Span, meta: &JsonObject) {
    if span.is_disabled() || !meta.contains_key(keys::TRACEPARENT) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Carrier(meta))
    });
    // Without an OpenTelemetry layer there is nothing to link.
    let _ = span.set_parent(parent);
}
