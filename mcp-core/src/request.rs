//! Client requests with their params decoded: read once, then checked
//! (scopes, mirrored headers) and dispatched from the same values.
//!
//! ```
//! use mcp_core::Message;
//! use mcp_core::request::ClientRequest;
//!
//! let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;
//! let Message::Request(request) = Message::from_slice(body)? else { unreachable!() };
//! match ClientRequest::decode(&request)? {
//!     ClientRequest::CallTool(params) => assert_eq!(params.name, "echo"),
//!     _ => unreachable!(),
//! }
//! # Ok::<(), mcp_core::Error>(())
//! ```

use bytes::Bytes;

use crate::Message;
use crate::completion::{CompleteParams, Reference};
use crate::error::Error;
use crate::jsonrpc::{Incoming, Request};
use crate::lifecycle::InitializeParams;
use crate::logging::SetLevelParams;
use crate::meta::JsonObject;
use crate::meta::{HasMeta, RequestMeta};
use crate::method::{self, Method};
use crate::prompts::GetPromptParams;
use crate::resources::{ReadResourceParams, ResourceUriParams};
use crate::result::{PaginatedParams, RequestParams};
use crate::subscriptions::ListenParams;
use crate::target::Target;
use crate::tools::CallToolParams;

/// A request a client sends a server, its params decoded into the types of
/// its method. Methods this crate does not know stay [`Other`](Self::Other)
/// (their params raw, in the [`Request`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientRequest {
    /// `initialize` (legacy). Boxed: the client's capabilities are large,
    /// and every other request would pay for them.
    Initialize(Box<InitializeParams>),
    /// `ping`.
    Ping(RequestParams),
    /// `server/discover` (2026-07-28).
    Discover(RequestParams),
    /// `logging/setLevel` (legacy).
    SetLevel(SetLevelParams),
    /// `resources/subscribe` (legacy).
    Subscribe(ResourceUriParams),
    /// `resources/unsubscribe` (legacy).
    Unsubscribe(ResourceUriParams),
    /// `subscriptions/listen` (2026-07-28).
    Listen(ListenParams),
    /// `tools/list`.
    ListTools(PaginatedParams),
    /// `resources/list`.
    ListResources(PaginatedParams),
    /// `resources/templates/list`.
    ListResourceTemplates(PaginatedParams),
    /// `prompts/list`.
    ListPrompts(PaginatedParams),
    /// `completion/complete`.
    Complete(CompleteParams),
    /// `tools/call`.
    CallTool(CallToolParams),
    /// `prompts/get`.
    GetPrompt(GetPromptParams),
    /// `resources/read`.
    ReadResource(ReadResourceParams),
    /// Any other method; only its `_meta` is read.
    Other(Option<RequestMeta>),
}

/// Only `_meta`, for methods this crate does not know.
#[derive(serde::Deserialize)]
struct MetaOnly {
    #[serde(rename = "_meta", default)]
    meta: Option<RequestMeta>,
}

