//! Newline-delimited framing, as the stdio transport uses it, with a
//! bounded frame size.
//!
//! Runtime-free: it works on a [`BytesMut`] the caller fills from any
//! source. Every error concerns one frame only; after an error the decoder
//! skips to the next newline and carries on, so one bad line from a peer
//! never ends the connection.
//!
//! ```
//! use bytes::BytesMut;
//! use mcp_core::codec::LineCodec;
//!
//! let mut codec = LineCodec::new();
//! let mut buf = BytesMut::from(&b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"[..]);
//! let message = codec.decode_message(&mut buf).unwrap().unwrap();
//! assert_eq!(message.method(), Some("notifications/initialized"));
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::error::Error;
use crate::jsonrpc::{Incoming, Message};

/// Newline-delimited JSON framing with a maximum frame size.
#[derive(Debug, Clone)]
pub struct LineCodec {
    max_frame: usize,
    /// How much of the buffer is known to hold no newline, so each byte
    /// is scanned once however the input is split.
    scanned: usize,
    /// Skipping the rest of an oversized frame.
    discarding: bool,
}

impl Default for LineCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl LineCodec {
    /// The default maximum frame size: 4 MiB.
    pub const DEFAULT_MAX_FRAME: usize = 4 * 1024 * 1024;

    /// A codec with the default maximum frame size.
    pub fn new() -> Self {
        Self::with_max_frame(Self::DEFAULT_MAX_FRAME)
    }

    /// A codec accepting frames of at most `max_frame` bytes (excluding the
    /// newline). A limit of 0 is raised to 1.
    pub fn with_max_frame(max_frame: usize) -> Self {
        Self {
            max_frame: max_frame.max(1),
            scanned: 0,
            discarding: false,
        }
    }

    /// The maximum frame size.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Takes the next complete frame out of `buf`, without its line ending.
    /// Blank lines are skipped.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete frame yet.
    ///
    /// # Errors
    /// [`Error::FrameTooLarge`] as soon as a frame is known to exceed the
    /// limit (its remainder is then skipped), [`Error::InvalidUtf8`] for a
    /// frame that is not UTF-8. Decoding may continue after either.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        loop {
            let newline = buf
                .get(self.scanned..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
                .map(|i| i + self.scanned);
            let Some(end) = newline else {
                self.scanned = buf.len();
                if self.discarding {
                    buf.clear();
                    self.scanned = 0;
                } else if buf.len()
                    > self
                        .max_frame
                        .saturating_add(usize::from(buf.last() == Some(&b'\r')))
                {
                    let len = buf.len();
                    buf.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Err(Error::FrameTooLarge {
                        max: self.max_frame,
                        len,
                    });
                }
                return Ok(None);
            };
            let mut line = buf.split_to(end + 1);
            self.scanned = 0;
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            if line.len() > self.max_frame {
                return Err(Error::FrameTooLarge {
                    max: self.max_frame,
                    len: line.len(),
                });
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Err(e) = std::str::from_utf8(&line) {
                return Err(Error::InvalidUtf8 {
                    valid_up_to: e.valid_up_to(),
                });
            }
            return Ok(Some(line.freeze()));
        }
    }

    /// Like [`decode`](Self::decode), for when the input has ended: bytes
    /// left without a final newline are a truncated frame.
    ///
    /// # Errors
    /// As [`decode`](Self::decode), plus [`Error::Truncated`].
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        let len = buf.len();
        let blank = buf.iter().all(u8::is_ascii_whitespace);
        buf.clear();
        self.scanned = 0;
        if std::mem::take(&mut self.discarding) || blank {
            Ok(None)
        } else {
            Err(Error::Truncated { len })
        }
    }

    /// Decodes the next frame as one message.
    ///
    /// # Errors
    /// Framing errors as [`decode`](Self::decode), then the decoding errors
    /// of [`Message::from_slice`]. All of them concern one frame.
    pub fn decode_message(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        match self.decode(buf)? {
            Some(frame) => Message::from_slice(&frame).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes the next frame as a message or, when `allow_batch` is set
    /// (protocol 2025-03-26), a batch.
    ///
    /// # Errors
    /// As [`decode_message`](Self::decode_message).
    pub fn decode_incoming(
        &mut self,
        buf: &mut BytesMut,
        allow_batch: bool,
    ) -> Result<Option<Incoming>, Error> {
        match self.decode(buf)? {
            Some(frame) => Incoming::from_slice(&frame, allow_batch).map(Some),
            None => Ok(None),
        }
    }

    /// Appends `message` and a newline to `dst`. `message` is a
    /// [`Message`] or one of the typed outgoing envelopes
    /// ([`OutgoingResponse`](crate::jsonrpc::OutgoingResponse), …), which
    /// serialize without an intermediate copy.
    ///
    /// Outgoing frames are not size-checked: the limit protects this side
    /// from its peer, and the peer enforces its own.
    ///
    /// # Errors
    /// [`Error::Encode`] if the message cannot be serialized; `dst` is left
    /// as it was.
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        message: &T,
        dst: &mut BytesMut,
    ) -> Result<(), Error> {
        let start = dst.len();
        let result = serde_json::to_writer((&mut *dst).writer(), message);
        if let Err(e) = result {
            dst.truncate(start);
            return Err(Error::Encode {
                message: e.to_string(),
            });
        }
        // Raw params or results kept from pretty-printed input may hold
        // line breaks between tokens, which would split the frame. JSON
        // strings cannot contain raw line breaks, so each one found is
        // insignificant white space and becomes a space.
        if let Some(written) = dst.get_mut(start..) {
            flatten_line_breaks(written);
        }
        dst.put_u8(b'\n');
        Ok(())
    }
}

/// Turns the line breaks of a JSON text into spaces, so it fits one line.
pub(crate) fn flatten_line_breaks(json: &mut [u8]) {
    // Line breaks are rare (only raw JSON kept from pretty-printed input
    // has them): find each with a vectorised search rather than visiting
    // every byte, which for a 100 KB message cost as much as encoding it.
    let mut from = 0;
    while let Some(i) = json
        .get(from..)
        .and_then(|rest| memchr::memchr2(b'\n', b'\r', rest))
    {
        if let Some(b) = json.get_mut(from + i) {
            *b = b' ';
        }
        from += i + 1;
    }
}
