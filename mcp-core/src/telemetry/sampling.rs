//! Head sampling (see the parent module).

use std::cell::Cell;

/// What fraction of new traces to keep, and whether a remote caller's
/// decision is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// Kept when a draw in `0..=u64::MAX` is below it; `u64::MAX` keeps all.
    threshold: u64,
    keep_all: bool,
    parent_based: bool,
}

impl Sampling {
    /// Every trace (`always_on`), following remote callers.
    pub fn always() -> Self {
        Self::ratio(1.0)
    }

    /// No trace (`always_off`), unless a remote caller's trace is sampled.
    pub fn never() -> Self {
        Self::ratio(0.0)
    }

    /// A fraction of new traces (clamped to `0.0..=1.0`), following remote
    /// callers (`parentbased_traceidratio`).
    pub fn ratio(ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        // Rounding: a ratio of 1e-20 keeps (almost) nothing, 1.0 all.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to 0..=1, so the product fits"
        )]
        let threshold = (ratio * u64::MAX as f64) as u64;
        Self {
            threshold,
            keep_all: ratio >= 1.0,
            parent_based: true,
        }
    }

    /// Decides remote traces by the same draw as new ones instead of by
    /// the caller's flag (`traceidratio`, `always_on`, `always_off` without
    /// `parentbased_`).
    #[must_use]
    pub fn ignoring_remote_parents(mut self) -> Self {
        self.parent_based = false;
        self
    }

    /// The sampler OpenTelemetry's environment variables name:
    /// `OTEL_TRACES_SAMPLER` (`always_on`, `always_off`, `traceidratio`
    /// and their `parentbased_` forms; `parentbased_always_on` when unset)
    /// with `OTEL_TRACES_SAMPLER_ARG` as the ratio (1.0 when unset). Another
    /// sampler name is an error that names it.
    pub fn from_env() -> Result<Self, String> {
        let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
        let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
        Self::named(&name, arg.as_deref())
    }

    /// As [`Sampling::from_env`], from the two values.
    pub fn named(name: &str, arg: Option<&str>) -> Result<Self, String> {
        let ratio = || match arg.map(str::trim).filter(|a| !a.is_empty()) {
            None => Ok(1.0),
            Some(a) => a
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG={a}: not a ratio in 0..1")),
        };
        Ok(match name.trim() {
            "" | "parentbased_always_on" => Self::always(),
            "parentbased_always_off" => Self::never(),
            "parentbased_traceidratio" => Self::ratio(ratio()?),
            "always_on" => Self::always().ignoring_remote_parents(),
            "always_off" => Self::never().ignoring_remote_parents(),
            "traceidratio" => Self::ratio(ratio()?).ignoring_remote_parents(),
            other => {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER={other}: not a sampler this SDK knows"
                ));
            }
        })
    }

    /// Whether a new trace is kept (one draw).
    fn draw(&self) -> bool {
        self.keeps(random())
    }

    /// Whether a trace that drew `draw` is kept.
    fn keeps(&self, draw: u64) -> bool {
        self.keep_all || draw < self.threshold
    }
}

impl Default for Sampling {
    /// [`Sampling::always`].
    fn default() -> Self {
        Self::always()
    }
}

thread_local! {
    /// The `sampled` flag of the remote parent of the span being opened on
    /// this thread, while [`open_span`] runs.
    static REMOTE: Cell<Option<bool>> = const { Cell::new(None) };
    /// What a `HeadSampler` decided for the last span opened on this
    /// thread, while [`open_span`] runs.
    static DECIDED: Cell<Option<bool>> = const { Cell::new(None) };
    /// What sampling at the source decided for the span being opened on
    /// this thread, while [`open_root_span`] runs: a `HeadSampler` follows.
    static FORCED: Cell<Option<bool>> = const { Cell::new(None) };
    /// Whether this thread is running work of a trace dropped at the
    /// source ([`in_dropped_trace`]), which has no span to tell it by.
    static DROPPED: Cell<bool> = const { Cell::new(false) };
}

/// The process's sampling at the source, once [`sample_at_source`] set it.
static SOURCE: std::sync::OnceLock<Sampling> = std::sync::OnceLock::new();

