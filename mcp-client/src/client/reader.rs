//! The reader side of a connection: what the server sends, decoded once by
//! the transport, routed to the request it answers, the notification
//! channels, or the host handler.

use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use mcp_core::jsonrpc::{Incoming, OutgoingResponse};
use mcp_core::method::{self, Method, Notification as _};
use mcp_core::notifications::{CancelledParams, ProgressParams};
use mcp_core::transport::Outgoing;
use mcp_core::{
    EmptyResult, Era, ErrorObject, ErrorResponse, Message, Notification, Request, RequestId,
};
use serde_json::value::RawValue;

use super::inner::{Failure, Inner, Reply};
use crate::error::Error;
use crate::notifications::ServerNotification;

impl Inner {
    /// Handles what the transport read: a message, a batch, or one it
    /// could not read.
    pub(super) fn on_incoming(self: &Arc<Self>, incoming: Result<Incoming, mcp_core::Error>) {
        match incoming {
            Ok(Incoming::Single(message)) => self.on_message(message),
            Ok(Incoming::Batch(items)) => {
                for item in items {
                    match item {
                        Ok(message) => self.on_message(message),
                        Err(e) => self.reply_to_bad_frame(&e),
                    }
                }
            }
            Err(e) => self.reply_to_bad_frame(&e),
        }
    }

    pub(super) fn reply_to_bad_frame(&self, e: &mcp_core::Error) {
        tracing::debug!(error = %e, "bad message from the server");
        // A malformed answer fails the request it names, here and now.
        match e {
            mcp_core::Error::InvalidResponse {
                id: Some(id),
                message,
            } => {
                self.resolve(id, Err(Failure::Malformed(message.clone())));
                return;
            }
            // The transport could not read the answer (too large, say).
            mcp_core::Error::RequestFailed { id, reason } => {
                self.resolve(id, Err(Failure::Transport(reason.as_ref().clone())));
                return;
            }
            _ => {}
        }
        if let Some(reply) = e.to_error_response()
            && let Ok(bytes) = Message::from(reply.clone()).to_vec()
        {
            self.try_send(Outgoing::response(reply.id, Bytes::from(bytes)));
        }
    }

    fn on_message(self: &Arc<Self>, message: Message) {
        match message {
            Message::Response(r) => self.resolve(&r.id, Ok(r.result)),
            Message::Error(e) => match e.id {
                Some(id) => self.resolve(&id, Err(Failure::Remote(e.error))),
                None => tracing::warn!(error = %e.error, "the server reported an error"),
            },
            Message::Request(r) => self.on_request(r),
            Message::Notification(n) => self.on_notification(n),
        }
    }

    fn resolve(&self, id: &RequestId, reply: Reply) {
        match self.lock_pending().remove(id) {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => tracing::debug!(%id, "response to no pending request"),
        }
    }

    /// The reply `message` carries, for the caller that read it itself
    /// (its POST's JSON answer): the request's pending entry is taken, so
    /// that nothing else answers it. `None` when it is no longer pending.
    #[cfg(feature = "http")]
    pub(super) fn claim(&self, message: Message) -> Option<Reply> {
        let (id, reply) = match message {
            Message::Response(r) => (r.id, Ok(r.result)),
            Message::Error(e) => (e.id?, Err(Failure::Remote(e.error))),
            Message::Request(_) | Message::Notification(_) => return None,
        };
        self.lock_pending().remove(&id).map(|_| reply)
    }

    fn on_notification(&self, n: Notification) {
        if n.method == method::Cancelled::NAME
            && let Some(id) = n
                .params::<CancelledParams>()
                .ok()
                .and_then(|p| p.request_id)
        {
            // The server gave up on one of our requests (it ends a
            // subscription this way), or withdrew one of its own.
            if let Some(tx) = self.lock_pending().remove(&id) {
                let _ = tx.send(Err(Failure::Cancelled));
            }
            if let Some(task) = self.lock_serving().remove(&id) {
                task.abort();
            }
        }
        if n.method == method::Progress::NAME {
            if let Ok(p) = n.params::<ProgressParams>() {
                let f = self.lock_progress().get(&p.progress_token).cloned();
                if let Some(f) = f {
                    f(p);
                }
            }
            return;
        }
        if n.method == method::SubscriptionsAcknowledged::NAME {
            if let Ok(ack) = n.params::<mcp_core::subscriptions::AcknowledgedParams>()
                && let Some(id) = ack.meta.and_then(|m| m.subscription_id)
            {
                let _ = self.acknowledgements.send((id, ack.notifications));
            }
            return;
        }
        if let Some(event) = ServerNotification::from_notification(n) {
            if let ServerNotification::Log(log) = &event {
                self.handler.on_log(log);
            }
            let _ = self.notifications.send(event);
        }
    }

