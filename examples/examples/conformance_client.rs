//! The client the official MCP conformance suite tests. The suite starts a
//! mock server, then runs this program with the server's URL as the last
//! argument and the scenario in `MCP_CONFORMANCE_SCENARIO`.
//!
//! The `auth/*` scenarios put the server behind a mock authorization
//! server: the client connects through `mcp_auth::client::OAuth`,
//! configured from `MCP_CONFORMANCE_CONTEXT` (pre-registered credentials,
//! a private key), with an `open` hook that plays the browser.
//!
//! Run with:
//!
//! ```text
//! npx @modelcontextprotocol/conformance client --command "target/debug/examples/conformance_client" --scenario tools_call
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine;
use mcp_auth::client::flow::SigningKey;
use mcp_auth::client::{ClientConfig, ClientCredentials, OAuth, Secret, discover};
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

/// The client ID the suite expects where Client ID Metadata Documents are
/// supported.
const METADATA_DOCUMENT: &str = "https://conformance-test.local/client-metadata.json";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Plays the user's browser: follows the authorization URL to the
/// authorization server, which answers at once with a redirect, and takes
/// that redirect to the provider's loopback listener.
fn browse(url: &str) {
    let url = url.to_owned();
    tokio::spawn(async move {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let answer = browser.get(&url).send().await?;
        let location = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .ok_or("the authorization endpoint did not redirect")?
            .to_str()?
            .to_owned();
        browser.get(&location).send().await?;
        Ok::<_, BoxError>(())
    });
}

/// The text field `name` of the scenario's context.
fn field<'a>(context: &'a Value, name: &str) -> Result<&'a str, BoxError> {
    context
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the scenario's context has no {name}").into())
}

/// The key of a PEM document (PKCS#8 for EC and Ed25519 keys).
fn signing_key(context: &Value) -> Result<SigningKey, BoxError> {
    let pem = field(context, "private_key_pem")?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim())?;
    let algorithm = context
        .get("signing_algorithm")
        .and_then(Value::as_str)
        .unwrap_or("ES256")
        .parse()?;
    Ok(SigningKey::from_der(algorithm, &der)?)
}

/// The OAuth provider for an `auth/*` scenario, configured from its
/// context: pre-registered credentials, a private key, or nothing (dynamic
/// registration or a Client ID Metadata Document).
async fn oauth(url: &str, scenario: &str, context: &Value) -> Result<OAuth, BoxError> {
    let config = ClientConfig::new("mcp-rs-conformance-client", ["http://127.0.0.1/callback"])
        .with_metadata_document(METADATA_DOCUMENT);
    let issuer = async || -> Result<String, BoxError> { Ok(discover(url, None).await?.issuer) };
    let secret =
        || -> Result<Secret, BoxError> { Ok(Secret::new(field(context, "client_secret")?)) };
    Ok(match scenario {
        "auth/pre-registration" => {
            let credentials = ClientCredentials::confidential(
                issuer().await?,
                field(context, "client_id")?,
                secret()?,
            );
            OAuth::new(url, config.with_credentials(credentials)).with_open(browse)
        }
        "auth/client-credentials-basic" => {
            let credentials = ClientCredentials::confidential(
                issuer().await?,
                field(context, "client_id")?,
                secret()?,
            );
            OAuth::client_credentials(url, config.with_credentials(credentials))
        }
        "auth/client-credentials-jwt" => {
            let credentials =
                ClientCredentials::public(issuer().await?, field(context, "client_id")?)
                    .with_auth_method("private_key_jwt");
            OAuth::client_credentials(url, config.with_credentials(credentials))
                .with_signing_key(signing_key(context)?)
        }
        _ => OAuth::new(url, config).with_open(browse),
    })
}

async fn run(url: &str, scenario: &str) -> Result<(), BoxError> {
    let options = ClientOptions::new(Implementation::new(
        "mcp-rs-conformance-client",
        env!("CARGO_PKG_VERSION"),
    ));
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    if scenario.starts_with("auth/") {
        let oauth = oauth(url, scenario, &context).await?;
        let http = HttpOptions::default().with_auth(Arc::new(oauth));
        let client = Client::connect_http(url, options, http, Host).await?;
        client.list_all_tools().await?;
        client.call_tool("test-tool", JsonObject::new()).await?;
        return Ok(client.close().await?);
    }
    let client = Client::connect_http(url, options, HttpOptions::default(), Host).await?;
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
    Ok(client.close().await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = examples::init_logging();
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
