//! The typed router: tools, resources, resource templates and prompts
//! registered as functions, changeable while the server runs.

mod prompt;
mod resource;
mod tool;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use mcp_core::capabilities::{ListChangedCapability, ResourcesCapability};
use mcp_core::completion::{CompleteParams, CompleteResult, Reference};
use mcp_core::headers::ParamHeader;
use mcp_core::prompts::{GetPromptParams, GetPromptResult, ListPromptsResult};
use mcp_core::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult,
};
use mcp_core::tools::ListToolsResult;
use mcp_core::{
    CallToolParams, CallToolResult, ErrorObject, Implementation, JsonObject, PaginatedParams,
    ResourceContents, ServerCapabilities,
};
use tokio::sync::broadcast;

pub use prompt::{IntoPromptResult, PromptRoute, prompt};
pub use resource::{ResourceRoute, TemplateRoute, resource, resource_template};
pub use tool::{
    IntoToolResult, Json, NoArgs, ToolFn, ToolRoute, WithContext, WithoutContext, tool,
};

use crate::context::RequestContext;
use crate::error::Error;
use crate::handler::{Handler, ServerEvent};

/// A [`Handler`] built from registered tools, resources and prompts.
///
/// Cheap to clone: clones share the registrations, so keep one to add,
/// replace or remove entries while the server runs; every change is
/// announced to clients (`list_changed`). Lists are ordered by name (URI
/// for resources) and paginated.
///
/// ```
/// use mcp_server::{Error, RequestContext, Router, tool};
/// use mcp_core::Implementation;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Echo { message: String }
///
/// let router = Router::new("demo", "1.0.0")
///     .with_tool(tool("echo", "Sends the message back", |_: RequestContext, a: Echo| async move {
///         Ok::<_, Error>(a.message)
///     }));
/// assert!(router.remove_tool("echo"));
/// ```
#[derive(Clone, Debug)]
pub struct Router {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    info: Implementation,
    instructions: Option<String>,
    page_size: usize,
    state: RwLock<Registry>,
    events: broadcast::Sender<ServerEvent>,
}

#[derive(Debug, Default)]
struct Registry {
    tools: BTreeMap<String, ToolRoute>,
    resources: BTreeMap<String, ResourceRoute>,
    templates: BTreeMap<String, TemplateRoute>,
    prompts: BTreeMap<String, PromptRoute>,
    /// Which features the server declares; set once anything of the kind
    /// is registered (or enabled), and never unset, so capabilities stay
    /// stable for the life of a session.
    offers_tools: bool,
    offers_resources: bool,
    offers_prompts: bool,
}

