//! Messages between the instances of one server: what happens on one
//! instance that another must act on. A legacy session's messages reach
//! the instance holding its stream, the client's answers reach the handler
//! waiting for them, cancellations reach the request they name, and list
//! changes and resource updates reach subscribers on every instance.
//!
//! Delivery is at most once and in order per publisher: a subscriber that
//! falls behind (or a bus that lost its connection) is told so with
//! [`Delivery::Gap`], after which what it follows can be read again from
//! the stores, which keep everything that matters. [`MemoryBus`] connects
//! endpoints in one process (tests, several endpoints of one service);
//! `mcp_server::redis::RedisBus` (feature `redis`) connects processes.
//!
//! ```
//! # async fn run() -> Result<(), mcp_server::Error> {
//! use bytes::Bytes;
//! use mcp_server::bus::{Delivery, EventBus, MemoryBus};
//!
//! let bus = MemoryBus::new();
//! let mut updates = bus.subscribe("news").await?;
//! bus.publish("news", Bytes::from_static(b"hello")).await?;
//! assert_eq!(updates.recv().await, Some(Delivery::Message(Bytes::from_static(b"hello"))));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::Error;

/// This process among the instances: 12 random hex digits, made once.
/// With a counter of the process, it keeps apart what instances name on
/// their own (stream ids, the ids of requests to clients).
pub(crate) fn instance() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut bytes = [0u8; 6];
        // Without a random source, instances may clash: a clash mixes up
        // replays and answers of one session, whose id stays the secret.
        let _ = getrandom::fill(&mut bytes);
        mcp_core::hex::encode(&bytes)
    })
}

/// How many messages a subscription holds before it loses some (and is
/// told of the gap).
pub const SUBSCRIPTION_CAPACITY: usize = 256;

/// What a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// A message published on the topic.
    Message(Bytes),
    /// Messages were lost here (the subscriber fell behind, or the bus
    /// reconnected): read again from the stores what they would have said.
    Gap,
}

/// Carries messages between the instances of one server, by topic.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Sends `message` to every subscription of `topic`, on every
    /// instance, this one included.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the bus cannot be reached.
    async fn publish(&self, topic: &str, message: Bytes) -> Result<(), Error>;

    /// Receives what is published on `topic` from the moment this returns
    /// until the subscription is dropped.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the bus cannot be reached.
    async fn subscribe(&self, topic: &str) -> Result<Subscription, Error>;

    /// Whether the bus can be used now, for readiness probes.
    ///
    /// # Errors
    /// [`Error::Unavailable`] saying why not.
    async fn ready(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Messages of one topic, until dropped.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
}

impl Subscription {
    /// A subscription fed through `rx` (for buses outside this crate:
    /// feed it with a [`Subscriber`]).
    pub fn new(rx: mpsc::Receiver<Delivery>) -> Self {
        Self { rx }
    }

    /// The next delivery; `None` once the bus is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

/// The sending end of one [`Subscription`]: never blocks, and turns what
/// it had to drop into one [`Delivery::Gap`] at the place of the loss.
#[derive(Debug)]
pub struct Subscriber {
    tx: mpsc::Sender<Delivery>,
    lost: bool,
}

impl Subscriber {
    /// A subscriber and its subscription, holding at most
    /// [`SUBSCRIPTION_CAPACITY`] messages.
    pub fn pair() -> (Self, Subscription) {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        (Self { tx, lost: false }, Subscription::new(rx))
    }

    /// Delivers `message`, or notes its loss; `false` once the
    /// subscription is dropped.
    pub fn deliver(&mut self, message: Bytes) -> bool {
        if self.lost {
            self.gap();
            if self.lost {
                return !self.tx.is_closed();
            }
        }
        match self.tx.try_send(Delivery::Message(message)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lost = true;
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Tells the subscription that messages were lost.
    pub fn gap(&mut self) {
        self.lost = self.tx.try_send(Delivery::Gap).is_err();
    }

    /// Whether the subscription was dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// A bus within one process.
#[derive(Debug, Default, Clone)]
pub struct MemoryBus {
    topics: Arc<Mutex<HashMap<String, Vec<Subscriber>>>>,
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Subscriber>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, topic: &str, message: Bytes) -> Result<(), Error> {
        let mut topics = self.topics();
        if let Some(subscribers) = topics.get_mut(topic) {
            subscribers.retain_mut(|s| s.deliver(message.clone()));
            if subscribers.is_empty() {
                topics.remove(topic);
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, Error> {
        let (subscriber, subscription) = Subscriber::pair();
        let mut topics = self.topics();
        // Topics whose subscriptions all went, without a publish since,
        // are swept as new ones come.
        if topics.len() >= 64 && !topics.contains_key(topic) {
            topics.retain(|_, subs| {
                subs.retain(|s| !s.is_closed());
                !subs.is_empty()
            });
        }
        topics.entry(topic.to_owned()).or_default().push(subscriber);
        Ok(subscription)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_gets_one_gap_where_messages_were_lost() {
        let bus = MemoryBus::new();
        let mut sub = bus.subscribe("t").await.unwrap();
        let mut other = bus.subscribe("t").await.unwrap();
        for n in 0..SUBSCRIPTION_CAPACITY + 10 {
            bus.publish("t", Bytes::from(n.to_string())).await.unwrap();
            // `other` keeps up.
            assert_eq!(
                other.recv().await,
                Some(Delivery::Message(Bytes::from(n.to_string())))
            );
        }
        for n in 0..SUBSCRIPTION_CAPACITY {
            assert_eq!(
                sub.recv().await,
                Some(Delivery::Message(Bytes::from(n.to_string())))
            );
        }
        bus.publish("t", Bytes::from_static(b"after"))
            .await
            .unwrap();
        assert_eq!(sub.recv().await, Some(Delivery::Gap));
        assert_eq!(
            sub.recv().await,
            Some(Delivery::Message(Bytes::from_static(b"after")))
        );
        drop(sub);
        drop(other);
        bus.publish("t", Bytes::new()).await.unwrap();
        assert!(
            bus.topics().is_empty(),
            "dropped subscriptions are forgotten"
        );
    }

    #[tokio::test]
    async fn topics_are_apart() {
        let bus = MemoryBus::new();
        let mut a = bus.subscribe("a").await.unwrap();
        bus.publish("b", Bytes::from_static(b"x")).await.unwrap();
        bus.publish("a", Bytes::from_static(b"y")).await.unwrap();
        assert_eq!(
            a.recv().await,
            Some(Delivery::Message(Bytes::from_static(b"y")))
        );
    }
}
