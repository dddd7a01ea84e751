//! A connection's reading and writing halves, joined in one task so that a
//! reply made while reading is written in the same pass.
//!
//! The reading half answers most requests inline and queues each reply for
//! the writing half. With `tokio::join!` that queueing wakes the joined
//! future from inside its own poll; the runtime then polls it again just to
//! write, and tokio's current-thread scheduler checks for I/O without
//! blocking first (one more `epoll_wait` per request over stdio). Here the
//! writing half gets a turn after the reading half, and another whenever it
//! was woken during the pass, with a waker that only takes note of wakes
//! arriving while a pass runs.
//!
//! Passes alternate between starting with the writing half (so that under
//! a flood of requests what is queued goes out with the pass's fresh
//! cooperative budget) and starting with the reading half (so that a flood
//! of outgoing messages cannot keep a cancellation from being read). A
//! writing half that keeps waking itself (out of budget on a runtime that
//! wakes such a task at once) gets a bounded number of turns, then the wake
//! goes to the runtime, which polls the task again when it sees fit.

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

/// Turns of the writing half in one pass, at most.
const TURNS: u8 = 3;

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
/// `tokio::join!`, giving `write` a turn after every poll of `read`.
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
    let mut write_first = false;
    poll_fn(|cx| {
        // Noted from here on; a wake before the task's waker is registered
        // below is passed on, which costs at most one spare poll.
        coalesce.state.store(POLLING, Ordering::Release);
        coalesce.task.register(cx.waker());
        write_first = !write_first;
        let mut writer = Context::from_waker(&waker);
        let mut turn = || {
            if write_out.is_none()
                && let Poll::Ready(out) = write.as_mut().poll(&mut writer)
            {
                write_out = Some(out);
            }
        };
        let mut turns = 0;
        if write_first {
            turn();
            turns += 1;
        }
        if read_out.is_none()
            && let Poll::Ready(out) = read.as_mut().poll(cx)
        {
            read_out = Some(out);
        }
        // A pass that began with reading ends with the writing half's turn.
        if !write_first {
            turn();
            turns += 1;
        }
        // More turns while something woke the writing half during the pass.
        while coalesce
            .state
            .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            if turns >= TURNS {
                // Still being woken: let the runtime poll again.
                coalesce.state.store(IDLE, Ordering::Release);
                cx.waker().wake_by_ref();
                break;
            }
            coalesce.state.store(POLLING, Ordering::Release);
            turn();
            turns += 1;
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
    use crate::wake::counting;

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
        let (count, waker) = counting();
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

    /// A writing half that wakes itself and stays pending (out of budget
    /// on a runtime that wakes such a task at once) gets a few turns; then
    /// the pass ends and the wake goes to the task, so nothing spins.
    #[test]
    fn a_writer_that_keeps_waking_itself_does_not_hold_the_pass() {
        let turns = AtomicUsize::new(0);
        let write = std::future::poll_fn(|cx| {
            turns.fetch_add(1, Ordering::SeqCst);
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        });
        let mut joined = pin!(join(std::future::pending::<()>(), write));
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        for pass in 1..=4 {
            assert!(joined.as_mut().poll(&mut cx).is_pending());
            assert_eq!(
                count.0.load(Ordering::SeqCst),
                pass,
                "the task is woken to go on"
            );
        }
        assert!(turns.load(Ordering::SeqCst) <= 4 * usize::from(TURNS));
    }

    /// Passes alternate which half goes first, so a writing half with
    /// endless work still lets the reading half read every pass.
    #[test]
    fn the_reading_half_is_polled_every_pass_whatever_the_writer_does() {
        let reads = AtomicUsize::new(0);
        let read = std::future::poll_fn(|_| {
            reads.fetch_add(1, Ordering::SeqCst);
            Poll::<()>::Pending
        });
        let write = std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        });
        let mut joined = pin!(join(read, write));
        let (_, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..6 {
            assert!(joined.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 6);
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
        let (count, waker) = counting();
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
