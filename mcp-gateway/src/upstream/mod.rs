//! One server behind the gateway: its connection (kept up by a supervisor
//! task that restarts it with backoff), what it offers (its catalog), its
//! circuit breaker, its concurrency limit, and the calls in flight on it.

mod breaker;
pub(crate) mod caller;
mod connect;
mod delegated;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use mcp_client::{CallOptions, Client, Era, ServerNotification, Subscription};
use mcp_core::Tool;
use mcp_core::logging::LoggingLevel;
use mcp_core::prompts::Prompt;
use mcp_core::resources::{Resource, ResourceTemplate};
use mcp_core::subscriptions::SubscriptionFilter;
use mcp_server::clock::Clock;
use mcp_server::limit::{Quota, RateLimitStore, Spend, Tat, gcra};
use mcp_server::secrets::Secrets;
use tokio::sync::{Semaphore, broadcast};
use tokio_stream::StreamExt;

use breaker::Breaker;
pub use breaker::CircuitState;
use caller::{Caller, Callers, Relay};

use crate::config::{UpstreamConfig, UpstreamOAuth};

/// First wait before reconnecting; doubled on each failure.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
/// Longest wait between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a connection must last for the backoff to start over.
const STABLE: Duration = Duration::from_secs(30);
/// Most resource subscriptions the gateway holds on one upstream.
const MAX_SUBSCRIPTIONS: usize = 1024;
/// Least time between two readings of an upstream's lists.
const REFRESH_EVERY: Duration = Duration::from_millis(500);
/// Progress and log messages queued for one caller; more are dropped.
const NEWS_QUEUE: usize = 16;
/// Most entries of each kind kept from one upstream.
const MAX_ENTRIES: usize = 10_000;
/// Most pages read of one upstream list.
const MAX_PAGES: usize = 100;

/// What one upstream offers, as it names things.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) tools: Vec<Tool>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
    pub(crate) instructions: Option<String>,
    pub(crate) completions: bool,
    pub(crate) subscribe: bool,
}

/// What an upstream tells the gateway.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Its catalog was (re)read.
    Catalog,
    /// A resource it serves changed (its own URI).
    ResourceUpdated { upstream: String, uri: String },
}

/// An upstream's state, for readiness and metrics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamStatus {
    /// Its name.
    pub name: String,
    /// Whether a connection is up.
    pub connected: bool,
    /// Its circuit breaker.
    pub circuit: CircuitState,
    /// How many times it was (re)connected.
    pub connects: u64,
    /// The protocol version it speaks, once connected.
    pub protocol_version: Option<String>,
    /// Calls it answered (a JSON-RPC error is an answer).
    pub answered: u64,
    /// Calls that got no answer: timeouts, lost connections, HTTP 5xx.
    pub failed: u64,
    /// Calls refused without trying: not connected, or the circuit open.
    pub refused: u64,
    /// Connections open on behalf of callers (token exchange upstreams).
    pub callers: usize,
    /// Sign-ins on behalf of callers that the upstream or its
    /// authorization server refused.
    pub sign_in_failures: u64,
    /// Resource subscriptions held on it, one per URI however many
    /// clients of the gateway subscribed to it.
    pub subscriptions: usize,
}

#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) config: UpstreamConfig,
    client: RwLock<Option<Client>>,
    catalog: RwLock<Arc<Catalog>>,
    breaker: Breaker,
    limit: Semaphore,
    /// `max_rate`, and its GCRA state when kept in this process.
    rate: Option<(Quota, Mutex<Option<Tat>>)>,
    /// Where `max_rate` is kept instead when the gateway shares it with
    /// the other instances of a pool.
    rates: Rates,
    /// The secrets its configuration names, for connections made later.
    secrets: Secrets,
    /// Connections made on behalf of callers (token exchange).
    delegated: delegated::Delegated,
    clock: Arc<dyn Clock>,
    callers: Arc<Callers>,
    /// The resource subscriptions held on the upstream, each for as many
    /// of the gateway's own as ask for it.
    subscriptions: Mutex<HashMap<String, Held>>,
    /// Held while a subscription is made or let go on the upstream.
    subscribing: tokio::sync::Mutex<()>,
    /// This upstream and those reloads restart it as: which of them
    /// counts its subscriptions now. Releases that reach a replaced one
    /// go on to the current one.
    lineage: Arc<Lineage>,
    connects: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Closes callers' idle connections (token exchange upstreams).
    sweeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for task in [&mut self.supervisor, &mut self.sweeper] {
            if let Some(task) = task
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                task.abort();
            }
        }
    }
}

