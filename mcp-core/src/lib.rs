//! Wire types for the Model Context Protocol, every supported revision.
//!
//! `mcp-core` is the vocabulary the rest of the SDK speaks: the JSON-RPC
//! envelope, every request, result and notification of protocol revisions
//! 2026-07-28 (modern) and 2025-11-25, 2025-06-18, 2025-03-26 (legacy),
//! method marker types, error codes, version negotiation, and a bounded
//! newline framing codec. It performs no I/O and depends on no async
//! runtime, so transports and middleware written by anyone can depend on
//! it alone.
//!
//! # Example
//!
//! Decode a request, dispatch on its method, answer it:
//!
//! ```
//! use mcp_core::method::{CallTool, Method};
//! use mcp_core::{CallToolParams, CallToolResult, ContentBlock, Message, Outcome, Response};
//!
//! let line = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call",
//!     "params":{"name":"echo","arguments":{"message":"hi"}}}"#;
//! let Message::Request(request) = Message::from_slice(line)? else { unreachable!() };
//! assert_eq!(request.method, CallTool::NAME);
//!
//! let params: CallToolParams = request.params()?;
//! let text = params.arguments.as_ref().and_then(|a| a["message"].as_str()).unwrap_or_default();
//! let result: Outcome<CallToolResult> =
//!     CallToolResult::success(vec![ContentBlock::text(text)]).into();
//!
//! let reply = Message::from(Response::typed(request.id, &result)?);
//! assert_eq!(
//!     String::from_utf8(reply.to_vec()?).unwrap(),
//!     r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}"#
//! );
//! # Ok::<(), mcp_core::Error>(())
//! ```
//!
//! # Design
//!
//! - **One type per concept, every revision.** A field that only some
//!   revisions have is an `Option`, documented with those revisions; the
//!   era-aware layers (`mcp-server`, `mcp-client`) fill in what the
//!   negotiated revision requires (`resultType`, cache hints, `_meta`).
//! - **Decode once.** [`Message::from_slice`] reads the envelope in a single
//!   pass and keeps `params`/`result` as raw JSON until the method is
//!   known; types whose shape depends on a member (content blocks, resource
//!   contents, elicitation schemas) are decoded through a flat
//!   representation rather than serde's buffering `untagged` and
//!   internally tagged paths.
//! - **Lenient in, exact out.** Unknown members are ignored on input and
//!   `_meta` keys are kept; output never carries `null` for an absent
//!   optional member.
//! - **Open sets stay open.** [`ErrorCode`], [`ProtocolVersion`] and
//!   [`ResultType`] accept values this crate does not name. Spec structs are
//!   `#[non_exhaustive]`: build them with `new` and `with_*`.
//! - **Bounded input.** [`codec::LineCodec`] has a finite, configurable
//!   frame limit and recovers after a bad frame.
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `tokio` | `transport::LineReader` / `transport::LineWriter`: newline-framed transport halves over tokio I/O |
//! | `trace-sampling` | `telemetry::HeadSampler`: a `tracing` filter that samples whole traces before an OpenTelemetry layer builds them |
//! | `otel` | `telemetry::{inject_context, continue_context}`: W3C trace context in `params._meta`, through OpenTelemetry's propagator |
//!
//! None is on by default; the default build has no async runtime and no I/O.
//!
//! # Stability
//!
//! New protocol revisions add fields and variants; thanks to
//! `#[non_exhaustive]` that is a minor release.
//!
//! # Features
//!
//! - `tokio` (off): `LineReader` and `LineWriter`, the newline framing of
//!   stdio and sockets over tokio's `AsyncRead`/`AsyncWrite`.
//! - `trace-sampling` (off): [`telemetry::HeadSampler`](telemetry), the
//!   head sampler that `mcp-server`'s and `mcp-client`'s spans and any
//!   other `tracing` span share.
//! - `otel` (off): writing a span's trace context into a request's
//!   `_meta` and continuing it from there, for both sides of every
//!   request (a server's requests to its client included).
//!
//! # Dependencies, and why
//!
//! - `serde`, `serde_json`: the protocol is JSON; every type derives its
//!   wire form, and the envelope decoder is built on `serde_json`'s.
//! - `bytes`: frames and encoded messages are shared, not copied, between
//!   a codec, a session and a transport.
//! - `memchr`: the line codec and the SSE decoder look for line breaks
//!   in frames that may be megabytes long; a byte-at-a-time scan cost as
//!   much as decoding the JSON (`serde_json` depends on it already).
//! - `base64`: binary content (images, audio, blobs) is base64 in JSON.
//! - `thiserror`: the one error enum, without hand-written `Display`.
//! - `tokio` (feature `tokio` only): the line codec's async I/O traits.
//!   Without it this crate has no runtime, so any transport or runtime can
//!   build on the types.
//! - `tracing`, `tracing-subscriber` (feature `trace-sampling` only): the
//!   head sampler is a per-layer `Filter`, the one place `tracing` lets a
//!   decision hide a span from one layer (the OpenTelemetry bridge) and
//!   not from the others (logs).
//! - `opentelemetry`, `tracing-opentelemetry` (feature `otel` only): the
//!   globally installed propagator reads and writes trace context, and
//!   the bridge gives a `tracing` span its OpenTelemetry context.

// Every public spec type is `#[non_exhaustive]` unless it says why not.
#![warn(clippy::exhaustive_structs, clippy::exhaustive_enums)]

#[macro_use]
mod macros;

pub mod capabilities;
pub mod codec;
pub mod completion;
pub mod content;
pub mod elicitation;
mod error;
pub mod headers;
pub mod hex;
pub mod jsonrpc;
pub mod lifecycle;
pub mod logging;
pub mod meta;
pub mod method;
pub mod mrtr;
pub mod notifications;
pub mod prompts;
pub mod request;
pub mod resources;
pub mod result;
pub mod roots;
pub mod sampling;
pub mod secret;
pub mod security;
pub mod sse;
pub mod subscriptions;
pub mod target;
pub mod tasks;
pub mod telemetry;
pub mod tools;
pub mod transport;
pub mod version;

pub use capabilities::{ClientCapabilities, Implementation, ServerCapabilities};

/// A boxed, sendable future: what the methods of object-safe async traits
/// (stores, credential providers, host handlers) return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
pub use content::{ContentBlock, ResourceContents, Role};
pub use error::{Error, ErrorCode, ErrorObject};
pub use jsonrpc::{ErrorResponse, Message, Notification, Request, RequestId, Response};
pub use meta::{JsonObject, Meta, ProgressToken, RequestMeta, ResultMeta};
pub use mrtr::{InputRequest, InputRequiredResult, InputResponse, Outcome};
pub use result::{CacheScope, EmptyResult, PaginatedParams, ResultType};
pub use tools::{CallToolParams, CallToolResult, Tool};
pub use version::{Era, ProtocolVersion};

// The guides' code blocks compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../docs/protocol-types.md")]
struct GuideDoctests;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
