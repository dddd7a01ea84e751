//! The server handler trait: one method per client request, each with a
//! default, so a server implements only what it offers.

use std::future::Future;

use mcp_core::completion::{CompleteParams, CompleteResult};
use mcp_core::headers::ParamHeader;
use mcp_core::prompts::{GetPromptParams, GetPromptResult, ListPromptsResult};
use mcp_core::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult,
};
use mcp_core::tools::ListToolsResult;
use mcp_core::{
    CallToolParams, CallToolResult, ErrorObject, Implementation, Notification, PaginatedParams,
    ServerCapabilities,
};
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::context::RequestContext;
use crate::error::Error;

/// Something changed that clients may want to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The tool list changed.
    ToolsChanged,
    /// The prompt list changed.
    PromptsChanged,
    /// The resource (or resource template) list changed.
    ResourcesChanged,
    /// A resource's contents changed.
    ResourceUpdated(String),
}

fn not_found<T>(method: &str) -> Result<T, Error> {
    Err(Error::Protocol(ErrorObject::method_not_found(method)))
}

/// Serves the requests of one MCP server.
///
/// Every request method has a default that answers "method not found",
/// naming the method; override the ones the server offers and declare them
/// in [`capabilities`](Handler::capabilities). The session around the
/// handler takes care of the protocol itself (both eras, `initialize`,
/// `server/discover`, `ping`, logging levels, subscriptions, cancellation),
/// and fills in what each era requires in the results.
///
/// [`Router`](crate::Router) implements this trait for the common case of
/// registered tools, resources and prompts.
pub trait Handler: Send + Sync + 'static {
    /// The server's name and version; read once, when the server is
    /// built.
    fn info(&self) -> Implementation;

    /// What the server offers. Checked before requests reach the handler.
    fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities::default()
    }

    /// How to use the server, for the model.
    fn instructions(&self) -> Option<String> {
        None
    }

    /// `tools/list`.
    fn list_tools(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> impl Future<Output = Result<ListToolsResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("tools/list") }
    }

    /// `tools/call`. Return [`Error::Tool`] for failures the model should
    /// see (they become `isError` results).
    fn call_tool(
        &self,
        ctx: RequestContext,
        params: CallToolParams,
    ) -> impl Future<Output = Result<CallToolResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("tools/call") }
    }

    /// `resources/list`.
    fn list_resources(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> impl Future<Output = Result<ListResourcesResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("resources/list") }
    }

    /// `resources/templates/list`.
    fn list_resource_templates(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("resources/templates/list") }
    }

    /// `resources/read`. Unknown URIs answer
    /// [`resource_not_found`](crate::resource_not_found).
    fn read_resource(
        &self,
        ctx: RequestContext,
        params: ReadResourceParams,
    ) -> impl Future<Output = Result<ReadResourceResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("resources/read") }
    }

    /// Whether `uri` may be subscribed to (legacy `resources/subscribe`, or
    /// `resourceSubscriptions` of a 2026-07-28 subscription). The session
    /// keeps the subscriptions; the default accepts any URI.
    fn subscribe(
        &self,
        ctx: RequestContext,
        uri: String,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (ctx, uri);
        async { Ok(()) }
    }

    /// A subscription [`subscribe`](Handler::subscribe) accepted on this
    /// server has ended: the client unsubscribed, its legacy session or
    /// stdio connection ended, or its 2026-07-28 subscription stream
    /// closed. Called once for each accepted subscription, so a handler
    /// that holds something per subscription (an upstream's, say) can
    /// count them. Runs where the subscription ends, possibly while a
    /// connection is being dropped: it must not block (spawn any I/O). A
    /// session taken up from another instance was never subscribed here,
    /// and is not reported here either.
    fn unsubscribed(&self, uri: &str) {
        let _ = uri;
    }

    /// `prompts/list`.
    fn list_prompts(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> impl Future<Output = Result<ListPromptsResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("prompts/list") }
    }

    /// `prompts/get`.
    fn get_prompt(
        &self,
        ctx: RequestContext,
        params: GetPromptParams,
    ) -> impl Future<Output = Result<GetPromptResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("prompts/get") }
    }

    /// `completion/complete`.
    fn complete(
        &self,
        ctx: RequestContext,
        params: CompleteParams,
    ) -> impl Future<Output = Result<CompleteResult, Error>> + Send {
        let _ = (ctx, params);
        async { not_found("completion/complete") }
    }

    /// A request this trait has no method for (an extension's, say).
    /// Answer with the raw result JSON.
    fn other_request(
        &self,
        ctx: RequestContext,
        method: String,
        params: Option<Box<RawValue>>,
    ) -> impl Future<Output = Result<Box<RawValue>, Error>> + Send {
        let _ = (ctx, params);
        async move { not_found(&method) }
    }

    /// A notification from the client that the session does not handle
    /// itself (everything but `initialized` and `cancelled`).
    fn notification(&self, notification: Notification) -> impl Future<Output = ()> + Send {
        async move {
            tracing::debug!(method = %notification.method, "notification ignored");
        }
    }

    /// The tool called `name`, if the handler knows it without a request.
    /// The Streamable HTTP transport uses it to check the `Mcp-Param-*`
    /// headers a tool's `x-mcp-header` annotations ask for.
    fn tool(&self, name: &str) -> Option<mcp_core::Tool> {
        let _ = name;
        None
    }

    /// The `Mcp-Param-*` headers tool `name`'s schema asks for with
    /// `x-mcp-header`, which the Streamable HTTP transport checks against
    /// its arguments. By default read from [`tool`](Self::tool)'s schema
    /// each time; `Router` works them out once, when a tool is added.
    fn tool_header_params(&self, name: &str) -> Option<std::sync::Arc<[ParamHeader]>> {
        let tool = self.tool(name)?;
        ParamHeader::from_schema(&tool.input_schema)
            .ok()
            .map(Into::into)
    }

    /// [`tool_header_params`](Self::tool_header_params) for one request,
    /// whose transport put `extensions` on it (the caller an
    /// authentication layer vouched for, …), which is what the transport
    /// asks. A handler that shows each caller only some tools answers
    /// `None` for the others: a hidden tool's headers are then not
    /// checked, so a call of it is refused by the handler exactly as a call
    /// of a made-up name is, instead of by a header check that would give
    /// its existence away.
    fn tool_header_params_for(
        &self,
        name: &str,
        extensions: &http::Extensions,
    ) -> Option<std::sync::Arc<[ParamHeader]>> {
        let _ = extensions;
        self.tool_header_params(name)
    }

    /// Changes to announce to clients (list changes, resource updates).
    fn events(&self) -> Option<broadcast::Receiver<ServerEvent>> {
        None
    }
}