/// Where upstreams keep their `max_rate` buckets when a pool shares
/// them: set once, read by every upstream, those started by a reload too.
pub(crate) type Rates = Arc<std::sync::OnceLock<Arc<dyn RateLimitStore>>>;

/// Why a call through an upstream did not get an answer from it.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The upstream answered with a JSON-RPC error.
    Remote(mcp_core::ErrorObject),
    /// The downstream client must answer a question first (2026-07-28).
    InputRequired,
    /// Over the upstream's `max_rate`: the error says when to retry.
    Limited(mcp_core::ErrorObject),
    /// The upstream is down, timed out or broke the protocol: said in
    /// words, for the caller.
    Unavailable(String),
}

impl Upstream {
    /// Starts an upstream: its supervisor connects (and reconnects) in the
    /// background, reporting on `changes`. `carried` are the subscriptions
    /// of the upstream it replaces, made on its first connection.
    pub(crate) fn start(
        config: UpstreamConfig,
        secrets: Secrets,
        clock: Arc<dyn Clock>,
        rates: Rates,
        changes: broadcast::Sender<Change>,
        carried: Carried,
    ) -> Arc<Self> {
        let rate = config.max_rate.as_ref().and_then(|r| {
            let per = crate::serve::period(&r.per)?;
            Some((Quota::new(r.count, per), Mutex::new(None)))
        });
        let lineage = carried.lineage.unwrap_or_default();
        let upstream = Arc::new(Self {
            breaker: Breaker::new(
                config.failure_threshold,
                config.open_for(),
                Arc::clone(&clock),
            ),
            limit: Semaphore::new(config.max_concurrent),
            rate,
            rates,
            secrets: secrets.clone(),
            delegated: delegated::Delegated::default(),
            clock,
            config,
            client: RwLock::new(None),
            catalog: RwLock::default(),
            callers: Arc::default(),
            // Counted before the supervisor runs, so that its first
            // connection makes them.
            subscriptions: Mutex::new(
                carried
                    .counts
                    .into_iter()
                    .map(|(uri, count)| (uri, Held::unmade(count)))
                    .collect(),
            ),
            subscribing: tokio::sync::Mutex::new(()),
            lineage: Arc::clone(&lineage),
            connects: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            supervisor: Mutex::new(None),
            sweeper: Mutex::new(None),
        });
        *lineage
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(&upstream);
        if matches!(
            upstream.config.oauth,
            Some(UpstreamOAuth::TokenExchange { .. })
        ) {
            let weak = Arc::downgrade(&upstream);
            let sweeper = tokio::spawn(async move {
                let mut tick = tokio::time::interval(delegated::IDLE / 10);
                loop {
                    tick.tick().await;
                    let Some(upstream) = weak.upgrade() else {
                        return;
                    };
                    upstream.delegated.sweep();
                }
            });
            *upstream
                .sweeper
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(sweeper);
        }
        let task = tokio::spawn(supervise(Arc::downgrade(&upstream), secrets, changes));
        *upstream
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
        upstream
    }

