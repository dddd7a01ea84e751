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

use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess};

use crate::Message;
use crate::completion::{CompleteParams, Reference};
use crate::error::Error;
use crate::jsonrpc::{Incoming, Request, TypedParams};
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

/// Where [`ClientRequest::by_method`] decodes params from: a request's
/// raw params, or the params object as the envelope is read.
trait ParamsSource {
    type Error;

    /// The params as `P`.
    fn decode<P: DeserializeOwned>(self) -> Result<P, Self::Error>;
}

impl ParamsSource for &Request {
    type Error = Error;

    fn decode<P: DeserializeOwned>(self) -> Result<P, Error> {
        self.params()
    }
}

/// The members of the params object, as the envelope is read.
struct Members<'de, A>(A, PhantomData<&'de ()>);

impl<'de, A: MapAccess<'de>> ParamsSource for Members<'de, A> {
    type Error = A::Error;

    fn decode<P: DeserializeOwned>(self) -> Result<P, A::Error> {
        P::deserialize(MapAccessDeserializer::new(self.0))
    }
}

/// Knows which methods are known, and decodes nothing.
struct Probe;

impl ParamsSource for Probe {
    type Error = ();

    fn decode<P: DeserializeOwned>(self) -> Result<P, ()> {
        Err(())
    }
}

/// Boxed from the start: the envelope holding it is moved on the way out.
impl TypedParams for Box<ClientRequest> {
    fn decodes(method: &str) -> bool {
        ClientRequest::by_method(method, Probe).is_some()
    }

    fn decode<'de, A: MapAccess<'de>>(method: &str, map: A) -> Result<Self, A::Error> {
        match ClientRequest::by_method(method, Members(map, PhantomData)) {
            Some(decoded) => decoded.map(Self::new),
            None => Err(serde::de::Error::custom("params of an unknown method")),
        }
    }
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
        Self::by_method(&request.method, request).unwrap_or_else(|| {
            Ok(Self::Other(
                request
                    .raw_params()
                    .and_then(|p| serde_json::from_str::<MetaOnly>(p.get()).ok())
                    .and_then(|m| m.meta),
            ))
        })
    }

    /// `method`'s params decoded from `source`; `None` for a method this
    /// crate does not know.
    fn by_method<S: ParamsSource>(method: &str, source: S) -> Option<Result<Self, S::Error>> {
        // Each arm wraps the params where they were decoded: no closure or
        // intermediate result to copy them through.
        Some(match method {
            method::Initialize::NAME => source.decode().map(|p| Self::Initialize(Box::new(p))),
            method::Ping::NAME => source.decode().map(Self::Ping),
            method::Discover::NAME => source.decode().map(Self::Discover),
            method::SetLevel::NAME => source.decode().map(Self::SetLevel),
            method::Subscribe::NAME => source.decode().map(Self::Subscribe),
            method::Unsubscribe::NAME => source.decode().map(Self::Unsubscribe),
            method::Listen::NAME => source.decode().map(Self::Listen),
            method::ListTools::NAME => source.decode().map(Self::ListTools),
            method::ListResources::NAME => source.decode().map(Self::ListResources),
            method::ListResourceTemplates::NAME => source.decode().map(Self::ListResourceTemplates),
            method::ListPrompts::NAME => source.decode().map(Self::ListPrompts),
            method::Complete::NAME => source.decode().map(Self::Complete),
            method::CallTool::NAME => source.decode().map(Self::CallTool),
            method::GetPrompt::NAME => source.decode().map(Self::GetPrompt),
            method::ReadResource::NAME => source.decode().map(Self::ReadResource),
            _ => return None,
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
    /// For a body of one request, its params decoded for its method
    /// (boxed: they are large, and move on from here).
    pub request: Option<Result<Box<ClientRequest>, Error>>,
}

impl DecodedBody {
    /// Decodes `bytes`: in one pass where the request's `method` precedes
    /// its `params`, as every SDK writes them. The request in `incoming`
    /// then has `params` `None` (see [`Request::raw_params`]).
    pub fn decode(bytes: Bytes) -> Self {
        let (incoming, typed) = Incoming::from_frame_typed::<Box<ClientRequest>>(&bytes, true);
        match typed {
            Some(typed) => Self {
                bytes,
                incoming,
                request: Some(Ok(typed)),
            },
            None => Self {
                bytes,
                ..Self::of_incoming(incoming)
            },
        }
    }

    /// A message a transport decoded already (no bytes kept), a request's
    /// params decoded now.
    pub(crate) fn of_incoming(incoming: Result<Incoming, Error>) -> Self {
        let request = match &incoming {
            Ok(Incoming::Single(Message::Request(request))) => {
                Some(ClientRequest::decode(request).map(Box::new))
            }
            _ => None,
        };
        Self {
            bytes: Bytes::new(),
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

    /// Decoding a body in one pass gives what the envelope and then the
    /// params decoded apart give, for every shape of body, valid or not.
    #[test]
    fn one_pass_decodes_as_two_passes_do() {
        let call = r#""params":{"name":"echo","arguments":{"message":"hi \"x\""},"_meta":{"progressToken":3}}"#;
        let bodies = [
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call",{call}}}"#),
            format!(r#"{{"method":"tools/call",{call},"jsonrpc":"2.0","id":"a"}}"#),
            format!(r#"{{"jsonrpc":"2.0",{call},"id":1,"method":"tools/call"}}"#),
            format!(r#"{{"jsonrpc":"2.0","method":"tools/call",{call}}}"#),
            format!(r#"{{"id":1,"method":"tools/call",{call}}}"#),
            format!(r#"{{"jsonrpc":"2.0","id":null,"method":"tools/call",{call}}}"#),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call",{call},{call}}}"#),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call",{call},"method":"ping"}}"#),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call",{call}}} x"#),
            format!(r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/call",{call}}}]"#),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["echo"]}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#
                .into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":5,"params":{}}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"x/y","params":{"_meta":{"progressToken":1}}}"#
                .into(),
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#.into(),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#.into(),
        ];
        let mut one_pass = 0;
        for body in bodies {
            let two = Incoming::from_slice(body.as_bytes(), true);
            let decoded = DecodedBody::decode(Bytes::from(body.clone()));
            if let (
                Ok(Incoming::Single(Message::Request(a))),
                Ok(Incoming::Single(Message::Request(b))),
            ) = (&two, &decoded.incoming)
            {
                assert_eq!((&a.id, &a.method), (&b.id, &b.method), "{body}");
                let raw = |r: &Request| r.raw_params().map(|p| p.get().to_owned());
                assert_eq!(raw(a), raw(b), "{body}");
                assert_eq!(
                    format!("{:?}", Some(ClientRequest::decode(a))),
                    format!("{:?}", decoded.request),
                    "{body}"
                );
                one_pass += usize::from(b.params.is_none() && a.params.is_some());
            } else {
                assert_eq!(
                    format!("{two:?}"),
                    format!("{:?}", decoded.incoming),
                    "{body}"
                );
                assert!(decoded.request.is_none(), "{body}");
            }
        }
        // The bodies whose method precedes their params, and that are
        // requests with valid params, were read in one pass.
        assert_eq!(one_pass, 4);
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
