//! The server's metrics, by OpenTelemetry's MCP conventions, kept in this
//! process and rendered as Prometheus text.
//!
//! One registry per process ([`Metrics::global`]), like a Prometheus
//! client's default registry: every server in the process records into it.
//! Label values that come from clients are bounded: methods only when the
//! protocol knows them, tool and prompt names only for calls that reached
//! a tool or prompt, and at most [`MAX_SERIES`] label sets per metric
//! (more are counted under `_other`), so no client can grow it.
//!
//! With the `otel` feature every measurement is also recorded through the
//! OpenTelemetry meter provider installed when the registry is first used
//! (install it before building a server): the same histograms under the
//! conventions' names (`mcp.server.operation.duration`,
//! `mcp.server.session.duration`, in seconds, with the conventions'
//! bucket bounds) and the counters as observable counters
//! (`mcp.security.events`, `mcp.server.rate_limited`), for an OTLP
//! exporter to send.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Duration;

use mcp_core::security::SecurityEvent;

/// Most label sets one metric keeps.
pub const MAX_SERIES: usize = 2000;

/// Bucket bounds (seconds) the MCP conventions recommend for durations.
const BOUNDS: [f64; 14] = mcp_core::telemetry::DURATION_BOUNDS;

/// Label names, in the order each metric's values are given.
const OPERATION_LABELS: [&str; 5] = [
    "mcp.method.name",
    "gen_ai.tool.name",
    "gen_ai.prompt.name",
    "error.type",
    "mcp.protocol.version",
];
const SESSION_LABELS: [&str; 2] = ["mcp.protocol.version", "network.transport"];

/// The process's MCP metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    operations: Family<5>,
    sessions: Family<2>,
    rate_limited: Arc<RwLock<HashMap<Arc<str>, AtomicU64>>>,
    #[cfg(feature = "otel")]
    _counters: otel::Counters,
}