/// Decides sampling where a request starts, before its span is built: from
/// now on, a request whose trace is dropped builds no span at all (the
/// `tracing` span included), and what it calls sends its trace on as not
/// sampled.
///
/// A `HeadSampler` alone keeps the OpenTelemetry layer from building the
/// spans of dropped traces, but `tracing` still builds each one, with its
/// fields, for the other layers that may read it (logs correlate their
/// lines by it). Turn this on when nothing else reads request spans: the
/// process exports sampled traces and writes no logs that need a request's
/// fields. With logs on, the lines of a dropped request lose those fields.
/// Use the same [`Sampling`] as the `HeadSampler`, which keeps the spans
/// decided here and the ones opened under them.
///
/// The first setting stays: returns `false` when sampling at the source
/// was already on.
///
/// ```
/// use mcp_core::telemetry::{RootSpan, Sampling, open_root_span, sample_at_source};
///
/// sample_at_source(Sampling::never().ignoring_remote_parents());
/// let opened = open_root_span(Some(true), || false, || "span");
/// assert!(matches!(opened, RootSpan::Dropped));
/// ```
pub fn sample_at_source(sampling: Sampling) -> bool {
    SOURCE.set(sampling).is_ok()
}

/// A span that starts a unit of work, as [`open_root_span`] opened it.
#[derive(Debug)]
#[non_exhaustive]
pub enum RootSpan<R> {
    /// Sampling at the source dropped the trace: nothing was opened. Run
    /// the work [`in_dropped_trace`].
    Dropped,
    /// Sampling at the source kept the trace, and this is its span. Only
    /// the sampled exporter reads it: fields meant for logs can be left
    /// out.
    Kept(R),
    /// No decision at the source (it is off, or a span was current): the
    /// span, and what a `HeadSampler` decided for it, as [`open_span`]
    /// says.
    Opened(R, Option<bool>),
}

impl<R> RootSpan<R> {
    /// The span (`none()` for a dropped trace, which has none) and whether
    /// its trace is kept (`None`: no sampler looked), for code that treats
    /// a decision at the source like a head sampler's.
    ///
    /// ```
    /// use mcp_core::telemetry::RootSpan;
    /// assert_eq!(RootSpan::Dropped.split(|| 0), (0, Some(false)));
    /// assert_eq!(RootSpan::Kept(7).split(|| 0), (7, Some(true)));
    /// ```
    pub fn split(self, none: impl FnOnce() -> R) -> (R, Option<bool>) {
        match self {
            Self::Dropped => (none(), Some(false)),
            Self::Kept(span) => (span, Some(true)),
            Self::Opened(span, kept) => (span, kept),
        }
    }
}

/// Opens the span of a unit of work that may start a trace (a request
/// served, or one sent). With sampling at the source on
/// ([`sample_at_source`]) and no span current (`local_parent` says whether
/// one is, and is asked only then), the trace is decided first, and `open`
/// does not run for a trace that is dropped. Otherwise as [`open_span`].
///
/// `remote_sampled` is the `sampled` flag of the caller's `traceparent`, if
/// any. Work already running in a dropped trace ([`in_dropped_trace`])
/// stays in it.
///
/// ```
/// use mcp_core::telemetry::{RootSpan, open_root_span};
///
/// // Opened under a current span: the head sampler, if any, decides.
/// let opened = open_root_span(None, || true, || 42);
/// assert!(matches!(opened, RootSpan::Opened(42, None)));
/// ```
pub fn open_root_span<R>(
    remote_sampled: Option<bool>,
    local_parent: impl FnOnce() -> bool,
    open: impl FnOnce() -> R,
) -> RootSpan<R> {
    let decided = decide_at_source(
        SOURCE.get(),
        DROPPED.with(Cell::get),
        remote_sampled,
        local_parent,
    );
    match decided {
        Some(false) => RootSpan::Dropped,
        Some(true) => {
            let forced = FORCED.with(|f| f.replace(Some(true)));
            let span = open();
            FORCED.with(|f| f.set(forced));
            RootSpan::Kept(span)
        }
        None => {
            let (span, kept) = open_span(remote_sampled, open);
            RootSpan::Opened(span, kept)
        }
    }
}

/// What sampling at the source (`source`, if on) decides for a span about
/// to open: `None` leaves it to the head sampler.
fn decide_at_source(
    source: Option<&Sampling>,
    in_dropped_trace: bool,
    remote_sampled: Option<bool>,
    local_parent: impl FnOnce() -> bool,
) -> Option<bool> {
    let sampling = source?;
    if in_dropped_trace {
        return Some(false);
    }
    // Under a current span the head sampler follows that span.
    if local_parent() {
        return None;
    }
    Some(match remote_sampled {
        Some(remote) if sampling.parent_based => remote,
        _ => sampling.draw(),
    })
}

