//! `_meta` objects and the reserved keys MCP defines in them.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::capabilities::{ClientCapabilities, Implementation};
use crate::jsonrpc::RequestId;
use crate::logging::LoggingLevel;
use crate::version::ProtocolVersion;

/// A JSON object (`{ "key": any }`).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A generic `_meta` object on a protocol object (a tool, a content block…).
pub type Meta = JsonObject;

/// A progress token: a string or an integer, unique among active requests.
pub type ProgressToken = RequestId;

/// The reserved `_meta` keys.
pub mod keys {
    /// The request's protocol version (2026-07-28, required).
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities for this request (2026-07-28, required).
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The client's self-description (2026-07-28, recommended).
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    /// The log level this request opts into (2026-07-28, deprecated feature).
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The server's self-description on results (2026-07-28).
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    /// The `subscriptions/listen` request a notification belongs to (2026-07-28).
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
    /// The task a message relates to (2025-11-25 tasks).
    pub const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";
    /// The progress token of a request.
    pub const PROGRESS_TOKEN: &str = "progressToken";
    /// W3C trace context: the caller's trace and span (OpenTelemetry's
    /// MCP conventions carry it in `_meta`).
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C trace context: vendor-specific trace state.
    pub const TRACESTATE: &str = "tracestate";
    /// W3C baggage: key-value pairs that travel with the trace.
    pub const BAGGAGE: &str = "baggage";
}

meta_object! {
    /// `_meta` of a request's params.
    ///
    /// In 2026-07-28 every request carries `protocolVersion` and
    /// `clientCapabilities` here (check with [`RequestMeta::require_modern`]);
    /// legacy revisions only use `progressToken`.
    pub struct RequestMeta {
        /// The protocol version of this request.
        protocol_version: ProtocolVersion = keys::PROTOCOL_VERSION,
        /// The client's capabilities for this request. Shared: a client
        /// sends the same ones on every request, and a server hands them to
        /// the handler's context without copying them.
        client_capabilities: Arc<ClientCapabilities> = keys::CLIENT_CAPABILITIES,
        /// The client's self-description; not for security decisions.
        /// Shared, as the capabilities are.
        client_info: Arc<Implementation> = keys::CLIENT_INFO,
        /// The log level this request opts into.
        log_level: LoggingLevel = keys::LOG_LEVEL,
        /// Progress notifications for this request carry this token.
        progress_token: ProgressToken = keys::PROGRESS_TOKEN,
    }
}

meta_object! {
    /// `_meta` of a result.
    pub struct ResultMeta {
        /// The server's self-description (2026-07-28, recommended on every
        /// result). Shared: a server puts the same one on every result.
        server_info: Arc<Implementation> = keys::SERVER_INFO,
        /// On a `subscriptions/listen` result: the subscription it ends.
        subscription_id: RequestId = keys::SUBSCRIPTION_ID,
    }
}

meta_object! {
    /// `_meta` of a notification's params.
    pub struct NotificationMeta {
        /// The `subscriptions/listen` request this notification is delivered for.
        subscription_id: RequestId = keys::SUBSCRIPTION_ID,
    }
}

impl RequestMeta {
    /// The value of the string key `key` among the other keys (the trace
    /// context's [`keys::TRACEPARENT`], say); `None` when absent or not a
    /// string. Kept loosely typed: a malformed trace context must not make
    /// a request unreadable.
    pub fn other_str(&self, key: &str) -> Option<&str> {
        self.other.get(key).and_then(serde_json::Value::as_str)
    }
}

/// The request-level facts a 2026-07-28 request must carry.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ModernRequestMeta<'a> {
    /// The requested protocol version.
    pub protocol_version: &'a ProtocolVersion,
    /// The client's capabilities for this request.
    pub client_capabilities: &'a Arc<ClientCapabilities>,
}

impl RequestMeta {
    /// A `_meta` for a 2026-07-28 request.
    pub fn modern(
        version: ProtocolVersion,
        capabilities: impl Into<Arc<ClientCapabilities>>,
    ) -> Self {
        Self {
            protocol_version: Some(version),
            client_capabilities: Some(capabilities.into()),
            ..Self::default()
        }
    }

