//! The gateway as one MCP server: a [`Handler`] whose tools, prompts and
//! resources are those of its upstreams, each request routed to the
//! upstream that owns what it names, within the caller's policy.

mod merge;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use mcp_auth::Identity;
use mcp_core::completion::{CompleteParams, CompleteResult, Reference};
use mcp_core::headers::ParamHeader;
use mcp_core::method;
use mcp_core::prompts::{GetPromptParams, GetPromptResult, ListPromptsResult};
use mcp_core::request::ClientRequest;
use mcp_core::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult,
};
use mcp_core::security::SecurityEvent;
use mcp_core::tools::ListToolsResult;
use mcp_core::{
    CallToolParams, CallToolResult, ContentBlock, ErrorObject, Implementation, JsonObject,
    PaginatedParams, ResourceContents, ServerCapabilities,
};
use mcp_server::clock::{Clock, SystemClock};
use mcp_server::secrets::Secrets;
use mcp_server::{Error, Handler, RequestContext, ServerEvent};
use tokio::sync::broadcast;

use crate::config::{Config, Refusal, RuleTarget};
use crate::policy::allows;
use crate::upstream::{CallError, Carried, Change, Lineage, Rates, Upstream, UpstreamStatus};
use merge::Merged;

/// One MCP server in front of many: build it from a [`Config`], serve it
/// like any handler (`Server::new(gateway)`), and [`apply`](Gateway::apply)
/// a new configuration to reload it. Cheap to clone.
///
/// It must be created inside a Tokio runtime: each upstream is connected,
/// and reconnected when it fails, by a task of its own.
#[derive(Clone, Debug)]
pub struct Gateway {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: RwLock<Arc<Config>>,
    merged: RwLock<Arc<Merged>>,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
    rates: Rates,
    changes: broadcast::Sender<Change>,
    events: broadcast::Sender<ServerEvent>,
    /// Serializes reloads and re-merges.
    merging: Mutex<()>,
    /// The resource subscriptions accepted, by the URI clients used: the
    /// upstream (by name) and its URI each was made on, one entry per
    /// subscription. Let go where it was made, even when a reload has
    /// changed how URIs map since (a prefix, a replaced upstream).
    subscribed: Mutex<Subscribed>,
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Accepted subscriptions by the URI clients used: the lineage of the
/// upstream each was made on, and that upstream's URI.
type Subscribed = HashMap<String, Vec<(Arc<Lineage>, String)>>;

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self
            .watcher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl Gateway {
    /// Starts a gateway: every upstream of `config` is connected in the
    /// background (an upstream that is down does not hold up the others;
    /// its tools appear when it is up). Secrets named in `config` come
    /// from `secrets`.
    pub fn new(config: Config, secrets: Secrets) -> Self {
        Self::with_clock(config, secrets, Arc::new(SystemClock::default()))
    }

    /// [`Gateway::new`] with the clock circuit breakers read (for tests).
    pub fn with_clock(config: Config, secrets: Secrets, clock: Arc<dyn Clock>) -> Self {
        let (changes, _) = broadcast::channel(256);
        let (events, _) = broadcast::channel(256);
        let rates = Rates::default();
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| {
                Upstream::start(
                    u.clone(),
                    secrets.clone(),
                    Arc::clone(&clock),
                    Arc::clone(&rates),
                    changes.clone(),
                    Carried::default(),
                )
            })
            .collect();
        let merged = Merged::new(&config, upstreams);
        let shared = Arc::new(Shared {
            config: RwLock::new(Arc::new(config)),
            merged: RwLock::new(Arc::new(merged)),
            secrets,
            clock,
            rates,
            changes,
            events,
            merging: Mutex::new(()),
            subscribed: Mutex::default(),
            watcher: Mutex::new(None),
        });
        let task = tokio::spawn(watch(Arc::downgrade(&shared), shared.changes.subscribe()));
        *shared
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
        Self { shared }
    }

