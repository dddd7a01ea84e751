//! W3C trace context as MCP carries it (`params._meta.traceparent`), and
//! the trace id every request is logged with.

use std::fmt;

/// A trace id: the caller's, from its `traceparent`, or a fresh one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceId(pub(crate) [u8; 16]);

impl TraceId {
    /// As 32 lower-case hex digits.
    pub(crate) fn hex(&self) -> String {
        mcp_core::hex::encode(&self.0)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// A caller's trace, as its `traceparent` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemoteParent {
    pub(crate) trace_id: TraceId,
    /// The `sampled` flag: whether the caller records this trace.
    pub(crate) sampled: bool,
}

/// The trace of a `traceparent` value (version 00 and the versions after
/// it, read as 00 as the W3C recommendation says); `None` for one that is
/// malformed or names the invalid, all-zero trace.
pub(crate) fn remote_parent(traceparent: &str) -> Option<RemoteParent> {
    let mut parts = traceparent.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let well_formed = version.len() == 2
        && version != "ff"
        && hex(version)
        && trace.len() == 32
        && hex(trace)
        && span.len() == 16
        && hex(span)
        && span.bytes().any(|b| b != b'0')
        && flags.len() == 2
        && hex(flags)
        && (version != "00" || parts.next().is_none());
    if !well_formed {
        return None;
    }
    let id = mcp_core::hex::decode::<16>(trace)?;
    let [flags] = mcp_core::hex::decode::<1>(flags)?;
    (id != [0; 16]).then_some(RemoteParent {
        trace_id: TraceId(id),
        sampled: flags & 1 == 1,
    })
}

/// A new trace id, for the logs of a request no caller's or exporter's
/// trace names.
pub(crate) fn fresh_trace_id() -> TraceId {
    TraceId(mcp_core::telemetry::trace_id())
}

/// The trace id OpenTelemetry gave `span` (feature `otel`, with an
/// OpenTelemetry layer in the subscriber): asking builds the span, so its
/// parent must be set first.
pub(crate) fn exported_trace_id(span: &tracing::Span) -> Option<TraceId> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        if span.is_disabled() {
            return None;
        }
        let context = span.context();
        let span_context = context.span().span_context().clone();
        span_context
            .is_valid()
            .then(|| TraceId(span_context.trace_id().to_bytes()))
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_read_as_the_recommendation_says() {
        let parent =
            remote_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            parent.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(parent.sampled);
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02";
        assert!(!remote_parent(unsampled).unwrap().sampled);
        // A later version may add fields.
        assert!(
            remote_parent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz").is_some()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(remote_parent(bad), None, "{bad}");
        }
    }

    #[test]
    fn fresh_ids_differ() {
        assert_ne!(fresh_trace_id(), fresh_trace_id());
    }
}
