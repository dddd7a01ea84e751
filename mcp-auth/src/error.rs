//! The one error type of this crate.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// What verifying a token, setting a verifier up, discovering and
/// registering with an authorization server, or getting a token as a
/// client can fail with.
///
/// Match on the variant, not on the `Display` text. Where another error
/// caused this one (an I/O error, an HTTP failure, a JSON error), it is
/// [`source`](std::error::Error::source).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The token is not acceptable: expired, signed by an unknown key, for
    /// another audience… The text says which, and goes to the client in
    /// `error_description` (401 `invalid_token`).
    InvalidToken(Reason),
    /// The token is not of the kind this verifier checks (not a JWT, not
    /// one of its API keys); another verifier may know it. Refused like an
    /// invalid token when none does.
    Unrecognized(Reason),
    /// Something needed (the JWKS, the introspection endpoint, a metadata
    /// document, the token endpoint, randomness) could not be reached,
    /// timed out, answered with a server error or more than the size limit;
    /// a server answers 503, a client may retry later.
    Unavailable(Reason),
    /// Something cannot be set up: the authorization server's metadata is
    /// missing, inconsistent or not allowed for a verifier, or the client's
    /// configuration cannot work (a redirect URI that is neither https nor
    /// loopback, no way to get a client ID, credentials that do not fit).
    Config(Reason),
    /// The client refused, for its own safety, something a server sent or
    /// pointed it at: a URL that is not https (or loopback http), names a
    /// private or link-local address, or a metadata URL on another origin;
    /// metadata for another resource or issuer; an authorization server
    /// without PKCE `S256`; a redirect; credentials of another issuer.
    /// Retrying does not help.
    Refused(Reason),
    /// The authorization server said no, with an OAuth error response
    /// (RFC 6749 §4.1.2.1, §5.2; RFC 7591 §3.2.2): `access_denied` when the
    /// user declined, `invalid_grant` when a code or refresh token is no
    /// longer good (authorize again), `invalid_redirect_uri` for a
    /// registration.
    OAuth {
        /// The OAuth error code.
        error: String,
        /// The server's `error_description`, when given.
        description: Option<String>,
    },
    /// An answer failed the client's checks and was not acted on: a
    /// callback whose `state` is not the request's (CSRF) or whose `iss`
    /// is not the recorded issuer (mix-up, RFC 9207), a token response or
    /// metadata document that breaks the rules, no metadata at any
    /// well-known location.
    InvalidResponse(Reason),
    /// Nothing came in time: the authorization callback, say.
    Timeout(Reason),
    /// Tokens could not be stored or read back: an I/O error, or a stored
    /// file that is corrupt.
    Storage(Reason),
}

impl Error {
    /// The reason of every variant but [`Error::OAuth`].
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::InvalidToken(r)
            | Self::Unrecognized(r)
            | Self::Unavailable(r)
            | Self::Config(r)
            | Self::Refused(r)
            | Self::InvalidResponse(r)
            | Self::Timeout(r)
            | Self::Storage(r) => Some(r),
            Self::OAuth { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, reason) = match self {
            Self::InvalidToken(r) => ("invalid token", r),
            Self::Unrecognized(r) => ("unrecognized token", r),
            Self::Unavailable(r) => ("authorization unavailable", r),
            Self::Config(r) => ("authorization setup", r),
            Self::Refused(r) => ("refused", r),
            Self::InvalidResponse(r) => ("invalid response", r),
            Self::Timeout(r) => ("timed out", r),
            Self::Storage(r) => ("token storage", r),
            Self::OAuth { error, description } => {
                write!(f, "authorization server error {error}")?;
                return match description {
                    Some(d) => write!(f, ": {d}"),
                    None => Ok(()),
                };
            }
        };
        write!(f, "{what}: {reason}")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.reason()?.source.as_deref()?;
        Some(source)
    }
}

/// Why an [`Error`] happened: a text for people and, where one exists,
/// the error that caused it (the error's
/// [`source`](std::error::Error::source)).
///
/// The text is whole on its own (it names the cause too), so a log line
/// that prints only the error says everything; the source is there for
/// code that inspects the cause (`downcast_ref::<std::io::Error>()`).
/// It reads as its text (`reason.contains("expired")`) and compares by
/// text.
#[derive(Clone)]
pub struct Reason {
    text: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Reason {
    /// `text`, caused by `source`.
    pub fn caused_by(
        text: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            text: text.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            None => fmt::Debug::fmt(&self.text, f),
            Some(source) => f
                .debug_struct("Reason")
                .field("text", &self.text)
                .field("source", source)
                .finish(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Deref for Reason {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Reason {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Reason {}

impl From<String> for Reason {
    fn from(text: String) -> Self {
        Self { text, source: None }
    }
}

impl From<&str> for Reason {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_the_source_and_the_text_is_the_message() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::Storage(Reason::caused_by("cannot write /x", io));
        assert_eq!(e.to_string(), "token storage: cannot write /x");
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "disk on fire");
        assert_eq!(e, Error::Storage("cannot write /x".into()));
        assert!(std::error::Error::source(&Error::Config("c".into())).is_none());
    }
}
