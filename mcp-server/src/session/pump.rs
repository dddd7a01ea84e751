//! A connection's reading and writing halves, joined in one task so that a
//! reply made while reading is written in the same pass.
//!
//! The reading half answers most requests inline and queues each reply for
//! the writing half. With `tokio::join!` that queueing wakes the joined
//! future from inside its own poll; the runtime then polls it again just to
//! write, and tokio's current-thread scheduler checks for I/O without
//! blocking first (one more `epoll_wait` per request over stdio). Here the
//! writing half is polled again after the reading half whenever it was
//! woken during the pass, with a waker that only takes note of such wakes.
//!
//! Each pass starts with the writing half, so that under a flood of
//! requests what is queued goes out first, with the pass's fresh
//! cooperative budget, instead of the reading half spending it all.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;

/// No pass in progress: a wake goes to the task.
const IDLE: u8 = 0;
/// A pass is in progress: a wake is noted, and the writing half polled again.
const POLLING: u8 = 1;
/// A wake arrived during the pass.
const WOKEN: u8 = 2;

/// The writing half's waker.
struct Coalesce {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Coalesce {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // One atomic state, so that a wake from another thread racing the
        // end of a pass is either seen by the pass or passed to the task.
        match self
            .state
            .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) | Err(WOKEN) => {}
            Err(_) => self.task.wake(),
        }
    }
}

/// Runs `read` and `write` to completion in the current task, like
/// `tokio::join!`: `write`, then `read`, then `write` again for as long as
/// something woke it meanwhile.
pub(super) async fn join<A: Future, B: Future>(read: A, write: B) -> (A::Output, B::Output) {
    let mut read = pin!(read);
    let mut write = pin!(write);
    let mut read_out = None;
    let mut write_out = None;
    let coalesce = Arc::new(Coalesce {
        state: AtomicU8::new(IDLE),
        task: AtomicWaker::new(),
    });
    let waker = Waker::from(Arc::clone(&coalesce));
    poll_fn(|cx| {
        coalesce.task.register(cx.waker());
        coalesce.state.store(POLLING, Ordering::Release);
        let mut writer = Context::from_waker(&waker);
        if write_out.is_none()
            && let Poll::Ready(out) = write.as_mut().poll(&mut writer)
        {
            write_out = Some(out);
        }
        if read_out.is_none()
            && let Poll::Ready(out) = read.as_mut().poll(cx)
        {
            read_out = Some(out);
        }
        loop {
            // Woken during the pass (by the reading half's replies, or by
            // another thread): the writing half may have more to do.
            if coalesce
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                break;
            }
            coalesce.state.store(POLLING, Ordering::Release);
            if write_out.is_none()
                && let Poll::Ready(out) = write.as_mut().poll(&mut writer)
            {
                write_out = Some(out);
            }
        }
        match (read_out.take(), write_out.take()) {
            (Some(read), Some(write)) => Poll::Ready((read, write)),
            (read, write) => {
                read_out = read;
                write_out = write;
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::mpsc;

    use super::*;

    /// Counts how often the joined future is woken.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_reply_queued_while_reading_is_written_in_the_same_pass_without_a_wake() {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        let (input, mut inputs) = mpsc::channel::<u32>(4);
        let written = std::sync::Mutex::new(Vec::new());
        let read = async {
            while let Some(n) = inputs.recv().await {
                tx.send(n * 10).await.unwrap();
            }
            drop(tx);
        };
        let write = async {
            while let Some(n) = rx.recv().await {
                written.lock().unwrap().push(n);
            }
        };
        let mut joined = pin!(join(read, write));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(joined.as_mut().poll(&mut cx).is_pending());
        input.try_send(1).unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "new input wakes the task"
        );
        assert!(joined.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            *written.lock().unwrap(),
            [10],
            "the reply went out in that pass"
        );
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "and the reply woke nothing"
        );
        // A reply queued from elsewhere, between passes, wakes the task.
        input.try_send(2).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        drop(input);
        assert!(joined.as_mut().poll(&mut cx).is_ready());
        assert_eq!(*written.lock().unwrap(), [10, 20]);
    }

    #[test]
    fn a_wake_between_passes_reaches_the_task() {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        let got = std::sync::Mutex::new(Vec::new());
        let write = async {
            while let Some(n) = rx.recv().await {
                got.lock().unwrap().push(n);
            }
        };
        let mut joined = pin!(join(std::future::pending::<()>(), write));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(joined.as_mut().poll(&mut cx).is_pending());
        tx.try_send(7).unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the writer's wake is passed on"
        );
        assert!(joined.as_mut().poll(&mut cx).is_pending());
        assert_eq!(*got.lock().unwrap(), [7]);
    }
}