    /// A `_meta` carrying only a progress token (the legacy form).
    pub fn for_progress(token: impl Into<ProgressToken>) -> Self {
        Self {
            progress_token: Some(token.into()),
            ..Self::default()
        }
    }

    /// Checks the keys 2026-07-28 requires on every request.
    ///
    /// # Errors
    /// The -32602 error object the spec prescribes, naming the missing key.
    pub fn require_modern(
        meta: Option<&Self>,
    ) -> Result<ModernRequestMeta<'_>, crate::ErrorObject> {
        let missing = |key: &str| {
            crate::ErrorObject::invalid_params(format!("Missing required _meta key {key:?}"))
        };
        let meta = meta.ok_or_else(|| missing(keys::PROTOCOL_VERSION))?;
        Ok(ModernRequestMeta {
            protocol_version: meta
                .protocol_version
                .as_ref()
                .ok_or_else(|| missing(keys::PROTOCOL_VERSION))?,
            client_capabilities: meta
                .client_capabilities
                .as_ref()
                .ok_or_else(|| missing(keys::CLIENT_CAPABILITIES))?,
        })
    }
}

/// How a reserved `_meta` key's value is read. A shared value (`Arc<T>`)
/// is decoded as `T` and moved into its `Arc` once: serde's own `Arc<T>`
/// decodes into a `Box<T>` first, one allocation and one copy more per
/// request for the client's capabilities.
pub(crate) trait MetaField: Sized {
    fn next<'de, A: de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error>;
}

impl<T: de::DeserializeOwned> MetaField for Arc<T> {
    fn next<'de, A: de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value::<T>().map(Self::new)
    }
}

macro_rules! meta_field_as_is {
    ($($t:ty),*) => {$(
        impl MetaField for $t {
            fn next<'de, A: de::MapAccess<'de>>(map: &mut A) -> Result<Self, A::Error> {
                map.next_value()
            }
        }
    )*};
}
meta_field_as_is!(ProtocolVersion, LoggingLevel, RequestId);

/// A map key that borrows from the input when it can.
pub(crate) struct MetaKey<'de>(Cow<'de, str>);

impl MetaKey<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> Deserialize<'de> for MetaKey<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetaKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MetaKey(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MetaKey(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MetaKey(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Request params that carry a request `_meta`: every client-to-server
/// request's params, so sessions can stamp and read `_meta` generically.
pub trait HasMeta {
    /// The `_meta`, if any.
    fn meta(&self) -> Option<&RequestMeta>;
    /// The `_meta`, to fill in.
    fn meta_mut(&mut self) -> &mut Option<RequestMeta>;
}

macro_rules! has_meta {
    ($($ty:ty),* $(,)?) => {$(
        impl HasMeta for $ty {
            fn meta(&self) -> Option<&RequestMeta> {
                self.meta.as_ref()
            }
            fn meta_mut(&mut self) -> &mut Option<RequestMeta> {
                &mut self.meta
            }
        }
    )*};
}

has_meta!(
    crate::result::RequestParams,
    crate::result::PaginatedParams,
    crate::tools::CallToolParams,
    crate::resources::ReadResourceParams,
    crate::resources::ResourceUriParams,
    crate::prompts::GetPromptParams,
    crate::completion::CompleteParams,
    crate::lifecycle::InitializeParams,
    crate::logging::SetLevelParams,
    crate::subscriptions::ListenParams,
    crate::tasks::TaskIdParams,
    crate::tasks::ext::UpdateTaskParams,
    crate::sampling::CreateMessageParams,
);

impl HasMeta for crate::elicitation::ElicitParams {
    fn meta(&self) -> Option<&RequestMeta> {
        match self {
            Self::Form(f) => f.meta.as_ref(),
            Self::Url(u) => u.meta.as_ref(),
        }
    }
    fn meta_mut(&mut self) -> &mut Option<RequestMeta> {
        match self {
            Self::Form(f) => &mut f.meta,
            Self::Url(u) => &mut u.meta,
        }
    }
}
