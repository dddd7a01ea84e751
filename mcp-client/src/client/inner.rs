//! What a connection holds: requests waiting for their answers, the
//! server's requests being answered, and the outbox to the transport, with
//! what each outgoing message says about itself.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use mcp_core::headers::ParamHeader;
use mcp_core::logging::LoggingLevel;
use mcp_core::method::{self, Notification as _};
use mcp_core::notifications::CancelledParams;
use mcp_core::prompts::GetPromptParams;
use mcp_core::resources::ReadResourceParams;
use mcp_core::subscriptions::SubscriptionFilter;
use mcp_core::tools::ListToolsResult;
use mcp_core::transport::{Mirror, Outgoing};
use mcp_core::{
    CallToolParams, ClientCapabilities, ErrorObject, ProgressToken, RequestId, RequestMeta,
};
use serde_json::value::RawValue;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ClientOptions, Mode, ProgressFn, ServerInfo};
#[cfg(feature = "stdio")]
use crate::child::ChildHandle;
use crate::handler::DynHandler;
use crate::notifications::ServerNotification;

pub(super) type Reply = Result<Box<RawValue>, Failure>;

/// Why a pending request ended without a result.
#[derive(Debug)]
pub(super) enum Failure {
    /// The server answered with an error.
    Remote(ErrorObject),
    /// The server cancelled it (`notifications/cancelled`).
    Cancelled,
    /// The server's answer was not a valid response.
    Malformed(String),
    /// The transport could not read the answer.
    Transport(mcp_core::Error),
}

