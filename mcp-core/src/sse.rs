//! Server-Sent Events framing, as MCP's Streamable HTTP transport uses it.
//!
//! The server [`encode`]s events onto a response stream (with ids for
//! resumability and `retry` hints) and writes [`encode_comment`]
//! keep-alives; the client feeds the response body, in whatever chunks it
//! arrives, to a [`Decoder`]. Decoding follows the WHATWG HTML rules for
//! interpreting an event stream, with bounded memory: an oversized or
//! malformed event is reported and skipped, never the whole stream.
//! Runtime-free, like the rest of the crate.
//!
//! ```
//! use bytes::BytesMut;
//! use mcp_core::sse::{encode, Decoder, Event};
//!
//! let mut wire = BytesMut::new();
//! encode(&Event::message("{\"jsonrpc\":\"2.0\"}").with_id("s1-7"), &mut wire);
//!
//! let mut decoder = Decoder::new();
//! let (head, tail) = wire.split_at(5);
//! let mut events = decoder.feed(head);
//! events.extend(decoder.feed(tail));
//! assert_eq!(events, vec![Ok(Event::message("{\"jsonrpc\":\"2.0\"}").with_id("s1-7"))]);
//! assert_eq!(decoder.last_event_id(), Some("s1-7"));
//! ```

use std::fmt::Write as _;
use std::mem;

use bytes::{BufMut, BytesMut};

/// One server-sent event.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The event type; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The payload. Line breaks are normalised to `\n` on the wire.
    pub data: String,
    /// When encoding, the id to send. When decoding, the last event id in
    /// effect at dispatch: per the spec it persists across events until
    /// another `id` field changes it.
    pub id: Option<String>,
    /// The reconnection delay in milliseconds carried by this event.
    pub retry: Option<u64>,
}

impl Event {
    /// An event of the default type carrying `data`.
    pub fn message(data: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            ..Self::default()
        }
    }

    /// Sets the event id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the event type.
    #[must_use]
    pub fn with_event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// Sets the reconnection delay, in milliseconds.
    #[must_use]
    pub fn with_retry(mut self, ms: u64) -> Self {
        self.retry = Some(ms);
        self
    }
}

/// What went wrong with one event. The decoder skips the rest of that
/// event and carries on with the next.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// The event's field lines add up to more than `max` bytes.
    #[error("server-sent event exceeds the maximum size of {max} bytes")]
    EventTooLarge {
        /// The limit in force.
        max: usize,
    },
    /// A single line is longer than `max` bytes.
    #[error("server-sent event line exceeds the maximum length of {max} bytes")]
    LineTooLong {
        /// The limit in force.
        max: usize,
    },
    /// A `data`, `event` or `id` field is not valid UTF-8.
    #[error("server-sent event is not valid UTF-8")]
    InvalidUtf8,
}

/// Writes `event`, ending with the blank line that dispatches it.
///
/// `data` is split on `\r\n`, `\r` and `\n` into one `data:` line each, so
/// it decodes back with `\n` line breaks; an empty `data` still writes one
/// `data:` line, so the event is dispatched. CR and LF are stripped from
/// the event type and the id, and NUL from the id too, because the former
/// would end the field early and the latter makes decoders ignore the id.
pub fn encode(event: &Event, dst: &mut BytesMut) {
    if let Some(name) = &event.event {
        put_field(dst, "event", name, &['\r', '\n']);
    }
    if let Some(id) = &event.id {
        put_field(dst, "id", id, &['\r', '\n', '\0']);
    }
    if let Some(ms) = event.retry {
        // BytesMut's fmt::Write grows the buffer and cannot fail.
        let _ = writeln!(dst, "retry: {ms}");
    }
    for_each_line(&event.data, |line| put_field(dst, "data", line, &[]));
    dst.put_u8(b'\n');
}

