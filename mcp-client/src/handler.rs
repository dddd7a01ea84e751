//! What the host application provides: answers to the server's requests
//! for user input, model completions and roots.

use std::future::Future;

use mcp_core::capabilities::{ElicitationCapability, RootsCapability, SamplingCapability};
use mcp_core::elicitation::{ElicitParams, ElicitResult};
use mcp_core::logging::LoggingMessageParams;
use mcp_core::roots::ListRootsResult;
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::{ClientCapabilities, ErrorObject};

/// The host's side of a connection. Every method has a default that
/// refuses; override what the host supports and declare it in
/// [`capabilities`](ClientHandler::capabilities).
///
/// The same handler serves both eras: a legacy server sends a request, a
/// 2026-07-28 server returns input requests that the client answers
/// through these methods before retrying.
pub trait ClientHandler: Send + Sync + 'static {
    /// What the host supports. The default declares nothing.
    fn capabilities(&self) -> ClientCapabilities {
        ClientCapabilities::default()
    }

    /// Ask the user (`elicitation/create`).
    fn elicit(
        &self,
        params: ElicitParams,
    ) -> impl Future<Output = Result<ElicitResult, ErrorObject>> + Send {
        let _ = params;
        async { Err(ErrorObject::method_not_found("elicitation/create")) }
    }

    /// Sample the host's model (`sampling/createMessage`).
    fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> impl Future<Output = Result<CreateMessageResult, ErrorObject>> + Send {
        let _ = params;
        async { Err(ErrorObject::method_not_found("sampling/createMessage")) }
    }

    /// The host's roots (`roots/list`).
    fn list_roots(&self) -> impl Future<Output = Result<ListRootsResult, ErrorObject>> + Send {
        async { Err(ErrorObject::method_not_found("roots/list")) }
    }

    /// A log message from the server, called on the connection's reader
    /// as it arrives, in order with the answers to requests (so it runs
    /// before the answer to any request the server sent it after). Keep it
    /// short: reading waits for it. The message also goes to
    /// [`Client::notifications`](crate::Client::notifications).
    fn on_log(&self, log: &LoggingMessageParams) {
        let _ = log;
    }
}

/// A handler that supports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHandler;

impl ClientHandler for NoHandler {}

/// Capabilities for a handler that supports the given features, as a
/// convenience for [`ClientHandler::capabilities`].
pub fn capabilities(elicitation: bool, sampling: bool, roots: bool) -> ClientCapabilities {
    let mut caps = ClientCapabilities::default();
    if elicitation {
        let mut e = ElicitationCapability::default();
        e.form = Some(Default::default());
        e.url = Some(Default::default());
        caps.elicitation = Some(e);
    }
    if sampling {
        caps.sampling = Some(SamplingCapability::default());
    }
    if roots {
        caps.roots = Some(RootsCapability::default());
    }
    caps
}

use mcp_core::BoxFuture;

/// The object-safe twin of [`ClientHandler`], so the client need not be
/// generic over the handler type.
pub(crate) trait DynHandler: Send + Sync + 'static {
    fn capabilities(&self) -> ClientCapabilities;
    fn elicit(&self, params: ElicitParams) -> BoxFuture<'_, Result<ElicitResult, ErrorObject>>;
    fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> BoxFuture<'_, Result<CreateMessageResult, ErrorObject>>;
    fn list_roots(&self) -> BoxFuture<'_, Result<ListRootsResult, ErrorObject>>;
    fn on_log(&self, log: &LoggingMessageParams);
}

impl<H: ClientHandler> DynHandler for H {
    fn capabilities(&self) -> ClientCapabilities {
        ClientHandler::capabilities(self)
    }
    fn elicit(&self, params: ElicitParams) -> BoxFuture<'_, Result<ElicitResult, ErrorObject>> {
        Box::pin(ClientHandler::elicit(self, params))
    }
    fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> BoxFuture<'_, Result<CreateMessageResult, ErrorObject>> {
        Box::pin(ClientHandler::create_message(self, params))
    }
    fn list_roots(&self) -> BoxFuture<'_, Result<ListRootsResult, ErrorObject>> {
        Box::pin(ClientHandler::list_roots(self))
    }
    fn on_log(&self, log: &LoggingMessageParams) {
        ClientHandler::on_log(self, log);
    }
}
