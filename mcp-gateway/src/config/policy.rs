//! Policy rules as written in the file, and how one is matched.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// Let the caller see and use it.
    #[default]
    Allow,
    /// Hide it from the caller's lists and refuse its use.
    Deny,
}

/// How a call outside the caller's policy is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// As if it did not exist (nothing is learnt about what others may
    /// use).
    #[default]
    NotFound,
    /// Said to be forbidden: over HTTP, status 403 with JSON-RPC error
    /// -32003 ([`FORBIDDEN`](crate::FORBIDDEN)) naming what was refused;
    /// over stdio and inside a batch, the JSON-RPC error alone.
    Forbidden,
}

/// One `[[rule]]`: what it applies to, who it applies to, and its effect.
/// Every condition given must hold for the rule to match; the first rule
/// that matches decides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rule {
    /// Allow or deny.
    pub effect: Effect,
    /// Only this upstream's entries.
    pub upstream: Option<Spanned<String>>,
    /// Tools whose upstream name matches (`*` at the end matches any
    /// rest; `*` alone, any tool).
    pub tool: Option<String>,
    /// Prompts, likewise.
    pub prompt: Option<String>,
    /// Resources and templates whose upstream URI matches, likewise.
    pub resource: Option<String>,
    /// The caller has every one of these scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The caller is one of these subjects.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// The caller's token has these claims with these (string) values.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// What a rule is checked against: one entry of one upstream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RuleTarget<'a> {
    /// A tool, by its upstream's name for it.
    Tool(&'a str),
    /// A prompt.
    Prompt(&'a str),
    /// A resource or template, by its upstream's URI.
    Resource(&'a str),
}

impl Rule {
    /// Whether the rule is about `target` of `upstream` (callers aside).
    pub(crate) fn covers(&self, upstream: &str, target: RuleTarget<'_>) -> bool {
        if self
            .upstream
            .as_ref()
            .is_some_and(|u| u.get_ref() != upstream)
        {
            return false;
        }
        let (pattern, name) = match target {
            RuleTarget::Tool(name) => (&self.tool, name),
            RuleTarget::Prompt(name) => (&self.prompt, name),
            RuleTarget::Resource(uri) => (&self.resource, uri),
        };
        match pattern {
            Some(pattern) => glob(pattern, name),
            // A rule naming only other kinds is not about this one; a rule
            // naming no kind at all is about the whole upstream.
            None => self.tool.is_none() && self.prompt.is_none() && self.resource.is_none(),
        }
    }
}

/// `pattern` with an optional `*` at its end.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}