    pub(crate) fn name(&self) -> &str {
        self.config.name()
    }

    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn client(&self) -> Option<Client> {
        self.client
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn status(&self) -> UpstreamStatus {
        let client = self.client().filter(|c| !c.is_closed());
        UpstreamStatus {
            name: self.name().to_owned(),
            connected: client.is_some(),
            circuit: self.breaker.state(),
            connects: self.connects.load(Ordering::Relaxed),
            protocol_version: client.map(|c| c.protocol_version().as_str().to_owned()),
            answered: self.answered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            callers: self.delegated.len(),
            sign_in_failures: self.delegated.failures(),
            subscriptions: self.lock_subscriptions().len(),
        }
    }

    /// Runs `call` on the upstream for `ctx`'s request: through the
    /// breaker and the concurrency limit, with the caller registered for
    /// the upstream's questions and its progress forwarded.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        ctx: &mcp_server::RequestContext,
        call: F,
    ) -> Result<T, CallError>
    where
        F: FnOnce(Client, CallOptions) -> Fut,
        Fut: Future<Output = Result<T, mcp_client::Error>>,
    {
        let name = self.name();
        let Some(client) = self.client().filter(|c| !c.is_closed()) else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(CallError::Unavailable(format!(
                "upstream {name} is not connected (it is being restarted)"
            )));
        };
        // Whom the call is made for, before anything is spent on it.
        let on_behalf = match self.config.oauth {
            Some(UpstreamOAuth::TokenExchange { .. }) => {
                let Some(caller) = delegated::caller_token(ctx) else {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(CallError::Unavailable(format!(
                        "upstream {name} is called on behalf of its callers: it needs the caller's OAuth access token"
                    )));
                };
                // Refused for now, before anything is spent on it.
                if self.delegated.failed_recently(&delegated::key(caller.0)) {
                    return Err(self.refuse_sign_in(name));
                }
                Some(caller)
            }
            _ => None,
        };
        self.spend(ctx).await?;
        // Signing in for the caller and waiting for a slot count against
        // the call's time: a hung upstream makes its callers fail, not
        // queue without end.
        let timeout = self.config.timeout();
        let deadline = tokio::time::Instant::now() + timeout;
        // The caller's own connection, if the call is made for it: what
        // the upstream asks or logs there reaches this caller only. Made
        // before a slot is taken, so that a slow sign-in holds none, and
        // not while the upstream is failing.
        let delegated = match on_behalf {
            Some((token, issuer)) => {
                if self.breaker.state() != CircuitState::Closed {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(CallError::Unavailable(format!(
                        "upstream {name} is failing; the gateway tries it again soon"
                    )));
                }
                Some(self.on_behalf(token, issuer, deadline).await?)
            }
            None => None,
        };
        let _slot = match tokio::time::timeout_at(deadline, self.limit.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => {
                return Err(CallError::Unavailable(format!(
                    "upstream {name} was removed"
                )));
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(CallError::Unavailable(format!(
                    "upstream {name} is busy: no call slot within {} s",
                    timeout.as_secs()
                )));
            }
        };
        // Admitted only with a slot in hand, so a half-open probe goes
        // out at once.
        let permit = self.breaker.admit().map_err(|wait| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            CallError::Unavailable(format!(
                "upstream {name} is failing; the gateway tries it again in {} s",
                wait.as_secs().max(1)
            ))
        })?;
        let (client, callers, _busy) = match delegated {
            Some(busy) => {
                let entry = busy.entry();
                (entry.client.clone(), Arc::clone(&entry.callers), Some(busy))
            }
            None => (client, Arc::clone(&self.callers), None),
        };
        let (news_tx, mut news) = tokio::sync::mpsc::channel(NEWS_QUEUE);
        let caller = Caller::new(ctx.clone(), news_tx.clone());
        let _entered = callers.enter(&caller);
        let mut options = CallOptions::default();
        if ctx.wants_progress() {
            options = options.on_progress(move |p| {
                // A slow client loses progress, never the call.
                let _ = news_tx.try_send(News::Progress(p));
            });
        } else {
            drop(news_tx);
        }
        let outcome = {
            let forward = async {
                while let Some(item) = news.recv().await {
                    item.tell(ctx).await;
                }
                // Then wait for the call to end: this branch never wins.
                std::future::pending::<std::convert::Infallible>().await
            };
            tokio::select! {
                biased;
                outcome = caller.scope(call(client, options)) => Some(outcome),
                () = caller.stopped() => None,
                never = forward => match never {},
            }
        };
        let Some(outcome) = outcome else {
            drop(permit);
            return Err(CallError::InputRequired);
        };
        // What the upstream sent before its answer goes out before it.
        while let Ok(item) = news.try_recv() {
            item.tell(ctx).await;
        }
        if caller.input_required() {
            drop(permit);
            return Err(CallError::InputRequired);
        }
        match outcome {
            Ok(value) => {
                permit.success();
                self.answered.fetch_add(1, Ordering::Relaxed);
                Ok(value)
            }
            Err(mcp_client::Error::Remote(error)) => {
                permit.success();
                self.answered.fetch_add(1, Ordering::Relaxed);
                Err(CallError::Remote(error))
            }
            Err(e) => {
                let down = matches!(
                    e,
                    mcp_client::Error::Timeout { .. }
                        | mcp_client::Error::Closed
                        | mcp_client::Error::Transport(_)
                ) || matches!(e, mcp_client::Error::Http { status, .. } if status >= 500);
                if down {
                    permit.failure();
                } else {
                    permit.success();
                }
                self.failed.fetch_add(1, Ordering::Relaxed);
                // The details (an HTTP body, challenges) are the gateway's
                // business: logged here, not handed to the caller.
                tracing::warn!(upstream = name, error = %e, "upstream call failed");
                let what = match &e {
                    mcp_client::Error::Timeout { .. } => "did not answer in time".to_owned(),
                    mcp_client::Error::Closed => "connection lost".to_owned(),
                    mcp_client::Error::Http { status, .. } => {
                        format!("refused the call (HTTP {status})")
                    }
                    _ => "failed".to_owned(),
                };
                Err(CallError::Unavailable(format!("upstream {name}: {what}")))
            }
        }
    }

    /// Takes one call from the upstream's `max_rate`, if it has one: from
    /// the pool's shared store when there is one, else from this process.
    async fn spend(&self, ctx: &mcp_server::RequestContext) -> Result<(), CallError> {
        let Some((quota, state)) = &self.rate else {
            return Ok(());
        };
        let decision = if let Some(store) = self.rates.get() {
            let key = format!("gateway-upstream:{}", self.name());
            match store
                .spend(&[Spend::new(&key, *quota, 1)], self.clock.now())
                .await
            {
                Ok(decisions) => match decisions.first() {
                    Some(decision) if decision.allowed => return Ok(()),
                    Some(decision) => *decision,
                    // No decision is no permission.
                    None => {
                        self.refused.fetch_add(1, Ordering::Relaxed);
                        return Err(CallError::Unavailable(format!(
                            "upstream {}: its rate limit cannot be checked right now",
                            self.name()
                        )));
                    }
                },
                // Never let through unchecked.
                Err(e) => {
                    tracing::warn!(upstream = self.name(), error = %e, "rate limit store unavailable");
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(CallError::Unavailable(format!(
                        "upstream {}: its rate limit cannot be checked right now",
                        self.name()
                    )));
                }
            }
        } else {
            let mut tat = state.lock().unwrap_or_else(PoisonError::into_inner);
            let (decision, next) = gcra(*tat, self.clock.now(), *quota, 1);
            if decision.allowed {
                *tat = next;
                return Ok(());
            }
            decision
        };
        let policy = format!("upstream {}", self.name());
        self.refused.fetch_add(1, Ordering::Relaxed);
        mcp_server::security_event::refused(
            mcp_core::security::SecurityEvent::RateLimited,
            ctx.extensions(),
            &format!("{policy}: over its max_rate"),
        );
        Err(CallError::Limited(mcp_core::ErrorObject::rate_limited(
            &policy,
            decision.retry_after,
        )))
    }

    /// Holds a subscription to `uri` on the upstream for one more of the
    /// gateway's own, subscribing when it is the first.
    ///
    /// The work runs on a task of its own: a caller cancelled while the
    /// upstream is subscribing must not leave the upstream holding a
    /// subscription nothing counts. When the caller is gone by the time
    /// it is done, the subscription is released again at once.
    pub(crate) async fn subscribe(self: &Arc<Self>, uri: &str) -> Result<(), CallError> {
        let client = self.connected()?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        let this = Arc::clone(self);
        let task_uri = uri.to_owned();
        tokio::spawn(async move {
            let result = this.count_in(&client, &task_uri, &done).await;
            let counted = result.is_ok();
            if done.send(result).is_err() && counted {
                this.release(&task_uri);
            }
        });
        let mut waiting = Waiting {
            outcome,
            upstream: self,
            uri,
        };
        (&mut waiting.outcome).await.unwrap_or_else(|_| {
            Err(CallError::Unavailable(format!(
                "upstream {}: subscribing was interrupted",
                self.name()
            )))
        })
    }

    /// [`subscribe`](Self::subscribe)'s work, in order with the others;
    /// nothing when its caller is gone (`done` closed) by its turn.
    async fn count_in(
        &self,
        client: &Client,
        uri: &str,
        done: &tokio::sync::oneshot::Sender<Result<(), CallError>>,
    ) -> Result<(), CallError> {
        let name = self.name();
        let replaced = || {
            CallError::Unavailable(format!(
                "upstream {name} was replaced by a reload meanwhile; subscribe again"
            ))
        };
        // Subscribes and unsubscribes reach the upstream one at a time and
        // in order, so a late unsubscribe never undoes a newer subscribe.
        let _order = self.subscribing.lock().await;
        if done.is_closed() {
            return Err(CallError::Unavailable("the caller is gone".into()));
        }
        {
            let mut subs = self.lock_subscriptions();
            if self.replaced() {
                return Err(replaced());
            }
            let full = subs.len() >= MAX_SUBSCRIPTIONS;
            match subs.get_mut(uri) {
                // Held on this connection: one more counts in.
                Some(held) if held.made => {
                    held.count = held.count.saturating_add(1);
                    return Ok(());
                }
                // Counted, but not made on this connection (carried over,
                // or renewing it failed): made now, or refused as the
                // upstream refuses it.
                Some(_) => {}
                None if full => {
                    return Err(CallError::Unavailable(format!(
                        "upstream {name}: the gateway holds {MAX_SUBSCRIPTIONS} subscriptions already"
                    )));
                }
                None => {}
            }
        }
        let stream = hold(client, uri).await.map_err(|e| match e {
            mcp_client::Error::Remote(error) => CallError::Remote(error),
            other => CallError::Unavailable(format!("upstream {name}: {other}")),
        })?;
        let mut subs = self.lock_subscriptions();
        // Replaced while subscribing: the new upstream has its own
        // connection, and this one's subscription ends with this one's.
        if self.replaced() {
            return Err(replaced());
        }
        let held = subs
            .entry(uri.to_owned())
            .or_insert_with(|| Held::unmade(0));
        held.count = held.count.saturating_add(1);
        held.stream = stream;
        held.made = true;
        Ok(())
    }

    /// Whether a reload replaced this upstream: its lineage's current one
    /// is another. Read under the `subscriptions` lock, which a
    /// replacement holds while it hands them over.
    fn replaced(&self) -> bool {
        !std::ptr::eq(self.lineage.current_ptr(), self)
    }

    /// Its lineage: what the gateway records its subscriptions against.
    pub(crate) fn lineage(&self) -> &Arc<Lineage> {
        &self.lineage
    }

    /// One of the gateway's subscriptions to `uri` ended; the upstream's
    /// is let go with the last. A URI not held is ignored.
    pub(crate) fn release(self: &Arc<Self>, uri: &str) {
        let released = {
            let mut subs = self.lock_subscriptions();
            if self.replaced() {
                drop(subs);
                // None when the lineage's upstream was removed since: its
                // subscriptions ended with it.
                if let Some(current) = self.lineage.current() {
                    current.release(uri);
                }
                return;
            }
            let Some(held) = subs.get_mut(uri) else {
                return;
            };
            held.count = held.count.saturating_sub(1);
            if held.count > 0 {
                return;
            }
            subs.remove(uri)
        };
        // A 2026-07-28 upstream's stream closes as its handle drops; a
        // legacy upstream is told, unless it was subscribed again since.
        let Some(Held {
            stream: None,
            made: true,
            ..
        }) = released
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(upstream = self.name(), uri, "no runtime to unsubscribe on");
            return;
        };
        let this = Arc::clone(self);
        let uri = uri.to_owned();
        runtime.spawn(async move {
            let _order = this.subscribing.lock().await;
            if this.lock_subscriptions().contains_key(&uri) {
                return;
            }
            if let Ok(client) = this.connected()
                && client.server().era == Era::Legacy
                && let Err(e) = client.unsubscribe_resource(&uri).await
            {
                tracing::debug!(upstream = this.name(), uri, error = ?e, "unsubscribe failed");
            }
        });
    }

    /// Replaces this upstream (on a reload) with the one `start` makes
    /// from the subscriptions held here, counts and all: the gateway's
    /// clients keep theirs, and their releases count against the new one,
    /// also those that still reach this one. Done under the subscriptions'
    /// lock, so no subscription or release falls between the two. (Those
    /// held on the upstream here end with its streams and connection.)
    pub(crate) fn replace_with(&self, start: impl FnOnce(Carried) -> Arc<Self>) -> Arc<Self> {
        let mut subs = self.lock_subscriptions();
        let carried = Carried {
            lineage: Some(Arc::clone(&self.lineage)),
            counts: subs.drain().map(|(uri, held)| (uri, held.count)).collect(),
        };
        // Makes the new upstream its lineage's current one.
        start(carried)
    }

    /// Makes the subscriptions held again on a new connection, keeping
    /// their counts: one that fails stays counted but unmade, to be made by
    /// the next subscribe to it or on the next connection.
    async fn renew(&self, client: &Client) {
        let uris: Vec<String> = {
            let mut subs = self.lock_subscriptions();
            // The old connection's are gone with it.
            for held in subs.values_mut() {
                held.made = false;
            }
            subs.keys().cloned().collect()
        };
        for uri in uris {
            let _order = self.subscribing.lock().await;
            if !self.lock_subscriptions().contains_key(&uri) {
                continue; // let go meanwhile
            }
            match hold(client, &uri).await {
                Ok(stream) => {
                    if let Some(held) = self.lock_subscriptions().get_mut(&uri) {
                        held.stream = stream;
                        held.made = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(upstream = self.name(), uri, error = ?e, "subscription not renewed");
                }
            }
        }
    }

    /// The connection, when up.
    fn connected(&self) -> Result<Client, CallError> {
        self.client().filter(|c| !c.is_closed()).ok_or_else(|| {
            CallError::Unavailable(format!("upstream {} is not connected", self.name()))
        })
    }

    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the upstream says about one call while it runs.
#[derive(Debug)]
pub(crate) enum News {
    Progress(mcp_core::notifications::ProgressParams),
    Log(mcp_core::logging::LoggingMessageParams),
}

impl News {
    /// Passes it on to the call's client.
    async fn tell(self, ctx: &mcp_server::RequestContext) {
        let _ = match self {
            Self::Progress(p) => {
                ctx.progress(p.progress, p.total, p.message.as_deref())
                    .await
            }
            Self::Log(log) => ctx.log(log.level, log.data).await,
        };
    }
}

/// Keeps `upstream` connected while it exists: connect, read its catalog,
/// follow its notifications until the connection is lost, wait, again.
async fn supervise(upstream: Weak<Upstream>, secrets: Secrets, changes: broadcast::Sender<Change>) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let Some(this) = upstream.upgrade() else {
            return;
        };
        let relay = Relay {
            upstream: this.name().to_owned(),
            callers: Arc::clone(&this.callers),
        };
        let config = this.config.clone();
        drop(this);
        match connect::connect(&config, &secrets, relay, None).await {
            Ok(client) => {
                let Some(this) = upstream.upgrade() else {
                    let _ = client.close().await;
                    return;
                };
                let connected_at = tokio::time::Instant::now();
                this.connects.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    upstream = this.name(),
                    version = %client.protocol_version(),
                    "upstream connected"
                );
                let notifications = client.notifications();
                let _listening = follow_lists(&client).await;
                if client.server().capabilities.logging.is_some() {
                    let _ = client.set_log_level(LoggingLevel::Debug).await;
                }
                this.refresh(&client).await;
                *this.client.write().unwrap_or_else(PoisonError::into_inner) = Some(client.clone());
                this.breaker.reset();
                let _ = changes.send(Change::Catalog);
                // Subscriptions were the old connection's.
                this.renew(&client).await;
                drop(this);
                follow(&upstream, &client, notifications, &changes).await;
                if let Some(this) = upstream.upgrade() {
                    tracing::warn!(
                        upstream = this.name(),
                        "upstream connection lost; restarting"
                    );
                    this.breaker.trip();
                    *this.client.write().unwrap_or_else(PoisonError::into_inner) = None;
                }
                let _ = client.close().await;
                // Only a connection that stayed up earns a quick restart: one
                // that fails at once backs off like a failed connect.
                if connected_at.elapsed() >= STABLE {
                    backoff = BACKOFF_FIRST;
                }
            }
            Err(e) => {
                tracing::warn!(upstream = config.name(), error = %e, "cannot connect to upstream");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Subscribes to `uri` on `client`: a 2026-07-28 upstream's stream, or
/// `None` for a legacy upstream's subscription.
async fn hold(client: &Client, uri: &str) -> Result<Option<Subscription>, mcp_client::Error> {
    if client.server().era == Era::Legacy {
        return client.subscribe_resource(uri).await.map(|()| None);
    }
    let stream = client
        .listen(SubscriptionFilter::default().with_resource_subscriptions(vec![uri.to_owned()]))
        .await?;
    // A 2026-07-28 server acknowledges the subscriptions it took; one it
    // left out is refused, and its stream would carry nothing for it.
    let taken = stream
        .honoured()
        .resource_subscriptions
        .as_ref()
        .is_some_and(|uris| uris.iter().any(|u| u == uri));
    if taken {
        Ok(Some(stream))
    } else {
        Err(mcp_client::Error::Remote(
            mcp_core::ErrorObject::invalid_params(format!(
                "the upstream does not take a subscription to {uri}"
            )),
        ))
    }
}

/// A caller of [`Upstream::subscribe`] waiting for its outcome. Dropped
/// before taking it (the caller was cancelled), it closes the channel, so
/// that the task releases what it counts from then on, and releases what
/// the task had already handed over untaken.
struct Waiting<'a> {
    outcome: tokio::sync::oneshot::Receiver<Result<(), CallError>>,
    upstream: &'a Arc<Upstream>,
    uri: &'a str,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.outcome.close();
        if let Ok(Ok(())) = self.outcome.try_recv() {
            self.upstream.release(self.uri);
        }
    }
}

