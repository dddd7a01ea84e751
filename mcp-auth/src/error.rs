//! The one error type of this crate.

/// What verifying a token, or setting a verifier up, can fail with.
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
    /// Something the verifier depends on (the JWKS, the introspection
    /// endpoint) could not be reached or made no sense; the client may
    /// retry later (503).
    #[error("authorization unavailable: {0}")]
    Unavailable(String),
    /// The verifier cannot be set up: the authorization server's metadata
    /// is missing, inconsistent or not allowed.
    #[error("authorization setup: {0}")]
    Config(String),
}
