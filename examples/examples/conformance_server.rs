//! The server the official MCP conformance suite tests: the fixture tools,
//! resources and prompts it expects, over Streamable HTTP.
//!
//! Run with:
//!
//! ```text
//! cargo run --example conformance_server -- --bind 127.0.0.1:3001
//! npx @modelcontextprotocol/conformance server --url http://localhost:3001/mcp
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use mcp_core::elicitation::{ElicitParams, ElicitValue, ElicitationSchema};
use mcp_core::prompts::PromptMessage;
use mcp_core::resources::{Resource, ResourceTemplate};
use mcp_core::sampling::{CreateMessageParams, SamplingMessage};
use mcp_core::{ContentBlock, JsonObject, ResourceContents, Role};
use mcp_core::{InputRequest, InputResponse};
use mcp_server::http::{HttpOptions, StreamableHttp, serve};
use mcp_server::{
    Error, NoArgs, RequestContext, Router, Server, prompt, resource, resource_template, tool,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// A 1x1 transparent PNG.
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
/// A tiny WAV header with no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

#[derive(Deserialize, JsonSchema)]
struct SamplingArgs {
    /// The prompt to send to the client's model.
    prompt: String,
}

#[derive(Deserialize, JsonSchema)]
struct ElicitArgs {
    /// The message to show the user.
    message: String,
}

#[derive(Deserialize, JsonSchema)]
struct TwoArgs {
    /// First argument.
    arg1: String,
    /// Second argument.
    arg2: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ResourceArg {
    /// The URI of the resource to embed.
    resource_uri: String,
}

fn object(v: serde_json::Value) -> JsonObject {
    match v {
        serde_json::Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

fn schema(v: serde_json::Value) -> ElicitationSchema {
    serde_json::from_value(v).unwrap_or_default()
}

fn embedded(uri: &str) -> ContentBlock {
    ContentBlock::resource(
        ResourceContents::text(uri, "This is an embedded resource content.")
            .with_mime_type("text/plain"),
    )
}

fn elicit(message: &str, schema_json: serde_json::Value) -> InputRequest {
    InputRequest::Elicit(ElicitParams::form(message, schema(schema_json)))
}

fn sampling(text: &str, max_tokens: u64) -> InputRequest {
    InputRequest::CreateMessage(CreateMessageParams::new(
        vec![SamplingMessage::user_text(text)],
        max_tokens,
    ))
}

fn roots() -> InputRequest {
    InputRequest::ListRoots(mcp_core::result::RequestParams::default())
}

fn answer_text(answer: &InputResponse) -> String {
    match answer {
        InputResponse::Elicit(e) => format!("{:?}", e.content.clone().unwrap_or_default()),
        InputResponse::CreateMessage(m) => m.text().unwrap_or_default().to_owned(),
        InputResponse::ListRoots(r) => r
            .roots
            .iter()
            .map(|r| r.uri.clone())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// The 2026-07-28 fixtures: multi round-trip requests, capability checks,
/// logging only on request, custom headers.
fn add_modern_fixtures(router: &Router) {
    let name_schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let schema1 = name_schema.clone();
    router.add_tool(tool(
        "test_input_required_result_elicitation",
        "Asks for a name",
        move |ctx: RequestContext, _: NoArgs| {
            let schema1 = schema1.clone();
            async move {
                let answers = ctx
                    .ask(vec![(
                        "user_name".into(),
                        elicit("What is your name?", schema1),
                    )])
                    .await?;
                let name = match answers.first() {
                    Some(InputResponse::Elicit(e)) => e
                        .content
                        .as_ref()
                        .and_then(|c| c.get("name"))
                        .map(|v| match v {
                            ElicitValue::String(s) => s.clone(),
                            other => format!("{other:?}"),
                        })
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                Ok::<_, Error>(format!("Hello, {name}!"))
            }
        },
    ));
    router.add_tool(tool(
        "test_input_required_result_sampling",
        "Asks the model",
        |ctx: RequestContext, _: NoArgs| async move {
            let answers = ctx
                .ask(vec![(
                    "capital_question".into(),
                    sampling("What is the capital of France?", 100),
                )])
                .await?;
            Ok::<_, Error>(answers.first().map(answer_text).unwrap_or_default())
        },
    ));
    router.add_tool(tool(
        "test_input_required_result_list_roots",
        "Asks for roots",
        |ctx: RequestContext, _: NoArgs| async move {
            let answers = ctx.ask(vec![("client_roots".into(), roots())]).await?;
            Ok::<_, Error>(format!(
                "Roots: {}",
                answers.first().map(answer_text).unwrap_or_default()
            ))
        },
    ));
    router.add_tool(tool("test_input_required_result_request_state", "Round trip with state", |ctx: RequestContext, _: NoArgs| async move {
        let confirm = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]});
        ctx.ask(vec![("confirm".into(), elicit("Please confirm", confirm))]).await?;
        // Reaching here means the sealed requestState was valid.
        Ok::<_, Error>("state-ok: the request state was validated")
    }));
    let schema2 = name_schema.clone();
    router.add_tool(tool(
        "test_input_required_result_multiple_inputs",
        "Asks three things at once",
        move |ctx: RequestContext, _: NoArgs| {
            let schema2 = schema2.clone();
            async move {
                let answers = ctx
                    .ask(vec![
                        ("user_name".into(), elicit("What is your name?", schema2)),
                        ("greeting".into(), sampling("Generate a greeting", 50)),
                        ("client_roots".into(), roots()),
                    ])
                    .await?;
                Ok::<_, Error>(
                    answers
                        .iter()
                        .map(answer_text)
                        .collect::<Vec<_>>()
                        .join(" | "),
                )
            }
        },
    ));
    let schema3 = name_schema.clone();
    router.add_tool(tool("test_input_required_result_multi_round", "Asks twice", move |ctx: RequestContext, _: NoArgs| {
        let schema3 = schema3.clone();
        async move {
            let first = ctx.ask(vec![("step1".into(), elicit("Step 1: What is your name?", schema3))]).await?;
            let color = json!({"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]});
            let second = ctx.ask(vec![("step2".into(), elicit("Step 2: What is your favorite color?", color))]).await?;
            Ok::<_, Error>(format!(
                "Done: {} / {}",
                first.first().map(answer_text).unwrap_or_default(),
                second.first().map(answer_text).unwrap_or_default()
            ))
        }
    }));
    let schema4 = name_schema.clone();
    router.add_tool(tool(
        "test_input_required_result_tampered_state",
        "Signed state",
        move |ctx: RequestContext, _: NoArgs| {
            let schema4 = schema4.clone();
            async move {
                ctx.ask(vec![(
                    "user_name".into(),
                    elicit("What is your name?", schema4),
                )])
                .await?;
                Ok::<_, Error>("state verified")
            }
        },
    ));
    let schema5 = name_schema;
    router.add_tool(tool(
        "test_input_required_result_capabilities",
        "Asks only what the client supports",
        move |ctx: RequestContext, _: NoArgs| {
            let schema5 = schema5.clone();
            async move {
                let caps = ctx.client_capabilities().clone();
                let mut wanted = Vec::new();
                if caps.elicitation.is_some() {
                    wanted.push((
                        "user_name".to_owned(),
                        elicit("What is your name?", schema5),
                    ));
                }
                if caps.sampling.is_some() {
                    wanted.push(("greeting".to_owned(), sampling("Generate a greeting", 50)));
                }
                if caps.roots.is_some() {
                    wanted.push(("client_roots".to_owned(), roots()));
                }
                let answers = ctx.ask(wanted).await?;
                Ok::<_, Error>(format!("{} answers", answers.len()))
            }
        },
    ));
    router.add_prompt(prompt("test_input_required_result_prompt", "A prompt that asks for context", |ctx: RequestContext, _: NoArgs| async move {
        let context = json!({"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]});
        let answers = ctx.ask(vec![("user_context".into(), elicit("What context should the prompt use?", context))]).await?;
        Ok::<_, Error>(vec![PromptMessage::new(
            Role::User,
            ContentBlock::text(format!("Context: {}", answers.first().map(answer_text).unwrap_or_default())),
        )])
    }));
    router.add_tool(tool(
        "test_missing_capability",
        "Needs sampling",
        |ctx: RequestContext, _: NoArgs| async move {
            ctx.sample(CreateMessageParams::new(
                vec![SamplingMessage::user_text("hi")],
                10,
            ))
            .await?;
            Ok::<_, Error>("sampled")
        },
    ));
    router.add_tool(tool(
        "test_streaming_elicitation",
        "Elicits",
        |ctx: RequestContext, _: NoArgs| async move {
            let form =
                schema(json!({"type": "object", "properties": {"answer": {"type": "string"}}}));
            ctx.elicit(ElicitParams::form("Anything to add?", form))
                .await?;
            Ok::<_, Error>("thanks")
        },
    ));
    router.add_tool(tool(
        "test_logging_tool",
        "Logs when asked to",
        |ctx: RequestContext, _: NoArgs| async move {
            ctx.log(
                mcp_core::logging::LoggingLevel::Info,
                json!("a log message"),
            )
            .await?;
            Ok::<_, Error>("logged")
        },
    ));
    router.add_tool(
        tool("test_custom_header", "Runs in a region, mirrored into a header", |_: RequestContext, args: JsonObject| async move {
            Ok::<_, Error>(format!("region {}", args.get("region").and_then(|v| v.as_str()).unwrap_or("?")))
        })
        .map_tool(|mut t| {
            t.input_schema = object(json!({"type": "object", "properties": {
                "region": {"type": "string", "description": "Where to run", "x-mcp-header": "Region"},
                "query": {"type": "string"}
            }}));
            t
        }),
    );
}

fn router() -> Router {
    let simple = |name: &str, description: &str, content: Vec<ContentBlock>| {
        tool(
            name.to_owned(),
            description.to_owned(),
            move |_: RequestContext, _: NoArgs| {
                let content = content.clone();
                async move { Ok::<_, Error>(content) }
            },
        )
    };
    let mut router = Router::new("mcp-rs-conformance-server", env!("CARGO_PKG_VERSION"))
        .with_tool(simple("test_simple_text", "Returns simple text", vec![ContentBlock::text(
            "This is a simple text response for testing.",
        )]))
        .with_tool(simple("test_image_content", "Returns an image", vec![ContentBlock::image(PNG, "image/png")]))
        .with_tool(simple("test_audio_content", "Returns audio", vec![ContentBlock::audio(WAV, "audio/wav")]))
        .with_tool(simple("test_embedded_resource", "Returns an embedded resource", vec![embedded(
            "test://embedded-resource",
        )]))
        .with_tool(simple("test_multiple_content_types", "Returns text, an image and a resource", vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(PNG, "image/png"),
            embedded("test://mixed-content-resource"),
        ]))
        .with_tool(tool("test_tool_with_logging", "Logs while it runs", |ctx: RequestContext, _: NoArgs| async move {
            use mcp_core::logging::LoggingLevel;
            for (i, text) in ["Tool execution started", "Tool processing data", "Tool execution completed"].iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ctx.log(LoggingLevel::Info, json!(text)).await?;
            }
            Ok::<_, Error>("Tool with logging executed successfully")
        }))
        .with_tool(tool("test_tool_with_progress", "Reports progress", |ctx: RequestContext, _: NoArgs| async move {
            for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ctx.progress(p, Some(100.0), Some(&format!("Completed step {} of 3", i + 1))).await?;
            }
            Ok::<_, Error>("Progress test completed")
        }))
        .with_tool(tool("test_error_handling", "Always fails", |_: RequestContext, _: NoArgs| async move {
            Err::<String, _>(Error::tool("This tool intentionally returns an error for testing"))
        }))
        .with_tool(tool("test_sampling", "Samples the client's model", |ctx: RequestContext, args: SamplingArgs| async move {
            let answer = ctx
                .sample(CreateMessageParams::new(vec![SamplingMessage::user_text(args.prompt)], 100))
                .await?;
            let text = answer.text().unwrap_or_default().to_owned();
            Ok::<_, Error>(format!("LLM response: {text}"))
        }))
        .with_tool(tool("test_elicitation", "Asks the user", |ctx: RequestContext, args: ElicitArgs| async move {
            let form = schema(json!({"type": "object", "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}
            }, "required": ["username", "email"]}));
            let answer = ctx.elicit(ElicitParams::form(args.message, form)).await?;
            Ok::<_, Error>(format!("User response: action={:?}, content={:?}", answer.action, answer.content))
        }))
        .with_tool(tool("test_elicitation_sep1034_defaults", "Elicits with defaults", |ctx: RequestContext, _: NoArgs| async move {
            let form = schema(json!({"type": "object", "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                "verified": {"type": "boolean", "description": "Verified", "default": true}
            }}));
            let answer = ctx.elicit(ElicitParams::form("Please review and update the form fields with defaults", form)).await?;
            Ok::<_, Error>(format!("Elicitation completed: action={:?}", answer.action))
        }))
        .with_tool(tool("test_elicitation_sep1330_enums", "Elicits with enums", |ctx: RequestContext, _: NoArgs| async move {
            let form = schema(json!({"type": "object", "properties": {
                "untitledSingle": {"type": "string", "description": "Untitled single", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "description": "Titled single", "oneOf": [
                    {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"}]},
                "legacyEnum": {"type": "string", "description": "Legacy", "enum": ["opt1", "opt2"], "enumNames": ["Option One", "Option Two"]},
                "untitledMulti": {"type": "array", "description": "Untitled multi", "items": {"type": "string", "enum": ["a", "b", "c"]}},
                "titledMulti": {"type": "array", "description": "Titled multi", "items": {"anyOf": [
                    {"const": "x", "title": "Ex"}, {"const": "y", "title": "Why"}]}}
            }}));
            let answer = ctx.elicit(ElicitParams::form("Please select options from the enum fields", form)).await?;
            Ok::<_, Error>(format!("Elicitation completed: action={:?}", answer.action))
        }))
        .with_tool(
            tool("json_schema_2020_12_tool", "Takes a 2020-12 schema", |_: RequestContext, _: JsonObject| async move {
                Ok::<_, Error>("ok")
            })
            .map_tool(|mut t| {
                t.input_schema = object(json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "$defs": {"address": {"$anchor": "address", "type": "object", "properties": {
                        "street": {"type": "string"}, "city": {"type": "string"}}}},
                    "properties": {
                        "name": {"type": "string"},
                        "address": {"$ref": "#/$defs/address"},
                        "contact": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "kind": {"allOf": [{"type": "string"}, {"minLength": 1}]}
                    },
                    "allOf": [{"anyOf": [{"required": ["name"]}, {"required": ["address"]}]}],
                    "if": {"properties": {"kind": {"const": "business"}}},
                    "then": {"required": ["address"]},
                    "else": {"required": ["name"]},
                    "additionalProperties": false
                }));
                t
            }),
        )
        .with_resource(resource(
            Resource::new("test://static-text", "static-text").with_mime_type("text/plain").with_description("Static text"),
            |_: RequestContext, uri: String| async move {
                Ok(vec![ResourceContents::text(uri, "This is the content of the static text resource.").with_mime_type("text/plain")])
            },
        ))
        .with_resource(resource(
            Resource::new("test://static-binary", "static-binary").with_mime_type("image/png").with_description("Static binary"),
            |_: RequestContext, uri: String| async move {
                Ok(vec![ResourceContents::blob(uri, PNG).with_mime_type("image/png")])
            },
        ))
        .with_resource(resource(
            Resource::new("test://watched-resource", "watched-resource").with_mime_type("text/plain").with_description("Changes over time"),
            |_: RequestContext, uri: String| async move {
                Ok(vec![ResourceContents::text(uri, "Watched resource content").with_mime_type("text/plain")])
            },
        ))
        .with_prompt(prompt("test_simple_prompt", "A simple prompt", |_: RequestContext, _: NoArgs| async move {
            Ok::<_, Error>(vec![PromptMessage::new(Role::User, ContentBlock::text("This is a simple prompt for testing."))])
        }))
        .with_prompt(prompt("test_prompt_with_arguments", "A prompt with arguments", |_: RequestContext, a: TwoArgs| async move {
            Ok::<_, Error>(vec![PromptMessage::new(
                Role::User,
                ContentBlock::text(format!("Prompt with arguments: arg1='{}', arg2='{}'", a.arg1, a.arg2)),
            )])
        }))
        .with_prompt(prompt(
            "test_prompt_with_embedded_resource",
            "A prompt with an embedded resource",
            |_: RequestContext, a: ResourceArg| async move {
                Ok::<_, Error>(vec![
                    PromptMessage::new(Role::User, embedded(&a.resource_uri)),
                    PromptMessage::new(Role::User, ContentBlock::text("Please process the embedded resource above.")),
                ])
            },
        ))
        .with_prompt(prompt("test_prompt_with_image", "A prompt with an image", |_: RequestContext, _: NoArgs| async move {
            Ok::<_, Error>(vec![
                PromptMessage::new(Role::User, ContentBlock::image(PNG, "image/png")),
                PromptMessage::new(Role::User, ContentBlock::text("Please analyze the image above.")),
            ])
        }));
    if let Ok(template) = resource_template(
        ResourceTemplate::new("test://template/{id}/data", "template")
            .with_mime_type("application/json")
            .with_description("A template"),
        |_: RequestContext, uri: String, vars: BTreeMap<String, String>| async move {
            let id = vars.get("id").cloned().unwrap_or_default();
            Ok(vec![
                ResourceContents::text(uri, json!({"id": id, "templateTest": true}).to_string())
                    .with_mime_type("application/json"),
            ])
        },
    ) {
        router = router.with_resource_template(template);
    }
    add_modern_fixtures(&router);
    router
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let _telemetry = examples::init_logging();
    let mut args = std::env::args().skip(1);
    let mut bind = "127.0.0.1:3001".to_owned();
    while let Some(arg) = args.next() {
        if arg == "--bind" {
            bind = args.next().unwrap_or(bind);
        }
    }
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    // The URL goes to stdout, so a script that bound port 0 learns it.
    println!("http://{}/mcp", listener.local_addr()?);
    let endpoint = StreamableHttp::new(Server::new(router()), HttpOptions::default());
    serve(listener, "/mcp", endpoint, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
