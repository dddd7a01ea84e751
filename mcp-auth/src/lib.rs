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
//!   it (`ctx.extensions().get::<Identity>()`), and, when asked
//!   ([`AuthLayer::with_token_kept`]), the token itself as a
//!   [`VerifiedToken`] for a service that acts on the caller's behalf;
//!   refusals logged with `tracing` (target `mcp_auth`).
//! - [`TokenVerifier`] with [`JwtVerifier`] (RFC 9068 access tokens
//!   against the issuer's JWKS; audience must be this resource),
//!   [`Introspection`] (RFC 7662) and [`ApiKeys`], combined with
//!   [`FirstOf`]. The last two take a rotated client secret or key list
//!   while the server runs, read from a secret source.
//! - [`RequiredScopes`]: per request, method, tool, prompt and resource.
//!
//! The client side is in [`client`]: the `WWW-Authenticate` challenge,
//! discovery of the authorization server and client registration (fetched
//! through an SSRF-safe [`SafeFetcher`]), PKCE and `state`, token
//! storage, and the authorization code, refresh, client credentials and
//! token exchange (RFC 8693) grants.
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
//!
//! # Features
//!
//! - `server` (on): verifiers, [`AuthLayer`] and scopes, for a resource
//!   server. It does not compile `mcp-client`.
//! - `client` (on): [`client`]: discovery, registration, grants, token
//!   stores and the `OAuth` provider for `mcp-client`.
//!
//! # Dependencies, and why
//!
//! - `jsonwebtoken`: JWT signature and claim checks (and the client's
//!   `private_key_jwt` assertions), with the algorithms pinned per key.
//! - `reqwest`: every fetch (metadata, JWKS, introspection, registration,
//!   tokens) goes through one [`SafeFetcher`] on a reqwest client whose
//!   resolver refuses private and loopback addresses as policy says.
//! - `url`: URL parsing, and the form encoding of token requests.
//! - `sha2`, `subtle`, `base64`, `getrandom`: PKCE S256, API keys compared
//!   by hash in constant time, random `state` and verifiers.
//! - `hyper`, `hyper-util` (with `client`): the loopback redirect listener
//!   of a native app is a one-request HTTP/1 server.
//! - `tower-layer`, `tower-service`, `http`, `http-body(-util)`, `bytes`:
//!   the layer wraps any tower `Service`; bodies are read once, bounded.
//! - `async-trait`: [`TokenVerifier`] and [`client::store::TokenStore`]
//!   take `async fn` and stay object-safe.
//! - `tokio`, `serde`, `serde_json`, `tracing`.
//!
//! Why not the `oauth2` crate: MCP needs what it leaves to the caller —
//! RFC 9728 resource metadata discovery, RFC 8707 resource indicators on
//! every request, RFC 9207 `iss` checks, client ID metadata documents,
//! SSRF rules for URLs a server chose, and bounded responses — and its
//! HTTP client abstraction would sit beside ours rather than replace it.
//! What it would save (building a token request, parsing the response) is
//! the smallest part.

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
    JwtVerifier, RequiredScopes, TokenVerifier, VerifiedToken,
};
