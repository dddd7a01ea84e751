//! Who an upstream's questions go to. A call through the gateway runs on
//! behalf of one downstream request; when the upstream asks for input
//! (elicitation, sampling, roots) during it, the question goes to that
//! request's client, in whichever era each side speaks:
//!
//! - a 2026-07-28 upstream returns its questions with the call's result,
//!   and the client answers them in the calling task: the caller is found
//!   in a task-local;
//! - a legacy upstream sends a request of its own, read on the
//!   connection's reader: the caller is the one call in flight on that
//!   connection. When several are, the question cannot be placed and is
//!   refused (never sent to a client that did not make the call).
//!
//! Either way the downstream context asks its client: a legacy client gets
//! a request; a 2026-07-28 client gets an input-required result, so the
//! call is stopped here ([`Caller::stopped`]) and made again on its retry,
//! when the context has the answer.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use mcp_client::ClientHandler;
use mcp_core::capabilities::{ElicitationCapability, RootsCapability, SamplingCapability};
use mcp_core::elicitation::{ElicitParams, ElicitResult};
use mcp_core::logging::LoggingMessageParams;
use mcp_core::roots::ListRootsResult;
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::{ClientCapabilities, ErrorObject};
use mcp_server::RequestContext;

tokio::task_local! {
    static CALLER: Arc<Caller>;
}

/// One downstream request being served through an upstream.
#[derive(Debug)]
pub(crate) struct Caller {
    pub(crate) ctx: RequestContext,
    /// Where the upstream's progress and log messages for the call go.
    news: tokio::sync::mpsc::Sender<super::News>,
    input_required: AtomicBool,
    stop: tokio::sync::Notify,
}

impl Caller {
    pub(crate) fn new(
        ctx: RequestContext,
        news: tokio::sync::mpsc::Sender<super::News>,
    ) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            news,
            input_required: AtomicBool::new(false),
            stop: tokio::sync::Notify::new(),
        })
    }

    /// Runs `call` as this caller's: questions asked in its task come here.
    pub(crate) fn scope<F: Future>(self: &Arc<Self>, call: F) -> impl Future<Output = F::Output> {
        CALLER.scope(Arc::clone(self), call)
    }

    /// Resolves when the downstream client must answer before the call
    /// can go on (a 2026-07-28 client): the call is abandoned.
    pub(crate) async fn stopped(&self) {
        self.stop.notified().await;
    }

    /// Whether the call ended because the client must answer first.
    pub(crate) fn input_required(&self) -> bool {
        self.input_required.load(Ordering::Acquire)
    }

    /// Asks the downstream client through `ask`, and turns its errors into
    /// the answer the upstream gets.
    async fn relay<T>(
        &self,
        ask: impl Future<Output = Result<T, mcp_server::Error>>,
    ) -> Result<T, ErrorObject> {
        match ask.await {
            Ok(answer) => Ok(answer),
            Err(mcp_server::Error::InputRequired) => {
                self.input_required.store(true, Ordering::Release);
                // A permit is kept if the call is not waiting yet.
                self.stop.notify_one();
                Err(ErrorObject::internal_error(
                    "the client answers on its retry; this call is abandoned",
                ))
            }
            Err(mcp_server::Error::Protocol(error)) => Err(error),
            Err(other) => Err(ErrorObject::internal_error(other.to_string())),
        }
    }
}

/// The calls in flight on one upstream connection.
#[derive(Debug, Default)]
pub(crate) struct Callers(Mutex<Vec<Arc<Caller>>>);

impl Callers {
    /// Registers `caller` until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>, caller: &Arc<Caller>) -> Entered {
        self.lock().push(Arc::clone(caller));
        Entered {
            callers: Arc::clone(self),
            caller: Arc::clone(caller),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Caller>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The only call in flight, if there is exactly one.
    pub(crate) fn sole(&self) -> Option<Arc<Caller>> {
        match self.lock().as_slice() {
            [only] => Some(Arc::clone(only)),
            _ => None,
        }
    }
}

/// Removes its caller from the registry when dropped.
#[derive(Debug)]
pub(crate) struct Entered {
    callers: Arc<Callers>,
    caller: Arc<Caller>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.callers
            .lock()
            .retain(|c| !Arc::ptr_eq(c, &self.caller));
    }
}

/// The gateway's client handler for one upstream: every question goes to
/// the downstream client whose call it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    pub(crate) upstream: String,
    pub(crate) callers: Arc<Callers>,
}

impl Relay {
    fn caller(&self, what: &str) -> Result<Arc<Caller>, ErrorObject> {
        if let Ok(caller) = CALLER.try_with(Arc::clone) {
            return Ok(caller);
        }
        self.callers.sole().ok_or_else(|| {
            tracing::warn!(
                upstream = %self.upstream,
                what,
                "a question from the upstream matches no single call in flight; refused"
            );
            ErrorObject::internal_error(format!(
                "{what}: the gateway cannot tell which of its clients this is for"
            ))
        })
    }
}

impl ClientHandler for Relay {
    /// Everything a client can offer: whether the caller offers it is
    /// checked when a question reaches it.
    fn capabilities(&self) -> ClientCapabilities {
        let mut caps = ClientCapabilities::default();
        let mut elicitation = ElicitationCapability::default();
        elicitation.form = Some(Default::default());
        elicitation.url = Some(Default::default());
        caps.elicitation = Some(elicitation);
        caps.sampling = Some(SamplingCapability::default());
        caps.roots = Some(RootsCapability::default());
        caps
    }

    async fn elicit(&self, params: ElicitParams) -> Result<ElicitResult, ErrorObject> {
        let caller = self.caller("elicitation/create")?;
        caller.relay(caller.ctx.elicit(params)).await
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> Result<CreateMessageResult, ErrorObject> {
        let caller = self.caller("sampling/createMessage")?;
        caller.relay(caller.ctx.sample(params)).await
    }

    async fn list_roots(&self) -> Result<ListRootsResult, ErrorObject> {
        let caller = self.caller("roots/list")?;
        caller.relay(caller.ctx.list_roots()).await
    }

    /// Runs on the connection's reader as the message arrives: the call in
    /// flight now is the one the upstream was serving when it sent it (its
    /// answer, read after, has not ended it yet). With none, or several,
    /// the message belongs to no one and is dropped.
    fn on_log(&self, log: &LoggingMessageParams) {
        match self.callers.sole() {
            Some(caller) => {
                let _ = caller.news.try_send(super::News::Log(log.clone()));
            }
            None => {
                tracing::debug!(upstream = %self.upstream, "log message for no single call dropped");
            }
        }
    }
}