/// Writes `text` as a comment, which decoders ignore: useful as a
/// keep-alive. Line breaks in `text` start further comment lines.
pub fn encode_comment(text: &str, dst: &mut BytesMut) {
    for_each_line(text, |line| put_field(dst, "", line, &[]));
    dst.put_u8(b'\n');
}

fn put_field(dst: &mut BytesMut, name: &str, value: &str, strip: &[char]) {
    dst.put_slice(name.as_bytes());
    dst.put_slice(b": ");
    // Data lines (which may be megabytes) have nothing to strip: copied
    // whole, not visited a character at a time.
    if strip.is_empty() {
        dst.put_slice(value.as_bytes());
    } else {
        for piece in value.split(strip) {
            dst.put_slice(piece.as_bytes());
        }
    }
    dst.put_u8(b'\n');
}

/// Calls `f` with each line of `text`, split on any SSE line ending.
fn for_each_line(text: &str, mut f: impl FnMut(&str)) {
    let mut rest = text;
    // A byte search: both endings are ASCII, so `end` is a char boundary.
    while let Some(end) = memchr::memchr2(b'\r', b'\n', rest.as_bytes()) {
        let (line, tail) = rest.split_at(end);
        f(line);
        // The terminator is one ASCII byte, so `1..` is a char boundary.
        rest = tail
            .strip_prefix("\r\n")
            .or_else(|| tail.get(1..))
            .unwrap_or_default();
    }
    f(rest);
}

