//! Resources with fixed URIs, and resource templates.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use mcp_core::ResourceContents;
use mcp_core::resources::{Resource, ResourceTemplate};

use super::tool::BoxFuture;
use crate::context::RequestContext;
use crate::error::Error;
use crate::uri_template::{TemplateError, UriTemplate};

pub(super) type ReadFn =
    dyn Fn(RequestContext, String) -> BoxFuture<Result<Vec<ResourceContents>, Error>> + Send + Sync;
pub(super) type TemplateReadFn = dyn Fn(
        RequestContext,
        String,
        BTreeMap<String, String>,
    ) -> BoxFuture<Result<Vec<ResourceContents>, Error>>
    + Send
    + Sync;
/// Completes a prefix of one argument to candidate values.
pub(crate) type CompleteFn = dyn Fn(&RequestContext, &str) -> Vec<String> + Send + Sync;

/// A resource at a fixed URI. Build one with [`resource`].
#[derive(Clone)]
pub struct ResourceRoute {
    pub(crate) resource: Resource,
    pub(crate) read: Arc<ReadFn>,
}

impl std::fmt::Debug for ResourceRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceRoute")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// A resource described by `resource`, read by `f` (which gets the URI).
pub fn resource<F, Fut>(resource: Resource, f: F) -> ResourceRoute
where
    F: Fn(RequestContext, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<ResourceContents>, Error>> + Send + 'static,
{
    ResourceRoute {
        resource,
        read: Arc::new(move |ctx, uri| Box::pin(f(ctx, uri))),
    }
}

impl ResourceRoute {
    /// The resource as listed.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }
}

/// A family of resources matching a URI template. Build one with
/// [`resource_template`].
#[derive(Clone)]
pub struct TemplateRoute {
    pub(crate) template: ResourceTemplate,
    pub(crate) parsed: UriTemplate,
    pub(crate) read: Arc<TemplateReadFn>,
    pub(crate) completers: BTreeMap<String, Arc<CompleteFn>>,
}

impl std::fmt::Debug for TemplateRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateRoute")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// Resources matching `template.uri_template` (RFC 6570), read by `f`
/// with the URI and the template's variables extracted from it.
///
/// # Errors
/// When the URI template does not parse.
pub fn resource_template<F, Fut>(
    template: ResourceTemplate,
    f: F,
) -> Result<TemplateRoute, TemplateError>
where
    F: Fn(RequestContext, String, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<ResourceContents>, Error>> + Send + 'static,
{
    Ok(TemplateRoute {
        parsed: UriTemplate::parse(&template.uri_template)?,
        template,
        read: Arc::new(move |ctx, uri, vars| Box::pin(f(ctx, uri, vars))),
        completers: BTreeMap::new(),
    })
}

impl TemplateRoute {
    /// Offers completions for template variable `name`: `f` maps what the
    /// user typed so far to candidates.
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
        f: impl Fn(&RequestContext, &str) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.completers.insert(name.into(), Arc::new(f));
        self
    }

    /// The template as listed.
    pub fn template(&self) -> &ResourceTemplate {
        &self.template
    }
}
