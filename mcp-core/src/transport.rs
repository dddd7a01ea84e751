//! The transport seam, at two levels.
//!
//! **Messages** ([`MessageRead`], [`MessageWrite`]) are what sessions in
//! `mcp-server` and `mcp-client` exchange with a transport: decoded
//! messages in ([`Incoming`]), encoded messages out ([`Outgoing`]) that say
//! what they are (a request and its id, a response to which request), so
//! that no transport reads a message twice to route it. Streamable HTTP
//! implements this level directly: it decodes each POST's body once, and
//! turns an outgoing request's [`Mirror`] into headers.
//!
//! **Frames** ([`FrameRead`], [`FrameWrite`]) are the bytes of one message
//! (or one 2025-03-26 batch) without framing, for byte streams. Every frame
//! transport is a message transport: reading decodes each frame, writing
//! sends the message's bytes. With the `tokio` feature, `LineReader` and
//! `LineWriter` implement frames over any `AsyncRead` / `AsyncWrite` with
//! newline framing: stdio, child processes, sockets, in-memory pipes.
//!
//! Reading and writing are separate halves so they can run concurrently.

use std::borrow::Cow;
use std::future::Future;

use bytes::Bytes;

use crate::error::Error;
use crate::jsonrpc::{Incoming, RequestId};
use crate::request::DecodedBody;

/// The receiving half of a message transport.
pub trait MessageRead: Send + 'static {
    /// The next message (or batch). `None` once the peer has closed.
    ///
    /// An `Err` that is not [fatal](Error::is_fatal) concerns one message:
    /// answer it if a reply is owed and keep reading.
    fn read_message(&mut self) -> impl Future<Output = Option<Result<Incoming, Error>>> + Send;

    /// The next message as a server reads it: a request comes with its
    /// params decoded for its method. `None` once the peer has closed; an
    /// error (fatal or not) is in [`DecodedBody::incoming`].
    ///
    /// By default the params are decoded after [`read_message`](Self::read_message);
    /// frame transports decode them in the same pass as the envelope.
    fn read_decoded(&mut self) -> impl Future<Output = Option<DecodedBody>> + Send {
        async { self.read_message().await.map(DecodedBody::of_incoming) }
    }
}

/// The sending half of a message transport.
pub trait MessageWrite: Send + 'static {
    /// Sends one message.
    fn write_message(
        &mut self,
        message: Outgoing,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Signals the end of output to the peer (EOF on a pipe, the end of an
    /// HTTP session).
    fn close(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Whether this transport mirrors requests into headers (Streamable
    /// HTTP does): senders then give requests a [`Mirror`], and clients
    /// apply that transport's rules for tools whose `x-mcp-header`
    /// annotations are invalid. `false` by default.
    fn mirrors(&self) -> bool {
        false
    }

    /// The server's host and port, for transports over a network
    /// (telemetry's `server.address` and `server.port`). `None` by default.
    fn server_address(&self) -> Option<(String, u16)> {
        None
    }

    /// How to read the session this transport holds with the server, for
    /// telemetry's `mcp.session.id` (legacy Streamable HTTP sessions).
    /// `None` by default: transports without sessions.
    fn session_label(&self) -> Option<SessionLabel> {
        None
    }
}

/// Reads the label of the session a transport holds (`None` while it holds
/// none): a digest of the session id, never the id, which would let a
/// reader of the telemetry use the session. Asked at each request, since a
/// session starts with the server's first answer and may be renewed.
pub type SessionLabel = std::sync::Arc<dyn Fn() -> Option<std::sync::Arc<str>> + Send + Sync>;

/// An encoded message on its way out, with what a transport needs to route
/// it without decoding it again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outgoing {
    /// The message (or batch) as JSON, without framing.
    pub bytes: Bytes,
    /// What it is.
    pub kind: OutgoingKind,
    /// For a 2026-07-28 request: what HTTP mirrors into headers.
    pub mirror: Option<Box<Mirror>>,
}

/// What an [`Outgoing`] message is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutgoingKind {
    /// A request.
    Request {
        /// Its id.
        id: RequestId,
        /// Its method.
        method: Cow<'static, str>,
    },
    /// A notification.
    Notification {
        /// Its method.
        method: Cow<'static, str>,
    },
    /// A result or error response to request `id` (`None` when the
    /// request's id could not be read).
    Response {
        /// The request answered.
        id: Option<RequestId>,
    },
    /// A 2025-03-26 batch of responses.
    Batch,
}

/// The parts of a 2026-07-28 request that Streamable HTTP repeats in
/// headers (`MCP-Protocol-Version`, `Mcp-Name`, `Mcp-Param-*`), so that
/// proxies can route on them without reading the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mirror {
    /// The protocol version in the request's `_meta`.
    pub protocol_version: Option<String>,
    /// The tool or prompt name, or the resource URI.
    pub name: Option<String>,
    /// `Mcp-Param-*` headers: full header name and value, for the tool
    /// arguments the tool's schema marks with `x-mcp-header`.
    pub params: Vec<(String, String)>,
}