impl Router {
    /// An empty router for the server `name` at `version`, as the server
    /// introduces itself to clients.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self::from_info(Implementation::new(name, version))
    }

    /// An empty router for the server described by `info` (with a title,
    /// icons or a website besides name and version).
    pub fn from_info(info: Implementation) -> Self {
        Self {
            inner: Arc::new(Inner {
                info,
                instructions: None,
                page_size: 100,
                state: RwLock::default(),
                events: broadcast::channel(64).0,
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
        // Only used while building, before the router is shared.
        Arc::make_mut_or_panic(&mut self.inner)
    }

    /// Sets the instructions for the model.
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.inner_mut().instructions = Some(instructions.into());
        self
    }

    /// Sets how many entries a list page holds (default 100).
    #[must_use]
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.inner_mut().page_size = page_size.max(1);
        self
    }

    /// Adds a tool.
    #[must_use]
    pub fn with_tool(self, route: ToolRoute) -> Self {
        self.add_tool(route);
        self
    }

    /// Adds a resource.
    #[must_use]
    pub fn with_resource(self, route: ResourceRoute) -> Self {
        self.add_resource(route);
        self
    }

    /// Adds a resource template.
    #[must_use]
    pub fn with_resource_template(self, route: TemplateRoute) -> Self {
        self.add_resource_template(route);
        self
    }

    /// Adds a prompt.
    #[must_use]
    pub fn with_prompt(self, route: PromptRoute) -> Self {
        self.add_prompt(route);
        self
    }

    /// Declares the tools capability even with no tool registered yet, for
    /// servers that add tools later.
    #[must_use]
    pub fn enable_tools(self) -> Self {
        self.write().offers_tools = true;
        self
    }

    /// Declares the resources capability up front.
    #[must_use]
    pub fn enable_resources(self) -> Self {
        self.write().offers_resources = true;
        self
    }

    /// Declares the prompts capability up front.
    #[must_use]
    pub fn enable_prompts(self) -> Self {
        self.write().offers_prompts = true;
        self
    }

    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn announce(&self, event: ServerEvent) {
        // No receivers is fine: nobody is connected.
        let _ = self.inner.events.send(event);
    }

    /// Adds or replaces a tool, and announces the change.
    pub fn add_tool(&self, mut route: ToolRoute) {
        route.header_params = ParamHeader::from_schema(&route.tool.input_schema)
            .ok()
            .map(Into::into);
        {
            let mut state = self.write();
            state.offers_tools = true;
            state.tools.insert(route.tool.name.clone(), route);
        }
        self.announce(ServerEvent::ToolsChanged);
    }

    /// Removes a tool; announces the change if there was one.
    pub fn remove_tool(&self, name: &str) -> bool {
        let removed = self.write().tools.remove(name).is_some();
        if removed {
            self.announce(ServerEvent::ToolsChanged);
        }
        removed
    }

    /// Adds or replaces a resource, and announces the change.
    pub fn add_resource(&self, route: ResourceRoute) {
        {
            let mut state = self.write();
            state.offers_resources = true;
            state.resources.insert(route.resource.uri.clone(), route);
        }
        self.announce(ServerEvent::ResourcesChanged);
    }

    /// Removes the resource at `uri`; announces the change if there was one.
    pub fn remove_resource(&self, uri: &str) -> bool {
        let removed = self.write().resources.remove(uri).is_some();
        if removed {
            self.announce(ServerEvent::ResourcesChanged);
        }
        removed
    }

    /// Adds or replaces a resource template (by name), and announces the change.
    pub fn add_resource_template(&self, route: TemplateRoute) {
        {
            let mut state = self.write();
            state.offers_resources = true;
            state.templates.insert(route.template.name.clone(), route);
        }
        self.announce(ServerEvent::ResourcesChanged);
    }

    /// Removes the resource template called `name`.
    pub fn remove_resource_template(&self, name: &str) -> bool {
        let removed = self.write().templates.remove(name).is_some();
        if removed {
            self.announce(ServerEvent::ResourcesChanged);
        }
        removed
    }

    /// Adds or replaces a prompt, and announces the change.
    pub fn add_prompt(&self, route: PromptRoute) {
        {
            let mut state = self.write();
            state.offers_prompts = true;
            state.prompts.insert(route.prompt.name.clone(), route);
        }
        self.announce(ServerEvent::PromptsChanged);
    }

    /// Removes a prompt; announces the change if there was one.
    pub fn remove_prompt(&self, name: &str) -> bool {
        let removed = self.write().prompts.remove(name).is_some();
        if removed {
            self.announce(ServerEvent::PromptsChanged);
        }
        removed
    }

    /// Tells subscribed clients that the resource at `uri` changed.
    pub fn notify_resource_updated(&self, uri: impl Into<String>) {
        self.announce(ServerEvent::ResourceUpdated(uri.into()));
    }

    fn page<T: Clone, U>(
        &self,
        map: &BTreeMap<String, T>,
        cursor: Option<&str>,
        describe: impl Fn(&T) -> U,
    ) -> Result<(Vec<U>, Option<String>), Error> {
        let start = match cursor {
            None => Bound::Unbounded,
            Some(cursor) => {
                let key = B64
                    .decode(cursor)
                    .ok()
                    .and_then(|k| String::from_utf8(k).ok())
                    .ok_or_else(|| Error::invalid_params("Invalid cursor"))?;
                Bound::Excluded(key)
            }
        };
        let size = self.inner.page_size;
        let mut entries = map.range((start, Bound::Unbounded));
        let page: Vec<(&String, &T)> = entries.by_ref().take(size).collect();
        let next = match (entries.next(), page.last()) {
            (Some(_), Some((last, _))) => Some(B64.encode(last.as_bytes())),
            _ => None,
        };
        Ok((page.into_iter().map(|(_, v)| describe(v)).collect(), next))
    }
}

