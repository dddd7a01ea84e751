//! Model Context Protocol clients, for servers of either protocol era.
//!
//! Connect with [`Client::spawn`] (a server run as a child process over
//! stdio) or [`Client::connect`] (any [`FrameRead`] / [`FrameWrite`]
//! pair). The client probes the server with `server/discover`, falls back
//! to the `initialize` handshake for legacy servers, and from then on every
//! typed call is shaped for the era it found.
//!
//! ```no_run
//! use mcp_client::{ChildProcess, Client, ClientOptions, NoHandler};
//! use mcp_core::Implementation;
//!
//! # async fn run() -> Result<(), mcp_client::Error> {
//! let client = Client::spawn(
//!     ChildProcess::new("cargo").args(["run", "--example", "stdio_server"]),
//!     ClientOptions::new(Implementation::new("my-host", "1.0.0")),
//!     NoHandler,
//! )
//! .await?;
//! println!("connected to {:?} ({})", client.server().implementation, client.protocol_version());
//! let args = serde_json::json!({"message": "hi"});
//! let result = client.call_tool("echo", args.as_object().cloned().unwrap_or_default()).await?;
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! The host answers the server's requests for user input, model
//! completions and roots by implementing [`ClientHandler`]; the same
//! handler serves a legacy server's requests and a 2026-07-28 server's
//! input-required results, which the client retries by itself.
//!
//! # Cancel safety
//!
//! Dropping a call's future cancels the request (`notifications/cancelled`
//! goes to the server). A request that times out is cancelled the same way.
//!
//! [`FrameRead`]: mcp_core::transport::FrameRead
//! [`FrameWrite`]: mcp_core::transport::FrameWrite
//!
//! # Features
//!
//! - `stdio` (on): [`Client::spawn`] of a server as a child process (with
//!   `nix` to stop its process group on Unix).
//! - `http` (on): Streamable HTTP, with the legacy-session and HTTP+SSE
//!   fallbacks and the [`AuthProvider`] hook. Off, the tree has no reqwest
//!   or TLS stack.
//!
//! # Dependencies, and why
//!
//! - `tokio`, `tokio-stream`, `futures-core`: the runtime, and streams of
//!   notifications and subscriptions.
//! - `serde`, `serde_json`, `bytes`: the protocol's JSON, shared buffers.
//! - `reqwest` (with `http`): a maintained HTTP client with rustls, HTTP/2,
//!   proxies, redirects and streaming bodies; `http` for its types,
//!   `async-trait` for [`AuthProvider`].
//! - `hyper`, `hyper-util`, `http-body`, `http-body-util`, `tower-service`
//!   (with `http`, all already under reqwest): requests to a plain
//!   `http://` endpoint that no proxy intercepts skip reqwest's layers and
//!   go to hyper's HTTP/1 connections directly (hyper-util's connector
//!   opens them; the transport pools them for its one origin), the common
//!   case of a gateway or an agent beside its servers; a redirect from
//!   there is followed through reqwest.
//! - `thiserror`, `tracing`: the error enum, and events any subscriber
//!   can take.
//! - With `otel`: `opentelemetry` (its API only) and
//!   `tracing-opentelemetry`: each request's span context is written into
//!   its `params._meta` by the propagator the application installed.

mod api;
#[cfg(feature = "stdio")]
mod child;
mod client;
mod error;
mod handler;
#[cfg(feature = "http")]
mod http;
mod notifications;

pub use api::Subscription;
/// The attribute that lets [`AuthProvider`] implementations use `async fn`.
#[cfg(feature = "http")]
pub use async_trait::async_trait;
#[cfg(feature = "stdio")]
pub use child::{ChildProcess, Stderr};
pub use client::{CallOptions, Client, ClientOptions, ProgressFn, ServerInfo};
pub use error::{Error, Result};
pub use handler::{ClientHandler, NoHandler, capabilities};
#[cfg(feature = "http")]
pub use http::{AuthChallenge, AuthProvider, HttpOptions, HttpReader, HttpWriter, http_transport};
/// The protocol types a client and its handler use most, so that a first
/// client needs this crate only; everything else is in [`mcp_core`].
pub use mcp_core::{
    CallToolResult, ClientCapabilities, ContentBlock, Era, ErrorObject, Implementation, JsonObject,
    ResourceContents,
    elicitation::{ElicitAction, ElicitParams, ElicitResult, ElicitValue},
    roots::{ListRootsResult, Root},
    sampling::{CreateMessageParams, CreateMessageResult},
};
pub use notifications::{Notifications, ServerNotification};

// The client guide's code blocks compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/client-guide.md")]
struct ClientGuideDoctests;
