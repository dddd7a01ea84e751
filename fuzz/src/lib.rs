//! Fuzz harnesses for the SDK's parsers of untrusted input, shared by the
//! `cargo fuzz` targets in `fuzz_targets/` and by the regression tests in
//! `tests/`, which replay the seed corpus and every input that ever failed
//! on the stable toolchain.
//!
//! Each harness takes arbitrary bytes, feeds them to one parser, and
//! panics when a property fails: beyond "does not panic", each checks
//! what its parser promises (the same events whatever the chunking, a
//! host accepted only if it is one of the allowed ones, and so on).

#![allow(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    reason = "a harness panics on purpose when a property fails, and sets up what it checks"
)]

mod classify;

use bytes::BytesMut;
use mcp_core::codec::LineCodec;
use mcp_core::jsonrpc::Incoming;
use mcp_core::{Message, sse};

pub use classify::classification;

/// The JSON-RPC envelope decoder: never panics; a single message decodes
/// the same with and without batches allowed; a decoded message encodes
/// to bytes that decode to the same message; every error that owes the
/// peer an answer has one.
pub fn envelope(data: &[u8]) {
    let lenient = Incoming::from_slice(data, true);
    let strict = Message::from_slice(data);
    match (&lenient, &strict) {
        (Ok(Incoming::Single(a)), Ok(b)) => assert_eq!(describe(a), describe(b)),
        (Ok(Incoming::Batch(_)) | Err(_), Err(_)) => {}
        (Ok(Incoming::Single(_)), Err(e)) => panic!("single message refused strictly: {e}"),
        (Err(e), Ok(_)) => panic!("message refused leniently: {e}"),
        (Ok(Incoming::Batch(_)), Ok(_)) => panic!("a batch decoded as one message"),
    }
    if let Ok(message) = &strict {
        let bytes = message.to_vec().expect("a decoded message encodes");
        let again = Message::from_slice(&bytes).expect("an encoded message decodes");
        assert_eq!(describe(message), describe(&again));
        if let Message::Request(request) = message {
            let _ = request.targets();
        }
    }
    if let Err(e) = &strict {
        let _ = e.to_error_response();
    }
}

/// What a message is, for comparisons: kind, id, method and raw params.
fn describe(message: &Message) -> String {
    match message {
        Message::Request(r) => format!(
            "request {} {} {:?}",
            r.id,
            r.method,
            r.params.as_ref().map(|p| p.get())
        ),
        Message::Notification(n) => format!(
            "notification {} {:?}",
            n.method,
            n.params.as_ref().map(|p| p.get())
        ),
        Message::Response(r) => format!("response {} {}", r.id, r.result.get()),
        Message::Error(e) => format!("error {:?} {}", e.id, e.error),
    }
}

/// The newline framing codec: fed in chunks (the first byte picks their
/// size), it yields no frame over its limit, and the same frames and
/// errors as when fed everything at once.
pub fn codec(data: &[u8]) {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 17) + 1;
    let max = 64;
    let whole = frames(data, data.len().max(1), max);
    let chunked = frames(data, chunk, max);
    for frame in whole.iter().flatten() {
        assert!(frame.len() <= max);
    }
    // Chunking may split an oversized frame's error differently (how much
    // was seen), but never the frames.
    let ok = |all: &[Result<Vec<u8>, String>]| -> Vec<Vec<u8>> {
        all.iter()
            .filter_map(|f| f.as_ref().ok().cloned())
            .collect()
    };
    assert_eq!(ok(&whole), ok(&chunked));
}

fn frames(data: &[u8], chunk: usize, max: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut codec = LineCodec::with_max_frame(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => out.push(Ok(frame.to_vec())),
                Ok(None) => break,
                Err(e) => out.push(Err(e.to_string())),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => out.push(Ok(frame.to_vec())),
            Ok(None) => break,
            Err(e) => {
                out.push(Err(e.to_string()));
                break;
            }
        }
    }
    out
}

/// The SSE decoder: whatever the chunking (the first byte picks it), the
/// same events and errors; no event over its limit; `last_event_id` and
/// `retry` agree.
pub fn sse(data: &[u8]) {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split % 13) + 1;
    let max = 256;
    let (whole, id_a, retry_a) = events(data, data.len().max(1), max);
    let (chunked, id_b, retry_b) = events(data, chunk, max);
    assert_eq!(whole, chunked);
    assert_eq!(id_a, id_b);
    assert_eq!(retry_a, retry_b);
    for (_, _, data) in whole.iter().flatten() {
        assert!(data.len() <= max, "event data of {} bytes", data.len());
    }
}

/// Each event's name, id and data, or the error.
type Events = (
    Vec<Result<(Option<String>, Option<String>, String), String>>,
    Option<String>,
    Option<u64>,
);

fn events(data: &[u8], chunk: usize, max: usize) -> Events {
    let mut decoder = sse::Decoder::with_max_event(max);
    let mut out = Vec::new();
    let mut take = |all: Vec<Result<sse::Event, sse::SseError>>| {
        for event in all {
            out.push(
                event
                    .map(|e| (e.event, e.id, e.data))
                    .map_err(|e| e.to_string()),
            );
        }
    };
    for piece in data.chunks(chunk) {
        take(decoder.feed(piece));
    }
    take(decoder.finish());
    let id = decoder.last_event_id().map(str::to_owned);
    let retry = decoder.retry();
    (out, id, retry)
}

/// The `WWW-Authenticate` parser: never panics, and what it finds is
/// found again in its own rendering of the bearer challenge.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    let challenges = mcp_auth::client::Challenge::parse_all(values.iter().copied());
    for challenge in &challenges {
        let _ = challenge.is("bearer");
        let _ = challenge.param("scope");
    }
    if let Some(bearer) = mcp_auth::client::BearerChallenge::parse(values.iter().copied()) {
        let _ = bearer.scopes().count();
    }
}

/// URI templates: parsing never panics; a match's variables, expanded
/// again, give back a URI the template matches.
pub fn uri_template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (template, uri) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(template) = mcp_server::uri_template::UriTemplate::parse(template) else {
        return;
    };
    let _ = template.variables().count();
    if let Some(vars) = template.matches(uri) {
        let expanded = template.expand(&vars);
        // Percent-encoding can make the expansion several times longer
        // than what matched, and a search over it can run out of its work
        // budget: that is a refusal, not a mismatch.
        assert!(
            !matches!(template.try_match(&expanded), Ok(None)),
            "{template:?} matched {uri:?} as {vars:?}, but not its expansion {expanded:?}"
        );
    }
}

/// Host and Origin checks: never panic, and loopback-only protection
/// accepts an authority only if a strict URL parser reads its host as a
/// loopback name or address.
pub fn host_origin(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    let allowed = mcp_server::http::AllowedHosts::loopback();
    let verdict = allowed.check(a, b, c);
    if verdict.is_ok() {
        for authority in [a, b].into_iter().flatten() {
            let url = url::Url::parse(&format!("http://{authority}/"))
                .unwrap_or_else(|e| panic!("accepted {authority:?}, which is no authority: {e}"));
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => {
                    d.trim_end_matches('.').eq_ignore_ascii_case("localhost")
                }
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            assert!(loopback, "accepted {authority:?} as loopback");
        }
        if let Some(origin) = c {
            let url = url::Url::parse(origin)
                .unwrap_or_else(|e| panic!("accepted origin {origin:?}: {e}"));
            assert!(matches!(url.scheme(), "http" | "https"), "{origin:?}");
        }
    }
}
