//! The JSON-RPC 2.0 envelope MCP rides on.
//!
//! [`Message`] is what a transport reads and writes. Decoding it is a single
//! pass over the bytes (see [`Message::from_slice`]): the envelope fields are
//! read with a hand-written visitor and `params` / `result` stay raw JSON
//! until the reader knows which method they belong to. A server reads a
//! request's params into their types in that same pass
//! ([`DecodedBody`](crate::request::DecodedBody)) when `method` comes
//! first, as every SDK writes it.

mod decode;
mod id;

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::{Error, ErrorObject};
use crate::method::{Method, Notification as NotificationMethod};

pub use decode::Incoming;
pub(crate) use decode::TypedParams;
pub use id::RequestId;

/// The `jsonrpc` member: serializes as `"2.0"` and deserializes from nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[expect(clippy::exhaustive_structs, reason = "a marker with nothing to add")]
pub struct JsonRpcVersion;

impl Serialize for JsonRpcVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("2.0")
    }
}

impl<'de> Deserialize<'de> for JsonRpcVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        if v == "2.0" {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported jsonrpc version {v:?}, expected \"2.0\""
            )))
        }
    }
}

/// Raw JSON kept for later, typed decoding.
pub type RawJson = Box<RawValue>;

/// A request: a method call that expects a response with the same `id`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The request id, unique among the sender's requests in flight.
    pub id: RequestId,
    /// The method name, e.g. `tools/call`.
    pub method: String,
    /// The parameters, still raw; decode them with [`Request::params`].
    ///
    /// `None` also for a request whose params a server decoded together
    /// with the envelope ([`DecodedBody`](crate::request::DecodedBody)):
    /// [`Request::params`] and [`Request::raw_params`] read both kinds.
    pub params: Option<RawJson>,
    /// The frame the request came in, kept when its params were decoded
    /// with the envelope and `params` is `None`; read again only if the
    /// raw params are asked for.
    pub(crate) frame: Option<bytes::Bytes>,
}

/// A notification: a one-way message that must not be answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// The notification method, e.g. `notifications/progress`.
    pub method: String,
    /// The parameters, still raw; decode them with [`Notification::params`].
    pub params: Option<RawJson>,
}

/// A successful response.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response {
    /// The id of the request this answers.
    pub id: RequestId,
    /// The result, still raw; decode it with [`Response::result`].
    pub result: RawJson,
}

/// An error response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The id of the request this answers; `None` only when the request's id
    /// could not be read (parse errors, unreadable requests).
    pub id: Option<RequestId>,
    /// What went wrong.
    pub error: ErrorObject,
}

/// Any single JSON-RPC message.
#[derive(Debug, Clone)]
#[expect(
    clippy::exhaustive_enums,
    reason = "JSON-RPC 2.0 has exactly these four"
)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A successful response.
    Response(Response),
    /// An error response.
    Error(ErrorResponse),
}

/// A request with typed params, serialized straight to JSON: the outgoing
/// twin of [`Request`] that skips the intermediate raw copy.
#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::exhaustive_structs,
    reason = "a borrowed view, built with a struct literal"
)]
pub struct OutgoingRequest<'a, P> {
    /// The id.
    pub id: &'a RequestId,
    /// The method name.
    pub method: &'a str,
    /// The params.
    pub params: &'a P,
}

/// A notification with typed params, serialized straight to JSON.
#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::exhaustive_structs,
    reason = "a borrowed view, built with a struct literal"
)]
pub struct OutgoingNotification<'a, P> {
    /// The method name.
    pub method: &'a str,
    /// The params.
    pub params: &'a P,
}

/// A successful response with a typed result, serialized straight to JSON.
#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::exhaustive_structs,
    reason = "a borrowed view, built with a struct literal"
)]
pub struct OutgoingResponse<'a, R> {
    /// The id of the request answered.
    pub id: &'a RequestId,
    /// The result.
    pub result: &'a R,
}

impl<P: Serialize> Serialize for OutgoingRequest<'_, P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("jsonrpc", &JsonRpcVersion)?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry("method", self.method)?;
        map.serialize_entry("params", self.params)?;
        map.end()
    }
}

impl<P: Serialize> Serialize for OutgoingNotification<'_, P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("jsonrpc", &JsonRpcVersion)?;
        map.serialize_entry("method", self.method)?;
        map.serialize_entry("params", self.params)?;
        map.end()
    }
}

