//! What a request acts on: the tools, prompts and resources an
//! authorization check must know about.
//!
//! A check in front of a server (a scope per tool, say) is only sound if it
//! reads each request exactly as the server does. [`Request::targets`]
//! therefore decodes the params with the very types, and the very
//! function ([`Request::params`]), that the server's dispatcher uses, so
//! that whatever bytes arrive, both see the same names, or both refuse.
//!
//! [`Request::targets`]: crate::jsonrpc::Request::targets
//! [`Request::params`]: crate::jsonrpc::Request::params
//!
//! ```
//! use mcp_core::Message;
//! use mcp_core::target::Target;
//!
//! let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"save_note"}}"#;
//! let Message::Request(request) = Message::from_slice(body)? else { unreachable!() };
//! assert_eq!(request.targets()?, [Target::Tool("save_note".into())]);
//! # Ok::<(), mcp_core::Error>(())
//! ```

/// One thing a request acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// A tool, by name (`tools/call`).
    Tool(String),
    /// A prompt, by name (`prompts/get`, and completing its arguments).
    Prompt(String),
    /// A resource, by URI (`resources/read`, subscribing to it, and
    /// completing the arguments of a resource template, by its template).
    Resource(String),
}

impl Target {
    /// The name or URI.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tool(s) | Self::Prompt(s) | Self::Resource(s) => s,
        }
    }
}
