//! Logs, and OpenTelemetry export when the environment asks for it: what
//! every example sets up first.
//!
//! Export follows OpenTelemetry's environment conventions, so the examples
//! behave like any instrumented service: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or the `_TRACES_`/`_METRICS_` variants) turns OTLP/HTTP export on,
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` describe the
//! service, `OTEL_EXPORTER_OTLP_HEADERS` and `_TIMEOUT` shape the
//! requests, `OTEL_BSP_*` size the span queue and batches,
//! `OTEL_TRACES_SAMPLER` (and `_ARG`) sample traces (decided when a
//! trace's first span opens, by `mcp_server::telemetry::HeadSampler`, so
//! the exporter never builds a dropped trace; with logs off, decided
//! before a request's span is built at all:
//! `mcp_core::telemetry::sample_at_source`),
//! `OTEL_METRIC_EXPORT_INTERVAL` paces metrics, `OTEL_TRACES_EXPORTER=none`
//! or `OTEL_METRICS_EXPORTER=none` turn one signal off and
//! `OTEL_SDK_DISABLED=true` all of it. Spans are batched on the SDK's own thread into a
//! bounded queue: a slow or absent collector costs requests nothing, and
//! the spans that do not fit are dropped and counted
//! (`otel.sdk.processor.span.processed` with `error.type=queue_full`).

use mcp_server::telemetry::{HeadSampler, Sampling};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// What was set up; flushes and stops the exporters when dropped (hold it
/// in `main` until the program ends).
#[derive(Debug, Default)]
#[must_use = "dropping it stops the export"]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    sampling: Sampling,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.tracer.is_some()
    }

    /// Whether metrics are exported.
    pub fn exports_metrics(&self) -> bool {
        self.meter.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let tracer = self.tracer.take();
        let meter = self.meter.take();
        if tracer.is_none() && meter.is_none() {
            return;
        }
        // Shutting down blocks on the exporters' threads: off the async
        // runtime, and bounded by the exporters' own timeouts.
        let _ = std::thread::spawn(move || {
            if let Some(tracer) = tracer {
                let _ = tracer.shutdown();
            }
            if let Some(meter) = meter {
                let _ = meter.shutdown();
            }
        })
        .join();
    }
}

/// Where log lines go, and how they look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logs {
    /// Text lines on stderr.
    Text,
    /// One JSON object per line on stderr, with the fields of the current
    /// span (`span`) and of every span around it, outermost first
    /// (`spans`), so that log platforms index the request's trace id,
    /// request id, method, session and principal on every line; and a line
    /// as each request ends: an access log.
    Json,
    /// None: only what is exported.
    Off,
}

/// Logs to stderr (stdout belongs to the protocol), at `RUST_LOG` or
/// `info`; as JSON lines when `LOG_FORMAT=json`, not at all when
/// `LOG_FORMAT=none` (export only); exports over OTLP when the
/// environment says where.
pub fn init_logging() -> Telemetry {
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    init(if format.eq_ignore_ascii_case("json") {
        Logs::Json
    } else if format.eq_ignore_ascii_case("none") {
        Logs::Off
    } else {
        Logs::Text
    })
}

/// As [`init_logging`], as JSON lines when `json`, else as text.
pub fn init_logging_as(json: bool) -> Telemetry {
    init(if json { Logs::Json } else { Logs::Text })
}

/// Logs as `logs` says, at `RUST_LOG` or `info`, and exports spans and
/// metrics over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(logs: Logs) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let fmt = match logs {
        Logs::Json => Some(
            fmt.json()
                .with_current_span(true)
                // Every enclosing span too: a line logged in a span the
                // handler opened (or a call it makes) still names the
                // request's trace, id and method.
                .with_span_list(true)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .boxed(),
        ),
        Logs::Text => Some(fmt.boxed()),
        Logs::Off => None,
    };
    let telemetry = export_from_env();
    // Only the conventions' attributes: the layer's own (source location,
    // thread, target, busy/idle time) would make each exported span a third
    // larger and each request's span entries dearer. Spans find their
    // parents through `tracing`, so OpenTelemetry's own current context
    // need not follow every poll of every instrumented future (it costs a
    // context attach and detach per poll); code that reads
    // `opentelemetry::Context::current()` directly would need it on.
    // Traces are sampled as `OTEL_TRACES_SAMPLER` says before the layer
    // sees them: a dropped trace costs it nothing (the SDK's own sampler
    // is always-on, so it keeps what the filter lets through).
    let otel = telemetry.tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service_name()))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_filter(HeadSampler::new(telemetry.sampling))
    });
    // With neither logs nor traces there is nothing to listen for: no
    // subscriber, so that no request builds a span (about 3,400
    // instructions a request that a lone level filter would cost).
    if fmt.is_none() && otel.is_none() {
        return telemetry;
    }
    // Without logs only the exporter reads request spans: a dropped trace
    // need not build even `tracing`'s span.
    if fmt.is_none() && otel.is_some() {
        let _ = mcp_core::telemetry::sample_at_source(telemetry.sampling);
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    telemetry
}

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// `OTEL_SERVICE_NAME`, else the program's name.
fn service_name() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.file_stem()?.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "mcp-server".to_owned())
}

/// The providers the environment asks for, installed as the globals (with
/// the W3C trace context and baggage propagators).
fn export_from_env() -> Telemetry {
    if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return Telemetry::default();
    }
    let any = set("OTEL_EXPORTER_OTLP_ENDPOINT");
    let off = |signal: &str| std::env::var(signal).is_ok_and(|v| v == "none");
    let traces = (any || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && !off("OTEL_TRACES_EXPORTER");
    let metrics =
        (any || set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")) && !off("OTEL_METRICS_EXPORTER");
    if !traces && !metrics {
        return Telemetry::default();
    }
    if let Ok(protocol) = std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL")
        && protocol != "http/protobuf"
    {
        eprintln!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is built in; using it"
        );
    }
    let resource = Resource::builder()
        .with_service_name(service_name())
        .build();
    let mut telemetry = Telemetry::default();
    // Metrics first: the span processor counts its drops through the
    // meter provider installed when it is built.
    if metrics {
        match MetricExporter::builder().with_http().build() {
            Ok(exporter) => {
                let provider = SdkMeterProvider::builder()
                    .with_resource(resource.clone())
                    .with_periodic_exporter(exporter)
                    .build();
                opentelemetry::global::set_meter_provider(provider.clone());
                telemetry.meter = Some(provider);
            }
            Err(e) => eprintln!("OTLP metrics are off: {e}"),
        }
    }
    if traces {
        match SpanExporter::builder().with_http().build() {
            Ok(exporter) => {
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource)
                    .with_sampler(Sampler::AlwaysOn)
                    .with_batch_exporter(exporter)
                    .build();
                telemetry.sampling = Sampling::from_env().unwrap_or_else(|e| {
                    eprintln!("{e}; sampling every trace");
                    Sampling::always()
                });
                opentelemetry::global::set_text_map_propagator(
                    opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                        Box::new(TraceContextPropagator::new()),
                        Box::new(BaggagePropagator::new()),
                    ]),
                );
                opentelemetry::global::set_tracer_provider(provider.clone());
                telemetry.tracer = Some(provider);
            }
            Err(e) => eprintln!("OTLP traces are off: {e}"),
        }
    }
    telemetry
}
