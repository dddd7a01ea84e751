//! The merged view of every upstream's lists: names prefixed with their
//! upstream's, resource URIs mapped reversibly, and an index from each
//! name clients see back to its upstream and the upstream's own name.
//!
//! A prefixed tool or prompt is `PREFIX SEPARATOR NAME` (`notes__search`);
//! a prefixed resource URI is `PREFIX+URI` (`notes+file:///a.txt`): still
//! a URI (`+` is allowed in a scheme), and split back at the first `+`.

use std::collections::HashMap;
use std::sync::Arc;

use mcp_core::Tool;
use mcp_core::headers::ParamHeader;
use mcp_core::prompts::Prompt;
use mcp_core::resources::{Resource, ResourceTemplate};

use crate::config::{Config, PrefixMode};
use crate::upstream::Upstream;

/// One entry as clients see it, and where it comes from.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    pub(crate) item: T,
    /// What clients know it by (a tool's or prompt's name, a resource's
    /// URI, a template's URI template): unique in its list, which is
    /// sorted by it.
    pub(crate) key: String,
    pub(crate) upstream: usize,
    pub(crate) original: String,
    /// A tool's `Mcp-Param-*` headers, worked out once (none for the
    /// other kinds).
    pub(crate) headers: Arc<[ParamHeader]>,
}

/// Everything the upstreams offer, as one server.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    pub(crate) upstreams: Vec<Arc<Upstream>>,
    prefixes: Vec<String>,
    pub(crate) tools: Vec<Entry<Tool>>,
    tool_at: HashMap<String, usize>,
    pub(crate) prompts: Vec<Entry<Prompt>>,
    prompt_at: HashMap<String, usize>,
    pub(crate) resources: Vec<Entry<Resource>>,
    resource_at: HashMap<String, usize>,
    pub(crate) templates: Vec<Entry<ResourceTemplate>>,
    template_at: HashMap<String, usize>,
    pub(crate) instructions: Option<String>,
}

impl Merged {
    pub(crate) fn new(config: &Config, upstreams: Vec<Arc<Upstream>>) -> Self {
        let several = upstreams.len() > 1;
        let prefixes: Vec<String> = upstreams
            .iter()
            .map(|u| match (&u.config.prefix, config.gateway.prefix) {
                (Some(fixed), _) => fixed.clone(),
                (None, PrefixMode::Always) => u.name().to_owned(),
                (None, PrefixMode::Auto) if several => u.name().to_owned(),
                (None, _) => String::new(),
            })
            .collect();
        let separator = &config.gateway.separator;
        let mut merged = Self {
            prefixes,
            ..Self::default()
        };
        let mut instructions: Vec<String> = config.gateway.instructions.iter().cloned().collect();
        for (index, upstream) in upstreams.iter().enumerate() {
            let catalog = upstream.catalog();
            let prefix = merged.prefixes.get(index).cloned().unwrap_or_default();
            let name = |original: &str| {
                if prefix.is_empty() {
                    original.to_owned()
                } else {
                    format!("{prefix}{separator}{original}")
                }
            };
            let uri = |original: &str| map_uri(&prefix, original);
            for tool in &catalog.tools {
                let Ok(headers) = ParamHeader::from_schema(&tool.input_schema) else {
                    tracing::warn!(upstream = upstream.name(), tool = %tool.name, "left out: invalid x-mcp-header");
                    continue;
                };
                let mut item = tool.clone();
                item.name = name(&tool.name);
                let key = item.name.clone();
                let entry = Entry::new(item, key, index, &tool.name).with_headers(headers);
                push(
                    &mut merged.tools,
                    &mut merged.tool_at,
                    entry,
                    upstream.name(),
                );
            }
            for prompt in &catalog.prompts {
                let mut item = prompt.clone();
                item.name = name(&prompt.name);
                let key = item.name.clone();
                let entry = Entry::new(item, key, index, &prompt.name);
                push(
                    &mut merged.prompts,
                    &mut merged.prompt_at,
                    entry,
                    upstream.name(),
                );
            }
            for resource in &catalog.resources {
                let mut item = resource.clone();
                item.uri = uri(&resource.uri);
                let key = item.uri.clone();
                let entry = Entry::new(item, key, index, &resource.uri);
                push(
                    &mut merged.resources,
                    &mut merged.resource_at,
                    entry,
                    upstream.name(),
                );
            }
            for template in &catalog.templates {
                let mut item = template.clone();
                item.uri_template = uri(&template.uri_template);
                let key = item.uri_template.clone();
                let entry = Entry::new(item, key, index, &template.uri_template);
                push(
                    &mut merged.templates,
                    &mut merged.template_at,
                    entry,
                    upstream.name(),
                );
            }
            if let Some(text) = &catalog.instructions {
                instructions.push(format!("## {}\n{text}", upstream.name()));
            }
        }
        merged.instructions = (!instructions.is_empty()).then(|| instructions.join("\n\n"));
        merged.upstreams = upstreams;
        sort(&mut merged.tools, &mut merged.tool_at);
        sort(&mut merged.prompts, &mut merged.prompt_at);
        sort(&mut merged.resources, &mut merged.resource_at);
        sort(&mut merged.templates, &mut merged.template_at);
        merged
    }