impl<R: Serialize> Serialize for OutgoingResponse<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("jsonrpc", &JsonRpcVersion)?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry("result", self.result)?;
        map.end()
    }
}

/// Params that are absent on the wire decode as if they were `{}`, so
/// parameter types whose fields are all optional accept both forms.
const EMPTY_OBJECT: &str = "{}";

fn decode_params<P: DeserializeOwned>(raw: Option<&RawValue>) -> Result<P, Error> {
    let text = raw.map_or(EMPTY_OBJECT, RawValue::get);
    serde_json::from_str(text).map_err(|e| Error::InvalidParams {
        message: e.to_string(),
    })
}

fn to_raw<T: Serialize + ?Sized>(value: &T) -> Result<RawJson, Error> {
    serde_json::value::to_raw_value(value).map_err(|e| Error::Encode {
        message: e.to_string(),
    })
}

impl Request {
    /// A request with raw params.
    pub fn new(
        id: impl Into<RequestId>,
        method: impl Into<String>,
        params: Option<RawJson>,
    ) -> Self {
        Self {
            id: id.into(),
            method: method.into(),
            params,
            frame: None,
        }
    }

    /// A request for method `M`, with its params serialized.
    ///
    /// # Errors
    /// [`Error::Encode`] if the params fail to serialize (a map with non-string
    /// keys, for instance).
    pub fn typed<M: Method>(id: impl Into<RequestId>, params: &M::Params) -> Result<Self, Error> {
        Ok(Self::new(id, M::NAME, Some(to_raw(params)?)))
    }

    /// Decodes the params as `P`; absent params decode as `{}`.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] when they do not match `P`; answer the request
    /// with [`Error::to_error_object`].
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, Error> {
        decode_params(self.raw_params().as_deref())
    }

    /// The params as raw JSON; `None` when the request has none.
    ///
    /// Params that were decoded with the envelope are read again from the
    /// frame they came in (a second pass, for rare uses only).
    pub fn raw_params(&self) -> Option<Cow<'_, RawValue>> {
        if let Some(params) = &self.params {
            return Some(Cow::Borrowed(params));
        }
        let frame = self.frame.as_ref()?;
        match Message::from_slice(frame) {
            Ok(Message::Request(request)) => request.params.map(Cow::Owned),
            _ => None,
        }
    }
}

impl Notification {
    /// A notification with raw params.
    pub fn new(method: impl Into<String>, params: Option<RawJson>) -> Self {
        Self {
            method: method.into(),
            params,
        }
    }

    /// A notification of type `N`, with its params serialized.
    ///
    /// # Errors
    /// [`Error::Encode`] if the params fail to serialize.
    pub fn typed<N: NotificationMethod>(params: &N::Params) -> Result<Self, Error> {
        let raw = to_raw(params)?;
        // Parameterless notifications go out without a `params` member.
        let params = (raw.get() != EMPTY_OBJECT).then_some(raw);
        Ok(Self::new(N::NAME, params))
    }

    /// Decodes the params as `P`; absent params decode as `{}`.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] when they do not match `P`.
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, Error> {
        decode_params(self.params.as_deref())
    }
}

impl Response {
    /// A response with a raw result.
    pub fn new(id: impl Into<RequestId>, result: RawJson) -> Self {
        Self {
            id: id.into(),
            result,
        }
    }

    /// A response carrying `result`, serialized.
    ///
    /// # Errors
    /// [`Error::Encode`] if the result fails to serialize.
    pub fn typed<R: Serialize + ?Sized>(
        id: impl Into<RequestId>,
        result: &R,
    ) -> Result<Self, Error> {
        Ok(Self::new(id, to_raw(result)?))
    }

    /// Decodes the result as `R` (for a request of method `M`, `M::Result`).
    ///
    /// # Errors
    /// [`Error::InvalidResult`] when it does not match `R`.
    pub fn result<R: DeserializeOwned>(&self) -> Result<R, Error> {
        serde_json::from_str(self.result.get()).map_err(|e| Error::InvalidResult {
            message: e.to_string(),
        })
    }
}

impl Response {
    /// Decodes the result of a request that may need input first
    /// (`tools/call`, `prompts/get`, `resources/read`). Same as
    /// `result::<Outcome<T>>()`, one skim of the result cheaper.
    ///
    /// # Errors
    /// [`Error::InvalidResult`] when it matches none of the outcomes.
    pub fn outcome<T: DeserializeOwned>(&self) -> Result<crate::Outcome<T>, Error> {
        crate::Outcome::from_json(self.result.get()).map_err(|e| Error::InvalidResult {
            message: e.to_string(),
        })
    }
}