    /// Applies a new configuration: upstreams added are started, removed
    /// ones stopped, changed ones restarted; unchanged upstreams keep
    /// their connections (and the calls in flight on them). Connected
    /// clients are told the lists changed.
    pub fn apply(&self, config: Config) {
        let _merging = self.shared.lock_merging();
        let old = self.merged();
        let upstreams = config
            .upstreams
            .iter()
            .map(|wanted| {
                old.upstreams
                    .iter()
                    .find(|u| u.config == *wanted)
                    .cloned()
                    .unwrap_or_else(|| {
                        let start = |carried| {
                            Upstream::start(
                                wanted.clone(),
                                self.shared.secrets.clone(),
                                Arc::clone(&self.shared.clock),
                                Arc::clone(&self.shared.rates),
                                self.shared.changes.clone(),
                                carried,
                            )
                        };
                        // A changed upstream takes over the subscriptions
                        // its namesake held.
                        match old.upstreams.iter().find(|u| u.config.name == wanted.name) {
                            Some(namesake) => namesake.replace_with(start),
                            None => start(Carried::default()),
                        }
                    })
            })
            .collect();
        let merged = Merged::new(&config, upstreams);
        let old = self.config();
        for (section, changed) in [
            (
                "[listen]",
                format!("{:?}", old.listen) != format!("{:?}", config.listen),
            ),
            (
                "[auth]",
                format!("{:?}", old.auth) != format!("{:?}", config.auth),
            ),
            (
                "[secrets]",
                format!("{:?}", old.secrets) != format!("{:?}", config.secrets),
            ),
            (
                "[redis]",
                format!("{:?}", old.redis) != format!("{:?}", config.redis),
            ),
            (
                "[[rate_limit]]",
                format!("{:?}", old.rate_limits) != format!("{:?}", config.rate_limits),
            ),
        ] {
            if changed {
                tracing::warn!(
                    section,
                    "changed, but read at start only: restart to apply it"
                );
            }
        }
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        self.shared.replace(merged);
        tracing::info!("configuration applied: upstreams, rules, policy, names");
    }

    /// Keeps every upstream's `max_rate` in `store` from now on instead of
    /// in this process, so that a pool of gateways sharing the store
    /// (Redis: [`mcp_server::redis::Redis::rate_limits`]) allows an
    /// upstream its rate once, not once per instance. [`app`](crate::app)
    /// does it when `[redis]` is configured. The first store given stays;
    /// returns whether this one was taken.
    pub fn share_rate_limits(&self, store: Arc<dyn mcp_server::limit::RateLimitStore>) -> bool {
        self.shared.rates.set(store).is_ok()
    }

    /// Each upstream's state, in configuration order.
    pub fn status(&self) -> Vec<UpstreamStatus> {
        self.merged().upstreams.iter().map(|u| u.status()).collect()
    }

