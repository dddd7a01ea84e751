//! Protocol revisions, their eras, and version negotiation for both sides.
//!
//! MCP revisions are dates. 2026-07-28 starts the *modern* era: every
//! request names its version in `_meta` and the server accepts or rejects it
//! (-32022 with the versions it supports). Earlier revisions are *legacy*:
//! the client proposes a version in `initialize` and the server answers with
//! the version the connection will use.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ErrorObject;

/// The two eras of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Era {
    /// `initialize` handshake, sessions, server→client requests
    /// (2025-11-25 and earlier).
    Legacy,
    /// Per-request `_meta`, no sessions, multi round-trip requests
    /// (2026-07-28 and later).
    Modern,
}

/// A protocol version string such as `"2026-07-28"`.
///
/// Any string round-trips; [`ProtocolVersion::is_known`] tells whether this
/// crate has the revision's types.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProtocolVersion(Cow<'static, str>);

/// Known versions decode to the constants (no allocation: a version is
/// read, compared and copied on every 2026-07-28 request).
impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ProtocolVersion;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a protocol version string")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ProtocolVersion, E> {
                Ok(ProtocolVersion::KNOWN
                    .iter()
                    .find(|known| known.as_str() == v)
                    .cloned()
                    .unwrap_or_else(|| ProtocolVersion(Cow::Owned(v.to_owned()))))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl ProtocolVersion {
    /// 2026-07-28, the first modern revision.
    pub const V2026_07_28: Self = Self(Cow::Borrowed("2026-07-28"));
    /// 2025-11-25 (legacy).
    pub const V2025_11_25: Self = Self(Cow::Borrowed("2025-11-25"));
    /// 2025-06-18 (legacy).
    pub const V2025_06_18: Self = Self(Cow::Borrowed("2025-06-18"));
    /// 2025-03-26 (legacy; the one with JSON-RPC batches).
    pub const V2025_03_26: Self = Self(Cow::Borrowed("2025-03-26"));
    /// 2024-11-05 (legacy; the HTTP+SSE transport).
    pub const V2024_11_05: Self = Self(Cow::Borrowed("2024-11-05"));

    /// The newest revision this crate speaks.
    pub const LATEST: Self = Self::V2026_07_28;

    /// Every revision this crate has types for, newest first.
    pub const KNOWN: &'static [Self] = &[
        Self::V2026_07_28,
        Self::V2025_11_25,
        Self::V2025_06_18,
        Self::V2025_03_26,
        Self::V2024_11_05,
    ];

    /// The revisions supported by default, newest first: the modern one and
    /// the three legacy revisions clients deploy today.
    pub const DEFAULT_SUPPORTED: &'static [Self] = &[
        Self::V2026_07_28,
        Self::V2025_11_25,
        Self::V2025_06_18,
        Self::V2025_03_26,
    ];

    /// A version from any string.
    pub fn new(version: impl Into<Cow<'static, str>>) -> Self {
        Self(version.into())
    }

    /// The version string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this crate has the revision's types.
    pub fn is_known(&self) -> bool {
        Self::KNOWN.contains(self)
    }

    /// The era of this version. Revisions are `YYYY-MM-DD` dates, so an
    /// unknown but well-formed date is placed by comparison with 2026-07-28;
    /// anything else has no era.
    pub fn era(&self) -> Option<Era> {
        let s = self.as_str();
        let well_formed = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !well_formed {
            return None;
        }
        Some(if s >= Self::V2026_07_28.as_str() {
            Era::Modern
        } else {
            Era::Legacy
        })
    }

    /// Whether this revision allows receiving JSON-RPC batches (2025-03-26 only).
    pub fn allows_batches(&self) -> bool {
        *self == Self::V2025_03_26
    }
}

impl fmt::Debug for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProtocolVersion({})", self.0)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProtocolVersion {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for ProtocolVersion {
    fn from(v: &'static str) -> Self {
        Self(Cow::Borrowed(v))
    }
}

impl From<String> for ProtocolVersion {
    fn from(v: String) -> Self {
        Self(Cow::Owned(v))
    }
}

impl PartialEq<str> for ProtocolVersion {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ProtocolVersion {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Version negotiation, both sides, both eras.
///
/// `supported` lists are newest first, like [`ProtocolVersion::DEFAULT_SUPPORTED`].
pub mod negotiate {
    use super::{Era, ErrorObject, ProtocolVersion};

    /// Server, modern request: accept the version named in `_meta`, or
    /// produce the -32022 error listing what is supported.
    ///
    /// A legacy version named in a modern request's `_meta` is rejected the
    /// same way: legacy revisions are reached through `initialize`.
    ///
    /// # Errors
    /// The `UnsupportedProtocolVersionError` object to send back.
    pub fn server_accept_modern(
        requested: &ProtocolVersion,
        supported: &[ProtocolVersion],
    ) -> Result<ProtocolVersion, ErrorObject> {
        if requested.era() == Some(Era::Modern) && supported.contains(requested) {
            return Ok(requested.clone());
        }
        Err(ErrorObject::unsupported_protocol_version(
            requested.as_str(),
            supported.iter().map(ProtocolVersion::as_str),
        ))
    }

    /// Server, legacy `initialize`: the version to answer with.
    ///
    /// The requested version if it is a supported legacy revision; otherwise
    /// the newest supported legacy revision, which the client may accept or
    /// disconnect over (as the legacy lifecycle prescribes). `None` when the
    /// server supports no legacy revision at all.
    pub fn server_initialize(
        requested: &ProtocolVersion,
        supported: &[ProtocolVersion],
    ) -> Option<ProtocolVersion> {
        let legacy = |v: &&ProtocolVersion| v.era() == Some(Era::Legacy);
        if legacy(&requested) && supported.contains(requested) {
            return Some(requested.clone());
        }
        supported.iter().find(legacy).cloned()
    }

    /// Client, after an -32022 error or a `server/discover` result: the
    /// newest version both sides support.
    pub fn client_pick<S: AsRef<str>>(
        server_supported: &[S],
        ours: &[ProtocolVersion],
    ) -> Option<ProtocolVersion> {
        ours.iter()
            .find(|v| server_supported.iter().any(|s| s.as_ref() == v.as_str()))
            .cloned()
    }

    /// Client, legacy: whether the version in an `initialize` result is one
    /// we can speak. If not, the client should disconnect.
    pub fn client_accept_initialize(answered: &ProtocolVersion, ours: &[ProtocolVersion]) -> bool {
        answered.era() == Some(Era::Legacy) && ours.contains(answered)
    }
}
