//! The client the official MCP conformance suite tests. The suite starts a
//! mock server, then runs this program with the server's URL as the last
//! argument and the scenario in `MCP_CONFORMANCE_SCENARIO`.
//!
//! Run with:
//!
//! ```text
//! npx @modelcontextprotocol/conformance client --command "target/debug/examples/conformance_client" --scenario tools_call
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;

use mcp_client::{Client, ClientHandler, ClientOptions, HttpOptions};
use mcp_core::content::SamplingContent;
use mcp_core::elicitation::{
    ElicitAction, ElicitParams, ElicitResult, ElicitValue, PrimitiveSchema,
};
use mcp_core::roots::{ListRootsResult, Root};
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::{ClientCapabilities, ErrorObject, Implementation, JsonObject};
use serde_json::Value;

/// Accepts every elicitation, filling each field with its schema default.
struct Host;

fn default_of(schema: &PrimitiveSchema) -> Option<ElicitValue> {
    let value = serde_json::to_value(schema).ok()?;
    match value.get("default")? {
        Value::String(s) => Some(ElicitValue::String(s.clone())),
        Value::Bool(b) => Some(ElicitValue::Bool(*b)),
        Value::Number(n) => Some(ElicitValue::Number(n.clone())),
        Value::Array(a) => Some(ElicitValue::Strings(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )),
        _ => None,
    }
}

impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        mcp_client::capabilities(true, true, true)
    }

    async fn elicit(&self, params: ElicitParams) -> Result<ElicitResult, ErrorObject> {
        let ElicitParams::Form(form) = params else {
            return Ok(ElicitResult::new(ElicitAction::Accept));
        };
        let mut content = BTreeMap::new();
        for (name, schema) in &form.requested_schema.properties {
            let value = default_of(schema).unwrap_or_else(|| match schema {
                PrimitiveSchema::Boolean(_) => ElicitValue::Bool(true),
                PrimitiveSchema::Number(_) => ElicitValue::Number(1.into()),
                _ => ElicitValue::String("conformance".into()),
            });
            content.insert(name.clone(), value);
        }
        Ok(ElicitResult::accept(content))
    }

    async fn create_message(
        &self,
        _: CreateMessageParams,
    ) -> Result<CreateMessageResult, ErrorObject> {
        Ok(
            CreateMessageResult::new(SamplingContent::text("Paris"), "conformance-model")
                .with_stop_reason("endTurn"),
        )
    }

    async fn list_roots(&self) -> Result<ListRootsResult, ErrorObject> {
        Ok(ListRootsResult::new(vec![
            Root::new("file:///conformance").with_name("conformance"),
        ]))
    }
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

async fn run(url: &str, scenario: &str) -> Result<(), mcp_client::Error> {
    let options = ClientOptions::new(Implementation::new(
        "mcp-rs-conformance-client",
        env!("CARGO_PKG_VERSION"),
    ));
    let client = Client::connect_http(url, options, HttpOptions::default(), Host).await?;
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    match scenario {
        "initialize" => {
            let _ = client.list_all_tools().await;
        }
        "tools_call" => {
            let args = object(serde_json::json!({"a": 5, "b": 3}));
            client.call_tool("add_numbers", args).await?;
        }
        "elicitation-sep1034-client-defaults" => {
            client
                .call_tool("test_client_elicitation_defaults", JsonObject::new())
                .await?;
        }
        "sse-retry" => {
            client
                .call_tool("test_reconnection", JsonObject::new())
                .await?;
        }
        "http-custom-headers" => {
            let _ = client.list_all_tools().await?;
            for call in context
                .get("toolCalls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
                let args = object(call.get("arguments").cloned().unwrap_or(Value::Null));
                let _ = client.call_tool(name, args).await;
            }
        }
        "json-schema-2020-12-preservation" => {
            let tools = client.list_all_tools().await?;
            if let Some(tool) = tools.iter().find(|t| t.name == "json_schema_2020_12_tool") {
                let args = object(serde_json::json!({"schema": tool.input_schema}));
                let _ = client.call_tool("json_schema_echo", args).await;
            }
        }
        "http-standard-headers" => {
            let tools = client.list_all_tools().await?;
            if let Some(tool) = tools.first() {
                let _ = client.call_tool(&tool.name, JsonObject::new()).await;
            }
            if let Ok(resources) = client.list_all_resources().await
                && let Some(resource) = resources.first()
            {
                let _ = client.read_resource(&resource.uri).await;
            }
            if let Ok(prompts) = client.list_all_prompts().await
                && let Some(prompt) = prompts.first()
            {
                let _ = client.get_prompt(&prompt.name, BTreeMap::new()).await;
            }
        }
        _ => {
            // Every other scenario: use what the server offers, calling
            // its tools at once (the multi round-trip checks look at
            // parallel calls too).
            let tools = client.list_all_tools().await.unwrap_or_default();
            let calls = tools
                .iter()
                .map(|t| client.call_tool(&t.name, JsonObject::new()));
            let mut handles = Vec::new();
            for call in calls {
                handles.push(call);
            }
            for call in handles {
                let _ = call.await;
            }
        }
    }
    client.close().await
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::init_logging();
    let Some(url) = std::env::args().next_back() else {
        eprintln!("usage: conformance_client <server-url>");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    match run(&url, &scenario).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance client ({scenario}): {e}");
            ExitCode::FAILURE
        }
    }
}
