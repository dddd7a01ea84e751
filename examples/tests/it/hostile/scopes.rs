//! Per-tool scopes hold whatever the bytes: the auth layer reads a body
//! with the server's own decoder, so a member that decoder skips without
//! validating (a lone surrogate, nesting past 128, a byte that is not
//! UTF-8) cannot make the layer see "no body" while the server runs the
//! call.

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Running, legacy_post, legacy_session, modern, with_meta};
use crate::oidc::Oidc;

const READER_KEY: &str = "hostile-reader-key-0123456789abcdef0123456789abcdef";
const ADMIN_KEY: &str = "hostile-admin-key-0123456789abcdef0123456789abcdef";

fn key_spec(key: &str, subject: &str, scopes: &str) -> String {
    let hex: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}:{subject}:{scopes}")
}

/// `call` (the JSON of a `save_note` call up to its last `}`) with an
/// extra member holding `extra`, in the message or in its params.
fn smuggled(call: &str, extra: &[u8], in_params: bool) -> Vec<u8> {
    let mut body = call.as_bytes().to_vec();
    // Drop the final `}` (and the params' one when smuggling there).
    body.truncate(body.len() - if in_params { 2 } else { 1 });
    body.extend_from_slice(b",\"x\":");
    body.extend_from_slice(extra);
    body.extend_from_slice(if in_params { b"}}" } else { b"}" });
    body
}

/// 403 when the server's decoder reads the body (the layer then sees the
/// call); 400 when it cannot (then nothing runs, and the layer let the
/// base scopes through to get that answer).
fn assert_refused(status: StatusCode, body: &[u8]) {
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
        "{status}: {}",
        String::from_utf8_lossy(body)
    );
}

#[tokio::test]
async fn unvalidated_members_do_not_bypass_per_tool_scopes() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let server = Running::start(
        "auth_server",
        &[
            "--issuer",
            oidc.issuer(),
            "--api-key-hash",
            &key_spec(READER_KEY, "reader", "mcp:read"),
            "--api-key-hash",
            &key_spec(ADMIN_KEY, "admin", "mcp:read,mcp:admin"),
        ],
        None,
    )
    .await;
    let url = &server.url;
    let reader = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {READER_KEY}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let extras: [&[u8]; 4] = [
        br#""\ud800""#,
        deep.as_bytes(),
        b"\"\xff\"",
        br#"{"y":"\udfff"}"#,
    ];
    let note = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "save_note", "arguments": {"name": "pwned", "text": "x"}},
    });

    // Stateless (2026-07-28) requests.
    let call = with_meta(&note);
    let plain = modern(&reader, url, "tools/call", Some("save_note"), call.clone());
    assert_eq!(plain.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    for extra in extras {
        for in_params in [false, true] {
            let body = smuggled(&call, extra, in_params);
            let response = modern(&reader, url, "tools/call", Some("save_note"), String::new())
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_refused(response.status(), &body);
        }
    }

    // A legacy session, and a 2025-03-26 one whose batches hide the call
    // behind an item that does not decode.
    for version in ["2025-11-25", "2025-03-26"] {
        let session = legacy_session(&reader, url, version).await.unwrap();
        let call = note.to_string();
        for extra in extras {
            for in_params in [false, true] {
                let body = smuggled(&call, extra, in_params);
                let response = legacy_post(&reader, url, &session, version, body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_refused(response.status(), &body);
            }
        }
        if version == "2025-03-26" {
            let mut batch = b"[1,".to_vec();
            batch.extend(smuggled(&call, extras[0], false));
            batch.push(b']');
            let response = legacy_post(&reader, url, &session, version, batch)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
        }
        // The reader is served for what it may do.
        let echo = json!({
            "jsonrpc": "2.0", "id": 8, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "reader here"}},
        });
        let response = legacy_post(&reader, url, &session, version, echo.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("reader here"));
    }

    // No note was written: the admin, who may read anything, finds none.
    let admin = reqwest::Client::new();
    let read = json!({
        "jsonrpc": "2.0", "id": 9, "method": "resources/read",
        "params": {"uri": "memo://notes/pwned"},
    });
    let response = modern(
        &admin,
        url,
        "resources/read",
        Some("memo://notes/pwned"),
        with_meta(&read),
    )
    .header("authorization", format!("Bearer {ADMIN_KEY}"))
    .send()
    .await
    .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains("\"error\""), "the note exists: {text}");
    assert!(!text.contains("\"text\":\"x\""), "{text}");
}