impl ClientRequest {
    /// Decodes `request`'s params for its method.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] when they do not match the method (answer
    /// with [`Error::to_error_object`]). For an unknown method, params whose
    /// `_meta` does not decode are taken as having none.
    pub fn decode(request: &Request) -> Result<Self, Error> {
        Ok(match request.method.as_str() {
            method::Initialize::NAME => Self::Initialize(Box::new(request.params()?)),
            method::Ping::NAME => Self::Ping(request.params()?),
            method::Discover::NAME => Self::Discover(request.params()?),
            method::SetLevel::NAME => Self::SetLevel(request.params()?),
            method::Subscribe::NAME => Self::Subscribe(request.params()?),
            method::Unsubscribe::NAME => Self::Unsubscribe(request.params()?),
            method::Listen::NAME => Self::Listen(request.params()?),
            method::ListTools::NAME => Self::ListTools(request.params()?),
            method::ListResources::NAME => Self::ListResources(request.params()?),
            method::ListResourceTemplates::NAME => Self::ListResourceTemplates(request.params()?),
            method::ListPrompts::NAME => Self::ListPrompts(request.params()?),
            method::Complete::NAME => Self::Complete(request.params()?),
            method::CallTool::NAME => Self::CallTool(request.params()?),
            method::GetPrompt::NAME => Self::GetPrompt(request.params()?),
            method::ReadResource::NAME => Self::ReadResource(request.params()?),
            _ => Self::Other(
                request
                    .params
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<MetaOnly>(p.get()).ok())
                    .and_then(|m| m.meta),
            ),
        })
    }

    /// The method's wire name; `None` for [`ClientRequest::Other`].
    pub fn method(&self) -> Option<&'static str> {
        Some(match self {
            Self::Initialize(_) => method::Initialize::NAME,
            Self::Ping(_) => method::Ping::NAME,
            Self::Discover(_) => method::Discover::NAME,
            Self::SetLevel(_) => method::SetLevel::NAME,
            Self::Subscribe(_) => method::Subscribe::NAME,
            Self::Unsubscribe(_) => method::Unsubscribe::NAME,
            Self::Listen(_) => method::Listen::NAME,
            Self::ListTools(_) => method::ListTools::NAME,
            Self::ListResources(_) => method::ListResources::NAME,
            Self::ListResourceTemplates(_) => method::ListResourceTemplates::NAME,
            Self::ListPrompts(_) => method::ListPrompts::NAME,
            Self::Complete(_) => method::Complete::NAME,
            Self::CallTool(_) => method::CallTool::NAME,
            Self::GetPrompt(_) => method::GetPrompt::NAME,
            Self::ReadResource(_) => method::ReadResource::NAME,
            Self::Other(_) => return None,
        })
    }

    /// The request's `_meta`.
    pub fn meta(&self) -> Option<&RequestMeta> {
        match self {
            Self::Initialize(p) => p.meta(),
            Self::Ping(p) | Self::Discover(p) => p.meta(),
            Self::SetLevel(p) => p.meta(),
            Self::Subscribe(p) | Self::Unsubscribe(p) => p.meta(),
            Self::Listen(p) => p.meta(),
            Self::ListTools(p)
            | Self::ListResources(p)
            | Self::ListResourceTemplates(p)
            | Self::ListPrompts(p) => p.meta(),
            Self::Complete(p) => p.meta(),
            Self::CallTool(p) => p.meta(),
            Self::GetPrompt(p) => p.meta(),
            Self::ReadResource(p) => p.meta(),
            Self::Other(meta) => meta.as_ref(),
        }
    }

    /// The tool or prompt name, or the resource URI, that Streamable HTTP
    /// mirrors in the `Mcp-Name` header.
    pub fn mirrored_name(&self) -> Option<&str> {
        match self {
            Self::CallTool(p) => Some(&p.name),
            Self::GetPrompt(p) => Some(&p.name),
            Self::ReadResource(p) => Some(&p.uri),
            _ => None,
        }
    }

    /// The arguments of a tool call.
    pub fn tool_arguments(&self) -> Option<&JsonObject> {
        match self {
            Self::CallTool(p) => p.arguments.as_ref(),
            _ => None,
        }
    }

    /// The tools, prompts and resources the request acts on (see
    /// [`Request::targets`]).
    pub fn targets(&self) -> Vec<Target> {
        match self {
            Self::CallTool(p) => vec![Target::Tool(p.name.clone())],
            Self::GetPrompt(p) => vec![Target::Prompt(p.name.clone())],
            Self::ReadResource(p) => vec![Target::Resource(p.uri.clone())],
            Self::Subscribe(p) | Self::Unsubscribe(p) => vec![Target::Resource(p.uri.clone())],
            Self::Listen(p) => p
                .notifications
                .resource_subscriptions
                .iter()
                .flatten()
                .cloned()
                .map(Target::Resource)
                .collect(),
            Self::Complete(p) => match &p.reference {
                Reference::Prompt { name, .. } => vec![Target::Prompt(name.clone())],
                Reference::Resource { uri } => vec![Target::Resource(uri.clone())],
            },
            _ => Vec::new(),
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

/// A request body decoded once, for every reader after the first: a layer
/// in front of an MCP endpoint that had to read the body (to check scopes,
/// say) puts this in the request's extensions, and the endpoint, finding
/// it for the very bytes it received, reads nothing again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DecodedBody {
    /// The bytes decoded.
    pub bytes: Bytes,
    /// What they held, as [`Incoming::from_slice`] reads them with batches
    /// allowed.
    pub incoming: Result<Incoming, Error>,
    /// For a body of one request, its params decoded for its method.
    pub request: Option<Result<ClientRequest, Error>>,
}

impl DecodedBody {
    /// Decodes `bytes`.
    pub fn decode(bytes: Bytes) -> Self {
        let incoming = Incoming::from_slice(&bytes, true);
        let request = match &incoming {
            Ok(Incoming::Single(Message::Request(request))) => Some(ClientRequest::decode(request)),
            _ => None,
        };
        Self {
            bytes,
            incoming,
            request,
        }
    }

    /// Whether this was decoded from exactly `bytes` (the same buffer, not
    /// merely equal contents, so the check costs nothing).
    pub fn is_of(&self, bytes: &Bytes) -> bool {
        self.bytes.as_ptr() == bytes.as_ptr() && self.bytes.len() == bytes.len()
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