impl Outgoing {
    /// Request `id` of `method`.
    pub fn request(id: RequestId, method: impl Into<Cow<'static, str>>, bytes: Bytes) -> Self {
        Self::new(
            bytes,
            OutgoingKind::Request {
                id,
                method: method.into(),
            },
        )
    }

    /// A notification of `method`.
    pub fn notification(method: impl Into<Cow<'static, str>>, bytes: Bytes) -> Self {
        Self::new(
            bytes,
            OutgoingKind::Notification {
                method: method.into(),
            },
        )
    }

    /// Notification `N` with `params`, encoded.
    ///
    /// # Errors
    /// [`Error::Encode`] when `params` do not serialize.
    pub fn encode_notification<N: crate::method::Notification>(
        params: &N::Params,
    ) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(&crate::jsonrpc::OutgoingNotification {
            method: N::NAME,
            params,
        })
        .map_err(|e| Error::Encode {
            message: e.to_string(),
        })?;
        Ok(Self::notification(N::NAME, Bytes::from(bytes)))
    }

    /// A response (or error response) to request `id`.
    pub fn response(id: Option<RequestId>, bytes: Bytes) -> Self {
        Self::new(bytes, OutgoingKind::Response { id })
    }

    /// A batch of responses.
    pub fn batch(bytes: Bytes) -> Self {
        Self::new(bytes, OutgoingKind::Batch)
    }

    fn new(bytes: Bytes, kind: OutgoingKind) -> Self {
        Self {
            bytes,
            kind,
            mirror: None,
        }
    }

    /// With `mirror` for HTTP's headers.
    #[must_use]
    pub fn with_mirror(mut self, mirror: Mirror) -> Self {
        self.mirror = Some(Box::new(mirror));
        self
    }

    /// The request this message answers, if it is a response with an id.
    pub fn answers(&self) -> Option<&RequestId> {
        match &self.kind {
            OutgoingKind::Response { id } => id.as_ref(),
            _ => None,
        }
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match &self.kind {
            OutgoingKind::Request { method, .. } | OutgoingKind::Notification { method } => {
                Some(method)
            }
            _ => None,
        }
    }
}

/// Every frame reader reads messages: each frame decoded, batches allowed
/// (the session refuses them where its version does not).
impl<T: FrameRead> MessageRead for T {
    async fn read_message(&mut self) -> Option<Result<Incoming, Error>> {
        Some(
            self.read_frame()
                .await?
                .and_then(|frame| Incoming::from_slice(&frame, true)),
        )
    }

    async fn read_decoded(&mut self) -> Option<DecodedBody> {
        Some(match self.read_frame().await? {
            Ok(frame) => DecodedBody::decode(frame),
            Err(e) => DecodedBody::of_incoming(Err(e)),
        })
    }
}

/// Every frame writer writes messages: their bytes, one frame each.
impl<T: FrameWrite> MessageWrite for T {
    async fn write_message(&mut self, message: Outgoing) -> Result<(), Error> {
        self.write_frame(message.bytes).await
    }

