//! Version negotiation, error objects and the era-dependent result shapes.

use mcp_core::method::{self, Direction, Eras, Kind};
use mcp_core::version::negotiate;
use mcp_core::{
    CallToolResult, ClientCapabilities, Era, ErrorCode, ErrorObject, InputResponse, Outcome,
    ProtocolVersion, RequestMeta, ResultType,
};
use serde_json::json;

#[test]
fn eras_of_known_and_unknown_versions() {
    assert_eq!(ProtocolVersion::V2026_07_28.era(), Some(Era::Modern));
    for v in [
        &ProtocolVersion::V2025_11_25,
        &ProtocolVersion::V2025_06_18,
        &ProtocolVersion::V2025_03_26,
    ] {
        assert_eq!(v.era(), Some(Era::Legacy));
    }
    assert_eq!(ProtocolVersion::new("2027-01-01").era(), Some(Era::Modern));
    assert_eq!(ProtocolVersion::new("1900-01-01").era(), Some(Era::Legacy));
    assert_eq!(ProtocolVersion::new("latest").era(), None);
    assert!(!ProtocolVersion::new("2027-01-01").is_known());
    assert!(ProtocolVersion::V2025_03_26.allows_batches());
    assert!(!ProtocolVersion::V2025_06_18.allows_batches());
}

#[test]
fn server_rejects_unsupported_modern_versions_with_the_supported_list() {
    let supported = ProtocolVersion::DEFAULT_SUPPORTED;
    assert_eq!(
        negotiate::server_accept_modern(&ProtocolVersion::V2026_07_28, supported).unwrap(),
        ProtocolVersion::V2026_07_28
    );
    for requested in ["1900-01-01", "2027-01-01", "2025-11-25", "garbage"] {
        let err =
            negotiate::server_accept_modern(&ProtocolVersion::new(requested.to_owned()), supported)
                .unwrap_err();
        assert_eq!(err.code(), ErrorCode::UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(err.data().unwrap()["requested"], requested);
        assert_eq!(
            err.supported_versions().unwrap(),
            ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
        );
    }
}

#[test]
fn server_answers_initialize_with_a_supported_legacy_version() {
    let supported = ProtocolVersion::DEFAULT_SUPPORTED;
    let answer = |v: &'static str| negotiate::server_initialize(&v.into(), supported).unwrap();
    assert_eq!(answer("2025-06-18"), ProtocolVersion::V2025_06_18);
    // Unknown, too old, or modern: the newest legacy revision.
    assert_eq!(answer("2024-11-05"), ProtocolVersion::V2025_11_25);
    assert_eq!(answer("2099-01-01"), ProtocolVersion::V2025_11_25);
    assert_eq!(answer("2026-07-28"), ProtocolVersion::V2025_11_25);
    assert_eq!(
        negotiate::server_initialize(&"2025-06-18".into(), &[ProtocolVersion::V2026_07_28]),
        None
    );
}

#[test]
fn client_picks_the_newest_common_version() {
    let ours = ProtocolVersion::DEFAULT_SUPPORTED;
    assert_eq!(
        negotiate::client_pick(&["2025-06-18", "2026-07-28"], ours),
        Some(ProtocolVersion::V2026_07_28)
    );
    assert_eq!(
        negotiate::client_pick(&["2025-06-18"], ours),
        Some(ProtocolVersion::V2025_06_18)
    );
    assert_eq!(negotiate::client_pick(&["1999-01-01"], ours), None);
    assert!(negotiate::client_accept_initialize(
        &ProtocolVersion::V2025_03_26,
        ours
    ));
    assert!(!negotiate::client_accept_initialize(
        &ProtocolVersion::V2024_11_05,
        ours
    ));
}

#[test]
fn modern_meta_is_required() {
    let err = RequestMeta::require_modern(None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::INVALID_PARAMS);
    let mut meta = RequestMeta::default();
    meta.protocol_version = Some(ProtocolVersion::V2026_07_28);
    let err = RequestMeta::require_modern(Some(&meta)).unwrap_err();
    assert!(
        err.message().contains("clientCapabilities"),
        "{}",
        err.message()
    );
    let meta = RequestMeta::modern(ProtocolVersion::V2026_07_28, ClientCapabilities::default());
    assert!(RequestMeta::require_modern(Some(&meta)).is_ok());
}

#[test]
fn error_objects_say_what_was_wrong() {
    let e = ErrorObject::method_not_found("tools/frobnicate");
    assert_eq!(
        (e.code(), e.message()),
        (
            ErrorCode::METHOD_NOT_FOUND,
            "Method not found: tools/frobnicate"
        )
    );
    assert_eq!(
        ErrorObject::resource_not_found("file:///x").code(),
        ErrorCode::INVALID_PARAMS
    );
    assert_eq!(
        ErrorObject::legacy_resource_not_found("file:///x").code(),
        ErrorCode::RESOURCE_NOT_FOUND
    );
    assert_eq!(ErrorCode(-32042).name(), Some("URL elicitation required"));
    assert_eq!(ErrorCode(-1).to_string(), "-1");
    assert_eq!(
        ErrorCode::HEADER_MISMATCH.to_string(),
        "-32020 (header mismatch)"
    );
    // Open: unknown codes round-trip.
    let e: ErrorObject =
        serde_json::from_value(json!({"code": -31999, "message": "x", "data": [1]})).unwrap();
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"code": -31999, "message": "x", "data": [1]})
    );
    assert_eq!(
        std::mem::size_of::<ErrorObject>(),
        std::mem::size_of::<usize>()
    );
}

