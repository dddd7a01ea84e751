//! A handler that panics must not take the connection down with it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::Poll;

use crate::telemetry::Operation;

/// Runs `inner` in `operation`'s span (or dropped trace) during each poll,
/// turning a panic in any poll into an `Err` with the panic message.
///
/// Takes the future pinned where it already lives: wrapping a request's
/// (large) future by value would copy all of it per wrapper.
pub(crate) fn guarded<'a, F: Future>(
    mut inner: Pin<&'a mut F>,
    operation: &'a Operation,
) -> impl Future<Output = Result<F::Output, String>> + 'a {
    std::future::poll_fn(move |cx| {
        // The future is dropped right after a panic and never polled
        // again, so no broken state it may hold can be observed.
        let polled = operation.enter(|| catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))));
        match polled {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a handler panicked".to_owned()))),
        }
    })
}
