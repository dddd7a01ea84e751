//! The newline framing codec: bounded, recovering, panic-free.

use bytes::BytesMut;
use mcp_core::codec::LineCodec;
use mcp_core::jsonrpc::Incoming;
use mcp_core::{Error, Message, Notification, Request};

const PING: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";

fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.push(b'\n');
    v
}

#[test]
fn frames_split_anywhere_reassemble() {
    let input = [frame(PING), b"\r\n\n".to_vec(), frame(PING)].concat();
    for split in 0..input.len() {
        let mut codec = LineCodec::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in [&input[..split], &input[split..]] {
            buf.extend_from_slice(chunk);
            while let Some(m) = codec.decode_message(&mut buf).unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2, "split at {split}");
    }
}

#[test]
fn crlf_line_endings_are_accepted() {
    let mut codec = LineCodec::new();
    let mut buf = BytesMut::from(&[PING, b"\r\n"].concat()[..]);
    assert!(codec.decode_message(&mut buf).unwrap().is_some());
}

#[test]
fn oversized_frames_are_refused_and_the_stream_recovers() {
    let mut codec = LineCodec::with_max_frame(64);
    let mut buf = BytesMut::new();
    // A long frame arriving in pieces is refused as soon as it passes the limit…
    buf.extend_from_slice(&[b'x'; 50]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(&[b'x'; 50]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(Error::FrameTooLarge { max: 64, len: 100 })
    ));
    // …its remainder is skipped without buffering it…
    buf.extend_from_slice(&[b'x'; 10_000]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.is_empty());
    // …and the next frame decodes.
    buf.extend_from_slice(b"yyy\n");
    buf.extend_from_slice(&frame(PING));
    assert!(codec.decode_message(&mut buf).unwrap().is_some());
    // A long frame that arrives whole is refused too, and the next one decodes.
    buf.extend_from_slice(&frame(&[b'z'; 65]));
    buf.extend_from_slice(&frame(PING));
    assert!(matches!(
        codec.decode(&mut buf),
        Err(Error::FrameTooLarge { .. })
    ));
    assert!(codec.decode_message(&mut buf).unwrap().is_some());
}

#[test]
fn the_default_limit_is_finite() {
    assert_eq!(LineCodec::new().max_frame(), 4 * 1024 * 1024);
    assert_eq!(LineCodec::with_max_frame(0).max_frame(), 1);
}

#[test]
fn invalid_utf8_frames_are_reported_and_skipped() {
    let mut codec = LineCodec::new();
    let mut buf =
        BytesMut::from(&[b"{\"a\":\"\xc3\x28\"}\n".as_slice(), &frame(PING)].concat()[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(Error::InvalidUtf8 { valid_up_to: 6 })
    ));
    assert!(codec.decode_message(&mut buf).unwrap().is_some());
}

#[test]
fn truncated_input_at_eof_is_reported() {
    let mut codec = LineCodec::new();
    let mut buf = BytesMut::from(&PING[..20]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(matches!(
        codec.decode_eof(&mut buf),
        Err(Error::Truncated { len: 20 })
    ));
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    let mut buf = BytesMut::from(&b"  \n "[..]);
    assert!(codec.decode_eof(&mut buf).unwrap().is_none());
}

#[test]
fn a_bad_frame_does_not_poison_the_next() {
    let mut codec = LineCodec::new();
    let mut buf = BytesMut::from(&[b"{not json\n".as_slice(), &frame(PING)].concat()[..]);
    let err = codec.decode_message(&mut buf).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }));
    assert!(codec.decode_message(&mut buf).unwrap().is_some());
}

#[test]
fn encode_writes_one_line_per_message() {
    let codec = LineCodec::new();
    let mut out = BytesMut::new();
    let req = Request::typed::<mcp_core::method::CallTool>(
        1,
        &mcp_core::CallToolParams::new("echo")
            .with_arguments(serde_json::from_str(r#"{"message":"line\nbreak"}"#).unwrap()),
    )
    .unwrap();
    codec.encode(&Message::from(req), &mut out).unwrap();
    codec
        .encode(
            &Message::from(Notification::new("notifications/initialized", None)),
            &mut out,
        )
        .unwrap();
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n').count(),
        2,
        "embedded newlines are escaped"
    );
    let mut decoder = LineCodec::new();
    assert!(decoder.decode_message(&mut out).unwrap().is_some());
    assert!(decoder.decode_message(&mut out).unwrap().is_some());
}

#[test]
fn batches_decode_through_the_codec() {
    let mut codec = LineCodec::new();
    let mut buf = BytesMut::from(&[b"[".as_slice(), PING, b",", PING, b"]\n"].concat()[..]);
    let Some(Incoming::Batch(items)) = codec.decode_incoming(&mut buf, true).unwrap() else {
        panic!()
    };
    assert_eq!(items.len(), 2);
}

/// Random bytes through the codec never panic.
#[test]
fn random_bytes_never_panic() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut codec = LineCodec::with_max_frame(256);
    let mut buf = BytesMut::new();
    for _ in 0..2_000 {
        let mut chunk = Vec::new();
        for _ in 0..(state % 97) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let alphabet = b"{}[]\":,\n\\ a1\xff";
            chunk.push(alphabet[usize::try_from(state % alphabet.len() as u64).unwrap()]);
        }
        buf.extend_from_slice(&chunk);
        while let Ok(Some(_)) | Err(_) = codec.decode_incoming(&mut buf, true) {
            if buf.is_empty() {
                break;
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
}

/// Raw params kept from pretty-printed input are flattened onto one line.
#[test]
fn encode_never_splits_a_frame() {
    let pretty = "{\n  \"jsonrpc\": \"2.0\",\r\n  \"id\": 1,\n  \"method\": \"tools/call\",\n  \"params\": {\n    \"name\": \"a\\nb\"\n  }\n}";
    let message: Message = pretty.parse().unwrap();
    let mut out = BytesMut::new();
    LineCodec::new().encode(&message, &mut out).unwrap();
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    let Message::Request(r) = LineCodec::new().decode_message(&mut out).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(r.params::<mcp_core::CallToolParams>().unwrap().name, "a\nb");
}

/// A frame of exactly the limit is accepted however its CRLF arrives.
#[test]
fn the_limit_does_not_depend_on_how_crlf_is_split() {
    let frame = [b'x'; 16];
    let mut codec = LineCodec::with_max_frame(16);
    let mut buf = BytesMut::from(&[&frame[..], b"\r\n"].concat()[..]);
    assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &frame[..]);

    let mut buf = BytesMut::from(&[&frame[..], b"\r"].concat()[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    buf.extend_from_slice(b"\n");
    assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &frame[..]);
}
