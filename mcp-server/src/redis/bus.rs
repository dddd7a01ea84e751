//! The event bus on Redis pub/sub: `PUBLISH` on the shared connection,
//! and one subscriber connection per process, owned by a task that
//! subscribes to each topic once however many subscriptions it has, hands
//! each message to them, and after a broken connection connects again,
//! subscribes again and tells every subscription of the gap.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, oneshot};

use super::Redis;
use crate::bus::{EventBus, Subscriber, Subscription};
use crate::error::Error;

/// How often subscriptions that were dropped are looked for, and their
/// topics unsubscribed.
const SWEEP: Duration = Duration::from_secs(30);

/// How long after a failed connection the subscriber connects again.
const RECONNECT: Duration = Duration::from_secs(1);

/// The bus of the instances sharing one Redis. Made by [`Redis::bus`];
/// clones share the subscriber connection.
#[derive(Debug, Clone)]
pub struct RedisBus {
    redis: Redis,
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Commands to the subscriber task, started by the first subscription.
    task: OnceLock<mpsc::UnboundedSender<Subscribe>>,
    /// Whether the subscriber connection is up.
    connected: AtomicBool,
}

struct Subscribe {
    channel: String,
    subscriber: Subscriber,
    done: oneshot::Sender<Result<(), Error>>,
}

impl RedisBus {
    pub(super) fn new(redis: Redis) -> Self {
        Self {
            redis,
            inner: Arc::default(),
        }
    }

    fn channel(&self, topic: &str) -> String {
        self.redis.key(&format!("bus:{topic}"))
    }

    fn task(&self) -> &mpsc::UnboundedSender<Subscribe> {
        self.inner.task.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = Task {
                redis: self.redis.clone(),
                inner: Arc::downgrade(&self.inner),
                channels: HashMap::new(),
            };
            tokio::spawn(task.run(rx));
            tx
        })
    }
}

#[async_trait::async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, topic: &str, message: Bytes) -> Result<(), Error> {
        let channel = self.channel(topic);
        self.redis
            .run(async |conn| {
                redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(&message[..])
                    .query_async::<i64>(conn)
                    .await
            })
            .await
            .map(drop)
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, Error> {
        let (subscriber, subscription) = Subscriber::pair();
        let (done, subscribed) = oneshot::channel();
        let gone = || Error::Unavailable("the Redis bus stopped".to_owned());
        self.task()
            .send(Subscribe {
                channel: self.channel(topic),
                subscriber,
                done,
            })
            .map_err(|_| gone())?;
        subscribed.await.map_err(|_| gone())??;
        Ok(subscription)
    }

    async fn ready(&self) -> Result<(), Error> {
        let started = self.inner.task.get().is_some();
        if started && !self.inner.connected.load(Ordering::Relaxed) {
            return Err(Error::Unavailable(
                "the Redis bus is not connected".to_owned(),
            ));
        }
        self.redis.ping().await
    }
}

/// The subscriber connection's owner.
struct Task {
    redis: Redis,
    inner: std::sync::Weak<Inner>,
    channels: HashMap<String, Vec<Subscriber>>,
}

impl Task {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Subscribe>) {
        let mut broken = false;
        loop {
            let Some((mut sink, mut stream)) = self.connect().await else {
                // Down: subscriptions asked for now fail, and the next
                // attempt waits a moment.
                let retry = tokio::time::sleep(RECONNECT);
                tokio::pin!(retry);
                loop {
                    tokio::select! {
                        () = &mut retry => break,
                        command = commands.recv() => match command {
                            Some(c) => {
                                let _ = c.done.send(Err(Error::Unavailable(
                                    "Redis is unreachable".to_owned(),
                                )));
                            }
                            None => return,
                        },
                    }
                }
                continue;
            };
            self.set_connected(true);
            if broken {
                // Subscribed again: whatever was published since the
                // connection broke is lost, and each subscription hears
                // so now, when reading the stores again catches it all.
                for subscribers in self.channels.values_mut() {
                    for s in subscribers.iter_mut() {
                        s.gap();
                    }
                }
            }
            let mut sweep = tokio::time::interval(SWEEP);
            sweep.reset();
            loop {
                tokio::select! {
                    command = commands.recv() => {
                        let Some(command) = command else { return };
                        if !self.add(&mut sink, command).await {
                            break;
                        }
                    }
                    message = next(&mut stream) => {
                        let Some(message) = message else { break };
                        self.dispatch(message.get_channel_name(), message.get_payload_bytes());
                    }
                    _ = sweep.tick() => self.sweep(&mut sink).await,
                }
            }
            self.set_connected(false);
            broken = true;
        }
    }

    fn set_connected(&self, up: bool) {
        if let Some(inner) = self.inner.upgrade() {
            inner.connected.store(up, Ordering::Relaxed);
        }
    }

    /// A subscriber connection, subscribed to every channel that still
    /// has subscriptions.
    async fn connect(&mut self) -> Option<(PubSubSink, PubSubStream)> {
        let timeout = self.redis.timeout();
        let made = tokio::time::timeout(timeout, self.redis.client().get_async_pubsub()).await;
        let (mut sink, stream) = match made {
            Ok(Ok(pubsub)) => pubsub.split(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e.category(), "Redis bus: connecting failed");
                return None;
            }
            Err(_) => {
                tracing::warn!("Redis bus: connecting timed out");
                return None;
            }
        };
        self.channels.retain(|_, subs| {
            subs.retain(|s| !s.is_closed());
            !subs.is_empty()
        });
        let channels: Vec<&String> = self.channels.keys().collect();
        if !channels.is_empty()
            && !matches!(
                tokio::time::timeout(timeout, sink.subscribe(channels)).await,
                Ok(Ok(()))
            )
        {
            return None;
        }
        Some((sink, stream))
    }

    /// Subscribes `command`'s channel unless it already is; `false` when
    /// the connection failed.
    async fn add(&mut self, sink: &mut PubSubSink, command: Subscribe) -> bool {
        let Subscribe {
            channel,
            subscriber,
            done,
        } = command;
        if let Some(subscribers) = self.channels.get_mut(&channel) {
            subscribers.push(subscriber);
            let _ = done.send(Ok(()));
            return true;
        }
        let timeout = self.redis.timeout();
        match tokio::time::timeout(timeout, sink.subscribe(&channel)).await {
            Ok(Ok(())) => {
                self.channels.insert(channel, vec![subscriber]);
                let _ = done.send(Ok(()));
                true
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => format!("Redis: {}", e.category()),
                    _ => "Redis: subscribing timed out".to_owned(),
                };
                let _ = done.send(Err(Error::Unavailable(why)));
                false
            }
        }
    }

    fn dispatch(&mut self, channel: &str, payload: &[u8]) {
        if let Some(subscribers) = self.channels.get_mut(channel) {
            let payload = Bytes::copy_from_slice(payload);
            subscribers.retain_mut(|s| s.deliver(payload.clone()));
        }
    }

    /// Unsubscribes channels whose subscriptions were all dropped.
    async fn sweep(&mut self, sink: &mut PubSubSink) {
        let mut unused = Vec::new();
        self.channels.retain(|channel, subs| {
            subs.retain(|s| !s.is_closed());
            if subs.is_empty() {
                unused.push(channel.clone());
            }
            !subs.is_empty()
        });
        if !unused.is_empty() {
            // A failure here shows as a broken stream soon enough.
            let _ = tokio::time::timeout(self.redis.timeout(), sink.unsubscribe(unused)).await;
        }
    }
}

/// The next message of `stream`; `None` once its connection is gone.
async fn next(stream: &mut PubSubStream) -> Option<redis::Msg> {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}