    async fn close(&mut self) -> Result<(), Error> {
        FrameWrite::close(self).await
    }
}

/// The receiving half of a transport.
pub trait FrameRead: Send + 'static {
    /// The next frame. `None` once the peer has closed the stream.
    ///
    /// An `Err` that is not [fatal](Error::is_fatal) concerns one frame (too
    /// large, not UTF-8): answer it if a reply is owed and keep reading.
    fn read_frame(&mut self) -> impl Future<Output = Option<Result<Bytes, Error>>> + Send;
}

/// The sending half of a transport.
pub trait FrameWrite: Send + 'static {
    /// Sends one frame, flushed.
    fn write_frame(&mut self, frame: Bytes) -> impl Future<Output = Result<(), Error>> + Send;

    /// Signals the end of output to the peer (EOF on a pipe).
    fn close(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Who a request comes from, as an authentication layer in front of the
/// server established it (an issuer and subject, an API key's owner). Put
/// in an HTTP request's extensions; servers bind legacy sessions to it, so
/// that one caller cannot use another's session id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a newtype key: its one field is the point"
)]
pub struct Principal(pub std::sync::Arc<str>);

/// What kind of caller a [`Principal`] is, as the layer that vouched for
/// it says: `"user"` for an OAuth user, `"api-key"` for an API key's
/// owner, or any name an application's own verifier gives. Put in an HTTP
/// request's extensions beside the principal; servers choose rate-limit
/// quotas by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(
    clippy::exhaustive_structs,
    reason = "a newtype key: its one field is the point"
)]
pub struct CallerClass(pub std::sync::Arc<str>);

#[cfg(feature = "tokio")]
pub use self::lines::{LineReader, LineWriter};

#[cfg(feature = "tokio")]
mod lines {
    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{FrameRead, FrameWrite};
    use crate::codec::LineCodec;
    use crate::error::Error;

    /// Reads newline-delimited frames from an `AsyncRead`, with the frame
    /// limit of its [`LineCodec`].
    #[derive(Debug)]
    pub struct LineReader<R> {
        io: R,
        codec: LineCodec,
        buf: BytesMut,
        done: bool,
    }

    impl<R> LineReader<R> {
        /// Reads from `io` with the default 4 MiB frame limit.
        pub fn new(io: R) -> Self {
            Self::with_codec(io, LineCodec::new())
        }

        /// Reads from `io` with `codec`'s frame limit.
        pub fn with_codec(io: R, codec: LineCodec) -> Self {
            Self {
                io,
                codec,
                buf: BytesMut::with_capacity(8 * 1024),
                done: false,
            }
        }
    }