/// `Method::decode_result` reads a result as `serde_json::from_str` would,
/// for the methods whose results may be incomplete and for the others.
#[test]
fn each_method_decodes_its_result_as_serde_would() {
    use mcp_core::method::{CallTool, GetPrompt, ListTools, Method, ReadResource};
    for text in [
        r#"{"content":[{"type":"text","text":"hi"}]}"#,
        r#"{"resultType":"complete","content":[]}"#,
        r#"{"resultType":"input_required","requestState":"s","inputRequests":{}}"#,
        r#"{"resultType":"task","taskId":"t","status":"working","createdAt":"a","lastUpdatedAt":"b","ttlMs":null}"#,
        // An escaped key: the lexical scan gives up and serde decides.
        r#"{"result\u0054ype":"input_required","requestState":"s"}"#,
    ] {
        let direct = CallTool::decode_result(text).unwrap();
        let serde: Outcome<CallToolResult> = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&direct).unwrap(),
            serde_json::to_value(&serde).unwrap(),
            "{text}"
        );
    }
    assert!(matches!(
        ReadResource::decode_result(r#"{"resultType":"input_required","requestState":"r"}"#),
        Ok(Outcome::InputRequired(r)) if r.request_state.as_deref() == Some("r")
    ));
    assert!(matches!(
        GetPrompt::decode_result(r#"{"messages":[]}"#),
        Ok(Outcome::Complete(_))
    ));
    let unknown = CallTool::decode_result(r#"{"resultType":"mystery"}"#).unwrap_err();
    assert!(unknown.to_string().contains("mystery"));
    let tools = ListTools::decode_result(r#"{"tools":[]}"#).unwrap();
    assert!(tools.tools.is_empty());
    assert!(ListTools::decode_result("{").is_err());
}

#[test]
fn outcomes_follow_result_type_and_legacy_means_complete() {
    let legacy: Outcome<CallToolResult> = serde_json::from_str(r#"{"content":[]}"#).unwrap();
    assert!(matches!(legacy, Outcome::Complete(_)));
    let input: Outcome<CallToolResult> =
        serde_json::from_str(r#"{"resultType":"input_required","requestState":"s"}"#).unwrap();
    assert!(matches!(input, Outcome::InputRequired(r) if r.request_state.as_deref() == Some("s")));
    let task: Outcome<CallToolResult> = serde_json::from_str(
        r#"{"resultType":"task","taskId":"t","status":"working","createdAt":"a","lastUpdatedAt":"b","ttlMs":null}"#,
    )
    .unwrap();
    assert!(matches!(task, Outcome::Task(t) if t.task_id == "t" && t.ttl_ms.is_none()));
    let unknown =
        serde_json::from_str::<Outcome<CallToolResult>>(r#"{"resultType":"mystery"}"#).unwrap_err();
    assert!(unknown.to_string().contains("mystery"));
    assert_eq!(
        ResultType::from("mystery"),
        ResultType::Other("mystery".into())
    );
}

#[test]
fn input_responses_are_told_apart_by_their_members() {
    let r: InputResponse = serde_json::from_str(r#"{"action":"cancel"}"#).unwrap();
    assert!(matches!(r, InputResponse::Elicit(_)));
    let r: InputResponse = serde_json::from_str(r#"{"roots":[]}"#).unwrap();
    assert!(matches!(r, InputResponse::ListRoots(_)));
    let r: InputResponse = serde_json::from_str(
        r#"{"role":"assistant","model":"m","content":{"type":"text","text":"hi"}}"#,
    )
    .unwrap();
    assert!(matches!(r, InputResponse::CreateMessage(_)));
    assert!(serde_json::from_str::<InputResponse>(r#"{"action":"accept","roots":[]}"#).is_err());
    assert!(serde_json::from_str::<InputResponse>("{}").is_err());
}

#[test]
fn the_method_table_is_consistent() {
    let info = method::lookup("tools/call", Era::Modern).unwrap();
    assert_eq!(
        (info.kind, info.direction, info.eras),
        (Kind::Request, Direction::ClientToServer, Eras::Both)
    );
    assert_eq!(
        method::lookup("initialize", Era::Legacy).unwrap().eras,
        Eras::Legacy
    );
    assert!(method::lookup("initialize", Era::Modern).is_none());
    assert_eq!(
        method::lookup("server/discover", Era::Modern).unwrap().eras,
        Eras::Modern
    );
    // Same name, one row per era.
    assert_eq!(
        method::lookup("tasks/get", Era::Legacy).unwrap().direction,
        Direction::Both
    );
    assert_eq!(
        method::lookup("tasks/get", Era::Modern).unwrap().direction,
        Direction::ClientToServer
    );
    assert!(Eras::Both.contains(Era::Modern) && !Eras::Legacy.contains(Era::Modern));
    assert!(method::lookup("tools/frobnicate", Era::Legacy).is_none());
    // Names are unique per era.
    for (i, a) in method::ALL.iter().enumerate() {
        for b in &method::ALL[i + 1..] {
            let overlap =
                matches!((a.eras, b.eras), (Eras::Both, _) | (_, Eras::Both)) || a.eras == b.eras;
            assert!(
                !(a.name == b.name && overlap),
                "{} listed twice for one era",
                a.name
            );
        }
    }
}

#[test]
fn result_type_is_found_wherever_it_is() {
    let cases = [
        // Nested members of the same name do not count.
        (
            r#"{"content":[{"type":"text","text":"x","resultType":"input_required"}],"structuredContent":{"resultType":"task"}}"#,
            "complete",
        ),
        (
            r#" { "content" : [ ] , "resultType" : "complete" } "#,
            "complete",
        ),
        (
            r#"{"a":"q\"uote\\","b":[1,{"c":[]}],"resultType":"input_required"}"#,
            "input_required",
        ),
        // An escaped key still counts (decided by the slow path).
        (r#"{"result\u0054ype":"input_required"}"#, "input_required"),
        (
            r#"{"isError":true,"content":[],"resultType":"complete"}"#,
            "complete",
        ),
    ];
    for (json, want) in cases {
        let got: Outcome<CallToolResult> =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let kind = match got {
            Outcome::Complete(_) => "complete",
            Outcome::InputRequired(_) => "input_required",
            Outcome::Task(_) => "task",
            _ => "other",
        };
        assert_eq!(kind, want, "{json}");
    }
    assert!(serde_json::from_str::<Outcome<CallToolResult>>(r#"{"resultType":7}"#).is_err());
    assert!(
        serde_json::from_str::<Outcome<CallToolResult>>(r#"{"content":[],"resultType":"complete""#)
            .is_err()
    );
}

#[test]
fn outcomes_decode_from_values_and_legacy_tasks() {
    let from_value: Outcome<CallToolResult> =
        serde_json::from_value(json!({"resultType": "input_required", "requestState": "s"}))
            .unwrap();
    assert!(matches!(from_value, Outcome::InputRequired(_)));
    let legacy_task: Outcome<CallToolResult> = serde_json::from_str(
        r#"{"task":{"taskId":"t-1","status":"working","createdAt":"a","lastUpdatedAt":"b","ttl":null}}"#,
    )
    .unwrap();
    assert!(matches!(legacy_task, Outcome::LegacyTask(t) if t.task.task_id == "t-1"));
}
