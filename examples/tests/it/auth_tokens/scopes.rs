//! Scopes, and requests that try to get past them: oversized tokens, a
//! request needing more than its token grants, headers and batches that
//! misstate what a request does.

use super::*;

#[tokio::test]
async fn oversized_tokens_are_refused_unread() {
    let p = start(Setup::default()).await;
    p.invalid_token(&"a".repeat(8 * 1024 + 1), "token longer than 8192 bytes")
        .await;
    // A real token padded past the limit.
    let padded = p.token_with(&json!({"pad": "x".repeat(9000)}));
    p.invalid_token(&padded, "token longer than 8192 bytes")
        .await;
    // At the limit, the token is read (and found not to be a JWT).
    p.invalid_token(&"a".repeat(8 * 1024), "not a JWT").await;
    assert_eq!(p.auth.jwks_fetches(), 1);
    p.still_serves().await;
}

#[tokio::test]
async fn insufficient_scope_names_the_scopes_needed() {
    let p = start(admin_for_add()).await;
    let reader = p.good_token();
    let listed = send(p.modern(Some(&reader), "tools/list", None, json!({}))).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert!(listed.body["result"]["tools"].is_array(), "{listed:?}");
    p.accepts(&reader).await;
    let answer = p
        .refused(
            p.add(&reader),
            403,
            &[
                ("scope", "mcp:admin mcp:read"),
                ("error", "insufficient_scope"),
            ],
            "insufficient_scope",
            "this request needs the scopes: mcp:admin mcp:read",
        )
        .await;
    assert!(!add_ran(&answer.body));
    // With the scope, the call goes through.
    let admin = p.token_with(&json!({"scope": "mcp:read mcp:admin"}));
    let answer = send(p.add(&admin)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(add_ran(&answer.body), "{answer:?}");
    // No scope at all: even echo is refused.
    let nothing = p.token_with(&json!({"scope": null}));
    p.refused(
        p.echo(Some(&nothing)),
        403,
        &[("scope", "mcp:read"), ("error", "insufficient_scope")],
        "insufficient_scope",
        "mcp:read",
    )
    .await;
    p.still_serves().await;
}

#[tokio::test]
async fn insufficient_scope_holds_when_legacy_headers_lie() {
    let p = start(admin_for_add()).await;
    let reader = p.good_token();
    let version = "2025-11-25";
    let session = p.open_session(&reader, version).await;
    let add = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "add", "arguments": {"a": 1, "b": 2}}
    });
    let fields = [
        ("scope", "mcp:admin mcp:read"),
        ("error", "insufficient_scope"),
    ];
    // The headers say tools/list; the body calls add.
    let lying = p
        .in_session(&session, version, &reader, &add)
        .header("mcp-method", "tools/list")
        .header("mcp-name", "echo");
    let answer = p
        .refused(lying, 403, &fields, "insufficient_scope", "mcp:admin")
        .await;
    assert!(!add_ran(&answer.body));
    // The session still serves what the token allows.
    let echo = json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}}
    });
    let answer = send(p.in_session(&session, version, &reader, &echo)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["result"]["content"][0]["text"], "hi");
    p.still_serves().await;
}

#[tokio::test]
async fn insufficient_scope_holds_inside_a_2025_03_26_batch() {
    let p = start(admin_for_add()).await;
    let reader = p.good_token();
    let version = "2025-03-26";
    let session = p.open_session(&reader, version).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}
    ]);
    let answer = p
        .refused(
            p.in_session(&session, version, &reader, &batch),
            403,
            &[
                ("scope", "mcp:admin mcp:read"),
                ("error", "insufficient_scope"),
            ],
            "insufficient_scope",
            "mcp:admin",
        )
        .await;
    assert!(!add_ran(&answer.body));
    p.still_serves().await;
}

/// A `tools/call` whose params the scope check cannot read (a non-string
/// `uri`, which `tools/call` does not even use) must not run with only the
/// base scopes. The 2026-07-28 path refuses it anyway (it reads the same
/// member for its header checks); a legacy session runs it.
#[tokio::test]
async fn scope_check_cannot_be_skipped_by_an_odd_params_member() {
    let p = start(admin_for_add()).await;
    let reader = p.good_token();
    let version = "2025-11-25";
    let session = p.open_session(&reader, version).await;
    for uri in [json!(5), json!({"not": "a string"}), json!(["x"])] {
        let params = json!({"name": "add", "arguments": {"a": 1, "b": 2}, "uri": uri});
        let mut modern = params.clone();
        modern["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}
        });
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": modern});
        let answer =
            send(p.modern_raw(Some(&reader), "tools/call", Some("add"), &body.to_string())).await;
        assert!(!add_ran(&answer.body), "modern, uri {uri}: {answer:?}");
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params});
        let answer = send(p.in_session(&session, version, &reader, &body)).await;
        assert!(!add_ran(&answer.body), "legacy, uri {uri}: {answer:?}");
    }
}

/// The same hole in a 2025-03-26 batch: one element the scope check
/// cannot read hides the others.
#[tokio::test]
async fn scope_check_cannot_be_skipped_by_an_odd_batch_element() {
    let p = start(admin_for_add()).await;
    let reader = p.good_token();
    let version = "2025-03-26";
    let session = p.open_session(&reader, version).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 2, "method": 5},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}
    ]);
    let answer = send(p.in_session(&session, version, &reader, &batch)).await;
    assert!(!add_ran(&answer.body), "{answer:?}");
    assert_eq!(answer.status, 403, "{answer:?}");
}

#[tokio::test]
async fn duplicate_members_do_not_smuggle_a_call() {
    let p = start(admin_for_add()).await;
    let reader = p.good_token();
    let meta = r#""_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                           "io.modelcontextprotocol/clientCapabilities": {}}"#;
    let bodies = [
        format!(
            r#"{{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {{"name": "echo", "name": "add", "arguments": {{"a": 1, "b": 2}}, {meta}}}}}"#
        ),
        format!(
            r#"{{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "method": "tools/call",
                "params": {{"name": "add", "arguments": {{"a": 1, "b": 2}}, {meta}}}}}"#
        ),
    ];
    for body in bodies {
        let answer = send(p.modern_raw(Some(&reader), "tools/call", Some("add"), &body)).await;
        assert!(!add_ran(&answer.body), "{body}: {answer:?}");
        assert_ne!(answer.status, 200, "{body}: {answer:?}");
    }
    p.still_serves().await;
}