pub(crate) struct Inner {
    pub(super) outbox: mpsc::Sender<Outgoing>,
    pub(super) pending: Mutex<HashMap<RequestId, oneshot::Sender<Reply>>>,
    pub(super) progress: Mutex<HashMap<ProgressToken, ProgressFn>>,
    pub(super) next_id: AtomicI64,
    pub(crate) options: ClientOptions,
    pub(super) handler: Arc<dyn DynHandler>,
    /// Shared with every 2026-07-28 request's `_meta`, as is `info`.
    pub(crate) capabilities: Arc<ClientCapabilities>,
    /// [`ClientOptions::info`], shared.
    pub(crate) info: Arc<mcp_core::Implementation>,
    pub(crate) notifications: broadcast::Sender<ServerNotification>,
    /// Acknowledgements of `subscriptions/listen`, by subscription id.
    pub(crate) acknowledgements: broadcast::Sender<(RequestId, SubscriptionFilter)>,
    pub(crate) server: OnceLock<ServerInfo>,
    pub(crate) log_level: Mutex<Option<LoggingLevel>>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Tells the writer to send what is queued, then close the transport.
    pub(super) stop_writer: Arc<tokio::sync::Notify>,
    pub(super) writer: Mutex<Option<JoinHandle<()>>>,
    /// Set once the connection is gone; new requests fail at once.
    pub(super) closed: AtomicBool,
    /// Turns true when the connection is gone, for [`Client::closed`].
    ///
    /// [`Client::closed`]: crate::Client::closed
    pub(super) gone: tokio::sync::watch::Sender<bool>,
    /// The server's requests being answered, by id, so the server can
    /// cancel them.
    pub(super) serving: Mutex<HashMap<RequestId, tokio::task::AbortHandle>>,
    /// The server's process, when the client started it.
    #[cfg(feature = "stdio")]
    pub(crate) child: tokio::sync::Mutex<Option<ChildHandle>>,
    /// Whether the transport mirrors requests into headers (Streamable
    /// HTTP): then requests carry a [`Mirror`], and tools whose
    /// `x-mcp-header` annotations are invalid are left out of
    /// `tools/list`, as that transport requires.
    pub(super) mirrors: bool,
    /// The server's host and port, over a network (for spans).
    pub(super) server_address: Option<(String, u16)>,
    /// The transport's legacy session, as telemetry names it.
    pub(super) session_label: Option<mcp_core::transport::SessionLabel>,
    /// The `Mcp-Param-*` headers of the tools last listed.
    pub(super) tool_headers: Mutex<HashMap<String, Vec<ParamHeader>>>,
    /// When the connection started (for the session duration metric).
    #[cfg(feature = "otel")]
    pub(super) started: std::time::Instant,
    /// A Streamable HTTP transport's POST, for 2026-07-28 requests sent
    /// and read on their caller's task (see `Client::send_in_span`).
    #[cfg(feature = "http")]
    pub(super) direct: Option<crate::http::Direct>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    pub(crate) fn next_request_id(&self) -> RequestId {
        RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(super) fn lock_pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<RequestId, oneshot::Sender<Reply>>> {
        lock(&self.pending)
    }

    pub(super) fn lock_serving(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<RequestId, tokio::task::AbortHandle>> {
        lock(&self.serving)
    }

    pub(super) fn lock_progress(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, ProgressFn>> {
        lock(&self.progress)
    }

    /// Fills in `_meta` for the era.
    pub(super) fn stamp(
        &self,
        meta: &mut Option<RequestMeta>,
        mode: &Mode,
        token: Option<ProgressToken>,
    ) {
        let meta = meta.get_or_insert_with(RequestMeta::default);
        if let Mode::Modern(version) = mode {
            meta.protocol_version = Some(version.clone());
            meta.client_capabilities = Some(Arc::clone(&self.capabilities));
            meta.client_info = Some(Arc::clone(&self.info));
            if meta.log_level.is_none() {
                meta.log_level = *lock(&self.log_level);
            }
        }
        if token.is_some() {
            meta.progress_token = token;
        }
    }

    /// The protocol version HTTP headers name for a message in `mode`: the
    /// request's own on 2026-07-28, the negotiated one on a legacy session
    /// (none before `initialize` settled it).
    fn header_version(&self, mode: Option<&Mode>) -> Option<String> {
        match mode {
            Some(Mode::Modern(version)) => Some(version.as_str().to_owned()),
            _ => self
                .server
                .get()
                .map(|s| s.protocol_version.as_str().to_owned()),
        }
    }

    /// What Streamable HTTP mirrors of request `params` into headers;
    /// `None` on other transports.
    pub(super) fn request_mirror<P: Any>(&self, params: &P, mode: &Mode) -> Option<Mirror> {
        if !self.mirrors {
            return None;
        }
        let params: &dyn Any = params;
        let mut mirror = Mirror::default();
        mirror.protocol_version = self.header_version(Some(mode));
        if let Some(call) = params.downcast_ref::<CallToolParams>() {
            mirror.name = Some(call.name.clone());
            if let Some(arguments) = &call.arguments {
                for param in lock(&self.tool_headers)
                    .get(&call.name)
                    .into_iter()
                    .flatten()
                {
                    if let Ok(Some(value)) = param.value_in(arguments) {
                        mirror.params.push((param.header().to_owned(), value));
                    }
                }
            }
        } else if let Some(prompt) = params.downcast_ref::<GetPromptParams>() {
            mirror.name = Some(prompt.name.clone());
        } else if let Some(read) = params.downcast_ref::<ReadResourceParams>() {
            mirror.name = Some(read.uri.clone());
        }
        Some(mirror)
    }

    /// `message` with what HTTP mirrors of a message outside any request.
    fn mirrored(&self, message: Outgoing) -> Outgoing {
        match self.header_version(None).filter(|_| self.mirrors) {
            Some(version) if message.mirror.is_none() => {
                let mut mirror = Mirror::default();
                mirror.protocol_version = Some(version);
                message.with_mirror(mirror)
            }
            _ => message,
        }
    }

    /// Queues `message` for the transport; `false` once it is closed.
    pub(super) async fn send(&self, message: Outgoing) -> bool {
        self.outbox.send(self.mirrored(message)).await.is_ok()
    }

    /// Queues `message` without waiting: for destructors and readers,
    /// which must not block.
    pub(super) fn try_send(&self, message: Outgoing) {
        let _ = self.outbox.try_send(self.mirrored(message));
    }

    /// Leaves out of a `tools/list` result the tools whose `x-mcp-header`
    /// annotations are invalid, and remembers the headers of the others.
    pub(super) fn check_tools(&self, result: &mut dyn Any) {
        let Some(list) = result.downcast_mut::<ListToolsResult>() else {
            return;
        };
        if !self.mirrors {
            return;
        }
        let mut cache = lock(&self.tool_headers);
        list.tools
            .retain(|tool| match ParamHeader::from_schema(&tool.input_schema) {
                Ok(params) => {
                    cache.insert(tool.name.clone(), params);
                    true
                }
                Err(why) => {
                    tracing::warn!(tool = %tool.name, %why, "tool left out: invalid x-mcp-header");
                    false
                }
            });
    }

    pub(super) fn fail_all(&self) {
        let mut pending = self.lock_pending();
        self.closed.store(true, Ordering::Release);
        pending.clear();
        drop(pending);
        self.gone.send_replace(true);
        self.lock_progress().clear();
    }
}

/// Cancels its request if the caller stops waiting.
pub(super) struct InFlight<'a> {
    pub(super) inner: &'a Inner,
    pub(super) id: &'a RequestId,
    pub(super) token: Option<&'a ProgressToken>,
    pub(super) done: bool,
    /// The request's own response stream is closed with the caller (a
    /// 2026-07-28 request posted on the caller's task): that is its
    /// cancellation, and no notification is sent.
    pub(super) closes: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token {
            self.inner.lock_progress().remove(token);
        }
        if self.done {
            return;
        }
        self.inner.lock_pending().remove(self.id);
        if self.closes {
            return;
        }
        let params =
            CancelledParams::new(self.id.clone()).with_reason("the client stopped waiting");
        if let Ok(bytes) = serde_json::to_vec(&mcp_core::jsonrpc::OutgoingNotification {
            method: method::Cancelled::NAME,
            params: &params,
        }) {
            // Best effort from a destructor: never block here.
            self.inner.try_send(Outgoing::notification(
                method::Cancelled::NAME,
                Bytes::from(bytes),
            ));
        }
    }
}
