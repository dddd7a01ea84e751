//! OAuth 2.1 for the Model Context Protocol (not yet implemented).
//!
//! This crate will hold both sides of MCP authorization:
//!
//! - **resource server**: Protected Resource Metadata (RFC 9728),
//!   `WWW-Authenticate` challenges, token verification (JWT access tokens
//!   checked against the authorization server's JWKS, RFC 7662
//!   introspection, hashed API keys), scope checks with step-up, and a tower
//!   layer that puts the verified identity in request extensions;
//! - **client**: authorization server discovery, Client ID Metadata
//!   Documents, dynamic registration, authorization code with PKCE and
//!   resource indicators (RFC 8707), issuer checks (RFC 9207), refresh,
//!   client credentials and token storage.
//!
//! Until then it exports nothing.