    pub(crate) fn tool(&self, name: &str) -> Option<&Entry<Tool>> {
        self.tool_at.get(name).and_then(|&i| self.tools.get(i))
    }

    pub(crate) fn prompt(&self, name: &str) -> Option<&Entry<Prompt>> {
        self.prompt_at.get(name).and_then(|&i| self.prompts.get(i))
    }

    pub(crate) fn upstream(&self, index: usize) -> Option<&Arc<Upstream>> {
        self.upstreams.get(index)
    }

    /// The upstream a URI clients use belongs to, and the upstream's URI:
    /// a listed resource; else the upstream whose prefix it carries; else
    /// the one upstream without a prefix, if exactly one.
    pub(crate) fn route_uri(&self, uri: &str) -> Option<(usize, String)> {
        if let Some(entry) = self
            .resource_at
            .get(uri)
            .and_then(|&i| self.resources.get(i))
        {
            return Some((entry.upstream, entry.original.clone()));
        }
        if let Some((prefix, rest)) = uri.split_once('+')
            && let Some(index) = self.prefixes.iter().position(|p| p == prefix)
        {
            return Some((index, rest.to_owned()));
        }
        let mut bare = self
            .prefixes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_empty());
        match (bare.next(), bare.next()) {
            (Some((index, _)), None) => Some((index, uri.to_owned())),
            _ => None,
        }
    }

    /// A URI of upstream `index` as clients see it.
    pub(crate) fn exposed_uri(&self, index: usize, uri: &str) -> String {
        map_uri(self.prefixes.get(index).map_or("", String::as_str), uri)
    }
}

fn map_uri(prefix: &str, uri: &str) -> String {
    if prefix.is_empty() {
        uri.to_owned()
    } else {
        format!("{prefix}+{uri}")
    }
}

impl<T> Entry<T> {
    fn new(item: T, key: String, upstream: usize, original: &str) -> Self {
        Self {
            item,
            key,
            upstream,
            original: original.to_owned(),
            headers: Arc::new([]),
        }
    }

    fn with_headers(mut self, headers: Vec<ParamHeader>) -> Self {
        self.headers = headers.into();
        self
    }
}

/// Adds an entry unless an earlier upstream took its key.
fn push<T>(
    entries: &mut Vec<Entry<T>>,
    at: &mut HashMap<String, usize>,
    entry: Entry<T>,
    upstream: &str,
) {
    if at.contains_key(&entry.key) {
        tracing::warn!(upstream, name = %entry.key, "left out: an earlier upstream has the same name");
        return;
    }
    at.insert(entry.key.clone(), entries.len());
    entries.push(entry);
}

/// Sorts a list by key, and its index with it: pages are cut by key (see
/// the federation's `page`), so that a list that changes between two
/// pages neither repeats nor skips an entry it kept.
fn sort<T>(entries: &mut [Entry<T>], at: &mut HashMap<String, usize>) {
    entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    for (i, entry) in entries.iter().enumerate() {
        if let Some(slot) = at.get_mut(&entry.key) {
            *slot = i;
        }
    }
}