    /// The upstreams' state in the Prometheus text format, after the
    /// SDK's own metrics: `mcp_gateway_upstream_up`,
    /// `mcp_gateway_upstream_circuit_open`,
    /// `mcp_gateway_upstream_connects_total`,
    /// `mcp_gateway_upstream_calls_total` by `outcome` (`answered`,
    /// `failed`, `refused`), `mcp_gateway_upstream_callers` and
    /// `mcp_gateway_upstream_sign_in_failures_total`, each labelled
    /// `upstream`.
    pub fn metrics(&self) -> String {
        let mut out = mcp_server::telemetry::Metrics::global().render();
        crate::metrics::render(&mut out, &self.status());
        out
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(
            &self
                .shared
                .config
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn merged(&self) -> Arc<Merged> {
        self.shared.merged()
    }

    /// Refuses what the caller's policy does not allow, as configured,
    /// and records it on the security event stream.
    fn refuse(&self, ctx: &RequestContext, what: &str, not_found: Error) -> Error {
        Self::report_refusal(ctx.extensions(), what);
        match self.config().policy.refuse {
            Refusal::Forbidden => Error::Protocol(forbidden(what)),
            _ => not_found,
        }
    }

    /// The page `params` asks for of the entries `of` the merged view that
    /// the caller may see, each checked as `target` of its upstream.
    fn visible<T: Clone>(
        &self,
        ctx: &RequestContext,
        params: &PaginatedParams,
        of: impl Fn(&Merged) -> &[merge::Entry<T>],
        target: for<'a> fn(&'a str) -> RuleTarget<'a>,
    ) -> Result<(Vec<T>, Option<String>), Error> {
        let merged = self.merged();
        let config = self.config();
        let visible = |e: &merge::Entry<T>| {
            merged
                .upstream(e.upstream)
                .is_some_and(|u| allows(&config, caller(ctx), u.name(), target(&e.original)))
        };
        let (page, next) = page(
            of(&merged),
            visible,
            params.cursor.as_deref(),
            config.gateway.page_size,
        )?;
        Ok((page.into_iter().map(|e| e.item.clone()).collect(), next))
    }

    fn allowed(&self, ctx: &RequestContext, upstream: &Upstream, target: RuleTarget<'_>) -> bool {
        allows(&self.config(), caller(ctx), upstream.name(), target)
    }

    /// What of `request` policy refuses `caller`, named as the refusal
    /// names it (`tool NAME`, `resource URI`, …); `None` when it is
    /// allowed or names nothing here (the handler answers those). Asked
    /// before the request reaches the handler when refusals are HTTP 403,
    /// with the same rules and catalog the handler then applies again.
    pub(crate) fn denied(
        &self,
        caller: Option<&Identity>,
        request: &ClientRequest,
    ) -> Option<String> {
        let merged = self.merged();
        let config = self.config();
        let refuses =
            |index: usize, target: RuleTarget<'_>| refuses(&config, &merged, caller, index, target);
        match request {
            ClientRequest::CallTool(params) => {
                let entry = merged.tool(&params.name)?;
                refuses(entry.upstream, RuleTarget::Tool(&entry.original))
                    .then(|| format!("tool {}", params.name))
            }
            ClientRequest::GetPrompt(params) => {
                let entry = merged.prompt(&params.name)?;
                refuses(entry.upstream, RuleTarget::Prompt(&entry.original))
                    .then(|| format!("prompt {}", params.name))
            }
            ClientRequest::ReadResource(params) if !sneaky(&params.uri) => {
                let (index, original) = merged.route_uri(&params.uri)?;
                refuses(index, RuleTarget::Resource(&original))
                    .then(|| format!("resource {}", params.uri))
            }
            ClientRequest::Subscribe(params) if !sneaky(&params.uri) => {
                let (index, original) = merged.route_uri(&params.uri)?;
                let upstream = merged.upstream(index)?;
                (!crate::policy::allows_under(&config, caller, upstream.name(), &original))
                    .then(|| format!("subscription to {}", params.uri))
            }
            ClientRequest::Complete(params) => {
                let refused = match &params.reference {
                    Reference::Prompt { name, .. } => {
                        let entry = merged.prompt(name)?;
                        refuses(entry.upstream, RuleTarget::Prompt(&entry.original))
                    }
                    Reference::Resource { uri } if !sneaky(uri) => {
                        let (index, original) = merged.route_uri(uri)?;
                        refuses(index, RuleTarget::Resource(&original))
                    }
                    _ => false,
                };
                refused.then(|| "completion".to_owned())
            }
            _ => None,
        }
    }

    /// Records a refusal of `what` on the security event stream, its
    /// caller-chosen text bounded and quoted so that it cannot pass for
    /// other fields or lines.
    pub(crate) fn report_refusal(extensions: &http::Extensions, what: &str) {
        let mut shown: String = what.chars().take(MAX_SHOWN).collect();
        if shown.len() < what.len() {
            shown.push('…');
        }
        mcp_server::security_event::refused(
            SecurityEvent::PolicyRefused,
            extensions,
            &format_args!("{shown:?}"),
        );
    }
}

/// Whether policy refuses `caller` the `target` of upstream `index` of
/// `merged` (nothing is refused of an upstream that is not there: the
/// name is unknown, and answered as such).
fn refuses(
    config: &Config,
    merged: &Merged,
    caller: Option<&Identity>,
    index: usize,
    target: RuleTarget<'_>,
) -> bool {
    merged
        .upstream(index)
        .is_some_and(|u| !allows(config, caller, u.name(), target))
}

/// Characters of a refused name shown in the security event.
const MAX_SHOWN: usize = 200;

/// The JSON-RPC code of a policy refusal when refusals say so.
pub const FORBIDDEN: i32 = -32003;

/// The error of a policy refusal of `what` when refusals say so.
pub(crate) fn forbidden(what: &str) -> ErrorObject {
    ErrorObject::new(FORBIDDEN, format!("{what}: not allowed for this caller"))
}

impl Shared {
    fn merged(&self) -> Arc<Merged> {
        Arc::clone(&self.merged.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn lock_merging(&self) -> std::sync::MutexGuard<'_, ()> {
        self.merging.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_subscribed(&self) -> std::sync::MutexGuard<'_, Subscribed> {
        self.subscribed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `merged` in force and announces the lists that changed.
    fn replace(&self, merged: Merged) {
        let old = std::mem::replace(
            &mut *self.merged.write().unwrap_or_else(PoisonError::into_inner),
            Arc::new(merged),
        );
        let new = self.merged();
        if !same(&old.tools, &new.tools) {
            let _ = self.events.send(ServerEvent::ToolsChanged);
        }
        if !same(&old.prompts, &new.prompts) {
            let _ = self.events.send(ServerEvent::PromptsChanged);
        }
        if !same(&old.resources, &new.resources) || !same(&old.templates, &new.templates) {
            let _ = self.events.send(ServerEvent::ResourcesChanged);
        }
    }
}

fn same<T: PartialEq>(a: &[merge::Entry<T>], b: &[merge::Entry<T>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.item == y.item)
}

/// Re-merges when an upstream's catalog changes; maps resource updates.
async fn watch(shared: std::sync::Weak<Shared>, mut changes: broadcast::Receiver<Change>) {
    loop {
        let change = match changes.recv().await {
            Ok(change) => change,
            // Missed some: a re-merge covers every catalog change.
            Err(broadcast::error::RecvError::Lagged(_)) => Change::Catalog,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match change {
            Change::Catalog => {
                let _merging = shared.lock_merging();
                let config =
                    Arc::clone(&shared.config.read().unwrap_or_else(PoisonError::into_inner));
                let upstreams = shared.merged().upstreams.clone();
                shared.replace(Merged::new(&config, upstreams));
            }
            Change::ResourceUpdated { upstream, uri } => {
                let merged = shared.merged();
                if let Some(index) = merged.upstreams.iter().position(|u| u.name() == upstream) {
                    let _ = shared.events.send(ServerEvent::ResourceUpdated(
                        merged.exposed_uri(index, &uri),
                    ));
                }
            }
        }
    }
}

/// A URI with dot segments (`/../`, `/./`, encoded or not): a file server
/// would resolve them, a rule's pattern would not. Refused before any
/// rule is asked.
fn sneaky(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase().replace("%2e", ".");
    lower
        .split(['/', '\\'])
        .any(|segment| segment == "." || segment == "..")
}

/// Who is calling, when the transport authenticated them.
fn caller(ctx: &RequestContext) -> Option<&Identity> {
    ctx.extensions().get::<Identity>()
}

/// What starts a cursor this gateway issued; the key of the page's last
/// entry follows.
const AFTER: &str = "gw:after:";

/// One page of the `visible` entries of a sorted list, from `cursor`.
///
/// A cursor names the last entry of the page before by its key, and the
/// next page starts after that key, whether or not the entry is still
/// there: a list that changed between two pages (an upstream reconnected,
/// the configuration reloaded) neither repeats nor skips an entry that
/// was in it all along, as a position would.
fn page<'a, T>(
    entries: &'a [merge::Entry<T>],
    visible: impl Fn(&merge::Entry<T>) -> bool,
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<&'a merge::Entry<T>>, Option<String>), Error> {
    let start = match cursor {
        None => 0,
        Some(c) => {
            let last = c.strip_prefix(AFTER).ok_or_else(|| {
                Error::invalid_params("invalid cursor: not one this server issued")
            })?;
            entries.partition_point(|e| e.key.as_str() <= last)
        }
    };
    let mut rest = entries
        .get(start..)
        .unwrap_or_default()
        .iter()
        .filter(|e| visible(e));
    let page: Vec<&merge::Entry<T>> = rest.by_ref().take(size).collect();
    let next = match (rest.next(), page.last()) {
        (Some(_), Some(last)) => Some(format!("{AFTER}{}", last.key)),
        _ => None,
    };
    Ok((page, next))
}

/// A completion reference that names nothing this caller may use.
fn unknown_reference() -> Error {
    Error::invalid_params("unknown completion reference")
}

/// What an upstream's failure becomes for the caller.
fn failed(e: CallError) -> Error {
    match e {
        CallError::Remote(error) => Error::Protocol(error),
        CallError::InputRequired => Error::InputRequired,
        CallError::Limited(error) => Error::Protocol(error),
        CallError::Unavailable(why) => Error::Tool(why),
    }
}

/// An upstream's URIs in contents, as clients see them.
fn map_contents(contents: &mut ResourceContents, map: &impl Fn(&str) -> String) {
    match contents {
        ResourceContents::Text(text) => text.uri = map(&text.uri),
        ResourceContents::Blob(blob) => blob.uri = map(&blob.uri),
        _ => {}
    }
}

impl Handler for Gateway {
    fn info(&self) -> Implementation {
        Implementation::new(
            self.config().gateway.name.clone(),
            env!("CARGO_PKG_VERSION"),
        )
    }

    fn capabilities(&self) -> ServerCapabilities {
        let mut caps = ServerCapabilities::default();
        caps.logging = Some(JsonObject::new());
        caps.tools = Some(mcp_core::capabilities::ListChangedCapability::new(true));
        caps.prompts = Some(mcp_core::capabilities::ListChangedCapability::new(true));
        caps.resources = Some(mcp_core::capabilities::ResourcesCapability::new(true, true));
        caps.completions = Some(JsonObject::new());
        caps
    }

    fn instructions(&self) -> Option<String> {
        self.merged().instructions.clone()
    }

    async fn list_tools(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListToolsResult, Error> {
        let (tools, next) = self.visible(&ctx, &params, |m| &m.tools, |n| RuleTarget::Tool(n))?;
        let mut result = ListToolsResult::new(tools);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        ctx: RequestContext,
        params: CallToolParams,
    ) -> Result<CallToolResult, Error> {
        let merged = self.merged();
        let unknown = || Error::invalid_params(format!("Unknown tool: {}", params.name));
        let (entry, upstream) = merged
            .tool(&params.name)
            .and_then(|e| Some((e, merged.upstream(e.upstream)?)))
            .ok_or_else(unknown)?;
        if !self.allowed(&ctx, upstream, RuleTarget::Tool(&entry.original)) {
            return Err(self.refuse(&ctx, &format!("tool {}", params.name), unknown()));
        }
        let mut forwarded = CallToolParams::new(&entry.original);
        forwarded.arguments = params.arguments;
        let mut result = upstream
            .call(&ctx, |client, options| async move {
                client.call_tool_with(forwarded, options).await
            })
            .await
            .map_err(failed)?;
        let index = entry.upstream;
        let map = |uri: &str| merged.exposed_uri(index, uri);
        for block in &mut result.content {
            match block {
                ContentBlock::ResourceLink(link) => link.uri = map(&link.uri),
                ContentBlock::Resource(embedded) => map_contents(&mut embedded.resource, &map),
                _ => {}
            }
        }
        Ok(result)
    }

    async fn list_prompts(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListPromptsResult, Error> {
        let (prompts, next) =
            self.visible(&ctx, &params, |m| &m.prompts, |n| RuleTarget::Prompt(n))?;
        let mut result = ListPromptsResult::new(prompts);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        ctx: RequestContext,
        params: GetPromptParams,
    ) -> Result<GetPromptResult, Error> {
        let merged = self.merged();
        let unknown = || Error::invalid_params(format!("Unknown prompt: {}", params.name));
        let (entry, upstream) = merged
            .prompt(&params.name)
            .and_then(|e| Some((e, merged.upstream(e.upstream)?)))
            .ok_or_else(unknown)?;
        if !self.allowed(&ctx, upstream, RuleTarget::Prompt(&entry.original)) {
            return Err(self.refuse(&ctx, &format!("prompt {}", params.name), unknown()));
        }
        let name = entry.original.clone();
        let arguments = params.arguments.unwrap_or_default();
        upstream
            .call(&ctx, |client, _| async move {
                client.get_prompt(&name, arguments).await
            })
            .await
            .map_err(failed)
    }

    async fn list_resources(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListResourcesResult, Error> {
        let (resources, next) =
            self.visible(&ctx, &params, |m| &m.resources, |n| RuleTarget::Resource(n))?;
        let mut result = ListResourcesResult::new(resources);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        ctx: RequestContext,
        params: PaginatedParams,
    ) -> Result<ListResourceTemplatesResult, Error> {
        let (templates, next) =
            self.visible(&ctx, &params, |m| &m.templates, |n| RuleTarget::Resource(n))?;
        let mut result = ListResourceTemplatesResult::new(templates);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        ctx: RequestContext,
        params: ReadResourceParams,
    ) -> Result<ReadResourceResult, Error> {
        let merged = self.merged();
        let not_found = || mcp_server::resource_not_found(&params.uri);
        if sneaky(&params.uri) {
            return Err(Error::invalid_params(
                "resource URIs with dot segments are refused",
            ));
        }
        let (index, original) = merged.route_uri(&params.uri).ok_or_else(not_found)?;
        let upstream = merged.upstream(index).ok_or_else(not_found)?;
        if !self.allowed(&ctx, upstream, RuleTarget::Resource(&original)) {
            return Err(self.refuse(&ctx, &format!("resource {}", params.uri), not_found()));
        }
        let mut result = upstream
            .call(&ctx, |client, _| async move {
                client.read_resource(&original).await
            })
            .await
            .map_err(failed)?;
        for contents in &mut result.contents {
            map_contents(contents, &|uri| merged.exposed_uri(index, uri));
        }
        Ok(result)
    }

    async fn subscribe(&self, ctx: RequestContext, uri: String) -> Result<(), Error> {
        let merged = self.merged();
        let not_found = || mcp_server::resource_not_found(&uri);
        if sneaky(&uri) {
            return Err(Error::invalid_params(
                "resource URIs with dot segments are refused",
            ));
        }
        let (index, original) = merged.route_uri(&uri).ok_or_else(not_found)?;
        let upstream = merged.upstream(index).ok_or_else(not_found)?;
        let config = self.config();
        if !crate::policy::allows_under(&config, caller(&ctx), upstream.name(), &original) {
            return Err(self.refuse(&ctx, &format!("subscription to {uri}"), not_found()));
        }
        if !upstream.catalog().subscribe {
            // Refused rather than accepted uncounted: every subscription
            // accepted here is one the upstream holds (see `unsubscribed`).
            return Err(Error::invalid_params(format!(
                "{uri}: its server does not offer subscriptions"
            )));
        }
        upstream.subscribe(&original).await.map_err(failed)?;
        // In the same poll as the answer: accepted and recorded together.
        self.shared
            .lock_subscribed()
            .entry(uri)
            .or_default()
            .push((Arc::clone(upstream.lineage()), original));
        Ok(())
    }

    fn unsubscribed(&self, uri: &str) {
        let made = {
            let mut subscribed = self.shared.lock_subscribed();
            let Some(made) = subscribed.get_mut(uri) else {
                return;
            };
            let last = made.pop();
            if made.is_empty() {
                subscribed.remove(uri);
            }
            last
        };
        let Some((lineage, original)) = made else {
            return;
        };
        // The upstream it was made on, or the one a reload replaced that
        // with; none when it was removed since.
        if let Some(upstream) = lineage.current() {
            upstream.release(&original);
        }
    }

    async fn complete(
        &self,
        ctx: RequestContext,
        mut params: CompleteParams,
    ) -> Result<CompleteResult, Error> {
        let merged = self.merged();
        let (index, target) = match &mut params.reference {
            Reference::Prompt { name, .. } => {
                let entry = merged.prompt(name).ok_or_else(unknown_reference)?;
                *name = entry.original.clone();
                (entry.upstream, RuleTarget::Prompt(&entry.original))
            }
            Reference::Resource { uri } => {
                if sneaky(uri) {
                    return Err(unknown_reference());
                }
                let (index, original) = merged.route_uri(uri).ok_or_else(unknown_reference)?;
                *uri = original;
                (index, RuleTarget::Resource(uri.as_str()))
            }
            _ => return Err(Error::invalid_params("unsupported completion reference")),
        };
        let upstream = merged.upstream(index).ok_or_else(unknown_reference)?;
        if !self.allowed(&ctx, upstream, target) {
            // The same answer as for a reference that does not exist.
            return Err(self.refuse(&ctx, "completion", unknown_reference()));
        }
        if !upstream.catalog().completions {
            return Ok(CompleteResult::default());
        }
        params.meta = None;
        upstream
            .call(&ctx, |client, options| async move {
                client.request::<method::Complete>(params, options).await
            })
            .await
            .map_err(failed)
    }

    fn tool(&self, name: &str) -> Option<mcp_core::Tool> {
        self.merged().tool(name).map(|e| e.item.clone())
    }

    fn tool_header_params(&self, name: &str) -> Option<Arc<[ParamHeader]>> {
        self.merged().tool(name).map(|e| Arc::clone(&e.headers))
    }

    /// Only for tools the caller may use: a hidden tool's call is refused
    /// as unknown, never by a header check that would say it exists.
    fn tool_header_params_for(
        &self,
        name: &str,
        extensions: &http::Extensions,
    ) -> Option<Arc<[ParamHeader]>> {
        let merged = self.merged();
        let entry = merged.tool(name)?;
        let caller = extensions.get::<Identity>();
        let target = RuleTarget::Tool(&entry.original);
        (!refuses(&self.config(), &merged, caller, entry.upstream, target))
            .then(|| Arc::clone(&entry.headers))
    }

    fn events(&self) -> Option<broadcast::Receiver<ServerEvent>> {
        Some(self.shared.events.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{merge::Entry, page};

    fn list(keys: &[&str]) -> Vec<Entry<String>> {
        let mut entries: Vec<Entry<String>> = keys
            .iter()
            .map(|k| Entry {
                item: (*k).to_owned(),
                key: (*k).to_owned(),
                upstream: 0,
                original: (*k).to_owned(),
                headers: Arc::new([]),
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        entries
    }

    fn keys(page: &[&Entry<String>]) -> Vec<String> {
        page.iter().map(|e| e.key.clone()).collect()
    }

    #[test]
    fn a_list_that_changes_between_pages_neither_repeats_nor_skips_what_it_kept() {
        let all = |_: &Entry<String>| true;
        let before = list(&["a", "c", "e", "g", "i"]);
        let (first, next) = page(&before, all, None, 2).unwrap();
        assert_eq!(keys(&first), ["a", "c"]);
        let cursor = next.unwrap();
        // Between the pages "c", the page's last entry, went away and
        // entries came before and after the cut.
        let after = list(&["a", "b", "d", "e", "g", "i", "j"]);
        let (second, next) = page(&after, all, Some(&cursor), 2).unwrap();
        assert_eq!(keys(&second), ["d", "e"]);
        let (third, next) = page(&after, all, next.as_deref(), 2).unwrap();
        assert_eq!(keys(&third), ["g", "i"]);
        let (last, next) = page(&after, all, next.as_deref(), 2).unwrap();
        assert_eq!(keys(&last), ["j"]);
        assert_eq!(next, None);
    }

    #[test]
    fn pages_count_only_what_the_caller_may_see() {
        let entries = list(&["a", "b", "c", "d", "e"]);
        let odd = |e: &Entry<String>| e.key != "b" && e.key != "d";
        let (first, next) = page(&entries, odd, None, 2).unwrap();
        assert_eq!(keys(&first), ["a", "c"]);
        let (second, next) = page(&entries, odd, next.as_deref(), 2).unwrap();
        assert_eq!(keys(&second), ["e"]);
        assert_eq!(next, None, "no cursor to a page with nothing visible");
    }

    #[test]
    fn a_cursor_this_server_never_issued_is_invalid_params() {
        let entries = list(&["a"]);
        for cursor in ["gw:3", "", "after:a"] {
            let error = page(&entries, |_| true, Some(cursor), 2).unwrap_err();
            let mcp_server::Error::Protocol(object) = error else {
                panic!("{cursor:?}: {error:?}");
            };
            assert_eq!(
                object.code(),
                mcp_core::ErrorCode::INVALID_PARAMS,
                "{cursor:?}"
            );
        }
    }
}
