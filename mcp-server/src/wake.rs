//! Futures that wait beside busy ones without being polled on every
//! wake-up of their task.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// Wakes a task for a future that waits beside others (a connection's
/// watchdog or shutdown signal), and says that it did. Starts woken, so
/// that the future is polled (and registers its timer or signal) once.
pub(crate) struct SideWake {
    pub(crate) woken: AtomicBool,
    pub(crate) task: atomic_waker::AtomicWaker,
}

impl Default for SideWake {
    fn default() -> Self {
        Self {
            woken: AtomicBool::new(true),
            task: atomic_waker::AtomicWaker::new(),
        }
    }
}

impl std::task::Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// `fut`, polled only when its own waker fired (and at first): a future
/// that waits beside busy ones, such as a shutdown signal beside a reading
/// loop, costs nothing on the wake-ups that are not its own (polling
/// tokio's two signal listeners costs about 750 instructions).
pub(crate) async fn when_woken<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let side = Arc::new(SideWake::default());
    let waker = Waker::from(Arc::clone(&side));
    poll_fn(|cx| {
        side.task.register(cx.waker());
        if !side.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        fut.as_mut().poll(&mut Context::from_waker(&waker))
    })
    .await
}

/// A waker that counts its wakes, for tests of who wakes a task when.
#[cfg(test)]
pub(crate) struct Count(pub(crate) std::sync::atomic::AtomicUsize);

#[cfg(test)]
impl std::task::Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker, and its count.
#[cfg(test)]
pub(crate) fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&count));
    (count, waker)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A future behind `when_woken` is polled at first and then only after
    /// its own waker fired, however often the task is polled.
    #[test]
    fn a_side_future_is_polled_only_when_its_own_waker_fired() {
        let polls = AtomicUsize::new(0);
        let parked = std::sync::Mutex::new(None::<Waker>);
        let side = std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::SeqCst);
            *parked.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        });
        let mut gated = pin!(when_woken(side));
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..5 {
            assert!(gated.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1, "polled once, to register");
        parked.lock().unwrap().take().unwrap().wake();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "its wake reaches the task"
        );
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }
}
