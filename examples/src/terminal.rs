//! The terminal side of the client examples: a host that asks the person
//! at the keyboard, argument parsing, and printing what a server offers.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use mcp_client::{Client, ClientHandler};
use mcp_core::content::SamplingContent;
use mcp_core::elicitation::{
    ElicitAction, ElicitParams, ElicitResult, ElicitValue, PrimitiveSchema,
};
use mcp_core::roots::{ListRootsResult, Root};
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult};
use mcp_core::{ClientCapabilities, ContentBlock, ErrorObject, JsonObject};

/// The host side: a terminal user, no model, the current directory.
#[derive(Debug, Clone, Copy)]
pub struct Host;

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

/// The command line of a client example: `[--call TOOL [--args JSON]]`
/// and then the positional arguments (a command, a URL).
#[derive(Debug)]
pub struct Args {
    /// The tool to call, if any.
    pub call: Option<String>,
    /// Its arguments.
    pub arguments: JsonObject,
    /// What follows the options.
    pub rest: Vec<String>,
}

/// Parses the process arguments; `usage` is the message for an empty rest.
///
/// # Errors
/// A message for the user when the arguments do not parse.
pub fn parse_args(usage: &str) -> Result<Args, String> {
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
    let rest: Vec<String> = args.collect();
    if rest.is_empty() {
        return Err(usage.to_owned());
    }
    Ok(Args {
        call,
        arguments,
        rest,
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

/// Prints what the server is and offers, then calls the tool `args` name.
///
/// # Errors
/// When a request fails.
pub async fn show_and_call(client: &Client, args: &Args) -> Result<(), mcp_client::Error> {
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
    Ok(())
}

/// The `main` of a client example: parses the arguments (`usage` when
/// they do not parse), runs `run`, and turns the outcome into an exit code.
pub async fn main<F, Fut>(usage: &str, run: F) -> std::process::ExitCode
where
    F: FnOnce(Args) -> Fut,
    Fut: Future<Output = Result<(), mcp_client::Error>>,
{
    let _telemetry = crate::init_logging();
    let args = match parse_args(usage) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
