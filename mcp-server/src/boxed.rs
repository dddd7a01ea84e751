//! Boxing large futures without copying them.
//!
//! A future's size is that of its largest state, and `Box::pin(fut)`
//! builds it on the stack and then copies all of it (the unused states
//! too) into the box: kilobytes per request for the endpoint's futures.
//! Allocating first and building the future straight into the box leaves
//! the compiler nothing to copy.

use std::future::Future;
use std::pin::Pin;

/// The future `make` builds, built in its box.
pub(crate) fn pinned<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}

/// [`pinned`], as a trait object.
#[cfg(feature = "http")]
pub(crate) fn future<F>(make: impl FnOnce() -> F) -> Pin<Box<dyn Future<Output = F::Output> + Send>>
where
    F: Future + Send + 'static,
{
    pinned(make)
}