/// Runs `work` (one poll of a future, say) as part of a trace that was
/// dropped at the source ([`RootSpan::Dropped`]): spans it opens are
/// dropped too, and requests it sends say their trace is not sampled.
///
/// ```
/// let four = mcp_core::telemetry::in_dropped_trace(|| 2 + 2);
/// assert_eq!(four, 4);
/// ```
pub fn in_dropped_trace<R>(work: impl FnOnce() -> R) -> R {
    /// Restores the flag even if `work` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DROPPED.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DROPPED.with(|d| d.replace(true)));
    work()
}

/// Runs `open`, which opens one span, and says whether a `HeadSampler`
/// kept its trace (`None`: no sampler looked at it).
///
/// `remote_sampled` is the `sampled` flag of the `traceparent` the span
/// continues, if any: a parent-based sampler follows it. Code that sends a
/// request on for a span whose trace was dropped should send a
/// `traceparent` that says so ([`unsampled_traceparent`]), so the next
/// service drops its part too.
///
/// ```
/// let (span, kept) = mcp_core::telemetry::open_span(Some(true), || 42);
/// assert_eq!((span, kept), (42, None));
/// ```
pub fn open_span<R>(remote_sampled: Option<bool>, open: impl FnOnce() -> R) -> (R, Option<bool>) {
    let remote = REMOTE.with(|r| r.replace(remote_sampled));
    let decided = DECIDED.with(|d| d.replace(None));
    let out = open();
    REMOTE.with(|r| r.set(remote));
    (out, DECIDED.with(|d| d.replace(decided)))
}

/// A new random trace id (never the invalid all-zero one): for a trace
/// that starts here, as W3C trace context spells it in a `traceparent`.
///
/// ```
/// assert_ne!(mcp_core::telemetry::trace_id(), mcp_core::telemetry::trace_id());
/// ```
pub fn trace_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    let (high, low) = id.split_at_mut(8);
    high.copy_from_slice(&(random() | 1).to_be_bytes());
    low.copy_from_slice(&random().to_be_bytes());
    id
}

/// A W3C `traceparent` for a request sent on from a dropped trace: fresh
/// random ids, and the `sampled` flag off.
pub fn unsampled_traceparent() -> String {
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    crate::hex::push(&mut out, &trace_id());
    out.push('-');
    crate::hex::push(&mut out, &(random() | 1).to_be_bytes());
    out.push_str("-00");
    out
}

/// A random `u64`: a per-thread `xorshift64*` seeded from the standard
/// library's random hasher keys (unpredictable enough for sampling, and a
/// few instructions per draw).
fn random() -> u64 {
    use std::hash::BuildHasher as _;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::hash::RandomState::new().hash_one(std::thread::current().id()) | 1,
        );
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(feature = "trace-sampling")]
pub use self::filter::HeadSampler;

#[cfg(feature = "trace-sampling")]
mod filter {
    use tracing::Metadata;
    use tracing::subscriber::Interest;
    use tracing_subscriber::layer::{Context, Filter};
    use tracing_subscriber::registry::LookupSpan;

    use super::{DECIDED, DROPPED, FORCED, REMOTE, Sampling};

    /// A per-layer filter that keeps whole traces with [`Sampling`]'s
    /// probability and hides the rest from the layer it filters (see the
    /// [module](crate::telemetry) docs).
    ///
    /// It tells a span of a dropped trace by its parent being hidden from
    /// the layer, so it should be the layer's only filter: combined with
    /// another that hides spans for other reasons (a level or a target),
    /// the children of those spans would be dropped too. Filter by level or
    /// target globally (an `EnvFilter` layer) instead.
    ///
    /// ```
    /// use mcp_core::telemetry::{HeadSampler, Sampling};
    /// use tracing_subscriber::Layer as _;
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// # fn bridge() -> tracing_subscriber::filter::LevelFilter { tracing_subscriber::filter::LevelFilter::TRACE }
    /// // `bridge()` stands for the OpenTelemetry layer, for example
    /// // `tracing_opentelemetry::layer().with_tracer(tracer)`.
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(bridge().with_filter(HeadSampler::new(Sampling::ratio(0.1))));
    /// # drop(subscriber);
    /// ```
    #[derive(Debug, Clone, Copy, Default)]
    pub struct HeadSampler {
        sampling: Sampling,
    }

    impl HeadSampler {
        /// A filter that samples as `sampling` says.
        pub fn new(sampling: Sampling) -> Self {
            Self { sampling }
        }
    }

