//! The transport seam: something that carries JSON-RPC frames.
//!
//! A frame is the bytes of one JSON-RPC message (or, in 2025-03-26, one
//! batch), without framing. Transports move frames; sessions in
//! `mcp-server` and `mcp-client` encode and decode them, so a transport
//! needs no knowledge of MCP. Reading and writing are separate halves so
//! they can run concurrently.
//!
//! With the `tokio` feature, `LineReader` and `LineWriter` implement
//! the halves over any `AsyncRead` / `AsyncWrite` with newline framing:
//! stdio, child processes, sockets, in-memory pipes.

use std::future::Future;

use bytes::Bytes;

use crate::error::Error;

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
    /// per frame, frame and newline together.
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
}
