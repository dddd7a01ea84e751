//! The messages of one HTTP exchange: what a stateless request sends
//! before its answer (most send nothing), or a legacy POST's answer and
//! whatever its requests send before it (most send only the answer).
//!
//! A tokio channel per exchange cost more than the rest of its routing
//! (its shared state is cache-padded, so allocated aligned, and its first
//! block holds 32 messages), so the first message waits in a slot of its
//! own and a bounded channel is opened only for a second one. Messages are
//! received in the order they were sent; the queue ends (`None`) once every
//! sender is gone and nothing is left in it; once the receiver is gone,
//! sending fails at once instead of waiting for room nobody will make.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mcp_core::transport::Outgoing;
use tokio::sync::{Notify, mpsc};

/// What the senders and the receiver share.
#[derive(Debug)]
struct Shared {
    capacity: usize,
    /// Live senders. Counted outside the lock: a request's outbox is
    /// cloned into its context and dropped again on every request; only
    /// the last drop takes the lock.
    senders: AtomicUsize,
    state: Mutex<State>,
    /// Wakes the receiver: a message in the slot, the channel opened, or
    /// the last sender gone. A permit is kept when it is not waiting.
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// The first message, until it is received.
    first: Option<Outgoing>,
    /// Whether the slot has been used: every later message goes to the
    /// channel, so none overtakes the first.
    slot_used: bool,
    /// The channel, once a second message came; dropped with the last
    /// sender, so the channel ends once drained.
    tx: Option<mpsc::Sender<Outgoing>>,
    /// Its receiving end, until the receiver takes it.
    rx: Option<mpsc::Receiver<Outgoing>>,
    /// The last sender is gone.
    ended: bool,
    /// The receiver is gone: sending fails, as on a closed channel.
    closed: bool,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // Every change under the lock is a single assignment: a panic cannot
    // leave the state half made.
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new queue holding up to `capacity` messages beyond the first.
pub(crate) fn queue(capacity: usize) -> (AnswerTx, Answers) {
    let shared = Arc::new(Shared {
        capacity: capacity.max(1),
        senders: AtomicUsize::new(1),
        state: Mutex::default(),
        changed: Notify::new(),
    });
    (AnswerTx(Arc::clone(&shared)), Answers { shared, rx: None })
}

/// The sending end. Each clone counts as a sender.
#[derive(Debug)]
pub(crate) struct AnswerTx(Arc<Shared>);

/// Where a message goes: into the slot (done), to this channel, or
/// nowhere (the receiver is gone).
enum Route {
    Slot,
    Channel(mpsc::Sender<Outgoing>, Outgoing),
    Closed,
}

impl AnswerTx {
    fn route(&self, message: Outgoing) -> Route {
        let mut state = lock(&self.0);
        if state.closed {
            return Route::Closed;
        }
        if !state.slot_used {
            state.slot_used = true;
            state.first = Some(message);
            drop(state);
            self.0.changed.notify_one();
            return Route::Slot;
        }
        if let Some(tx) = &state.tx {
            return Route::Channel(tx.clone(), message);
        }
        let (tx, rx) = mpsc::channel(self.0.capacity);
        state.tx = Some(tx.clone());
        state.rx = Some(rx);
        drop(state);
        self.0.changed.notify_one();
        Route::Channel(tx, message)
    }

    /// Sends `message`, waiting while the channel is full; `Err` when the
    /// receiver is gone.
    pub(crate) async fn send(&self, message: Outgoing) -> Result<(), ()> {
        match self.route(message) {
            Route::Slot => Ok(()),
            // With room, no waiting and none of the task's cooperative
            // budget spent.
            Route::Channel(tx, message) => match tx.try_send(message) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(message)) => {
                    tx.send(message).await.map_err(|_| ())
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
            },
            Route::Closed => Err(()),
        }
    }

    /// Sends without waiting; dropped when the channel is full.
    pub(crate) fn try_send(&self, message: Outgoing) {
        if let Route::Channel(tx, message) = self.route(message) {
            let _ = tx.try_send(message);
        }
    }
}

