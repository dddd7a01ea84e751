//! The function fed the events AWS sends it, built here (no AWS account):
//! API Gateway HTTP API (payload 2.0) and function URL events in, the
//! response events lambda_http makes out.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use base64::Engine as _;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{Value, json};

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 `method` request with `params`, as the JSON-RPC body.
fn request(method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

/// An API Gateway HTTP API event: `body` POSTed to `/mcp` with the MCP
/// headers a 2026-07-28 client sends.
fn http_api_event(body: &Value, name: Option<&str>) -> Value {
    let host = "abc123def4.execute-api.eu-west-1.amazonaws.com";
    let mut headers = json!({
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "host": host,
        "mcp-protocol-version": MODERN,
        "mcp-method": body["method"],
        "x-forwarded-for": "203.0.113.7",
    });
    if let Some(name) = name {
        headers["mcp-name"] = json!(name);
    }
    json!({
        "version": "2.0",
        "routeKey": "POST /mcp",
        "rawPath": "/mcp",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123def4",
            "domainName": host, "domainPrefix": "abc123def4",
            "http": {"method": "POST", "path": "/mcp", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "mcp-test"},
            "requestId": "Bq3xYjkFIAMEVqA=", "routeKey": "POST /mcp", "stage": "$default",
            "time": "03/Dec/2026:10:00:00 +0000", "timeEpoch": 1_796_292_000_000_u64
        },
        "body": body.to_string(),
        "isBase64Encoded": false
    })
}

/// A function URL event: the same payload format, its own host and route
/// key, and the body in Base64.
fn function_url_event(body: &Value, name: Option<&str>) -> Value {
    let host = "q7kdm3xyz4abcdefgh5ijklmno0pqrst.lambda-url.eu-west-1.on.aws";
    let mut event = http_api_event(body, name);
    event["routeKey"] = json!("$default");
    event["headers"]["host"] = json!(host);
    event["requestContext"]["domainName"] = json!(host);
    event["requestContext"]["routeKey"] = json!("$default");
    event["requestContext"]["stage"] = json!("$default");
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body.to_string()));
    event["isBase64Encoded"] = json!(true);
    event
}

/// The function's answer to `event`, as the response event AWS receives.
async fn invoke(event: Value) -> Value {
    invoke_with(event, None).await
}

async fn invoke_with(event: Value, allowed: Option<&str>) -> Value {
    let mut function = Adapter::from(examples_lambda::endpoint_for(allowed));
    let payload: LambdaRequest = serde_json::from_value(event).unwrap();
    let response = function
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    serde_json::to_value(response).unwrap()
}

/// The JSON-RPC message of a response event: its JSON body, or the last
/// message of its SSE body.
fn message(response: &Value) -> Value {
    let mut body = response["body"].as_str().unwrap_or_default().to_owned();
    if response["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        body = String::from_utf8(bytes).unwrap();
    }
    let data = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .rfind(|d| !d.is_empty())
        .map_or(body.clone(), str::to_owned);
    serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn a_tool_call_through_api_gateway() {
    let call = request(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "hi"}}),
    );
    let response = invoke(http_api_event(&call, Some("echo"))).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(
        response["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("application/json"),
        "{response}"
    );
    assert_eq!(message(&response)["result"]["content"][0]["text"], "hi");
}

#[tokio::test]
async fn a_tool_call_through_a_function_url_with_progress_buffered() {
    let mut call = request(
        "tools/call",
        json!({"name": "count", "arguments": {"to": 3}}),
    );
    call["params"]["_meta"]["progressToken"] = json!("p");
    let response = invoke(function_url_event(&call, Some("count"))).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let body = response["body"].as_str().unwrap();
    // The stream, whole: each progress, then the result.
    assert_eq!(body.matches("notifications/progress").count(), 3, "{body}");
    assert_eq!(
        message(&response)["result"]["content"][0]["text"],
        "counted to 3"
    );
}

#[tokio::test]
async fn discovery_and_lists_are_served() {
    let discover = request("server/discover", json!({}));
    let response = invoke(http_api_event(&discover, None)).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let result = &message(&response)["result"];
    assert!(
        result["supportedVersions"].to_string().contains(MODERN),
        "{result}"
    );
    let list = request("tools/list", json!({}));
    let tools = message(&invoke(function_url_event(&list, None)).await);
    assert!(
        tools["result"]["tools"].to_string().contains("\"echo\""),
        "{tools}"
    );
}

#[tokio::test]
async fn a_legacy_clients_initialize_is_refused_naming_the_versions_served() {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "old", "version": "1"}}});
    let mut event = http_api_event(&initialize, None);
    event["headers"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("mcp-"));
    let response = invoke(event).await;
    assert_eq!(response["statusCode"], 400, "{response}");
    let error = &message(&response)["error"];
    assert_eq!(error["code"], -32022, "{error}");
    assert_eq!(error["data"]["supported"], json!([MODERN]), "{error}");
    assert_eq!(error["data"]["requested"], "2025-11-25", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("without sessions"),
        "{error}"
    );
    // And a GET (a legacy client's stream) is not served either.
    let mut get = http_api_event(&initialize, None);
    get["headers"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("mcp-"));
    get["requestContext"]["http"]["method"] = json!("GET");
    get["routeKey"] = json!("GET /mcp");
    get.as_object_mut().unwrap().remove("body");
    get["headers"]["accept"] = json!("text/event-stream");
    let response = invoke(get).await;
    assert_eq!(response["statusCode"], 405, "{response}");
}

#[tokio::test]
async fn host_names_can_be_pinned() {
    let call = request(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "hi"}}),
    );
    let pinned = Some("abc123def4.execute-api.eu-west-1.amazonaws.com");
    let ok = invoke_with(http_api_event(&call, Some("echo")), pinned).await;
    assert_eq!(ok["statusCode"], 200, "{ok}");
    let elsewhere = invoke_with(function_url_event(&call, Some("echo")), pinned).await;
    assert_eq!(elsewhere["statusCode"], 403, "{elsewhere}");
}
