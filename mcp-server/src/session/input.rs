//! Multi round-trip requests: the answers a retry brings, and the
//! input-required result when a handler asked for more.
//!
//! A `requestState` is sealed to a digest of the request (method, target,
//! arguments, principal), so that a client cannot replay answers given
//! for one request with another. The digest is computed only when needed:
//! when a retry carries state to open, or when a handler asks for input.

use mcp_core::meta::HasMeta;
use mcp_core::mrtr::{InputRequiredResult, InputResponses, InputRetry};
use mcp_core::request::ClientRequest;
use mcp_core::{CallToolResult, Era, ErrorObject, Outcome, Request};

use super::dispatcher::{Dispatcher, Reply, Route, encode};
use super::lifecycle::{Served, SessionState};
use crate::context::RequestContext;
use crate::error::Error;
use crate::handler::Handler;
use crate::request_state::request_digest;

/// The digest a `requestState` of `req` is sealed to, from its params
/// decoded again (this is the rare path); `None` for requests that never
/// ask for input.
fn digest_of(req: &Request, extensions: &http::Extensions) -> Option<String> {
    let principal = extensions
        .get::<mcp_core::transport::Principal>()
        .map(|p| &*p.0);
    Some(match ClientRequest::decode(req).ok()? {
        ClientRequest::CallTool(p) => request_digest(&req.method, &p.name, &p.arguments, principal),
        ClientRequest::GetPrompt(p) => {
            request_digest(&req.method, &p.name, &p.arguments, principal)
        }
        ClientRequest::ReadResource(p) => request_digest(&req.method, &p.uri, &(), principal),
        _ => return None,
    })
}

impl<H: Handler> Dispatcher<H> {
    /// The context of a request that may need input, with the answers its
    /// retry brings; and its digest, when a retry made it necessary.
    pub(super) fn prepare_input<P: HasMeta + InputRetry>(
        &self,
        route: &Route,
        req: &Request,
        p: &P,
        served: &Served,
        session: Option<&SessionState>,
    ) -> Result<(RequestContext, Option<String>), ErrorObject> {
        let (responses, state) = p.retry();
        // Only modern requests carry state: without it there is nothing
        // to open, and the keys of new answers mean nothing.
        let (answers, digest) = match state.filter(|_| served.era == Era::Modern) {
            Some(token) => {
                let digest = digest_of(req, &route.extensions).ok_or_else(|| {
                    ErrorObject::invalid_params("this request cannot carry requestState")
                })?;
                let sealed = self.options.state_key.open(token, &digest)?;
                let mut answers = sealed.a;
                for (key, value) in responses.cloned().unwrap_or_default() {
                    if sealed.p.contains(&key) {
                        answers.insert(key, value);
                    }
                }
                (answers, Some(digest))
            }
            None => (InputResponses::new(), None),
        };
        let ctx = self.context(route, &req.id, served, p.meta(), answers, session);
        Ok((ctx, digest))
    }

    /// The answer when a handler failed: an input-required result if it
    /// asked for input on a modern request (however the error was wrapped
    /// on the way out), else the error.
    pub(super) fn input_or_error(
        &self,
        req: &Request,
        e: Error,
        ctx: &RequestContext,
        digest: Option<String>,
    ) -> Reply {
        let input = ctx.take_input_state();
        let digest = match digest {
            Some(digest) => Some(digest),
            None if ctx.era() == Era::Modern && !input.asked.is_empty() => {
                digest_of(req, ctx.extensions())
            }
            None => None,
        };
        let Some(digest) = digest.filter(|_| !input.asked.is_empty()) else {
            return Err(match e {
                // Only the modern input path produces this.
                Error::InputRequired => {
                    ErrorObject::internal_error("input required, but none could be asked")
                }
                other => other.into_error_object(),
            });
        };
        let pending: Vec<String> = input.asked.keys().cloned().collect();
        let token =
            self.options
                .state_key
                .seal(digest, input.answers, pending, self.options.state_ttl);
        let mut result = InputRequiredResult::new(input.asked).with_request_state(token);
        let mut meta = mcp_core::ResultMeta::default();
        meta.server_info = Some(std::sync::Arc::clone(&self.info));
        result.meta = Some(meta);
        encode(&req.id, &Outcome::<CallToolResult>::InputRequired(result))
    }
}
