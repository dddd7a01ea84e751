//! What a request acts on: the tools, prompts and resources an
//! authorization check must know about.
//!
//! A check in front of a server (a scope per tool, say) is only sound if it
//! reads each request exactly as the server does. [`Request::targets`]
//! therefore decodes the params with the very types, and the very
//! function ([`Request::params`]), that the server's dispatcher uses, so
//! that whatever bytes arrive, both see the same names, or both refuse.
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

use crate::error::Error;
use crate::jsonrpc::Request;
use crate::request::ClientRequest;

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

impl Request {
    /// The tools, prompts and resources this request acts on; empty for
    /// methods that act on none (`tools/list`, `ping`, …) and for methods
    /// this crate does not know.
    ///
    /// The params are decoded with the types the server's dispatcher
    /// decodes them with ([`ClientRequest::decode`]): a request whose
    /// targets cannot be read here cannot be served either.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] when the params do not decode; the server
    /// refuses such a request without running anything.
    pub fn targets(&self) -> Result<Vec<Target>, Error> {
        Ok(ClientRequest::decode(self)?.targets())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn request(json: &str) -> Request {
        match Message::from_slice(json.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn targets_by_method() {
        let targets = |json| request(json).targets();
        assert_eq!(
            targets(r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}"#)
                .unwrap(),
            [Target::Prompt("p".into())]
        );
        assert_eq!(
            targets(
                r#"{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["a://1","a://2"]}}}"#
            )
            .unwrap(),
            [Target::Resource("a://1".into()), Target::Resource("a://2".into())]
        );
        assert_eq!(
            targets(
                r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":""}}}"#
            )
            .unwrap(),
            [Target::Prompt("p".into())]
        );
        assert!(
            targets(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
                .unwrap()
                .is_empty()
        );
        // Unreadable params are an error, never "no target".
        assert!(targets(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#).is_err());
        assert!(
            targets(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#
            )
            .is_err()
        );
    }
}