/// What an upstream hands over to the one replacing it: its lineage and
/// its subscriptions (URI and count). The default starts a new lineage.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    lineage: Option<Arc<Lineage>>,
    counts: Vec<(String, usize)>,
}

/// An upstream as configured under one name, across the restarts reloads
/// make of it (a name removed and added again starts a new one): which of
/// them is in force, if any.
#[derive(Debug, Default)]
pub(crate) struct Lineage {
    current: RwLock<Weak<Upstream>>,
}

impl Lineage {
    /// The upstream in force; `None` once it was removed.
    pub(crate) fn current(&self) -> Option<Arc<Upstream>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade()
    }

    fn current_ptr(&self) -> *const Upstream {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ptr()
    }
}

/// A resource subscription held on an upstream.
#[derive(Debug)]
struct Held {
    /// How many of the gateway's own subscriptions (legacy sessions,
    /// subscription streams) it serves.
    count: usize,
    /// A 2026-07-28 upstream's stream for it; `None` on a legacy one.
    stream: Option<Subscription>,
    /// Whether it is made on the current connection.
    made: bool,
}

impl Held {
    /// Counted, not (yet) made on the upstream.
    fn unmade(count: usize) -> Self {
        Self {
            count,
            stream: None,
            made: false,
        }
    }
}