impl Clone for AnswerTx {
    fn clone(&self) -> Self {
        // A new sender comes from a live one: the count cannot reach zero
        // meanwhile.
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(&self.0))
    }
}

impl Drop for AnswerTx {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The channel ends once what is in it has been received.
            let mut state = lock(&self.0);
            state.ended = true;
            state.tx = None;
            drop(state);
            self.0.changed.notify_one();
        }
    }
}

/// The receiving end.
#[derive(Debug)]
pub(crate) struct Answers {
    shared: Arc<Shared>,
    rx: Option<mpsc::Receiver<Outgoing>>,
}

impl Answers {
    /// The next message, in the order sent; `None` once every sender is
    /// gone and all was received. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        loop {
            if let Some(rx) = &mut self.rx {
                return rx.recv().await;
            }
            {
                let mut state = lock(&self.shared);
                if let Some(first) = state.first.take() {
                    return Some(first);
                }
                if let Some(rx) = state.rx.take() {
                    self.rx = Some(rx);
                    continue;
                }
                if state.ended {
                    return None;
                }
            }
            // A change after the look above left a permit: not missed.
            self.shared.changed.notified().await;
        }
    }
}

impl Answers {
    /// A message sent and not yet received, if any, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        if self.rx.is_none() {
            let mut state = lock(&self.shared);
            // The slot holds the first message: before anything in the
            // channel.
            if let Some(first) = state.first.take() {
                return Some(first);
            }
            self.rx = state.rx.take();
        }
        self.rx.as_mut()?.try_recv().ok()
    }
}

impl Drop for Answers {
    fn drop(&mut self) {
        // What was not received is dropped, and senders fail from now on
        // (those waiting on a full channel too: its receiver goes here).
        let mut state = lock(&self.shared);
        state.closed = true;
        state.first = None;
        state.rx = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_core::RequestId;

    fn answer(n: i64) -> Outgoing {
        Outgoing::response(
            Some(RequestId::Number(n)),
            bytes::Bytes::from(n.to_string()),
        )
    }

    fn id(message: &Outgoing) -> String {
        String::from_utf8_lossy(&message.bytes).into_owned()
    }

    #[tokio::test]
    async fn one_message_is_received_then_the_queue_ends() {
        let (tx, mut rx) = queue(4);
        tx.send(answer(1)).await.unwrap();
        drop(tx);
        assert_eq!(id(&rx.recv().await.unwrap()), "1");
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn messages_keep_their_order_across_the_slot_and_the_channel() {
        let (tx, mut rx) = queue(8);
        let other = tx.clone();
        for n in 1..=3 {
            tx.send(answer(n)).await.unwrap();
        }
        other.try_send(answer(4));
        drop((tx, other));
        let mut got = Vec::new();
        while let Some(message) = rx.recv().await {
            got.push(id(&message));
        }
        assert_eq!(got, ["1", "2", "3", "4"]);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_each_change() {
        let (tx, mut rx) = queue(2);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(message) = rx.recv().await {
                got.push(id(&message));
            }
            got
        });
        for n in 1..=5 {
            // Past the slot the channel holds two: later sends wait for
            // the reader.
            tx.send(answer(n)).await.unwrap();
            tokio::task::yield_now().await;
        }
        drop(tx);
        assert_eq!(reader.await.unwrap(), ["1", "2", "3", "4", "5"]);
    }

    #[tokio::test]
    async fn with_no_sender_left_and_nothing_sent_the_queue_ends() {
        let (tx, mut rx) = queue(2);
        let clone = tx.clone();
        drop(tx);
        let waiting = tokio::spawn(async move { rx.recv().await.is_none() });
        tokio::task::yield_now().await;
        drop(clone);
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn sending_after_the_receiver_is_gone_fails() {
        let (tx, rx) = queue(2);
        drop(rx);
        assert!(tx.send(answer(1)).await.is_err());
        let (tx, mut rx) = queue(1);
        tx.send(answer(1)).await.unwrap();
        tx.send(answer(2)).await.unwrap();
        assert_eq!(id(&rx.recv().await.unwrap()), "1");
        drop(rx);
        // The channel's receiver went with it: no wait on a full channel.
        assert!(tx.send(answer(3)).await.is_err());
    }
}
