//! OAuth 2.1 for the Model Context Protocol, resource-server side: protect
//! an MCP endpoint exactly as the MCP authorization spec says, and verify
//! tokens here rather than in a callback.
//!
//! - [`ProtectedResourceMetadata`] (RFC 9728), served by
//!   [`MetadataService`] at both well-known forms.
//! - [`AuthLayer`]: a tower layer in front of the endpoint. Bearer tokens
//!   from the `Authorization` header only; 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="…"` (and `scope`, and
//!   `error="invalid_token"` for a bad token), 403 `insufficient_scope`
//!   naming the scopes needed, JSON bodies that say what was wrong; the
//!   verified [`Identity`] in the request's extensions, where handlers find
//!   it (`ctx.extensions().get::<Identity>()`); refusals logged with
//!   `tracing` (target `mcp_auth`).
//! - [`TokenVerifier`] with [`JwtVerifier`] (RFC 9068 access tokens
//!   against the issuer's JWKS; audience must be this resource),
//!   [`Introspection`] (RFC 7662) and [`ApiKeys`], combined with
//!   [`FirstOf`].
//! - [`RequiredScopes`]: per request, method, tool, prompt and resource.
//!
//! The client side is in [`client`]: the `WWW-Authenticate` challenge,
//! discovery of the authorization server and client registration (fetched
//! through an SSRF-safe [`SafeFetcher`]), PKCE and `state`, token
//! storage, and the authorization code, refresh and client credentials
//! grants.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use mcp_auth::{AuthLayer, JwtConfig, JwtVerifier, ProtectedResourceMetadata, RequiredScopes};
//! use tower_layer::Layer as _;
//!
//! # async fn run<S>(endpoint: S) -> Result<(), mcp_auth::Error> {
//! let resource = "https://mcp.example.com/mcp";
//! let issuer = "https://auth.example.com";
//! let verifier = JwtVerifier::discover(JwtConfig::new(issuer, resource)).await?;
//! let metadata = ProtectedResourceMetadata::new(resource, issuer).with_scopes(["mcp:read", "mcp:admin"]);
//! let scopes = RequiredScopes::new().always(["mcp:read"]).tool("delete_all", ["mcp:admin"]);
//! let protected = AuthLayer::new(Arc::new(verifier), &metadata)
//!     .with_scopes(scopes)
//!     .layer(endpoint);
//! // Mount `protected` at /mcp and `metadata.service()` at both of
//! // `metadata.well_known_paths()`.
//! # let _ = protected;
//! # Ok(())
//! # }
//! ```

// Built with neither side, only the shared parts remain, some unused.
#![cfg_attr(not(any(feature = "server", feature = "client")), allow(dead_code))]

#[cfg(doctest)]
#[doc = include_str!("../../docs/auth.md")]
struct AuthDoctests;

#[cfg(feature = "client")]
pub mod client;
mod error;
mod fetch;
mod metadata;
mod metadata_service;
mod secret;
#[cfg(feature = "server")]
mod server;

/// The attribute that lets implementations of this crate's traits
/// ([`TokenVerifier`], [`client::store::TokenStore`]) use `async fn`.
pub use async_trait::async_trait;
pub use error::{Error, Reason};
pub use fetch::{FetchPolicy, SafeFetcher};
pub use metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
pub use metadata_service::MetadataService;
pub use secret::Secret;
#[cfg(feature = "server")]
pub use server::{
    Algorithm, ApiKeys, Auth, AuthBody, AuthLayer, FirstOf, Identity, Introspection, JwtConfig,
    JwtVerifier, RequiredScopes, TokenVerifier,
};
