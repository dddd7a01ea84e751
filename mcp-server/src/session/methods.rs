//! Method routing: one decoded request to its handler method, in the era
//! it is served in.

use std::future::Future;

use mcp_core::lifecycle::{DiscoverResult, InitializeResult};
use mcp_core::meta::HasMeta;
use mcp_core::method::{self, Eras, Method};
use mcp_core::mrtr::InputResponses;
use mcp_core::request::ClientRequest;
use mcp_core::{CallToolResult, ContentBlock, EmptyResult, Era, ErrorObject, Request};
use serde::Serialize;

use super::dispatcher::{Dispatcher, Reply, Route, encode};
use super::lifecycle::SessionState;
use super::stamp::Stamp;
use crate::context::RequestContext;
use crate::error::Error;
use crate::handler::Handler;
use crate::telemetry::Outcome;

impl<H: Handler> Dispatcher<H> {
    /// Runs one request, its params decoded (`call`), to its reply.
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per method reads best as one match"
    )]
    pub(crate) async fn handle(
        &self,
        req: &Request,
        call: Box<ClientRequest>,
        route: &Route,
        session: Option<&SessionState>,
        outcome: &Outcome,
    ) -> Reply {
        let id = &req.id;
        // Matched out of its box: the whole request is not copied into
        // this future (it was held at several levels, 2.6 KB of every
        // request's future), only the parts a method takes.
        match *call {
            ClientRequest::Initialize(params) => match session {
                Some(session) => {
                    let version = session.initialize(*params, &self.options.supported_versions)?;
                    let handler = &self.handler;
                    let mut result = InitializeResult::new(
                        version,
                        handler.capabilities(),
                        (*self.info).clone(),
                    );
                    result.instructions = handler.instructions();
                    encode(id, &result)
                }
                // A stateless request has no session to start.
                None => Err(ErrorObject::method_not_found(&req.method)),
            },
            ClientRequest::Ping(params) => {
                // Allowed at any time, even before `initialize`. `ping` is
                // gone from 2026-07-28, but answering it costs nothing and
                // keeps health checks working.
                let modern = params.meta.is_some_and(|m| m.protocol_version.is_some());
                encode(
                    id,
                    &if modern {
                        EmptyResult::complete()
                    } else {
                        EmptyResult::legacy()
                    },
                )
            }
            ClientRequest::Discover(params) => {
                let served = self.serve_as::<method::Discover>(params.meta.as_ref(), session)?;
                let mut result = DiscoverResult::new(
                    self.options.supported_versions.clone(),
                    self.handler.capabilities(),
                    self.options.discover_ttl_ms,
                    mcp_core::CacheScope::Public,
                );
                result.instructions = self.handler.instructions();
                self.finish(id, result, &served)
            }
            ClientRequest::SetLevel(params) => {
                self.serve_as::<method::SetLevel>(params.meta.as_ref(), session)?;
                if let Some(session) = session {
                    session.set_log_level(params.level);
                }
                encode(id, &EmptyResult::legacy())
            }
            ClientRequest::Subscribe(params) | ClientRequest::Unsubscribe(params) => {
                let served = self.serve_as::<method::Subscribe>(params.meta.as_ref(), session)?;
                let (Some(session), true) = (session, self.offers_subscriptions()) else {
                    return Err(ErrorObject::method_not_found(&req.method));
                };
                if req.method == method::Subscribe::NAME {
                    if let Some(e) = session.over_limit(&params.uri, self.options.max_subscriptions)
                    {
                        return Err(e);
                    }
                    if !session.accepted(&params.uri) {
                        let ctx = self.context(
                            route,
                            id,
                            &served,
                            params.meta.as_ref(),
                            InputResponses::new(),
                            Some(session),
                        );
                        self.handler
                            .subscribe(ctx, params.uri.clone())
                            .await
                            .map_err(|e| legacy_codes(e.into_error_object()))?;
                        // Every acceptance the session does not keep (over
                        // its limit, or a second one for the URI that
                        // raced this) is reported ended at once, so the
                        // handler's count stays true.
                        let uri = params.uri.clone();
                        match session.subscribe(params.uri, self.options.max_subscriptions) {
                            Ok(true) => {}
                            Ok(false) => self.handler.unsubscribed(&uri),
                            Err(e) => {
                                self.handler.unsubscribed(&uri);
                                return Err(e);
                            }
                        }
                    }
                } else if session.unsubscribe(&params.uri) {
                    self.handler.unsubscribed(&params.uri);
                }
                encode(id, &EmptyResult::legacy())
            }
            // Boxed: a subscription's future is large and rare, and would
            // otherwise grow every request's future.
            ClientRequest::Listen(params) => {
                Box::pin(self.listen(id, params, route, session)).await
            }
            ClientRequest::ListTools(p) => {
                self.simple::<method::ListTools, _, _>(
                    route,
                    id,
                    p,
                    session,
                    |c| c.tools.is_some(),
                    |ctx, p| self.handler.list_tools(ctx, p),
                )
                .await
            }
            ClientRequest::ListResources(p) => {
                self.simple::<method::ListResources, _, _>(
                    route,
                    id,
                    p,
                    session,
                    |c| c.resources.is_some(),
                    |ctx, p| self.handler.list_resources(ctx, p),
                )
                .await
            }
            ClientRequest::ListResourceTemplates(p) => {
                self.simple::<method::ListResourceTemplates, _, _>(
                    route,
                    id,
                    p,
                    session,
                    |c| c.resources.is_some(),
                    |ctx, p| self.handler.list_resource_templates(ctx, p),
                )
                .await
            }
            ClientRequest::ListPrompts(p) => {
                self.simple::<method::ListPrompts, _, _>(
                    route,
                    id,
                    p,
                    session,
                    |c| c.prompts.is_some(),
                    |ctx, p| self.handler.list_prompts(ctx, p),
                )
                .await
            }
            ClientRequest::Complete(p) => {
                self.simple::<method::Complete, _, _>(
                    route,
                    id,
                    p,
                    session,
                    |c| c.completions.is_some(),
                    |ctx, p| self.handler.complete(ctx, p),
                )
                .await
            }
            ClientRequest::CallTool(p) => {
                let served = self.serve_as::<method::CallTool>(p.meta.as_ref(), session)?;
                self.require(self.handler.capabilities().tools.is_some(), &req.method)?;
                let (ctx, digest) = self.prepare_input(route, req, &p, &served, session)?;
                match self.handler.call_tool(ctx.clone(), p).await {
                    Ok(result) => {
                        if result.is_error == Some(true) {
                            outcome.tool_failed();
                        }
                        if self.options.record_tool_calls {
                            outcome.tool_result(&result);
                        }
                        self.finish(id, result, &served)
                    }
                    // A tool error is for the model, unless the handler was
                    // really stopped by a request for input.
                    Err(Error::Tool(message)) if !ctx.asked_for_input() => {
                        outcome.tool_failed();
                        let result = CallToolResult::error(vec![ContentBlock::text(message)]);
                        if self.options.record_tool_calls {
                            outcome.tool_result(&result);
                        }
                        self.finish(id, result, &served)
                    }
                    Err(e) => self.input_or_error(req, e, &ctx, digest),
                }
            }
            ClientRequest::GetPrompt(p) => {
                let served = self.serve_as::<method::GetPrompt>(p.meta.as_ref(), session)?;
                self.require(self.handler.capabilities().prompts.is_some(), &req.method)?;
                let (ctx, digest) = self.prepare_input(route, req, &p, &served, session)?;
                match self.handler.get_prompt(ctx.clone(), p).await {
                    Ok(result) => self.finish(id, result, &served),
                    Err(e) => self.input_or_error(req, e, &ctx, digest),
                }
            }
            ClientRequest::ReadResource(p) => {
                let served = self.serve_as::<method::ReadResource>(p.meta.as_ref(), session)?;
                self.require(self.handler.capabilities().resources.is_some(), &req.method)?;
                let (ctx, digest) = self.prepare_input(route, req, &p, &served, session)?;
                match self.handler.read_resource(ctx.clone(), p).await {
                    Ok(result) => self.finish(id, result, &served),
                    Err(Error::Protocol(e)) if served.era == Era::Legacy => Err(legacy_codes(e)),
                    Err(e) => self.input_or_error(req, e, &ctx, digest),
                }
            }
            ClientRequest::Other(meta) => {
                let served = self.served(meta.as_ref(), Eras::Both, session)?;
                let ctx = self.context(
                    route,
                    id,
                    &served,
                    meta.as_ref(),
                    InputResponses::new(),
                    session,
                );
                let raw = self
                    .handler
                    .other_request(
                        ctx,
                        req.method.clone(),
                        req.raw_params().map(std::borrow::Cow::into_owned),
                    )
                    .await
                    .map_err(Error::into_error_object)?;
                encode(id, &raw)
            }
            _ => Err(ErrorObject::method_not_found(&req.method)),
        }
    }

    fn offers_subscriptions(&self) -> bool {
        self.handler
            .capabilities()
            .resources
            .is_some_and(|r| r.subscribe == Some(true))
    }

    /// A request served in one round by one handler method: check era and
    /// capability, call, stamp the result for the era.
    async fn simple<M, Fut, T>(
        &self,
        route: &Route,
        id: &mcp_core::RequestId,
        params: M::Params,
        session: Option<&SessionState>,
        offered: impl FnOnce(&mcp_core::ServerCapabilities) -> bool,
        call: impl FnOnce(RequestContext, M::Params) -> Fut,
    ) -> Reply
    where
        M: Method,
        Fut: Future<Output = Result<T, Error>>,
        T: Stamp + Serialize,
    {
        let served = self.serve_as::<M>(params.meta(), session)?;
        self.require(offered(&self.handler.capabilities()), M::NAME)?;
        let ctx = self.context(
            route,
            id,
            &served,
            params.meta(),
            InputResponses::new(),
            session,
        );
        let result = call(ctx, params).await.map_err(Error::into_error_object)?;
        self.finish(id, result, &served)
    }
}

/// Legacy clients know resource-not-found as -32002, which 2026-07-28
/// replaced with -32602 carrying the URI.
pub(crate) fn legacy_codes(e: ErrorObject) -> ErrorObject {
    let is_not_found = e.code() == mcp_core::ErrorCode::INVALID_PARAMS
        && e.data().is_some_and(|d| d.get("uri").is_some());
    if is_not_found {
        ErrorObject::new(mcp_core::ErrorCode::RESOURCE_NOT_FOUND, e.message())
            .with_data(e.data().cloned().unwrap_or_default())
    } else {
        e
    }
}
