use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON-RPC request id: an integer or a string, never `null`.
///
/// MCP also uses this shape for progress tokens (see
/// [`ProgressToken`](crate::ProgressToken)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[expect(
    clippy::exhaustive_enums,
    reason = "JSON-RPC 2.0 ids are strings or numbers"
)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl RequestId {
    /// The id as text, as telemetry records it: a string id as it is (no
    /// quotes, unlike `Display`), a number in decimal.
    ///
    /// ```
    /// use mcp_core::RequestId;
    /// assert_eq!(RequestId::from("req-7").as_text(), "req-7");
    /// assert_eq!(RequestId::from(7).as_text(), "7");
    /// ```
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Number(n) => std::borrow::Cow::Owned(n.to_string()),
            Self::String(s) => std::borrow::Cow::Borrowed(s),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for RequestId {
    fn from(v: i64) -> Self {
        Self::Number(v)
    }
}
impl From<i32> for RequestId {
    fn from(v: i32) -> Self {
        Self::Number(v.into())
    }
}
impl From<u32> for RequestId {
    fn from(v: u32) -> Self {
        Self::Number(v.into())
    }
}
impl From<String> for RequestId {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}
impl From<&str> for RequestId {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => serializer.serialize_i64(*n),
            Self::String(s) => serializer.serialize_str(s),
        }
    }
}

/// Visits the id shapes JSON-RPC allows and rejects the rest by name.
pub(crate) struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = RequestId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RequestId, E> {
        Ok(RequestId::Number(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RequestId, E> {
        i64::try_from(v)
            .map(RequestId::Number)
            .map_err(|_| E::custom("integer id out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestId, E> {
        Ok(RequestId::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RequestId, E> {
        Ok(RequestId::String(v))
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}
