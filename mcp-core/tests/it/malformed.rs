//! Malformed input yields the right error, never a panic.

use std::fs;

use mcp_core::jsonrpc::Incoming;
use mcp_core::{CallToolParams, Error, ErrorCode, Message, RequestId};

use crate::support::fixtures;

fn decode(text: &str) -> Result<Message, Error> {
    Message::from_slice(text.as_bytes())
}

/// The code and id of the error response owed for `text`.
fn reply(text: &str) -> (ErrorCode, Option<RequestId>) {
    let err = decode(text).expect_err(text);
    let resp = err.to_error_response().expect("a reply is owed");
    (resp.error.code(), resp.id)
}

#[test]
fn truncated_json_is_a_parse_error() {
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"method":"ping""#,
        "{",
        r#"{"jsonrpc":"#,
        "",
        "   ",
    ] {
        assert_eq!(reply(text), (ErrorCode::PARSE_ERROR, None), "{text:?}");
    }
}

#[test]
fn trailing_garbage_is_a_parse_error() {
    assert_eq!(
        reply(r#"{"jsonrpc":"2.0","method":"x"} {"#),
        (ErrorCode::PARSE_ERROR, None)
    );
}

#[test]
fn wrong_or_missing_jsonrpc_is_invalid_request_with_id() {
    for text in [
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":2.0,"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":null,"id":1,"method":"ping"}"#,
        r#"{"id":1,"method":"ping"}"#,
    ] {
        assert_eq!(
            reply(text),
            (ErrorCode::INVALID_REQUEST, Some(1.into())),
            "{text:?}"
        );
    }
}

#[test]
fn ids_of_the_wrong_type_are_invalid_requests() {
    for id in [
        "1.5",
        "true",
        "{}",
        "[1]",
        "null",
        "18446744073709551615",
        "-1e3",
    ] {
        let text = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
        assert_eq!(reply(&text), (ErrorCode::INVALID_REQUEST, None), "{text}");
    }
}

#[test]
fn string_and_negative_ids_are_fine() {
    let Message::Request(r) = decode(r#"{"jsonrpc":"2.0","id":"a\"b","method":"ping"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.id, RequestId::String("a\"b".into()));
    let Message::Request(r) = decode(r#"{"jsonrpc":"2.0","id":-5,"method":"ping"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.id, RequestId::Number(-5));
}

#[test]
fn missing_or_bad_method_is_invalid_request_with_id() {
    for text in [
        r#"{"jsonrpc":"2.0","id":"x"}"#,
        r#"{"jsonrpc":"2.0","id":"x","method":42}"#,
        r#"{"jsonrpc":"2.0","id":"x","method":null}"#,
        r#"{"jsonrpc":"2.0","id":"x","method":"a","result":{}}"#,
        r#"{"jsonrpc":"2.0","id":"x","method":"ping","params":5}"#,
        r#"{"jsonrpc":"2.0","id":"x","method":"ping","params":"s"}"#,
        r#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":["echo"]}"#,
        r#"{"jsonrpc":"2.0","id":"x","id":"y","method":"ping"}"#,
    ] {
        let (code, id) = reply(text);
        assert_eq!(code, ErrorCode::INVALID_REQUEST, "{text}");
        assert!(id.is_some(), "{text}: the id was readable");
    }
}

#[test]
fn non_objects_are_invalid_requests() {
    for text in ["5", "\"x\"", "null", "true", "[]", "[1,2]"] {
        assert_eq!(reply(text), (ErrorCode::INVALID_REQUEST, None), "{text}");
    }
}

/// Responses are never answered, even malformed ones: the request they
/// name is failed locally instead.
#[test]
fn malformed_responses_are_not_answered() {
    for (text, id) in [
        (r#"{"jsonrpc":"2.0","result":{}}"#, None),
        (r#"{"id":1,"result":{}}"#, Some(1.into())),
        (
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#,
            Some(1.into()),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
            Some(1.into()),
        ),
    ] {
        let err = decode(text).unwrap_err();
        assert!(err.to_error_response().is_none(), "{text}");
        assert!(
            matches!(err, Error::InvalidResponse { id: ref got, .. } if *got == id),
            "{text}: {err:?}"
        );
    }
}

#[test]
fn responses_need_an_id_but_errors_may_lack_one() {
    let Message::Error(e) =
        decode(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!((e.id, e.error.code()), (None, ErrorCode::PARSE_ERROR));
}

#[test]
fn unknown_members_are_ignored_and_meta_kept() {
    let text = r#"{"jsonrpc":"2.0","id":1,"extra":[1,{"a":2}],"method":"tools/call",
        "params":{"name":"echo","future":true,"_meta":{"traceparent":"00-1","io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":9}}}"#;
    let Message::Request(r) = decode(text).unwrap() else {
        panic!()
    };
    let p: CallToolParams = r.params().unwrap();
    let meta = p.meta.unwrap();
    assert_eq!(meta.progress_token, Some(9.into()));
    assert_eq!(meta.protocol_version.unwrap(), "2026-07-28");
    assert_eq!(meta.other["traceparent"], "00-1");
}

#[test]
fn params_of_the_wrong_shape_are_invalid_params() {
    let Message::Request(r) =
        decode(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#).unwrap()
    else {
        panic!()
    };
    let err = r.params::<CallToolParams>().unwrap_err();
    let obj = err.to_error_object().unwrap();
    assert_eq!(obj.code(), ErrorCode::INVALID_PARAMS);
    assert!(obj.message().contains("invalid type"), "{}", obj.message());
    // Absent params decode as `{}`, so a required member is reported.
    let Message::Request(r) = decode(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#).unwrap()
    else {
        panic!()
    };
    let msg = r.params::<CallToolParams>().unwrap_err().to_string();
    assert!(msg.contains("missing field `name`"), "{msg}");
}

#[test]
fn deeply_nested_params_do_not_overflow() {
    let depth = 200_000;
    let text = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{{"a":{}{}}}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    match decode(&text) {
        Err(e) => assert_eq!(e.to_error_object().unwrap().code(), ErrorCode::PARSE_ERROR),
        Ok(Message::Request(r)) => {
            let err = r.params::<CallToolParams>().unwrap_err();
            assert_eq!(
                err.to_error_object().unwrap().code(),
                ErrorCode::INVALID_PARAMS
            );
        }
        Ok(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn invalid_utf8_is_a_parse_error() {
    let bytes = b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\xfe\"}";
    let err = Message::from_slice(bytes).unwrap_err();
    assert_eq!(
        err.to_error_object().unwrap().code(),
        ErrorCode::PARSE_ERROR
    );
}

#[test]
fn batches_only_when_allowed() {
    let batch =
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"1.0","id":2,"method":"ping"},7]"#;
    let err = Incoming::from_slice(batch, false).unwrap_err();
    assert_eq!(
        err.to_error_object().unwrap().code(),
        ErrorCode::INVALID_REQUEST
    );
    let Incoming::Batch(items) = Incoming::from_slice(batch, true).unwrap() else {
        panic!()
    };
    assert_eq!(items.len(), 3);
    assert!(matches!(&items[0], Ok(Message::Request(_))));
    let second = items[1].as_ref().unwrap_err().to_error_response().unwrap();
    assert_eq!(
        (second.error.code(), second.id),
        (ErrorCode::INVALID_REQUEST, Some(2.into()))
    );
    assert!(items[2].is_err());
    let empty = Incoming::from_slice(b"[]", true).unwrap_err();
    assert_eq!(
        empty.to_error_object().unwrap().code(),
        ErrorCode::INVALID_REQUEST
    );
}

/// A tiny deterministic generator (xorshift), so the mutations are the
/// same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every prefix and a few thousand byte flips of every spec example decode
/// to a message or an error, and typed decoding of whatever decodes never
/// panics either.
#[test]
fn mutated_examples_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inputs = Vec::new();
    for dir in fs::read_dir(fixtures().join("examples")).unwrap() {
        for file in fs::read_dir(dir.unwrap().path()).unwrap() {
            inputs.push(fs::read(file.unwrap().path()).unwrap());
        }
    }
    let mut decoded = 0;
    for input in &inputs {
        let mut candidates: Vec<Vec<u8>> = (0..input.len())
            .step_by(7)
            .map(|n| input[..n].to_vec())
            .collect();
        for _ in 0..20 {
            let mut m = input.clone();
            let i = usize::try_from(rng.next() % m.len() as u64).unwrap();
            let alphabet = b"{}[]\",:0-9ae\\\x00\xff";
            m[i] = alphabet[usize::try_from(rng.next() % alphabet.len() as u64).unwrap()];
            candidates.push(m);
        }
        for bytes in candidates {
            if let Ok(message) = Message::from_slice(&bytes) {
                decoded += 1;
                if let Message::Request(r) = &message {
                    let _ = r.params::<CallToolParams>();
                    let _ = r.params::<mcp_core::lifecycle::InitializeParams>();
                }
                if let Message::Response(r) = &message {
                    let _ = r.result::<mcp_core::Outcome<mcp_core::CallToolResult>>();
                }
            }
            let _ = serde_json::from_slice::<mcp_core::mrtr::InputRequests>(&bytes);
            let _ = serde_json::from_slice::<mcp_core::elicitation::ElicitParams>(&bytes);
            let _ = serde_json::from_slice::<mcp_core::ContentBlock>(&bytes);
        }
    }
    assert!(decoded > 0);
}