/// A 2026-07-28 upstream announces list changes only to a subscription.
async fn follow_lists(client: &Client) -> Option<Subscription> {
    if client.server().era == Era::Legacy {
        return None;
    }
    let filter = SubscriptionFilter::default()
        .with_tools_list_changed(true)
        .with_prompts_list_changed(true)
        .with_resources_list_changed(true);
    client.listen(filter).await.ok()
}

/// Follows the upstream's notifications until its connection ends.
async fn follow(
    upstream: &Weak<Upstream>,
    client: &Client,
    mut notifications: mcp_client::Notifications,
    changes: &broadcast::Sender<Change>,
) {
    // List changes are coalesced: at most one re-listing per
    // REFRESH_EVERY, however many the upstream announces.
    let mut stale = false;
    let mut next_refresh = tokio::time::Instant::now();
    loop {
        let notification = tokio::select! {
            n = notifications.next() => n,
            () = client.closed() => return,
            () = tokio::time::sleep_until(next_refresh), if stale => {
                let Some(this) = upstream.upgrade() else { return };
                stale = false;
                this.refresh(client).await;
                next_refresh = tokio::time::Instant::now() + REFRESH_EVERY;
                let _ = changes.send(Change::Catalog);
                continue;
            }
        };
        let Some(this) = upstream.upgrade() else {
            return;
        };
        match notification {
            Some(
                ServerNotification::ToolListChanged
                | ServerNotification::PromptListChanged
                | ServerNotification::ResourceListChanged,
            ) => stale = true,
            Some(ServerNotification::ResourceUpdated { uri }) => {
                let _ = changes.send(Change::ResourceUpdated {
                    upstream: this.name().to_owned(),
                    uri,
                });
            }
            // Log messages were handed to their call as they arrived
            // (`Relay::on_log`).
            Some(_) => {}
            None => return,
        }
    }
}