    impl<S> Filter<S> for HeadSampler
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
            // Under a per-layer filter the context hides the spans this
            // filter dropped: a current span that exists but cannot be seen
            // was dropped, and so is everything in its trace.
            // Work of a trace dropped at the source has no span: a flag
            // marks it.
            let in_kept_trace = || {
                let current = cx.current_span();
                match current.id() {
                    Some(id) => Some(cx.span(id).is_some()),
                    None => DROPPED.with(std::cell::Cell::get).then_some(false),
                }
            };
            if !meta.is_span() {
                // An event belongs to the current span's trace; one outside
                // any span is the bridge's to judge.
                return in_kept_trace().unwrap_or(true);
            }
            let kept = match (
                FORCED.with(std::cell::Cell::get),
                REMOTE.with(std::cell::Cell::get),
            ) {
                (Some(forced), _) => forced,
                (None, Some(remote)) if self.sampling.parent_based => remote,
                _ => in_kept_trace().unwrap_or_else(|| self.sampling.draw()),
            };
            DECIDED.with(|d| d.set(Some(kept)));
            kept
        }

        fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
            // Decided per span and event, never per callsite.
            Interest::sometimes()
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::{Arc, Mutex, PoisonError};

        use tracing::span;
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt as _;

        use super::super::open_span;
        use super::*;

        /// What the filtered layer saw: span names, and event messages.
        #[derive(Clone, Default)]
        struct Seen(Arc<Mutex<Vec<String>>>);

        impl Seen {
            fn take(&self) -> Vec<String> {
                std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
            }
        }

        impl<S: tracing::Subscriber> Layer<S> for Seen {
            fn on_new_span(&self, attrs: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
                let name = attrs.metadata().name().to_owned();
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(name);
            }

            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                let name = format!("event {}", event.metadata().name());
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(name);
            }
        }

        /// Runs `f` under a registry where `Seen` is filtered by `sampling`
        /// and a second, unfiltered layer sees everything.
        fn under(sampling: Sampling, f: impl FnOnce()) -> (Vec<String>, Vec<String>) {
            let filtered = Seen::default();
            let all = Seen::default();
            let subscriber = tracing_subscriber::registry()
                .with(filtered.clone().with_filter(HeadSampler::new(sampling)))
                .with(all.clone());
            tracing::subscriber::with_default(subscriber, f);
            (filtered.take(), all.take())
        }

        fn trace() {
            let root = tracing::info_span!("root");
            let _in = root.enter();
            let child = tracing::info_span!("child");
            child.in_scope(|| tracing::info!(name: "inside", "x"));
        }

        #[test]
        fn whole_traces_are_kept_or_dropped() {
            let (kept, all) = under(Sampling::always(), trace);
            assert_eq!(kept, ["root", "child", "event inside"]);
            assert_eq!(all, kept);
            let (kept, all) = under(Sampling::never(), trace);
            assert!(kept.is_empty(), "{kept:?}");
            // Other layers are not affected.
            assert_eq!(all, ["root", "child", "event inside"]);
            // Events outside any span are the filtered layer's to judge.
            let (kept, _) = under(Sampling::never(), || tracing::info!(name: "alone", "x"));
            assert_eq!(kept, ["event alone"]);
        }

        #[test]
        fn decisions_at_the_source_are_followed() {
            use super::super::in_dropped_trace;
            // Work of a trace dropped at the source: what it opens is dropped,
            // events too; other layers see all of it.
            let (kept, all) = under(Sampling::always(), || in_dropped_trace(trace));
            assert!(kept.is_empty(), "{kept:?}");
            assert_eq!(all, ["root", "child", "event inside"]);
            // A span the source kept is kept whatever this sampler would
            // draw, and so are its children.
            let (kept, _) = under(Sampling::never().ignoring_remote_parents(), || {
                let forced = FORCED.with(|f| f.replace(Some(true)));
                let root = tracing::info_span!("root");
                FORCED.with(|f| f.set(forced));
                root.in_scope(|| drop(tracing::info_span!("child")));
            });
            assert_eq!(kept, ["root", "child"]);
        }

        #[test]
        fn a_remote_callers_flag_decides_when_parent_based() {
            let remote = |sampled| move || open_span(Some(sampled), trace).0;
            assert_eq!(under(Sampling::never(), remote(true)).0.len(), 3);
            assert!(under(Sampling::always(), remote(false)).0.is_empty());
            let ignoring = Sampling::never().ignoring_remote_parents();
            assert!(under(ignoring, remote(true)).0.is_empty());
            // A remote flag beats the local parent: a request served inside
            // a dropped trace is kept when its caller's trace is sampled.
            let (kept, _) = under(Sampling::never(), || {
                let local = tracing::info_span!("local");
                let _in = local.enter();
                let (_request, decided) = open_span(Some(true), || tracing::info_span!("request"));
                assert_eq!(decided, Some(true));
                let (_dropped, decided) = open_span(None, || tracing::info_span!("child"));
                assert_eq!(decided, Some(false));
            });
            assert_eq!(kept, ["request"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_are_read_as_opentelemetry_defines_them() {
        assert_eq!(Sampling::named("", None), Ok(Sampling::always()));
        assert_eq!(
            Sampling::named("parentbased_traceidratio", Some("0.25")),
            Ok(Sampling::ratio(0.25))
        );
        assert_eq!(
            Sampling::named("traceidratio", None),
            Ok(Sampling::always().ignoring_remote_parents())
        );
        assert_eq!(
            Sampling::named("always_off", None).map(|s| s.parent_based),
            Ok(false)
        );
        assert!(Sampling::named("traceidratio", Some("2")).is_err());
        assert!(Sampling::named("jaeger_remote", None).is_err_and(|e| e.contains("jaeger_remote")));
    }

    #[test]
    fn ratios_keep_their_share_of_draws() {
        let tenth = Sampling::ratio(0.1);
        let step = u64::MAX / 1000;
        // Draws spread evenly, each in the middle of its thousandth.
        let kept = (0..1000)
            .filter(|i| tenth.keeps(i * step + step / 2))
            .count();
        assert_eq!(kept, 100);
        for draw in [0, 1, u64::MAX / 2, u64::MAX] {
            assert!(Sampling::always().keeps(draw));
            assert!(!Sampling::never().keeps(draw));
            assert!(!Sampling::ratio(f64::NAN).keeps(draw));
        }
        // The draws themselves move.
        assert_ne!(random(), random());
    }

    #[test]
    fn the_source_decides_only_when_on_and_no_span_is_current() {
        let never = Sampling::never();
        let always = Sampling::always().ignoring_remote_parents();
        let unasked = || -> bool { panic!("asked for a local parent") };
        // Off: the head sampler decides.
        assert_eq!(decide_at_source(None, true, Some(true), unasked), None);
        // In a dropped trace: dropped, whatever the caller says.
        assert_eq!(
            decide_at_source(Some(&always), true, Some(true), unasked),
            Some(false)
        );
        // Under a current span: the head sampler follows it.
        assert_eq!(decide_at_source(Some(&always), false, None, || true), None);
        // A new trace draws; a remote caller's flag is followed when
        // parent-based, and drawn over when not.
        assert_eq!(
            decide_at_source(Some(&always), false, None, || false),
            Some(true)
        );
        assert_eq!(
            decide_at_source(Some(&never), false, None, || false),
            Some(false)
        );
        assert_eq!(
            decide_at_source(Some(&never), false, Some(true), || false),
            Some(true)
        );
        assert_eq!(
            decide_at_source(Some(&always), false, Some(false), || false),
            Some(true)
        );
        assert_eq!(
            decide_at_source(Some(&Sampling::always()), false, Some(false), || false),
            Some(false)
        );
    }

    #[test]
    fn the_dropped_trace_flag_lasts_while_its_work_runs() {
        assert!(!DROPPED.with(Cell::get));
        in_dropped_trace(|| {
            assert!(DROPPED.with(Cell::get));
            in_dropped_trace(|| assert!(DROPPED.with(Cell::get)));
            assert!(DROPPED.with(Cell::get));
        });
        assert!(!DROPPED.with(Cell::get));
        let panicked = std::panic::catch_unwind(|| in_dropped_trace(|| panic!("in the work")));
        assert!(panicked.is_err());
        assert!(!DROPPED.with(Cell::get));
    }

    #[test]
    fn a_remote_flag_lasts_only_while_its_span_opens() {
        assert_eq!(REMOTE.with(Cell::get), None);
        let ((), decided) = open_span(Some(false), || {
            assert_eq!(REMOTE.with(Cell::get), Some(false));
            open_span(Some(true), || {
                assert_eq!(REMOTE.with(Cell::get), Some(true));
            });
            assert_eq!(REMOTE.with(Cell::get), Some(false));
        });
        assert_eq!(decided, None);
        assert_eq!(REMOTE.with(Cell::get), None);
    }

    #[test]
    fn unsampled_traceparents_are_well_formed_and_say_so() {
        let parent = unsampled_traceparent();
        let parts: Vec<&str> = parent.split('-').collect();
        assert_eq!(parts.len(), 4, "{parent}");
        assert_eq!((parts[0], parts[3]), ("00", "00"));
        assert!(crate::hex::decode::<16>(parts[1]).is_some_and(|id| id != [0; 16]));
        assert!(crate::hex::decode::<8>(parts[2]).is_some_and(|id| id != [0; 8]));
        assert_ne!(unsampled_traceparent(), parent);
    }
}