/// Builds on `Arc::get_mut`; panicking is fine because only the builder
/// methods call it, before the router is cloned.
trait MakeMut<T> {
    fn make_mut_or_panic(this: &mut Self) -> &mut T;
}

impl<T> MakeMut<T> for Arc<T> {
    #[expect(clippy::panic, reason = "builder misuse: configure before cloning")]
    fn make_mut_or_panic(this: &mut Self) -> &mut T {
        match Self::get_mut(this) {
            Some(inner) => inner,
            None => panic!("configure the Router before cloning it"),
        }
    }
}

/// Resource not found, as the specification reports it (-32602 with the URI
/// in `data`; the session turns it into -32002 for legacy clients).
pub fn resource_not_found(uri: &str) -> Error {
    Error::Protocol(ErrorObject::resource_not_found(uri))
}

impl Handler for Router {
    fn info(&self) -> Implementation {
        self.inner.info.clone()
    }

    fn instructions(&self) -> Option<String> {
        self.inner.instructions.clone()
    }

    fn capabilities(&self) -> ServerCapabilities {
        let state = self.read();
        let mut caps = ServerCapabilities::default();
        caps.logging = Some(JsonObject::new());
        if state.offers_tools {
            caps.tools = Some(ListChangedCapability::new(true));
        }
        if state.offers_resources {
            caps.resources = Some(ResourcesCapability::new(true, true));
        }
        if state.offers_prompts {
            caps.prompts = Some(ListChangedCapability::new(true));
        }
        if state.offers_prompts || state.offers_resources {
            caps.completions = Some(JsonObject::new());
        }
        caps
    }

