//! The one error type of this crate.

/// What verifying a token, setting a verifier up, discovering and
/// registering with an authorization server, or getting a token as a
/// client can fail with.
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
    /// document, the token endpoint, randomness) could not be reached,
    /// timed out, answered with a server error or more than the size limit;
    /// a server answers 503, a client may retry later.
    #[error("authorization unavailable: {0}")]
    Unavailable(String),
    /// Something cannot be set up: the authorization server's metadata is
    /// missing, inconsistent or not allowed for a verifier, or the client's
    /// configuration cannot work (a redirect URI that is neither https nor
    /// loopback, no way to get a client ID, credentials that do not fit).
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
    /// The authorization server said no, with an OAuth error response
    /// (RFC 6749 §4.1.2.1, §5.2; RFC 7591 §3.2.2): `access_denied` when the
    /// user declined, `invalid_grant` when a code or refresh token is no
    /// longer good (authorize again), `invalid_redirect_uri` for a
    /// registration.
    #[error("authorization server error {error}{}", describe(.description.as_deref()))]
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
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// Nothing came in time: the authorization callback, say.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Tokens could not be stored or read back: an I/O error, or a stored
    /// file that is corrupt.
    #[error("token storage: {0}")]
    Storage(String),
}

fn describe(description: Option<&str>) -> String {
    description.map(|d| format!(": {d}")).unwrap_or_default()
}