impl Upstream {
    /// Reads the upstream's lists again.
    async fn refresh(&self, client: &Client) {
        let server = client.server();
        let caps = &server.capabilities;
        let mut catalog = Catalog {
            instructions: server.instructions.clone(),
            completions: caps.completions.is_some(),
            subscribe: caps
                .resources
                .as_ref()
                .is_some_and(|r| r.subscribe == Some(true)),
            ..Catalog::default()
        };
        let name = self.name();
        // A list that cannot be read now keeps what was read before: a
        // passing failure does not empty it for every client.
        let previous = self.catalog();
        let warn = |what: &str, e: &mcp_client::Error| {
            tracing::warn!(upstream = name, what, error = %e, "cannot list; the previous list stays");
        };
        if caps.tools.is_some() {
            match upto(
                |c| async move { client.list_tools(c).await.map(|r| (r.tools, r.next_cursor)) },
            )
            .await
            {
                Ok(tools) => catalog.tools = tools,
                Err(e) => {
                    warn("tools", &e);
                    catalog.tools.clone_from(&previous.tools);
                }
            }
        }
        if caps.prompts.is_some() {
            match upto(|c| async move {
                client
                    .list_prompts(c)
                    .await
                    .map(|r| (r.prompts, r.next_cursor))
            })
            .await
            {
                Ok(prompts) => catalog.prompts = prompts,
                Err(e) => {
                    warn("prompts", &e);
                    catalog.prompts.clone_from(&previous.prompts);
                }
            }
        }
        if caps.resources.is_some() {
            match upto(|c| async move {
                client
                    .list_resources(c)
                    .await
                    .map(|r| (r.resources, r.next_cursor))
            })
            .await
            {
                Ok(resources) => catalog.resources = resources,
                Err(e) => {
                    warn("resources", &e);
                    catalog.resources.clone_from(&previous.resources);
                }
            }
            match upto(|c| async move {
                client
                    .list_resource_templates(c)
                    .await
                    .map(|r| (r.resource_templates, r.next_cursor))
            })
            .await
            {
                Ok(templates) => catalog.templates = templates,
                Err(e) => {
                    warn("resource templates", &e);
                    catalog.templates.clone_from(&previous.templates);
                }
            }
        }
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
    }
}

/// Pages of a list from `next` until it ends or holds [`MAX_ENTRIES`]
/// (the rest is left out, with a warning), or [`MAX_PAGES`] were read: an
/// upstream cannot make the gateway hold an endless list.
async fn upto<T, F, Fut>(mut next: F) -> Result<Vec<T>, mcp_client::Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), mcp_client::Error>>,
{
    let mut all = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let (page, more) = next(cursor).await?;
        all.extend(page);
        if all.len() >= MAX_ENTRIES {
            tracing::warn!("an upstream list was cut at {MAX_ENTRIES} entries");
            all.truncate(MAX_ENTRIES);
            break;
        }
        match more {
            Some(c) if !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    Ok(all)
}
