//! Which scopes a request needs: some for every request, more per method,
//! per tool, per prompt and per resource.

use std::collections::{BTreeSet, HashMap};

/// The scopes requests need, checked before the request reaches the MCP
/// server (403 `insufficient_scope` naming them, so clients can step up).
#[derive(Debug, Clone, Default)]
pub struct RequiredScopes {
    all: BTreeSet<String>,
    methods: HashMap<String, BTreeSet<String>>,
    tools: HashMap<String, BTreeSet<String>>,
    prompts: HashMap<String, BTreeSet<String>>,
    resources: HashMap<String, BTreeSet<String>>,
}

fn set<I, S>(scopes: I) -> BTreeSet<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    scopes.into_iter().map(Into::into).collect()
}

impl RequiredScopes {
    /// Nothing required beyond a valid token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every request needs `scopes`.
    #[must_use]
    pub fn always<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.all.extend(set(scopes));
        self
    }

    /// Requests of `method` (`tools/list`, `resources/read`, …) need
    /// `scopes`.
    #[must_use]
    pub fn method<I, S>(mut self, method: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods
            .entry(method.into())
            .or_default()
            .extend(set(scopes));
        self
    }

    /// Calls of tool `name` need `scopes`.
    #[must_use]
    pub fn tool<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tools
            .entry(name.into())
            .or_default()
            .extend(set(scopes));
        self
    }

    /// Getting prompt `name` needs `scopes`.
    #[must_use]
    pub fn prompt<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.prompts
            .entry(name.into())
            .or_default()
            .extend(set(scopes));
        self
    }

    /// Reading (or subscribing to) resource `uri` needs `scopes`.
    #[must_use]
    pub fn resource<I, S>(mut self, uri: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resources
            .entry(uri.into())
            .or_default()
            .extend(set(scopes));
        self
    }

    /// Whether anything beyond [`always`](Self::always) is required, so
    /// that the request's method and target must be known.
    pub(crate) fn targeted(&self) -> bool {
        !(self.methods.is_empty()
            && self.tools.is_empty()
            && self.prompts.is_empty()
            && self.resources.is_empty())
    }

    /// The scopes every request needs.
    pub(crate) fn base(&self) -> &BTreeSet<String> {
        &self.all
    }

    /// What a request of `method` on `target` (a tool or prompt name, a
    /// resource URI) needs.
    pub(crate) fn needed(&self, method: &str, target: Option<&str>) -> BTreeSet<String> {
        let mut needed = self.all.clone();
        if let Some(scopes) = self.methods.get(method) {
            needed.extend(scopes.iter().cloned());
        }
        let by_target = match method {
            "tools/call" => &self.tools,
            "prompts/get" => &self.prompts,
            "resources/read" | "resources/subscribe" => &self.resources,
            _ => return needed,
        };
        if let Some(scopes) = target.and_then(|t| by_target.get(t)) {
            needed.extend(scopes.iter().cloned());
        }
        needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_add_up() {
        let scopes = RequiredScopes::new()
            .always(["mcp"])
            .method("tools/call", ["mcp:tools"])
            .tool("delete", ["mcp:admin"])
            .resource("file:///secret", ["mcp:secret"]);
        assert!(scopes.targeted());
        let need = |m, t| scopes.needed(m, t).into_iter().collect::<Vec<_>>();
        assert_eq!(
            need("tools/call", Some("delete")),
            ["mcp", "mcp:admin", "mcp:tools"]
        );
        assert_eq!(need("tools/call", Some("echo")), ["mcp", "mcp:tools"]);
        assert_eq!(
            need("resources/read", Some("file:///secret")),
            ["mcp", "mcp:secret"]
        );
        assert_eq!(need("tools/list", None), ["mcp"]);
    }
}