    /// A legacy server's request to the host.
    fn on_request(self: &Arc<Self>, request: Request) {
        let this = Arc::clone(self);
        let id = request.id.clone();
        // Held across the spawn so the task cannot remove its entry before
        // it is inserted.
        let mut serving = self.lock_serving();
        if serving.len() >= self.options.max_server_requests || serving.contains_key(&id) {
            drop(serving);
            let why = if self.lock_serving().contains_key(&id) {
                format!("request id {id} is already being answered")
            } else {
                format!(
                    "client busy: {} of the server's requests are being answered",
                    self.options.max_server_requests
                )
            };
            tracing::warn!(%id, why, "server request refused");
            if let Some(refusal) = answer(&id, Err(ErrorObject::internal_error(why))) {
                self.try_send(refusal);
            }
            return;
        }
        let task = tokio::spawn(async move {
            let span = super::telemetry::serving(&request);
            let reply = tracing::Instrument::instrument(this.answer(&request), span.clone()).await;
            super::telemetry::served(&span, reply.as_ref().map(|_| ()));
            // Ended once the answer is made: the server may go on as soon
            // as it has it.
            drop(span);
            this.lock_serving().remove(&request.id);
            if let Some(answer) = answer(&request.id, reply) {
                this.send(answer).await;
            }
        });
        serving.insert(id, task.abort_handle());
        drop(serving);
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    async fn answer(&self, request: &Request) -> Result<Box<RawValue>, ErrorObject> {
        fn params<P: serde::de::DeserializeOwned>(r: &Request) -> Result<P, ErrorObject> {
            r.params::<P>().map_err(|e| {
                e.to_error_object()
                    .unwrap_or_else(|| ErrorObject::invalid_params(e.to_string()))
            })
        }
        fn raw<T: serde::Serialize>(v: &T) -> Result<Box<RawValue>, ErrorObject> {
            serde_json::value::to_raw_value(v)
                .map_err(|e| ErrorObject::internal_error(e.to_string()))
        }
        // Modern servers never send requests; they return input requests.
        if self.server.get().is_some_and(|s| s.era == Era::Modern) {
            return Err(ErrorObject::invalid_request(
                "2026-07-28 servers do not send requests",
            ));
        }
        match request.method.as_str() {
            method::Ping::NAME => raw(&EmptyResult::legacy()),
            method::Elicit::NAME if self.capabilities.elicitation.is_some() => {
                raw(&self.handler.elicit(params(request)?).await?)
            }
            method::CreateMessage::NAME if self.capabilities.sampling.is_some() => {
                raw(&self.handler.create_message(params(request)?).await?)
            }
            method::ListRoots::NAME if self.capabilities.roots.is_some() => {
                raw(&self.handler.list_roots().await?)
            }
            other => Err(ErrorObject::method_not_found(other)),
        }
    }

    pub(crate) async fn fulfil(
        &self,
        request: mcp_core::InputRequest,
    ) -> Result<mcp_core::InputResponse, Error> {
        use mcp_core::{InputRequest, InputResponse};
        Ok(match request {
            InputRequest::Elicit(p) if self.capabilities.elicitation.is_some() => {
                InputResponse::Elicit(self.handler.elicit(p).await.map_err(Error::Remote)?)
            }
            InputRequest::CreateMessage(p) if self.capabilities.sampling.is_some() => {
                InputResponse::CreateMessage(
                    self.handler
                        .create_message(p)
                        .await
                        .map_err(Error::Remote)?,
                )
            }
            InputRequest::ListRoots(_) if self.capabilities.roots.is_some() => {
                InputResponse::ListRoots(self.handler.list_roots().await.map_err(Error::Remote)?)
            }
            other => return Err(Error::InputUnsupported(other.method().to_owned())),
        })
    }
}

/// The answer to the server's request `id`.
fn answer(id: &RequestId, reply: Result<Box<RawValue>, ErrorObject>) -> Option<Outgoing> {
    let bytes = match reply {
        Ok(result) => serde_json::to_vec(&OutgoingResponse {
            id,
            result: &result,
        }),
        Err(error) => {
            serde_json::to_vec(&Message::from(ErrorResponse::new(Some(id.clone()), error)))
        }
    }
    .ok()?;
    Some(Outgoing::response(Some(id.clone()), Bytes::from(bytes)))
}