    async fn list_tools(
        &self,
        _ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListToolsResult, Error> {
        let state = self.read();
        let (tools, next) =
            self.page(&state.tools, params.cursor.as_deref(), |r| r.tool.clone())?;
        let mut result = ListToolsResult::new(tools);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        ctx: RequestContext,
        params: CallToolParams,
    ) -> Result<CallToolResult, Error> {
        let call = self
            .read()
            .tools
            .get(&params.name)
            .map(|r| Arc::clone(&r.call));
        let Some(call) = call else {
            return Err(Error::invalid_params(format!(
                "Unknown tool: {}",
                params.name
            )));
        };
        call(ctx, params.arguments).await
    }

    async fn list_resources(
        &self,
        _ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListResourcesResult, Error> {
        let state = self.read();
        let (resources, next) = self.page(&state.resources, params.cursor.as_deref(), |r| {
            r.resource.clone()
        })?;
        let mut result = ListResourcesResult::new(resources);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListResourceTemplatesResult, Error> {
        let state = self.read();
        let (templates, next) = self.page(&state.templates, params.cursor.as_deref(), |r| {
            r.template.clone()
        })?;
        let mut result = ListResourceTemplatesResult::new(templates);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        ctx: RequestContext,
        params: ReadResourceParams,
    ) -> Result<ReadResourceResult, Error> {
        // Found under the lock, called after it is released (a handler may
        // change the router). The listing's MIME type is the read's default.
        let (reader, mime_type) = {
            let state = self.read();
            if let Some(r) = state.resources.get(&params.uri) {
                (
                    Reader::Fixed(Arc::clone(&r.read)),
                    r.resource.mime_type.clone(),
                )
            } else if let Some(found) = state.templates.values().find_map(|t| {
                t.parsed.matches(&params.uri).map(|vars| {
                    (
                        Reader::Templated(Arc::clone(&t.read), vars),
                        t.template.mime_type.clone(),
                    )
                })
            }) {
                found
            } else {
                return Err(resource_not_found(&params.uri));
            }
        };
        let uri = params.uri;
        let mut contents = match reader {
            Reader::Fixed(read) => read(ctx, uri.clone()).await?,
            Reader::Templated(read, vars) => read(ctx, uri.clone(), vars).await?,
        };
        if let Some(mime_type) = mime_type {
            default_mime_type(&mut contents, &uri, &mime_type);
        }
        Ok(ReadResourceResult::new(contents))
    }

    async fn list_prompts(
        &self,
        _ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListPromptsResult, Error> {
        let state = self.read();
        let (prompts, next) = self.page(&state.prompts, params.cursor.as_deref(), |r| {
            r.prompt.clone()
        })?;
        let mut result = ListPromptsResult::new(prompts);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        ctx: RequestContext,
        params: GetPromptParams,
    ) -> Result<GetPromptResult, Error> {
        let get = self
            .read()
            .prompts
            .get(&params.name)
            .map(|r| Arc::clone(&r.get));
        let Some(get) = get else {
            return Err(Error::invalid_params(format!(
                "Unknown prompt: {}",
                params.name
            )));
        };
        get(ctx, params.arguments.unwrap_or_default()).await
    }

    async fn complete(
        &self,
        ctx: RequestContext,
        params: CompleteParams,
    ) -> Result<CompleteResult, Error> {
        let completer = {
            let state = self.read();
            match &params.reference {
                Reference::Prompt { name, .. } => {
                    let route = state
                        .prompts
                        .get(name)
                        .ok_or_else(|| Error::invalid_params(format!("Unknown prompt: {name}")))?;
                    route.completers.get(&params.argument.name).cloned()
                }
                Reference::Resource { uri } => {
                    let route = state
                        .templates
                        .values()
                        .find(|t| t.template.uri_template == *uri)
                        .ok_or_else(|| {
                            Error::invalid_params(format!("Unknown resource template: {uri}"))
                        })?;
                    route.completers.get(&params.argument.name).cloned()
                }
                _ => None,
            }
        };
        let values = completer
            .map(|f| f(&ctx, &params.argument.value))
            .unwrap_or_default();
        Ok(CompleteResult::new(values))
    }

    async fn subscribe(&self, _ctx: RequestContext, uri: String) -> Result<(), Error> {
        let state = self.read();
        if state.resources.contains_key(&uri)
            || state
                .templates
                .values()
                .any(|t| t.parsed.matches(&uri).is_some())
        {
            Ok(())
        } else {
            Err(resource_not_found(&uri))
        }
    }

    fn tool(&self, name: &str) -> Option<mcp_core::Tool> {
        self.read().tools.get(name).map(|r| r.tool.clone())
    }

    fn tool_header_params(&self, name: &str) -> Option<Arc<[ParamHeader]>> {
        self.read()
            .tools
            .get(name)
            .and_then(|r| r.header_params.clone())
    }

    fn events(&self) -> Option<broadcast::Receiver<ServerEvent>> {
        Some(self.inner.events.subscribe())
    }
}

/// How the resource asked for is read.
enum Reader {
    Fixed(Arc<resource::ReadFn>),
    Templated(Arc<resource::TemplateReadFn>, BTreeMap<String, String>),
}

/// Gives the contents of `uri` that name no MIME type `mime_type`: the
/// type its listing announced, unless the handler said otherwise.
fn default_mime_type(contents: &mut [ResourceContents], uri: &str, mime_type: &str) {
    for item in contents {
        let (item_uri, slot) = match item {
            ResourceContents::Text(t) => (&t.uri, &mut t.mime_type),
            ResourceContents::Blob(b) => (&b.uri, &mut b.mime_type),
            _ => continue,
        };
        if item_uri == uri && slot.is_none() {
            *slot = Some(mime_type.to_owned());
        }
    }
}