const BOM: &[u8] = "\u{feff}".as_bytes();
/// A line buffer grown beyond this is dropped rather than kept, so one
/// huge line does not pin memory for the rest of the stream.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Decodes an event stream fed in arbitrary chunks.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_event: usize,
    max_line: usize,
    /// Bytes of the unfinished line that ended the previous chunk.
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF starting the next chunk
    /// belongs to the same line ending.
    pending_cr: bool,
    /// Only the stream's very first line may start with a BOM.
    at_start: bool,
    /// The current line already failed; drop it up to its line ending.
    skipping_line: bool,
    /// The current event already failed; drop it up to the blank line.
    discarding: bool,
    /// Field-line bytes of the current event, checked against `max_event`.
    size: usize,
    /// The current event's fields. Its `id` is this event's own `id` field,
    /// committed only at the blank line, so a failed or truncated event
    /// never moves the last event id. Its `data` ends with a spare `\n`.
    pending: Event,
    last_id: Option<String>,
    retry: Option<u64>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// The default maximum event size: 4 MiB, like the JSON frame limit.
    pub const DEFAULT_MAX_EVENT: usize = 4 * 1024 * 1024;

    /// A decoder with the default limits.
    pub fn new() -> Self {
        Self::with_max_event(Self::DEFAULT_MAX_EVENT)
    }

    /// A decoder whose events, and so lines, may hold at most `max` bytes.
    pub fn with_max_event(max: usize) -> Self {
        Self::with_limits(max, max)
    }

    /// A decoder with separate limits: `max_event` on the total of an
    /// event's field lines (comments excluded), `max_line` on any one line,
    /// which bounds what is buffered between chunks. Line endings are not
    /// counted. Limits of 0 are raised to 1.
    pub fn with_limits(max_event: usize, max_line: usize) -> Self {
        Self {
            max_event: max_event.max(1),
            max_line: max_line.max(1),
            line: Vec::new(),
            pending_cr: false,
            at_start: true,
            skipping_line: false,
            discarding: false,
            size: 0,
            pending: Event::default(),
            last_id: None,
            retry: None,
        }
    }

    /// Feeds the next chunk of the stream; returns the events it completed,
    /// in order, with one error in place of each bad event.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Result<Event, SseError>> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let (line, tail) = rest.split_at(end);
            rest = match tail {
                [b'\r', b'\n', after @ ..] => after,
                [b'\r'] => {
                    self.pending_cr = true;
                    &[]
                }
                [_, after @ ..] => after,
                [] => &[],
            };
            self.end_line(line, &mut out);
        }
        self.keep_partial(rest, &mut out);
        out
    }

    /// The stream ended. Per the spec an unterminated event is discarded,
    /// so this yields nothing today; it returns the same type as
    /// [`feed`](Self::feed) so callers treat both alike. The decoder is then
    /// ready for a new stream (a reconnection), keeping
    /// [`last_event_id`](Self::last_event_id) and [`retry`](Self::retry).
    pub fn finish(&mut self) -> Vec<Result<Event, SseError>> {
        self.line.clear();
        self.pending_cr = false;
        self.at_start = true;
        self.skipping_line = false;
        self.discarding = false;
        self.clear_event();
        Vec::new()
    }

    /// The last event id seen, to send as `Last-Event-ID` on reconnection.
    /// An empty `id` field resets it to `None`.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The last valid `retry` value seen, in milliseconds. It takes effect
    /// as soon as its line is read, even if its event is never dispatched.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    fn keep_partial(&mut self, bytes: &[u8], out: &mut Vec<Result<Event, SseError>>) {
        if bytes.is_empty() || self.skipping_line {
            return;
        }
        if self.discarding {
            // A non-empty line cannot be the blank line that ends the
            // discarding, so none of it needs keeping.
            self.skipping_line = true;
        } else if self.line.len() + bytes.len() > self.max_line {
            self.fail(SseError::LineTooLong { max: self.max_line }, out);
            self.skipping_line = true;
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn end_line(&mut self, tail: &[u8], out: &mut Vec<Result<Event, SseError>>) {
        let first = mem::take(&mut self.at_start);
        if mem::take(&mut self.skipping_line) {
            return;
        }
        if self.line.len() + tail.len() > self.max_line {
            self.fail(SseError::LineTooLong { max: self.max_line }, out);
            self.line.clear();
            return;
        }
        if self.line.is_empty() {
            return self.process(tail, first, out);
        }
        let mut line = mem::take(&mut self.line);
        line.extend_from_slice(tail);
        self.process(&line, first, out);
        line.clear();
        if line.capacity() <= KEEP_CAPACITY {
            self.line = line;
        }
    }

    fn process(&mut self, line: &[u8], first: bool, out: &mut Vec<Result<Event, SseError>>) {
        let line = if first {
            line.strip_prefix(BOM).unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            return self.dispatch(out);
        }
        if self.discarding || line.starts_with(b":") {
            return;
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let (name, value) = line.split_at(colon);
                let value = value.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        self.size = self.size.saturating_add(line.len());
        if self.size > self.max_event {
            return self.fail(
                SseError::EventTooLarge {
                    max: self.max_event,
                },
                out,
            );
        }
        match name {
            // `u64::from_str` alone would accept a leading `+`; the spec
            // allows digits only. Values overflowing u64 are ignored too.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    self.retry = Some(ms);
                    self.pending.retry = Some(ms);
                }
            }
            b"data" | b"event" | b"id" => {
                let Ok(text) = std::str::from_utf8(value) else {
                    return self.fail(SseError::InvalidUtf8, out);
                };
                match name {
                    b"data" => {
                        self.pending.data.push_str(text);
                        self.pending.data.push('\n');
                    }
                    b"event" => self.pending.event = Some(text.to_owned()),
                    _ if !text.contains('\0') => self.pending.id = Some(text.to_owned()),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Result<Event, SseError>>) {
        let mut event = mem::take(&mut self.pending);
        self.size = 0;
        if mem::take(&mut self.discarding) {
            return;
        }
        if let Some(id) = event.id.take() {
            self.last_id = Some(id).filter(|id| !id.is_empty());
        }
        if event.data.pop().is_some() {
            event.event = event.event.filter(|e| !e.is_empty());
            event.id.clone_from(&self.last_id);
            out.push(Ok(event));
        }
    }

    fn fail(&mut self, error: SseError, out: &mut Vec<Result<Event, SseError>>) {
        if !mem::replace(&mut self.discarding, true) {
            out.push(Err(error));
        }
        self.clear_event();
    }

    fn clear_event(&mut self) {
        self.size = 0;
        self.pending = Event::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Out = Vec<Result<Event, SseError>>;

    fn decode(chunks: &[&[u8]]) -> Out {
        let mut decoder = Decoder::new();
        let mut out: Out = chunks.iter().flat_map(|c| decoder.feed(c)).collect();
        out.extend(decoder.finish());
        out
    }

    fn ok(events: &[Event]) -> Out {
        events.iter().cloned().map(Ok).collect()
    }

    fn one(text: &[u8]) -> Out {
        decode(&[text])
    }

    /// Errors, then plain `message` events.
    fn failed(errors: &[SseError], then: &[&str]) -> Out {
        errors.iter().cloned().map(Err).chain(msgs(then)).collect()
    }

    /// Plain `message` events without id.
    fn msgs(data: &[&str]) -> Out {
        data.iter().map(|d| Ok(Event::message(*d))).collect()
    }

    fn encoded(event: &Event) -> String {
        let mut buf = BytesMut::new();
        encode(event, &mut buf);
        String::from_utf8(buf.to_vec()).expect("UTF-8")
    }

    #[test]
    fn encodes_exactly() {
        let event = Event::message("a\nb").with_event("x").with_id("1");
        assert_eq!(encoded(&event), "event: x\nid: 1\ndata: a\ndata: b\n\n");
        let event = Event::message("").with_id("7").with_retry(1500);
        assert_eq!(encoded(&event), "id: 7\nretry: 1500\ndata: \n\n");
        let crlf = "data: a\ndata: b\ndata: c\ndata: \n\n";
        assert_eq!(encoded(&Event::message("a\r\nb\rc\n")), crlf);
        // Breaks would end the field early; NUL would make the id ignored.
        let event = Event::message("d")
            .with_event("a\r\nb")
            .with_id("1\n2\r3\x004");
        assert_eq!(encoded(&event), "event: ab\nid: 1234\ndata: d\n\n");
    }

    #[test]
    fn encodes_comments() {
        let mut buf = BytesMut::new();
        encode_comment("ping", &mut buf);
        encode_comment("a\nb", &mut buf);
        assert_eq!(buf.as_ref(), b": ping\n\n: a\n: b\n\n");
        assert_eq!(decode(&[&buf]), msgs(&[]));
    }

    #[test]
    fn round_trips() {
        let events = [
            Event::message("{\"a\":1}\nline two\n\nlast")
                .with_event("msg")
                .with_id("s-1"),
            Event::message("  leading spaces, ünïcödé ✓").with_retry(10),
            Event::message("").with_id("s-2"),
            Event::message("trailing\n").with_id("s-3").with_retry(0),
            Event::message("no id, id persists"),
        ];
        let mut buf = BytesMut::new();
        for event in &events {
            encode(event, &mut buf);
        }
        let [a, b, c, d, e] = events.clone();
        let expected = [a, b.with_id("s-1"), c, d, e.with_id("s-3")];
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(&buf), ok(&expected));
        assert_eq!(decoder.last_event_id(), Some("s-3"));
        assert_eq!(decoder.retry(), Some(0));
    }

    #[test]
    fn all_line_endings() {
        let expected = ok(&[Event::message("a\nb").with_event("e"), Event::message("c")]);
        for nl in ["\n", "\r\n", "\r"] {
            let text = format!("event: e{nl}data: a{nl}data: b{nl}{nl}data: c{nl}{nl}");
            assert_eq!(one(text.as_bytes()), expected, "{nl:?}");
        }
        assert_eq!(
            one(b"data: a\r\ndata: b\rdata: c\n\r\n"),
            msgs(&["a\nb\nc"])
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_ending() {
        assert_eq!(
            decode(&[b"data: a\r", b"\ndata: b\r\n\r\n"]),
            msgs(&["a\nb"])
        );
        let chunks: [&[u8]; 5] = [b"data: a\r", b"", b"\ndata: b\r", b"\n\r", b"\n"];
        assert_eq!(decode(&chunks), msgs(&["a\nb"]));
        // A CR followed by a chunk starting with CR is two endings.
        assert_eq!(decode(&[b"data: a\r", b"\rdata: b\r\r"]), msgs(&["a", "b"]));
    }

    const STREAM: &[u8] = b"\xEF\xBB\xBF: hi\r\nevent: greet\r\ndata: h\xC3\xA9llo\rdata:x\n\r\n\
        id: 42\ndata\nretry: 300\n\nunknown: y\nid: 43\n\n: keep-alive\n\ndata: last\r\r\ndata: cut";

    #[test]
    fn every_split_gives_the_same_events() {
        let expected = ok(&[
            Event::message("héllo\nx").with_event("greet"),
            Event::message("").with_id("42").with_retry(300),
            Event::message("last").with_id("43"),
        ]);
        assert_eq!(one(STREAM), expected);
        for i in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(i);
            assert_eq!(decode(&[a, b]), expected, "split at {i}");
            for j in 0..=b.len() {
                let (b, c) = b.split_at(j);
                assert_eq!(decode(&[a, b, c]), expected, "split at {i}, {i}+{j}");
            }
        }
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(decode(&bytes), expected);
    }

    #[test]
    fn comments_unknown_fields_and_bom() {
        let text = b": hi\ndata: x\n: mid\nfoo: bar\nDATA: no\n\n";
        assert_eq!(one(text), msgs(&["x"]));
        assert_eq!(one(b"\xEF\xBB\xBFdata: a\n\n"), msgs(&["a"]));
        assert_eq!(decode(&[b"\xEF\xBB", b"\xBFdata: a\n\n"]), msgs(&["a"]));
        // Past the stream's start, the BOM makes the field name unknown.
        assert_eq!(one(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"), msgs(&["a"]));
        assert_eq!(one(b"\n\xEF\xBB\xBFdata: b\n\n"), msgs(&[]));
    }

    #[test]
    fn field_value_spacing_and_missing_colon() {
        assert_eq!(
            one(b"data:x\n\ndata:  x \n\ndata: a:b\n\n"),
            msgs(&["x", " x ", "a:b"])
        );
        assert_eq!(
            one(b"data\n\ndata\ndata\n\nevent\ndata: x\n\n"),
            msgs(&["", "\n", "x"])
        );
    }

    #[test]
    fn retry_accepts_only_digits() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(b"retry: 100\n\n"), msgs(&[]));
        assert_eq!(decoder.retry(), Some(100));
        let bad = ["1a", "+5", "-1", "", " 5", "0x5", "99999999999999999999999"];
        for value in bad {
            let out = decoder.feed(format!("retry: {value}\nretry\ndata: x\n\n").as_bytes());
            assert_eq!(out, msgs(&["x"]), "{value}");
            assert_eq!(decoder.retry(), Some(100), "{value}");
        }
        let out = decoder.feed(b"retry:7\ndata: y\n\n");
        assert_eq!(out, ok(&[Event::message("y").with_retry(7)]));
    }

    #[test]
    fn id_persists_resets_and_ignores_nul() {
        let mut decoder = Decoder::new();
        let out = decoder.feed(b"id: 1\ndata: a\n\ndata: b\n\n");
        let [a, b] = ["a", "b"].map(|d| Event::message(d).with_id("1"));
        assert_eq!(out, ok(&[a, b]));
        // An id without data is not dispatched but still moves the last id.
        assert_eq!(decoder.feed(b"id: 2\n\n"), msgs(&[]));
        assert_eq!(decoder.last_event_id(), Some("2"));
        let out = decoder.feed(b"id: x\0y\ndata: c\n\n");
        assert_eq!(out, ok(&[Event::message("c").with_id("2")]));
        assert_eq!(decoder.feed(b"id\ndata: d\n\n"), msgs(&["d"]));
        assert_eq!(decoder.last_event_id(), None);
        // Only the blank line commits an id.
        assert_eq!(decoder.feed(b"id: 3\ndata: e\n"), msgs(&[]));
        assert_eq!(decoder.finish(), msgs(&[]));
        assert_eq!(decoder.last_event_id(), None);
    }

    #[test]
    fn events_without_data_not_dispatched() {
        assert_eq!(
            one(b"event: x\n\n\n\nretry: 5\n\n: c\n\nid: 1\n\n"),
            msgs(&[])
        );
    }

    #[test]
    fn oversized_event_rejected_then_next_decoded() {
        let mut decoder = Decoder::with_max_event(16);
        let out = decoder.feed(b"id: 9\ndata: 0123456789\ndata: more\n\ndata: ok\n\n");
        assert_eq!(out, failed(&[SseError::EventTooLarge { max: 16 }], &["ok"]));
        assert_eq!(
            decoder.last_event_id(),
            None,
            "a failed event's id is not committed"
        );
        // A line too long, split across chunks: reported once, not buffered.
        let mut out = decoder.feed(b"data: 0123");
        out.extend(decoder.feed(b"456789abcdef"));
        assert!(decoder.line.is_empty());
        out.extend(decoder.feed(b"ghij\ndata: more\n\ndata: ok2\n\n"));
        assert_eq!(out, failed(&[SseError::LineTooLong { max: 16 }], &["ok2"]));
        // Comment lines count against the line limit only.
        let mut decoder = Decoder::with_limits(64, 8);
        let out = decoder.feed(b": a long comment\ndata: x\n\n: short\ndata: y\n\n");
        assert_eq!(out, failed(&[SseError::LineTooLong { max: 8 }], &["y"]));
    }

    #[test]
    fn invalid_utf8_rejected_then_resync() {
        let out = one(b"data: \xFF\ndata: more\n\nevent: \xC3\n\nid: \xC3(\n\ndata: ok\n\n");
        let bad = SseError::InvalidUtf8;
        assert_eq!(out, failed(&[bad.clone(), bad.clone(), bad], &["ok"]));
        // A character split across chunks is fine, and so are bad bytes in
        // comments and unknown fields.
        let out = decode(&[b"data: \xC3", b"\xA9\n: \xFF\nx\xFF: \xFF\n\n"]);
        assert_eq!(out, msgs(&["é"]));
    }

    #[test]
    fn finish_discards_incomplete_event_and_resets() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(b"data: a\n"), msgs(&[]));
        assert_eq!(decoder.finish(), msgs(&[]));
        assert_eq!(decoder.feed(b"data: b\n\ndata: unterminated"), msgs(&["b"]));
        assert_eq!(decoder.finish(), msgs(&[]));
        // A pending CR and the BOM check are reset for the next stream.
        assert_eq!(decoder.feed(b"data: c\r"), msgs(&[]));
        assert_eq!(decoder.finish(), msgs(&[]));
        assert_eq!(decoder.feed(b"\xEF\xBB\xBF\ndata: d\n\n"), msgs(&["d"]));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % n).unwrap_or(0)
        };
        let alphabet = b"data:id retry\r\n\n\n:\xEF\xBB\xBF\xFF0123456789\x00";
        for _ in 0..300 {
            let mut decoder = Decoder::with_limits(24, 12);
            let input: Vec<u8> = (0..256)
                .filter_map(|_| alphabet.get(next(64)).copied())
                .collect();
            let mut rest = input.as_slice();
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(next(9).min(rest.len()));
                rest = tail;
                for event in decoder.feed(chunk).into_iter().flatten() {
                    assert!(event.data.len() <= 24);
                }
                assert!(decoder.line.len() <= 12);
            }
            assert_eq!(decoder.finish(), msgs(&[]));
        }
    }
}
