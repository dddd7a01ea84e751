//! Connects to any MCP server run as a command, shows what it offers, and
//! optionally calls a tool.
//!
//! Run with:
//!
//! ```text
//! cargo run --example stdio_client -- [--call TOOL [--args JSON]] <command> [args…]
//! cargo run --example stdio_client -- cargo run -q --example stdio_server
//! cargo run --example stdio_client -- --call echo --args '{"message":"hi"}' cargo run -q --example stdio_server
//! ```
//!
//! The client answers the server's questions too: elicitation prompts on
//! this terminal, sampling answers with a canned reply (there is no model
//! here), and the current directory is the one root.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use mcp_client::{ChildProcess, Client, ClientHandler, ClientOptions};
use mcp_core::content::SamplingContent;
use mcp_core::elicitation::{
    ElicitAction, ElicitParams, ElicitResult, ElicitValue, PrimitiveSchema,
};
use mcp_core::roots::{ListRootsResult, Root};
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::{ClientCapabilities, ContentBlock, ErrorObject, Implementation, JsonObject};

/// The host side: a terminal user, no model, the current directory.
struct Host;

impl ClientHandler for Host {
    fn capabilities(&self) -> ClientCapabilities {
        mcp_client::capabilities(true, true, true)
    }

    async fn elicit(&self, params: ElicitParams) -> Result<ElicitResult, ErrorObject> {
        let ElicitParams::Form(form) = params else {
            eprintln!("the server wants you to open a URL; declining in this example");
            return Ok(ElicitResult::new(ElicitAction::Decline));
        };
        // Reading the terminal blocks, so do it off the async threads.
        tokio::task::spawn_blocking(move || {
            eprintln!("server asks: {}", form.message);
            let mut content = BTreeMap::new();
            let stdin = std::io::stdin();
            for (name, schema) in &form.requested_schema.properties {
                eprint!("  {name}: ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
                    return ElicitResult::new(ElicitAction::Cancel);
                }
                let line = line.trim().to_owned();
                let value = match schema {
                    PrimitiveSchema::Boolean(_) => {
                        ElicitValue::Bool(matches!(line.as_str(), "y" | "yes" | "true"))
                    }
                    PrimitiveSchema::Number(_) => match line.parse::<serde_json::Number>() {
                        Ok(n) => ElicitValue::Number(n),
                        Err(_) => ElicitValue::String(line),
                    },
                    _ => ElicitValue::String(line),
                };
                content.insert(name.clone(), value);
            }
            ElicitResult::accept(content)
        })
        .await
        .map_err(|e| ErrorObject::internal_error(e.to_string()))
    }

    async fn create_message(
        &self,
        params: CreateMessageParams,
    ) -> Result<CreateMessageResult, ErrorObject> {
        let asked = params.messages.len();
        Ok(CreateMessageResult::new(
            SamplingContent::text(format!("(no model here; got {asked} message(s))")),
            "none",
        ))
    }

    async fn list_roots(&self) -> Result<ListRootsResult, ErrorObject> {
        let cwd =
            std::env::current_dir().map_err(|e| ErrorObject::internal_error(e.to_string()))?;
        Ok(ListRootsResult::new(vec![
            Root::new(format!("file://{}", cwd.display())).with_name("current directory"),
        ]))
    }
}

struct Args {
    call: Option<String>,
    arguments: JsonObject,
    command: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1).peekable();
    let mut call = None;
    let mut arguments = JsonObject::new();
    while let Some(flag) = args.peek().filter(|a| a.starts_with("--")).cloned() {
        args.next();
        match flag.as_str() {
            "--call" => call = Some(args.next().ok_or("--call needs a tool name")?),
            "--args" => {
                let json = args.next().ok_or("--args needs a JSON object")?;
                arguments = serde_json::from_str(&json).map_err(|e| format!("--args: {e}"))?;
            }
            "--" => break,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let command: Vec<String> = args.collect();
    if command.is_empty() {
        return Err("usage: stdio_client [--call TOOL [--args JSON]] <command> [args…]".into());
    }
    Ok(Args {
        call,
        arguments,
        command,
    })
}

fn print_content(content: &[ContentBlock]) {
    for block in content {
        match block {
            ContentBlock::Text(t) => println!("  {}", t.text),
            other => println!("  {}", serde_json::to_string(other).unwrap_or_default()),
        }
    }
}

async fn run(args: Args) -> Result<(), mcp_client::Error> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or(mcp_client::Error::Closed)?;
    let process = ChildProcess::new(program).args(rest);
    let options = ClientOptions::new(Implementation::new(
        "mcp-rs-stdio-client",
        env!("CARGO_PKG_VERSION"),
    ));
    let client = Client::spawn(process, options, Host).await?;

    let server = client.server();
    let name = server.implementation.as_ref().map_or_else(
        || "(unnamed)".to_owned(),
        |i| format!("{} {}", i.name, i.version),
    );
    println!("server: {name}");
    println!(
        "protocol: {} ({:?} era)",
        server.protocol_version, server.era
    );
    if let Some(instructions) = &server.instructions {
        println!("instructions: {instructions}");
    }

    if server.capabilities.tools.is_some() {
        println!("\ntools:");
        for tool in client.list_all_tools().await? {
            println!(
                "  {:<14} {}",
                tool.name,
                tool.description.unwrap_or_default()
            );
        }
    }
    if server.capabilities.resources.is_some() {
        println!("\nresources:");
        for resource in client.list_all_resources().await? {
            println!(
                "  {:<24} {}",
                resource.uri,
                resource.title.unwrap_or(resource.name)
            );
        }
        for template in client.list_all_resource_templates().await? {
            println!(
                "  {:<24} {}",
                template.uri_template,
                template.title.unwrap_or(template.name)
            );
        }
    }
    if server.capabilities.prompts.is_some() {
        println!("\nprompts:");
        for prompt in client.list_all_prompts().await? {
            println!(
                "  {:<14} {}",
                prompt.name,
                prompt.description.unwrap_or_default()
            );
        }
    }

    if let Some(tool) = &args.call {
        let result = client.call_tool(tool, args.arguments.clone()).await?;
        let failed = result.is_error == Some(true);
        println!("\n{tool} {}:", if failed { "failed" } else { "returned" });
        print_content(&result.content);
        if let Some(structured) = &result.structured_content {
            println!("  structured: {structured}");
        }
    }
    client.close().await
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::init_logging();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
