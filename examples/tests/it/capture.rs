//! Watching what the SDK emits through `tracing`, per test.
//!
//! One subscriber for the whole test binary, set once, hands each event
//! and span to the layer the current thread installed (a test that
//! watches runs on a current-thread runtime, so the server's tasks run on
//! its thread too). Per-test scoped subscribers would race: a callsite
//! first reached by another test while one is being set up can keep
//! "nobody is interested" cached.

use std::cell::RefCell;
use std::sync::{Arc, Once};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

type Watcher = Arc<dyn Layer<Registry> + Send + Sync>;

thread_local! {
    static WATCHER: RefCell<Option<Watcher>> = const { RefCell::new(None) };
}

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
        WATCHER.with(|w| w.borrow().is_some())
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

/// Hands what this thread emits to `layer` until the guard is dropped.
pub(crate) fn watch(layer: impl Layer<Registry> + Send + Sync + 'static) -> Watching {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Forward);
        tracing::subscriber::set_global_default(subscriber)
            .unwrap_or_else(|e| panic!("another subscriber is set: {e}"));
    });
    WATCHER.with(|w| *w.borrow_mut() = Some(Arc::new(layer)));
    Watching(())
}