impl ErrorResponse {
    /// An error response for request `id` (`None` when it could not be read).
    pub fn new(id: Option<RequestId>, error: ErrorObject) -> Self {
        Self { id, error }
    }
}

impl Message {
    /// Decodes one message from bytes in a single pass.
    ///
    /// Unknown members are ignored; `params` and `result` are kept raw.
    ///
    /// # Errors
    /// [`Error::Parse`] for bytes that are not JSON, and
    /// [`Error::InvalidRequest`] for JSON that is not a JSON-RPC 2.0 message
    /// (wrong `jsonrpc`, an `id` that is neither string nor integer, a batch,
    /// …). Both map to the error response a peer is owed through
    /// [`Error::to_error_response`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        match Incoming::from_slice(bytes, false)? {
            Incoming::Single(message) => Ok(message),
            // Unreachable with batches disabled, but stay total.
            Incoming::Batch(_) => Err(Error::InvalidRequest {
                id: None,
                message: "batches are not supported".into(),
            }),
        }
    }

    /// Encodes the message as compact JSON (no trailing newline).
    ///
    /// # Errors
    /// Only if an error object's `data` cannot be serialized, which a
    /// `serde_json::Value` always can; kept fallible for future members.
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self).map_err(|e| Error::Encode {
            message: e.to_string(),
        })
    }

    /// The method name, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        match self {
            Self::Request(r) => Some(&r.method),
            Self::Notification(n) => Some(&n.method),
            Self::Response(_) | Self::Error(_) => None,
        }
    }

    /// The id, for requests and responses.
    pub fn id(&self) -> Option<&RequestId> {
        match self {
            Self::Request(r) => Some(&r.id),
            Self::Response(r) => Some(&r.id),
            Self::Error(e) => e.id.as_ref(),
            Self::Notification(_) => None,
        }
    }
}

impl std::str::FromStr for Message {
    type Err = Error;

    /// Decodes one message from a string; see [`Message::from_slice`].
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::from_slice(text.as_bytes())
    }
}

impl From<Request> for Message {
    fn from(v: Request) -> Self {
        Self::Request(v)
    }
}
impl From<Notification> for Message {
    fn from(v: Notification) -> Self {
        Self::Notification(v)
    }
}
impl From<Response> for Message {
    fn from(v: Response) -> Self {
        Self::Response(v)
    }
}
impl From<ErrorResponse> for Message {
    fn from(v: ErrorResponse) -> Self {
        Self::Error(v)
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("jsonrpc", &JsonRpcVersion)?;
        match self {
            Self::Request(r) => {
                map.serialize_entry("id", &r.id)?;
                map.serialize_entry("method", &r.method)?;
                if let Some(p) = r.raw_params() {
                    map.serialize_entry("params", &*p)?;
                }
            }
            Self::Notification(n) => {
                map.serialize_entry("method", &n.method)?;
                if let Some(p) = &n.params {
                    map.serialize_entry("params", p)?;
                }
            }
            Self::Response(r) => {
                map.serialize_entry("id", &r.id)?;
                map.serialize_entry("result", &r.result)?;
            }
            Self::Error(e) => {
                // JSON-RPC 2.0 writes `"id": null` when the id is unknown, but
                // MCP's schema types `id` as string-or-integer and optional:
                // omitting it is valid for both.
                if let Some(id) = &e.id {
                    map.serialize_entry("id", id)?;
                }
                map.serialize_entry("error", &e.error)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        decode::Envelope::deserialize(deserializer)?
            .into_message()
            .map_err(serde::de::Error::custom)
    }
}

/// The id of a response frame (a result or an error), read without
/// decoding the rest; `None` for requests, notifications, batches and
/// frames that are not JSON. Transports use it to route answers.
///
/// ```
/// use mcp_core::RequestId;
/// use mcp_core::jsonrpc::response_id;
///
/// let answer = br#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
/// assert_eq!(response_id(answer), Some(RequestId::from(7)));
/// assert_eq!(response_id(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#), None);
/// ```
pub fn response_id(frame: &[u8]) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        id: Option<RequestId>,
        #[serde(default)]
        method: Option<serde::de::IgnoredAny>,
    }
    let peek: Peek = serde_json::from_slice(frame).ok()?;
    if peek.method.is_some() { None } else { peek.id }
}
