//! Multi round-trip requests: the answers a retry brings, and the
//! input-required result when a handler asked for more.

use mcp_core::meta::HasMeta;
use mcp_core::mrtr::{InputRequiredResult, InputResponses, InputRetry};
use mcp_core::{CallToolResult, Era, ErrorObject, Outcome, Request, RequestId};
use serde::Serialize;

use super::{Connection, Reply, Route, Served, encode};
use crate::context::RequestContext;
use crate::error::Error;
use crate::handler::Handler;
use crate::request_state::request_digest;

impl<H: Handler> Connection<H> {
    /// The context and, on modern requests, the request digest of a request
    /// that may need input first, with the answers its retry brings.
    pub(super) fn prepare_input<P: HasMeta + InputRetry>(
        &self,
        route: &Route,
        req: &Request,
        p: &P,
        served: &Served,
        target: &str,
        arguments: &impl Serialize,
    ) -> Result<(RequestContext, Option<String>), ErrorObject> {
        let principal = route
            .extensions
            .get::<mcp_core::transport::Principal>()
            .map(|p| &*p.0);
        let digest = (served.era == Era::Modern)
            .then(|| request_digest(&req.method, target, arguments, principal));
        let (responses, state) = p.retry();
        let answers = self.answers(state, responses.cloned(), digest.as_deref())?;
        Ok((self.context(route, req, served, p.meta(), answers), digest))
    }

    /// The answers a modern retry brings: those sealed in `requestState`
    /// plus the new ones for the keys asked last round.
    fn answers(
        &self,
        state: Option<&str>,
        responses: Option<InputResponses>,
        digest: Option<&str>,
    ) -> Result<InputResponses, ErrorObject> {
        // Only modern requests (which have a digest) carry state.
        let (Some(token), Some(digest)) = (state, digest) else {
            // Without our state we cannot know what the keys mean.
            return Ok(InputResponses::new());
        };
        let state = self.options.state_key.open(token, digest)?;
        let mut answers = state.a;
        for (key, value) in responses.unwrap_or_default() {
            if state.p.contains(&key) {
                answers.insert(key, value);
            }
        }
        Ok(answers)
    }

    /// The answer when a handler failed: an input-required result if it
    /// asked for input on a modern request (however the error was wrapped
    /// on the way out), else the error.
    pub(super) fn input_or_error(
        &self,
        id: &RequestId,
        e: Error,
        ctx: &RequestContext,
        digest: Option<String>,
    ) -> Reply {
        let input = ctx.take_input_state();
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
        meta.server_info = Some(self.handler.info());
        result.meta = Some(meta);
        encode(id, &Outcome::<CallToolResult>::InputRequired(result))
    }
}
