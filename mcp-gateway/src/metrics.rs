//! The upstreams' state as Prometheus series, appended to the SDK's own.

use std::fmt::Write as _;

use crate::upstream::{CircuitState, UpstreamStatus};

/// One series per upstream.
struct Series {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&UpstreamStatus) -> u64,
}

const SERIES: [Series; 5] = [
    Series {
        name: "mcp_gateway_upstream_up",
        kind: "gauge",
        help: "Whether the upstream is connected.",
        value: |s| u64::from(s.connected),
    },
    Series {
        name: "mcp_gateway_upstream_circuit_open",
        kind: "gauge",
        help: "Whether the upstream's circuit breaker refuses calls.",
        value: |s| u64::from(s.circuit != CircuitState::Closed),
    },
    Series {
        name: "mcp_gateway_upstream_connects_total",
        kind: "counter",
        help: "Connections made to the upstream.",
        value: |s| s.connects,
    },
    Series {
        name: "mcp_gateway_upstream_callers",
        kind: "gauge",
        help: "Connections open on behalf of callers (token exchange).",
        value: |s| s.callers as u64,
    },
    Series {
        name: "mcp_gateway_upstream_sign_in_failures_total",
        kind: "counter",
        help: "Sign-ins on behalf of callers that were refused.",
        value: |s| s.sign_in_failures,
    },
];

/// Appends the series of `status` to `out` (text format 0.0.4). Upstream
/// names are checked to be `[A-Za-z0-9.-]`: they need no escaping.
pub(crate) fn render(out: &mut String, status: &[UpstreamStatus]) {
    for series in &SERIES {
        let name = series.name;
        let _ = writeln!(
            out,
            "# HELP {name} {}\n# TYPE {name} {}",
            series.help, series.kind
        );
        for s in status {
            let _ = writeln!(
                out,
                "{name}{{upstream=\"{}\"}} {}",
                s.name,
                (series.value)(s)
            );
        }
    }
    let name = "mcp_gateway_upstream_calls_total";
    let _ = writeln!(
        out,
        "# HELP {name} Calls through the gateway by upstream and outcome.\n# TYPE {name} counter"
    );
    for s in status {
        for (outcome, n) in [
            ("answered", s.answered),
            ("failed", s.failed),
            ("refused", s.refused),
        ] {
            let _ = writeln!(
                out,
                "{name}{{upstream=\"{}\",outcome=\"{outcome}\"}} {n}",
                s.name
            );
        }
    }
}
