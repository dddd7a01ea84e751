//! The outbound side of a connection: messages to the client, and requests
//! the server sends to a legacy client, matched with their responses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mcp_core::jsonrpc::OutgoingRequest;
use mcp_core::method::{Method, Notification};
use mcp_core::transport::Outgoing;
use mcp_core::{ErrorObject, RequestId};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

type Reply = Result<Box<RawValue>, ErrorObject>;

/// Sends messages to the client. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Outbox {
    tx: Tx,
}

#[derive(Clone, Debug)]
enum Tx {
    /// A channel made up front.
    Open(mpsc::Sender<Outgoing>),
    /// One HTTP request's (or legacy POST's) messages: the first in a
    /// slot, a channel only for more.
    #[cfg(feature = "http")]
    Queue(super::answers::AnswerTx),
}

impl Outbox {
    pub(crate) fn new(tx: mpsc::Sender<Outgoing>) -> Self {
        Self { tx: Tx::Open(tx) }
    }

    /// A fresh outbox for one HTTP request or legacy POST, and the
    /// receiving end of its messages, which ends once every clone of the
    /// outbox is gone.
    #[cfg(feature = "http")]
    pub(crate) fn answers(capacity: usize) -> (Self, super::answers::Answers) {
        let (tx, rx) = super::answers::queue(capacity);
        (Self { tx: Tx::Queue(tx) }, rx)
    }

    pub(crate) async fn send(&self, message: Outgoing) -> Result<(), Error> {
        match &self.tx {
            // With room in the channel, no waiting and none of the task's
            // cooperative budget spent: an answer made after the budget
            // ran out would otherwise make its request a task of its own.
            Tx::Open(sender) => match sender.try_send(message) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(message)) => {
                    sender.send(message).await.map_err(|_| Error::Closed)
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(Error::Closed),
            },
            #[cfg(feature = "http")]
            Tx::Queue(queue) => queue.send(message).await.map_err(|()| Error::Closed),
        }
    }

    /// Sends without waiting: for destructors, which must not block.
    pub(crate) fn try_send(&self, message: Outgoing) {
        match &self.tx {
            Tx::Open(sender) => {
                let _ = sender.try_send(message);
            }
            #[cfg(feature = "http")]
            Tx::Queue(queue) => queue.try_send(message),
        }
    }

    pub(crate) async fn notify<N: Notification>(&self, params: &N::Params) -> Result<(), Error> {
        self.send(notification::<N>(params)?).await
    }
}

/// Notification `N` with `params`, encoded.
pub(crate) fn notification<N: Notification>(params: &N::Params) -> Result<Outgoing, Error> {
    Ok(Outgoing::encode_notification::<N>(params)?)
}

/// The prefix of the ids of requests to clients.
const SERVER_ID_PREFIX: &str = "srv-";

/// Whether `id` is of the form the server's requests to clients have.
#[cfg(feature = "http")]
pub(crate) fn is_server_request_id(id: &RequestId) -> bool {
    matches!(id, RequestId::String(id) if id.starts_with(SERVER_ID_PREFIX))
}

/// Requests to the client (legacy sessions only) and their pending replies.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pending: Arc<Mutex<HashMap<RequestId, oneshot::Sender<Reply>>>>,
    timeout: Duration,
    /// Set by `notifications/initialized`; no request goes out before.
    ready: Arc<std::sync::atomic::AtomicBool>,
}