    impl<R: AsyncRead + Unpin + Send + 'static> FrameRead for LineReader<R> {
        async fn read_frame(&mut self) -> Option<Result<Bytes, Error>> {
            loop {
                if self.done {
                    return None;
                }
                match self.codec.decode(&mut self.buf) {
                    Ok(Some(frame)) => return Some(Ok(frame)),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
                match self.io.read_buf(&mut self.buf).await {
                    Ok(0) => {
                        self.done = true;
                        return self.codec.decode_eof(&mut self.buf).transpose();
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e.into()));
                    }
                }
            }
        }
    }

    /// Writes newline-delimited frames to an `AsyncWrite`: one write call
    /// per frame, frame and newline together (a vectored write when the
    /// writer supports it, else both copied into one buffer).
    #[derive(Debug)]
    pub struct LineWriter<W> {
        io: W,
        scratch: Vec<u8>,
    }

    impl<W: AsyncWrite> LineWriter<W> {
        /// Writes to `io`.
        pub fn new(io: W) -> Self {
            Self {
                io,
                scratch: Vec::new(),
            }
        }
    }

    impl<W: AsyncWrite + Unpin + Send + 'static> FrameWrite for LineWriter<W> {
        async fn write_frame(&mut self, frame: Bytes) -> Result<(), Error> {
            // A frame without line breaks (all but raw JSON kept from
            // pretty-printed input) goes out as it is, with its newline,
            // in one vectored write: no copy of a frame that may be large.
            if self.io.is_write_vectored() && memchr::memchr2(b'\n', b'\r', &frame).is_none() {
                let mut out = bytes::Buf::chain(frame, &b"\n"[..]);
                self.io.write_all_buf(&mut out).await?;
                self.io.flush().await?;
                return Ok(());
            }
            self.scratch.clear();
            self.scratch.extend_from_slice(&frame);
            // A line break inside the frame would split it in two.
            crate::codec::flatten_line_breaks(&mut self.scratch);
            self.scratch.push(b'\n');
            self.io.write_all(&self.scratch).await?;
            self.io.flush().await?;
            // Keep the buffer for the next frame, unless it was unusually big.
            if self.scratch.capacity() > 1024 * 1024 {
                self.scratch = Vec::new();
            }
            Ok(())
        }

        async fn close(&mut self) -> Result<(), Error> {
            self.io.flush().await?;
            self.io.shutdown().await?;
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use std::io::IoSlice;
        use std::pin::Pin;
        use std::task::{Context, Poll};

        use super::*;

        /// Records what is written, taking at most `chunk` bytes a call.
        struct Recorder {
            vectored: bool,
            chunk: usize,
            out: Vec<u8>,
            calls: usize,
        }

        impl Recorder {
            fn new(vectored: bool, chunk: usize) -> Self {
                Self {
                    vectored,
                    chunk,
                    out: Vec::new(),
                    calls: 0,
                }
            }
        }

        impl AsyncWrite for Recorder {
            fn poll_write(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                let n = buf.len().min(self.chunk);
                self.calls += 1;
                self.out.extend_from_slice(&buf[..n]);
                Poll::Ready(Ok(n))
            }

            fn poll_write_vectored(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<std::io::Result<usize>> {
                assert!(self.vectored, "a vectored write to a writer without them");
                self.calls += 1;
                let mut room = self.chunk;
                let mut n = 0;
                for buf in bufs {
                    let take = buf.len().min(room);
                    self.out.extend_from_slice(&buf[..take]);
                    room -= take;
                    n += take;
                }
                Poll::Ready(Ok(n))
            }

            fn is_write_vectored(&self) -> bool {
                self.vectored
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }

        async fn written(vectored: bool, chunk: usize, frame: &'static [u8]) -> (Vec<u8>, usize) {
            let mut writer = LineWriter::new(Recorder::new(vectored, chunk));
            writer.write_frame(Bytes::from_static(frame)).await.unwrap();
            (writer.io.out, writer.io.calls)
        }

        #[tokio::test]
        async fn a_frame_and_its_newline_go_out_in_one_write_whether_or_not_the_writer_is_vectored()
        {
            let frame = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
            for vectored in [true, false] {
                let (out, calls) = written(vectored, usize::MAX, frame).await;
                assert_eq!(out, [&frame[..], b"\n"].concat());
                assert_eq!(calls, 1, "vectored: {vectored}");
            }
        }

        #[tokio::test]
        async fn line_breaks_inside_a_frame_become_spaces_on_either_path() {
            let frame = b"{\"a\":\n1,\r\n\"b\":2}";
            for vectored in [true, false] {
                let (out, _) = written(vectored, usize::MAX, frame).await;
                assert_eq!(out, b"{\"a\": 1,  \"b\":2}\n", "vectored: {vectored}");
            }
        }

        #[tokio::test]
        async fn a_writer_that_takes_a_few_bytes_at_a_time_gets_the_whole_line() {
            let frame = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
            for vectored in [true, false] {
                let (out, calls) = written(vectored, 5, frame).await;
                assert_eq!(out, [&frame[..], b"\n"].concat(), "vectored: {vectored}");
                assert_eq!(calls, (frame.len() + 1).div_ceil(5));
            }
        }
    }
}
