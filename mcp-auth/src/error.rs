//! The one error type of this crate.

/// What verifying a token, setting a verifier up, or discovering and
/// registering with an authorization server can fail with.
///
/// Match on the variant, not on the `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is not acceptable: expired, signed by an unknown key, for
    /// another audience… The text says which, and goes to the client in
    /// `error_description` (401 `invalid_token`).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The token is not of the kind this verifier checks (not a JWT, not
    /// one of its API keys); another verifier may know it. Refused like an
    /// invalid token when none does.
    #[error("unrecognized token: {0}")]
    Unrecognized(String),
    /// Something needed (the JWKS, the introspection endpoint, a metadata
    /// document) could not be reached, timed out, answered with a server
    /// error or more than the size limit; retrying later may help (503 on
    /// the resource-server side).
    #[error("authorization unavailable: {0}")]
    Unavailable(String),
    /// Something cannot be set up: the authorization server's metadata is
    /// missing, inconsistent or not allowed for a verifier, or the client's
    /// configuration cannot work (a redirect URI that is neither https nor
    /// loopback, no way to get a client ID at an authorization server).
    #[error("authorization setup: {0}")]
    Config(String),
    /// The client refused, for its own safety, something a server sent or
    /// pointed it at: a URL that is not https (or loopback http), names a
    /// private or link-local address, or a metadata URL on another origin;
    /// metadata for another resource or issuer; an authorization server
    /// without PKCE `S256`; a redirect; credentials of another issuer.
    /// Retrying does not help.
    #[error("refused: {0}")]
    Refused(String),
    /// A server's answer is not what the protocol says: no metadata at any
    /// well-known location, a document that is not JSON or lacks a
    /// required member.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The authorization server answered a request with an OAuth error
    /// (RFC 6749 §5.2, RFC 7591 §3.2.2), e.g. `invalid_redirect_uri` for a
    /// registration.
    #[error("authorization server error {error}{}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// The error code (`invalid_client_metadata`, …).
        error: String,
        /// `error_description`, when the server gave one.
        description: Option<String>,
    },
}
