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
    tx: mpsc::Sender<Outgoing>,
}

impl Outbox {
    pub(crate) fn new(tx: mpsc::Sender<Outgoing>) -> Self {
        Self { tx }
    }

    /// A fresh outbox and the receiving end of its messages.
    #[cfg(feature = "http")]
    pub(crate) fn channel(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    pub(crate) async fn send(&self, message: Outgoing) -> Result<(), Error> {
        self.tx.send(message).await.map_err(|_| Error::Closed)
    }

    /// Sends without waiting: for destructors, which must not block.
    pub(crate) fn try_send(&self, message: Outgoing) {
        let _ = self.tx.try_send(message);
    }

    pub(crate) async fn notify<N: Notification>(&self, params: &N::Params) -> Result<(), Error> {
        self.send(notification::<N>(params)?).await
    }
}

/// Notification `N` with `params`, encoded.
pub(crate) fn notification<N: Notification>(params: &N::Params) -> Result<Outgoing, Error> {
    Ok(Outgoing::encode_notification::<N>(params)?)
}

/// Requests to the client (legacy sessions only) and their pending replies.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pending: Arc<Mutex<HashMap<RequestId, oneshot::Sender<Reply>>>>,
    next_id: Arc<AtomicU64>,
    timeout: Duration,
    /// Set by `notifications/initialized`; no request goes out before.
    ready: Arc<std::sync::atomic::AtomicBool>,
}

impl Peer {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            pending: Arc::default(),
            next_id: Arc::default(),
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
        params: &M::Params,
        via: &Outbox,
    ) -> Result<M::Result, Error> {
        if !self.ready.load(Ordering::Acquire) {
            return Err(Error::Protocol(ErrorObject::invalid_request(format!(
                "cannot send {} before the client sent notifications/initialized",
                M::NAME
            ))));
        }
        // String ids keep the server's requests apart from anything the
        // client might echo by mistake.
        let id = RequestId::String(format!(
            "srv-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ));
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
