//! Watching what the SDK emits through `tracing`, per test.
//!
//! One subscriber for the whole test binary, set once, hands each event
//! and span to the layer the current thread installed (a test that
//! watches runs on a current-thread runtime, so the server's tasks run on
//! its thread too). Per-test scoped subscribers would race: a callsite
//! first reached by another test while one is being set up can keep
//! "nobody is interested" cached.
//!
//! OpenTelemetry's layer sits in that subscriber too, switched on per
//! thread ([`watch_otel`]), exporting into one in-memory exporter: it has
//! to be part of the subscriber itself for `tracing-opentelemetry`'s span
//! extensions (`set_parent`, `context`) to find it.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Once, PoisonError};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

type Watcher = Arc<dyn Layer<Registry> + Send + Sync>;

thread_local! {
    static WATCHER: RefCell<Option<Watcher>> = const { RefCell::new(None) };
    static OTEL: Cell<bool> = const { Cell::new(false) };
}

/// Where the OpenTelemetry layer's spans go.
static OTEL_EXPORT: LazyLock<(InMemorySpanExporter, SdkTracerProvider)> = LazyLock::new(|| {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (exporter, provider)
});

/// Forwards to the current thread's watcher, if any.
struct Forward;

fn with_watcher(f: impl FnOnce(&Watcher)) {
    WATCHER.with(|w| {
        if let Some(watcher) = w.borrow().as_ref() {
            f(watcher);
        }
    });
}

impl Layer<Registry> for Forward {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Decided per event by `enabled`: whether this thread watches.
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>, _: Context<'_, Registry>) -> bool {
        WATCHER.with(|w| w.borrow().is_some()) || OTEL.with(Cell::get)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, Registry>) {
        with_watcher(|w| w.on_new_span(attrs, id, ctx));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, Registry>) {
        with_watcher(|w| w.on_record(id, values, ctx));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, Registry>) {
        with_watcher(|w| w.on_event(event, ctx));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, Registry>) {
        with_watcher(|w| w.on_close(id, ctx));
    }
}

/// Stops watching when dropped.
pub(crate) struct Watching(());

impl Drop for Watching {
    fn drop(&mut self) {
        WATCHER.with(|w| w.borrow_mut().take());
    }
}

fn install() {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        let otel = tracing_opentelemetry::layer()
            .with_tracer(OTEL_EXPORT.1.tracer("mcp-it"))
            .with_filter(tracing_subscriber::filter::filter_fn(|_| {
                OTEL.with(Cell::get)
            }));
        let subscriber = tracing_subscriber::registry().with(Forward).with(otel);
        tracing::subscriber::set_global_default(subscriber)
            .unwrap_or_else(|e| panic!("another subscriber is set: {e}"));
    });
}

/// Hands what this thread emits to `layer` until the guard is dropped.
pub(crate) fn watch(layer: impl Layer<Registry> + Send + Sync + 'static) -> Watching {
    install();
    WATCHER.with(|w| *w.borrow_mut() = Some(Arc::new(layer)));
    Watching(())
}

/// Installs W3C trace context and baggage as the global propagator. Every
/// test that needs one installs this same pair: tests run in parallel, and
/// the propagator is the process's.
pub(crate) fn w3c_propagation() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
            Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
        ]),
    );
}

/// Stops exporting to OpenTelemetry when dropped.
/// Holds the in-memory exporter for one test at a time: tests run in
/// parallel, and one that resets the exporter would clear another's spans.
pub(crate) struct OtelOn(#[allow(dead_code, reason = "held, not read")] MutexGuard<'static, ()>);

/// Who holds the in-memory exporter.
static OTEL_TURN: Mutex<()> = Mutex::new(());

impl Drop for OtelOn {
    fn drop(&mut self) {
        OTEL.with(|o| o.set(false));
    }
}

/// Exports this thread's spans through OpenTelemetry (the SDK, to an
/// in-memory exporter) until the guard is dropped; the exporter and the
/// provider (to flush).
pub(crate) fn watch_otel() -> (
    OtelOn,
    &'static InMemorySpanExporter,
    &'static SdkTracerProvider,
) {
    install();
    let turn = OTEL_TURN.lock().unwrap_or_else(PoisonError::into_inner);
    // What the previous holder left.
    OTEL_EXPORT.0.reset();
    OTEL.with(|o| o.set(true));
    (OtelOn(turn), &OTEL_EXPORT.0, &OTEL_EXPORT.1)
}

/// The span called `name` of `kind` among `spans`, failing with `context`
/// and every span seen when there is none.
pub(crate) fn span<'a>(
    spans: &'a [opentelemetry_sdk::trace::SpanData],
    name: &str,
    kind: &opentelemetry::trace::SpanKind,
    context: &str,
) -> &'a opentelemetry_sdk::trace::SpanData {
    spans
        .iter()
        .find(|s| s.name == name && s.span_kind == *kind)
        .unwrap_or_else(|| {
            let seen: Vec<_> = spans.iter().map(|s| (&s.name, &s.span_kind)).collect();
            panic!("{context}: no {kind:?} span {name}: {seen:?}")
        })
}
