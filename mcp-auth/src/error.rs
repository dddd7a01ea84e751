//! The one error type of this crate.

/// What verifying a token, setting a verifier up, or getting a token as a
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
    /// Something needed (the JWKS, the introspection endpoint, the token
    /// endpoint, randomness) could not be reached or made no sense; a
    /// server answers 503, a client may retry later.
    #[error("authorization unavailable: {0}")]
    Unavailable(String),
    /// The verifier or the client flow cannot be set up: the authorization
    /// server's metadata is missing, inconsistent or not allowed (no PKCE
    /// `S256`, an endpoint neither https nor loopback), or the client's
    /// credentials do not fit it.
    #[error("authorization setup: {0}")]
    Config(String),
    /// The authorization server said no, with an OAuth error response: from
    /// the authorization endpoint (`access_denied` when the user declined)
    /// or from the token endpoint (`invalid_grant` when a code or refresh
    /// token is no longer good: authorize again). `error` is the OAuth
    /// error code; `description` its `error_description`, when given.
    #[error("refused by the authorization server: {error}{}", describe(.description.as_deref()))]
    Refused {
        /// The OAuth error code (`access_denied`, `invalid_grant`, …).
        error: String,
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// An answer failed the client's checks and was not acted on: a
    /// callback whose `state` is not the request's (CSRF) or whose `iss`
    /// is not the recorded issuer (mix-up, RFC 9207), or a token response
    /// that breaks the rules (no `access_token`, `token_type` not Bearer).
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
    description.map(|d| format!(" ({d})")).unwrap_or_default()
}