impl Peer {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            pending: Arc::default(),
            timeout,
            ready: Arc::default(),
        }
    }

    /// The client has sent `notifications/initialized`.
    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Sends request `M` on `via` (the stream of the request being served)
    /// and waits for the answer, which may arrive on any stream.
    pub(crate) async fn request<M: Method>(
        &self,
        params: &mut M::Params,
        via: &Outbox,
    ) -> Result<M::Result, Error> {
        if !self.ready.load(Ordering::Acquire) {
            return Err(Error::Protocol(ErrorObject::invalid_request(format!(
                "cannot send {} before the client sent notifications/initialized",
                M::NAME
            ))));
        }
        // String ids keep the server's requests apart from anything the
        // client might echo by mistake; the instance's id keeps them apart
        // from those of other instances serving the same session.
        // (The counter is the process's: endpoints in one process may
        // share a session too.)
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = RequestId::String(format!(
            "{SERVER_ID_PREFIX}{}-{}",
            crate::bus::instance(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let span = crate::telemetry::outgoing::start(
            M::NAME,
            &id,
            mcp_core::meta::HasMeta::meta_mut(params),
        );
        let result =
            tracing::Instrument::instrument(self.send::<M>(id, params, via), span.clone()).await;
        crate::telemetry::outgoing::finish(&span, result.as_ref().map(|_| ()));
        result
    }

    /// Sends request `id` and waits for the client's answer.
    async fn send<M: Method>(
        &self,
        id: RequestId,
        params: &M::Params,
        via: &Outbox,
    ) -> Result<M::Result, Error> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), tx);
        let mut guard = PendingGuard {
            peer: self,
            via,
            id: &id,
            answered: false,
        };
        let bytes = serde_json::to_vec(&OutgoingRequest {
            id: &id,
            method: M::NAME,
            params,
        })
        .map_err(|e| {
            Error::Transport(mcp_core::Error::Encode {
                message: e.to_string(),
            })
        })?;
        via.send(Outgoing::request(id.clone(), M::NAME, Bytes::from(bytes)))
            .await?;
        let reply = match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => {
                guard.answered = true;
                return Err(Error::Closed);
            }
            Err(_) => return Err(Error::Timeout),
        };
        guard.answered = true;
        drop(guard);
        let raw = reply.map_err(Error::Protocol)?;
        serde_json::from_str(raw.get()).map_err(|e| {
            Error::Protocol(ErrorObject::internal_error(format!(
                "the client's answer to {} did not match its schema: {e}",
                M::NAME
            )))
        })
    }

    /// Whether a request `id` waits for its answer here.
    #[cfg(feature = "http")]
    pub(crate) fn waits_for(&self, id: &RequestId) -> bool {
        self.lock().contains_key(id)
    }

    /// Routes a response from the client; false if no request was waiting.
    pub(crate) fn resolve(&self, id: &RequestId, reply: Reply) -> bool {
        match self.lock().remove(id) {
            Some(tx) => tx.send(reply).is_ok(),
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, oneshot::Sender<Reply>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert or remove), so poisoning is
        // ignored.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Forgets a pending request when its waiter goes away (timeout, drop),
/// and tells the client to stop working on it.
struct PendingGuard<'a> {
    peer: &'a Peer,
    via: &'a Outbox,
    id: &'a RequestId,
    answered: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.peer.lock().remove(self.id);
        if !self.answered {
            let params = mcp_core::notifications::CancelledParams::new(self.id.clone())
                .with_reason("the server stopped waiting");
            if let Ok(message) = notification::<mcp_core::method::Cancelled>(&params) {
                // Best effort from a destructor: never block here.
                self.via.try_send(message);
            }
        }
    }
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use super::*;

    fn message(n: u8) -> Outgoing {
        Outgoing::response(None, Bytes::from(vec![n]))
    }

    #[tokio::test]
    async fn a_request_outbox_delivers_what_is_sent_before_and_after_the_inbox_waits() {
        let (outbox, mut inbox) = Outbox::answers(4);
        assert!(inbox.try_recv().is_none(), "nothing sent yet");
        outbox.send(message(1)).await.unwrap();
        assert_eq!(inbox.try_recv().unwrap().bytes, [1][..]);
        // Waiting first, then a send from another task (a clone).
        let (outbox, mut inbox) = Outbox::answers(4);
        let sender = outbox.clone();
        let waiting = tokio::spawn(async move { inbox.recv().await });
        tokio::task::yield_now().await;
        sender.send(message(2)).await.unwrap();
        assert_eq!(waiting.await.unwrap().unwrap().bytes, [2][..]);
        // What was sent stays for the inbox when every outbox is gone.
        let (outbox, mut inbox) = Outbox::answers(4);
        outbox.try_send(message(3));
        drop(outbox);
        assert_eq!(inbox.recv().await.unwrap().bytes, [3][..]);
        assert!(inbox.try_recv().is_none());
    }
}
