//! The resource-server side: verifying tokens and refusing requests as
//! the MCP authorization spec says.

mod api_key;
pub(crate) mod challenge;
mod identity;
mod introspection;
mod jwt;
mod layer;
mod scopes;
mod verifier;

pub use api_key::ApiKeys;
pub use identity::Identity;
pub use introspection::Introspection;
pub use jsonwebtoken::Algorithm;
pub use jwt::{JwtConfig, JwtVerifier};
pub use layer::{Auth, AuthBody, AuthLayer, VerifiedToken};
pub use scopes::RequiredScopes;
pub use verifier::{FirstOf, TokenVerifier};
