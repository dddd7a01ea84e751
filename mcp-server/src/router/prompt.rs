//! Prompts from async functions.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use mcp_core::prompts::{GetPromptResult, Prompt, PromptArgument, PromptMessage};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resource::CompleteFn;
use super::tool::{BoxFuture, schema_of};
use crate::context::RequestContext;
use crate::error::Error;

type GetFn = dyn Fn(RequestContext, BTreeMap<String, String>) -> BoxFuture<Result<GetPromptResult, Error>>
    + Send
    + Sync;

/// A prompt: its description and the function that renders it. Build one
/// with [`prompt`].
#[derive(Clone)]
pub struct PromptRoute {
    pub(crate) prompt: Prompt,
    pub(crate) get: Arc<GetFn>,
    pub(crate) completers: BTreeMap<String, Arc<CompleteFn>>,
}

impl std::fmt::Debug for PromptRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptRoute")
            .field("prompt", &self.prompt)
            .finish_non_exhaustive()
    }
}

/// What a prompt function may return.
pub trait IntoPromptResult: Send + 'static {
    /// The result to send.
    fn into_prompt_result(self) -> GetPromptResult;
}

impl IntoPromptResult for GetPromptResult {
    fn into_prompt_result(self) -> GetPromptResult {
        self
    }
}

impl IntoPromptResult for Vec<PromptMessage> {
    fn into_prompt_result(self) -> GetPromptResult {
        GetPromptResult::new(self)
    }
}

/// Prompt arguments from the properties of `A`'s schema.
fn arguments_of<A: JsonSchema>() -> Vec<PromptArgument> {
    let schema = schema_of::<A>();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut arg =
                PromptArgument::new(name.clone()).with_required(required.contains(&name.as_str()));
            if let Some(description) = property.get("description").and_then(Value::as_str) {
                arg = arg.with_description(description);
            }
            if let Some(title) = property.get("title").and_then(Value::as_str) {
                arg = arg.with_title(title);
            }
            arg
        })
        .collect()
}

/// A prompt called `name` rendered by `f`.
///
/// The arguments type `A` (a struct of `String` / `Option<String>` fields)
/// gives the prompt's argument list, with descriptions from doc comments;
/// missing or extra arguments are answered with -32602.
pub fn prompt<A, R, F, Fut>(
    name: impl Into<String>,
    description: impl Into<String>,
    f: F,
) -> PromptRoute
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    R: IntoPromptResult,
    F: Fn(RequestContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    let name = name.into();
    let prompt = Prompt::new(name.clone())
        .with_description(description)
        .with_arguments(arguments_of::<A>());
    let f = Arc::new(f);
    let get = move |ctx: RequestContext,
                    args: BTreeMap<String, String>|
          -> BoxFuture<Result<GetPromptResult, Error>> {
        let f = Arc::clone(&f);
        let name = name.clone();
        Box::pin(async move {
            let object = args
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let args: A = serde_json::from_value(Value::Object(object)).map_err(|e| {
                Error::invalid_params(format!("Invalid arguments for prompt {name}: {e}"))
            })?;
            Ok(f(ctx, args).await?.into_prompt_result())
        })
    };
    PromptRoute {
        prompt,
        get: Arc::new(get),
        completers: BTreeMap::new(),
    }
}

impl PromptRoute {
    /// Sets the display name.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.prompt.title = Some(title.into());
        self
    }

    /// Offers completions for argument `name`: `f` maps what the user typed
    /// so far to candidates.
    #[must_use]
    pub fn complete(
        self,
        name: impl Into<String>,
        f: impl Fn(&str) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.complete_with(name, move |_, typed| f(typed))
    }

    /// As [`complete`](Self::complete), for candidates that depend on the
    /// request (who is asking: `ctx.extensions()`).
    #[must_use]
    pub fn complete_with(
        mut self,
        name: impl Into<String>,
        f: impl Fn(&crate::RequestContext, &str) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.completers.insert(name.into(), Arc::new(f));
        self
    }

    /// The prompt as listed.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }
}