impl Metrics {
    /// The registry every server of this process records into.
    pub fn global() -> &'static Self {
        static GLOBAL: LazyLock<Metrics> = LazyLock::new(|| {
            let rate_limited = Arc::<RwLock<HashMap<Arc<str>, AtomicU64>>>::default();
            Metrics {
                inner: Arc::new(Registry {
                    operations: Family::new(
                        OPERATION_LABELS,
                        #[cfg(feature = "otel")]
                        otel::histogram(
                            "mcp.server.operation.duration",
                            "Duration of the MCP requests the server handled.",
                        ),
                    ),
                    sessions: Family::new(
                        SESSION_LABELS,
                        #[cfg(feature = "otel")]
                        otel::histogram(
                            "mcp.server.session.duration",
                            "Duration of the MCP sessions that ended.",
                        ),
                    ),
                    #[cfg(feature = "otel")]
                    _counters: otel::Counters::observe(Arc::clone(&rate_limited)),
                    rate_limited,
                }),
            }
        });
        &GLOBAL
    }

    /// Records one request handled, with its labels (the values of
    /// `OPERATION_LABELS`, `None` for absent).
    pub(crate) fn operation(&self, labels: [Option<&str>; 5], took: Duration) {
        self.inner.operations.record(labels, took);
    }

    /// Records one legacy session (or stdio connection) that ended.
    pub(crate) fn session(&self, labels: [Option<&str>; 2], lasted: Duration) {
        self.inner.sessions.record(labels, lasted);
    }

    /// Counts one request refused by the rate-limit policy `policy`.
    pub(crate) fn rate_limited(&self, policy: &Arc<str>) {
        let counters = &self.inner.rate_limited;
        if let Some(n) = read(counters).get(policy) {
            n.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Policy names come from the server's configuration: bounded.
        write(counters)
            .entry(Arc::clone(policy))
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Everything, in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.inner.operations.render(
            &mut out,
            "mcp_server_operation_duration_seconds",
            "Duration of the MCP requests the server handled (mcp.server.operation.duration).",
        );
        self.inner.sessions.render(
            &mut out,
            "mcp_server_session_duration_seconds",
            "Duration of the MCP sessions that ended (mcp.server.session.duration).",
        );
        out.push_str(
            "# HELP mcp_security_events_total Security events by kind (tracing target mcp::security).\n\
             # TYPE mcp_security_events_total counter\n",
        );
        for event in SecurityEvent::ALL {
            let _ = writeln!(
                out,
                "mcp_security_events_total{{event=\"{}\"}} {}",
                event.name(),
                event.total()
            );
        }
        out.push_str(
            "# HELP mcp_server_rate_limited_total Requests refused by a rate-limit policy.\n\
             # TYPE mcp_server_rate_limited_total counter\n",
        );
        let counters = read(&self.inner.rate_limited);
        let mut policies: Vec<_> = counters.iter().collect();
        policies.sort_by(|a, b| a.0.cmp(b.0));
        for (policy, n) in policies {
            let _ = writeln!(
                out,
                "mcp_server_rate_limited_total{{policy=\"{}\"}} {}",
                Escaped(policy),
                n.load(Ordering::Relaxed)
            );
        }
        out
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A fast hash of a few short strings (FxHash's mixing), seeded per
/// process. Not a defence against chosen collisions, and not needed as
/// one: label values are bounded and at most [`MAX_SERIES`] are kept.
#[derive(Clone, Copy)]
struct Seeded(u64);

struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word.get_mut(..chunk.len())
                .unwrap_or_default()
                .copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

impl BuildHasher for Seeded {
    type Hasher = Fx;

    fn build_hasher(&self) -> Fx {
        Fx(self.0)
    }
}

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seeded")
    }
}

/// One histogram per label set. Looked up by a hash of the values without
/// allocating; a new label set is allocated once.
#[derive(Debug)]
struct Family<const N: usize> {
    names: [&'static str; N],
    hasher: Seeded,
    series: RwLock<HashMap<u64, Vec<Series<N>>>>,
    count: AtomicU64,
    #[cfg(feature = "otel")]
    otel: opentelemetry::metrics::Histogram<f64>,
}

#[derive(Debug)]
struct Series<const N: usize> {
    values: [Option<Box<str>>; N],
    histogram: Histogram,
    /// The OpenTelemetry histogram bound to this label set once: a record
    /// is then a bucket update, with no attribute set to hash and find.
    #[cfg(feature = "otel")]
    otel: opentelemetry::metrics::BoundHistogram<f64>,
}

impl<const N: usize> Series<N> {
    fn is(&self, values: &[Option<&str>; N]) -> bool {
        self.values
            .iter()
            .zip(values)
            .all(|(a, b)| a.as_deref() == *b)
    }
}

const OTHER: &str = "_other";

impl<const N: usize> Family<N> {
    fn new(
        names: [&'static str; N],
        #[cfg(feature = "otel")] otel: opentelemetry::metrics::Histogram<f64>,
    ) -> Self {
        Self {
            names,
            hasher: Seeded(std::hash::RandomState::new().hash_one(0u8)),
            series: RwLock::default(),
            count: AtomicU64::new(0),
            #[cfg(feature = "otel")]
            otel,
        }
    }

    fn observe(series: &Series<N>, took: Duration) {
        series.histogram.observe(took);
        #[cfg(feature = "otel")]
        series.otel.record(took.as_secs_f64());
    }

    fn record(&self, values: [Option<&str>; N], took: Duration) {
        let key = self.hasher.hash_one(values);
        if let Some(series) = read(&self.series)
            .get(&key)
            .and_then(|bucket| bucket.iter().find(|s| s.is(&values)))
        {
            Self::observe(series, took);
            return;
        }
        let full = self.count.load(Ordering::Relaxed) >= MAX_SERIES as u64;
        let values = if full { [Some(OTHER); N] } else { values };
        let key = self.hasher.hash_one(values);
        let mut map = write(&self.series);
        let bucket = map.entry(key).or_default();
        if let Some(series) = bucket.iter().find(|s| s.is(&values)) {
            Self::observe(series, took);
            return;
        }
        let series = Series {
            #[cfg(feature = "otel")]
            otel: self.otel.bind(
                &self
                    .names
                    .iter()
                    .zip(&values)
                    .filter_map(|(name, value)| {
                        value.map(|v| opentelemetry::KeyValue::new(*name, v.to_owned()))
                    })
                    .collect::<Vec<_>>(),
            ),
            values: values.map(|v| v.map(Box::from)),
            histogram: Histogram::default(),
        };
        Self::observe(&series, took);
        bucket.push(series);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let map = read(&self.series);
        let mut all: Vec<&Series<N>> = map.values().flatten().collect();
        all.sort_by(|a, b| a.values.cmp(&b.values));
        for series in all {
            let mut labels = String::new();
            for (label, value) in self.names.iter().zip(&series.values) {
                if let Some(value) = value {
                    let _ = write!(
                        labels,
                        "{}=\"{}\",",
                        label.replace('.', "_"),
                        Escaped(value)
                    );
                }
            }
            let h = &series.histogram;
            let mut cumulative = 0;
            for (bound, n) in BOUNDS.iter().zip(&h.buckets) {
                cumulative += n.load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
            let labels = labels.trim_end_matches(',');
            let sum = Duration::from_nanos(h.sum_nanos.load(Ordering::Relaxed)).as_secs_f64();
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
    }
}

/// Counts per bucket (not cumulative; the last bucket is above every
/// bound), the sum and the count, as atomics.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BOUNDS.len()],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = BOUNDS.iter().position(|b| secs <= *b)
            && let Some(bucket) = self.buckets.get(i)
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// The OpenTelemetry side of the registry (feature `otel`).
#[cfg(feature = "otel")]
mod otel {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, RwLock};

    use mcp_core::security::SecurityEvent;
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Histogram, Meter, ObservableCounter};

    use super::{BOUNDS, read};

    fn meter() -> Meter {
        opentelemetry::global::meter_with_scope(
            opentelemetry::InstrumentationScope::builder("mcp-server")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
    }

    /// A duration histogram in seconds, with the conventions' bounds.
    pub(super) fn histogram(name: &'static str, description: &'static str) -> Histogram<f64> {
        meter()
            .f64_histogram(name)
            .with_unit("s")
            .with_description(description)
            .with_boundaries(BOUNDS.to_vec())
            .build()
    }

    /// The counters, read when the meter provider collects: they are
    /// counted once, in the registry (and in `mcp-core` for security
    /// events), whoever reads them.
    #[derive(Debug)]
    pub(super) struct Counters {
        _events: ObservableCounter<u64>,
        _rate_limited: ObservableCounter<u64>,
    }

    impl Counters {
        pub(super) fn observe(rate_limited: Arc<RwLock<HashMap<Arc<str>, AtomicU64>>>) -> Self {
            let meter = meter();
            let events = meter
                .u64_observable_counter("mcp.security.events")
                .with_description("Security events by kind (tracing target mcp::security).")
                .with_callback(|counter| {
                    for event in SecurityEvent::ALL {
                        counter.observe(event.total(), &[KeyValue::new("event", event.name())]);
                    }
                })
                .build();
            let rate_limited = meter
                .u64_observable_counter("mcp.server.rate_limited")
                .with_description("Requests refused by a rate-limit policy.")
                .with_callback(move |counter| {
                    for (policy, n) in read(&rate_limited).iter() {
                        counter.observe(
                            n.load(Ordering::Relaxed),
                            &[KeyValue::new("policy", policy.to_string())],
                        );
                    }
                })
                .build();
            Self {
                _events: events,
                _rate_limited: rate_limited,
            }
        }
    }
}

/// A Prometheus label value: `\`, `"` and newlines escaped.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let family = Family::new(
            ["a", "b.c"],
            #[cfg(feature = "otel")]
            otel::histogram("test", "test"),
        );
        family.record([Some("x"), None], Duration::from_millis(15));
        family.record([Some("x"), None], Duration::from_millis(400));
        family.record([Some("y\"z"), Some("w")], Duration::from_secs(1000));
        let mut out = String::new();
        family.render(&mut out, "m", "help");
        assert!(out.contains("m_bucket{a=\"x\",le=\"0.01\"} 0\n"), "{out}");
        assert!(out.contains("m_bucket{a=\"x\",le=\"0.02\"} 1\n"), "{out}");
        assert!(out.contains("m_bucket{a=\"x\",le=\"0.5\"} 2\n"), "{out}");
        assert!(out.contains("m_bucket{a=\"x\",le=\"+Inf\"} 2\n"), "{out}");
        assert!(out.contains("m_sum{a=\"x\"} 0.415\n"), "{out}");
        assert!(out.contains("m_count{a=\"x\"} 2\n"), "{out}");
        assert!(
            out.contains("m_bucket{a=\"y\\\"z\",b_c=\"w\",le=\"300\"} 0\n"),
            "{out}"
        );
        assert!(
            out.contains("m_bucket{a=\"y\\\"z\",b_c=\"w\",le=\"+Inf\"} 1\n"),
            "{out}"
        );
    }

    #[test]
    fn label_sets_are_capped() {
        let family = Family::new(
            ["tool"],
            #[cfg(feature = "otel")]
            otel::histogram("test", "test"),
        );
        for n in 0..MAX_SERIES + 50 {
            family.record([Some(&format!("t{n}"))], Duration::from_millis(1));
        }
        let map = read(&family.series);
        let series: usize = map.values().map(Vec::len).sum();
        assert_eq!(series, MAX_SERIES + 1);
        let other = map
            .values()
            .flatten()
            .find(|s| s.is(&[Some(OTHER)]))
            .unwrap();
        assert_eq!(other.histogram.count.load(Ordering::Relaxed), 50);
    }
}
