//! Which scopes a request needs: some for every request, more per method,
//! per tool, per prompt and per resource.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use mcp_core::jsonrpc::Incoming;
use mcp_core::request::{ClientRequest, DecodedBody};
use mcp_core::target::Target;
use mcp_core::{Message, Request};

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

    /// Getting prompt `name`, and completing its arguments, needs `scopes`.
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

    /// Reading resource `uri`, subscribing or listening to it, and
    /// completing arguments of a resource template by this URI need
    /// `scopes`.
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

    /// The scopes a request body (one JSON-RPC message, or a batch) needs.
    ///
    /// The body is read with the decoder the MCP server decodes it with
    /// ([`Incoming::from_slice`]), and each request's targets with the
    /// types its dispatcher uses ([`ClientRequest::decode`]), so that this
    /// check and the server see the same messages whatever the bytes. A
    /// body that decoder refuses is refused by the server too, with
    /// nothing run: it needs the [`always`](Self::always) scopes. A
    /// request whose targets cannot be read needs every scope its method
    /// could need. Batches (which only 2025-03-26 sessions accept) need
    /// what their items need together.
    pub fn needed_by_body(&self, body: &[u8]) -> BTreeSet<String> {
        self.needed_by_decoded(&DecodedBody::decode(Bytes::copy_from_slice(body)))
    }

    /// [`needed_by_body`](Self::needed_by_body) of a body decoded already.
    pub(crate) fn needed_by_decoded(&self, body: &DecodedBody) -> BTreeSet<String> {
        match &body.incoming {
            Ok(Incoming::Single(message)) => match (message, &body.request) {
                (Message::Request(request), Some(call)) => {
                    self.request_needs(request, call.as_deref())
                }
                _ => self.message_needs(message),
            },
            Ok(Incoming::Batch(items)) => items
                .iter()
                .flatten()
                .flat_map(|message| self.message_needs(message))
                .chain(self.all.iter().cloned())
                .collect(),
            Err(_) => self.all.clone(),
        }
    }

    fn message_needs(&self, message: &Message) -> BTreeSet<String> {
        match message {
            Message::Request(request) => {
                self.request_needs(request, ClientRequest::decode(request).as_ref())
            }
            Message::Notification(n) => self.needed(&n.method, &[]),
            Message::Response(_) | Message::Error(_) => self.all.clone(),
        }
    }

    /// What one request needs, its params decoded as `call`.
    fn request_needs(
        &self,
        request: &Request,
        call: Result<&ClientRequest, &mcp_core::Error>,
    ) -> BTreeSet<String> {
        match call {
            Ok(call) => self.needed(&request.method, &call.targets()),
            Err(_) => self.needed_for_any(&request.method),
        }
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

    /// What a request of `method` acting on `targets` needs.
    pub(crate) fn needed(&self, method: &str, targets: &[Target]) -> BTreeSet<String> {
        let mut needed = self.for_method(method);
        for target in targets {
            let by_kind = match target {
                Target::Tool(_) => &self.tools,
                Target::Prompt(_) => &self.prompts,
                Target::Resource(_) => &self.resources,
                _ => continue,
            };
            if let Some(scopes) = by_kind.get(target.as_str()) {
                needed.extend(scopes.iter().cloned());
            }
        }
        needed
    }

    /// What a request of `method` whose targets could not be read needs:
    /// every scope any target could need. The server refuses such a
    /// request anyway; asking for everything keeps a check that reads
    /// less than the server from ever letting a request through on less.
    pub(crate) fn needed_for_any(&self, method: &str) -> BTreeSet<String> {
        let mut needed = self.for_method(method);
        for by_kind in [&self.tools, &self.prompts, &self.resources] {
            needed.extend(by_kind.values().flatten().cloned());
        }
        needed
    }

    fn for_method(&self, method: &str) -> BTreeSet<String> {
        let mut needed = self.all.clone();
        if let Some(scopes) = self.methods.get(method) {
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
        let need = |m, t: &[Target]| scopes.needed(m, t).into_iter().collect::<Vec<_>>();
        let tool = |name: &str| [Target::Tool(name.to_owned())];
        let secret = [Target::Resource("file:///secret".to_owned())];
        assert_eq!(
            need("tools/call", &tool("delete")),
            ["mcp", "mcp:admin", "mcp:tools"]
        );
        assert_eq!(need("tools/call", &tool("echo")), ["mcp", "mcp:tools"]);
        assert_eq!(need("resources/read", &secret), ["mcp", "mcp:secret"]);
        // Listening to a resource, or completing a template's arguments,
        // needs what reading it needs.
        assert_eq!(need("subscriptions/listen", &secret), ["mcp", "mcp:secret"]);
        assert_eq!(need("tools/list", &[]), ["mcp"]);
        assert_eq!(
            scopes
                .needed_for_any("tools/call")
                .into_iter()
                .collect::<Vec<_>>(),
            ["mcp", "mcp:admin", "mcp:secret", "mcp:tools"]
        );
    }

    /// Bodies the server's decoder accepts although a strict JSON parser
    /// would not: members it skips without validating. Each must still be
    /// classified by what it calls.
    #[test]
    fn bodies_with_unvalidated_members_are_classified() {
        let scopes = RequiredScopes::new()
            .always(["read"])
            .tool("save_note", ["admin"]);
        let call =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"save_note"},"x":"#;
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let extras: [&[u8]; 4] = [
            br#""\ud800""#,
            deep.as_bytes(),
            b"\"\xff\"",
            br#"{"a":"\udfff"}"#,
        ];
        for extra in extras {
            let mut body = call.to_vec();
            body.extend_from_slice(extra);
            body.push(b'}');
            assert!(
                mcp_core::jsonrpc::Incoming::from_slice(&body, false).is_ok(),
                "the decoder accepts {}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(
                scopes.needed_by_body(&body).into_iter().collect::<Vec<_>>(),
                ["admin", "read"],
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        // The same trick inside params, and a batch that hides the call
        // behind an unreadable item.
        let inner = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"save_note","y":"\ud800"}}"#;
        assert!(scopes.needed_by_body(inner).contains("admin"));
        let batch =
            br#"[1,{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"save_note"}}]"#;
        assert!(scopes.needed_by_body(batch).contains("admin"));
        // Unreadable params: every scope the method could need.
        let odd = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#;
        assert!(scopes.needed_by_body(odd).contains("admin"));
        // Not a message at all: nothing runs, the base scopes suffice.
        assert_eq!(scopes.needed_by_body(b"{").len(), 1);
    }
}
