//! The demo server of the examples: a note-taking assistant with tools,
//! resources, a resource template and a prompt, that uses progress,
//! elicitation, sampling and roots. Served over stdio by `stdio_server`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mcp_core::elicitation::{
    ElicitAction, ElicitParams, ElicitValue, ElicitationSchema, PrimitiveSchema,
};
use mcp_core::prompts::PromptMessage;
use mcp_core::resources::{Resource, ResourceTemplate};
use mcp_core::sampling::{CreateMessageParams, SamplingMessage};
use mcp_core::tools::ToolAnnotations;
use mcp_core::{ContentBlock, Implementation, ResourceContents, Role};
use mcp_server::{
    Error, Json, NoArgs, RequestContext, Router, prompt, resource, resource_template, tool,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub message: String,
}

/// Arguments of `add`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddArgs {
    /// First addend.
    pub a: f64,
    /// Second addend.
    pub b: f64,
}

/// The structured result of `add`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sum {
    /// `a + b`.
    pub sum: f64,
}

/// Arguments of `count`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CountArgs {
    /// Count from 1 to this (at most 100).
    pub to: u32,
    /// Pause between steps, in milliseconds (at most 1000).
    #[serde(default)]
    pub delay_ms: u64,
}

/// Arguments of `save_note`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteArgs {
    /// The note's name (letters, digits, `-` and `_`).
    pub name: String,
    /// The note's text.
    pub text: String,
}

/// Arguments of `summarize`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SummarizeArgs {
    /// The text to summarize.
    pub text: String,
}

/// Arguments of the `review_code` prompt.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReviewArgs {
    /// The code to review.
    pub code: String,
    /// Its programming language.
    pub language: Option<String>,
}

type Notes = Arc<Mutex<BTreeMap<String, String>>>;

/// Most notes kept.
const MAX_NOTES: usize = 1000;
/// Largest note.
const MAX_NOTE_BYTES: usize = 1024 * 1024;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The demo server's router. Clone it to change tools and resources
/// while it runs.
pub fn router() -> Router {
    let notes: Notes = Arc::new(Mutex::new(BTreeMap::from([(
        "welcome".to_owned(),
        "Notes saved with the save_note tool appear here.".to_owned(),
    )])));
    let router = Router::from_info(
        Implementation::new("mcp-rs-demo", env!("CARGO_PKG_VERSION")).with_title("mcp-rs demo server"),
    )
    .with_instructions("A note-taking demo: save notes with save_note, read them as memo://notes/{name} resources.");

    let echo = tool(
        "echo",
        "Sends the message back",
        |_ctx: RequestContext, args: EchoArgs| async move { Ok::<_, Error>(args.message) },
    )
    .annotations(
        ToolAnnotations::default()
            .with_read_only_hint(true)
            .with_idempotent_hint(true)
            .with_open_world_hint(false),
    );

    let add = tool(
        "add",
        "Adds two numbers",
        |_ctx: RequestContext, args: AddArgs| async move {
            Ok::<_, Error>(Json(Sum {
                sum: args.a + args.b,
            }))
        },
    )
    .annotations(ToolAnnotations::default().with_read_only_hint(true));

    let count = tool(
        "count",
        "Counts to a number, reporting progress on the way",
        |ctx: RequestContext, args: CountArgs| async move {
            let to = args.to.min(100);
            let delay = Duration::from_millis(args.delay_ms.min(1000));
            for i in 1..=to {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                ctx.progress(
                    f64::from(i),
                    Some(f64::from(to)),
                    Some(&format!("{i} of {to}")),
                )
                .await?;
            }
            Ok::<_, Error>(format!("counted to {to}"))
        },
    );

    let greet = tool(
        "greet",
        "Asks the user for their name, then greets them",
        |ctx: RequestContext, _: NoArgs| async move {
            let form = ElicitationSchema::new().field(
                "name",
                PrimitiveSchema::string().with_description("Your name"),
                true,
            );
            let answer = ctx
                .elicit(ElicitParams::form("What is your name?", form))
                .await?;
            Ok::<_, Error>(
                match (
                    answer.action,
                    answer.content.and_then(|mut c| c.remove("name")),
                ) {
                    (ElicitAction::Accept, Some(ElicitValue::String(name))) => {
                        format!("Hello, {name}!")
                    }
                    (ElicitAction::Accept, _) => "Hello, whoever you are!".to_owned(),
                    _ => "Maybe another time.".to_owned(),
                },
            )
        },
    );

    let summarize = tool(
        "summarize",
        "Summarizes a text with the client's model",
        |ctx: RequestContext, args: SummarizeArgs| async move {
            let params = CreateMessageParams::new(
                vec![SamplingMessage::user_text(format!(
                    "Summarize in one sentence:\n\n{}",
                    args.text
                ))],
                200,
            );
            let answer = ctx.sample(params).await?;
            let text = answer.text().unwrap_or_default().to_owned();
            Ok::<_, Error>(text)
        },
    );

    let roots = tool(
        "show_roots",
        "Lists the directories the client shares",
        |ctx: RequestContext, _: NoArgs| async move {
            let roots = ctx.list_roots().await?;
            let lines: Vec<String> = roots.roots.iter().map(|r| r.uri.clone()).collect();
            Ok::<_, Error>(if lines.is_empty() {
                "no roots".to_owned()
            } else {
                lines.join("\n")
            })
        },
    );

    let readme = resource(
        Resource::new("memo://readme", "readme")
            .with_title("About this server")
            .with_mime_type("text/plain"),
        |_ctx: RequestContext, uri: String| async move {
            Ok::<_, Error>(vec![ResourceContents::text(
                uri,
                "A demo MCP server: tools echo, add, count, greet, summarize, show_roots, save_note.",
            )
            .with_mime_type("text/plain")])
        },
    );

    let read_notes = Arc::clone(&notes);
    let complete_notes = Arc::clone(&notes);
    let note_template = resource_template(
        ResourceTemplate::new("memo://notes/{name}", "note")
            .with_title("A saved note")
            .with_mime_type("text/plain"),
        move |_ctx: RequestContext, uri: String, vars: BTreeMap<String, String>| {
            let notes = Arc::clone(&read_notes);
            async move {
                let name = vars.get("name").cloned().unwrap_or_default();
                let text = notes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&name)
                    .cloned();
                match text {
                    Some(text) => Ok(vec![
                        ResourceContents::text(uri, text).with_mime_type("text/plain"),
                    ]),
                    None => Err(mcp_server::resource_not_found(&uri)),
                }
            }
        },
    )
    .map(|t| {
        t.complete("name", move |prefix| {
            let notes = complete_notes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            notes
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect()
        })
    });

    let review = prompt(
        "review_code",
        "Asks the model to review a piece of code",
        |_ctx: RequestContext, args: ReviewArgs| async move {
            let language = args.language.unwrap_or_else(|| "the".to_owned());
            Ok::<_, Error>(vec![PromptMessage::new(
                Role::User,
                ContentBlock::text(format!(
                    "Please review this {language} code:\n\n{}",
                    args.code
                )),
            )])
        },
    )
    .complete("language", |prefix| {
        ["c", "go", "python", "rust", "typescript"]
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    });

    let mut router = router
        .with_tool(echo)
        .with_tool(add)
        .with_tool(count)
        .with_tool(greet)
        .with_tool(summarize)
        .with_tool(roots)
        .with_resource(readme)
        .with_prompt(review);
    if let Ok(template) = note_template {
        router = router.with_resource_template(template);
    }

    // Saving a note changes resources at runtime: subscribers to the
    // note's URI hear about it, and a new note is announced as a new
    // resource.
    let handle = router.clone();
    let save = tool(
        "save_note",
        "Saves a note, readable as memo://notes/{name}",
        move |_ctx: RequestContext, args: NoteArgs| {
            let notes = Arc::clone(&notes);
            let router = handle.clone();
            async move {
                if !valid_name(&args.name) {
                    return Err(Error::tool(
                        "a note name is 1 to 64 letters, digits, '-' or '_'",
                    ));
                }
                if args.text.len() > MAX_NOTE_BYTES {
                    return Err(Error::tool(format!(
                        "a note holds at most {MAX_NOTE_BYTES} bytes"
                    )));
                }
                let uri = format!("memo://notes/{}", args.name);
                let is_new = {
                    let mut notes = notes.lock().unwrap_or_else(PoisonError::into_inner);
                    // Any client may save notes: their number is capped,
                    // as everything a client can make a server hold is.
                    if notes.len() >= MAX_NOTES && !notes.contains_key(&args.name) {
                        return Err(Error::tool(format!(
                            "there are {MAX_NOTES} notes already; overwrite one"
                        )));
                    }
                    notes.insert(args.name.clone(), args.text).is_none()
                };
                if is_new {
                    let listed =
                        Resource::new(uri.clone(), args.name.clone()).with_mime_type("text/plain");
                    let notes = Arc::clone(&notes);
                    router.add_resource(resource(
                        listed,
                        move |_ctx: RequestContext, uri: String| {
                            let notes = Arc::clone(&notes);
                            let name = uri.rsplit('/').next().unwrap_or_default().to_owned();
                            async move {
                                let text = notes
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .get(&name)
                                    .cloned();
                                text.map(|t| vec![ResourceContents::text(uri.clone(), t)])
                                    .ok_or_else(|| mcp_server::resource_not_found(&uri))
                            }
                        },
                    ));
                }
                router.notify_resource_updated(uri.clone());
                Ok::<_, Error>(format!("saved {uri}"))
            }
        },
    );
    router.add_tool(save);
    router
}

/// Arguments of `ask_upstream`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskUpstreamArgs {
    /// The upstream server's tool to call.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: mcp_core::JsonObject,
}

/// A tool, `ask_upstream`, that calls a tool of the MCP server at `url`
/// (Streamable HTTP, either era) and returns its result: a server that is
/// also a client. The connection is made at the first call and kept; the
/// call's trace continues into the upstream server.
pub fn ask_upstream(url: String) -> mcp_server::ToolRoute {
    let client: Arc<tokio::sync::OnceCell<mcp_client::Client>> = Arc::default();
    tool(
        "ask_upstream",
        "Calls a tool of the upstream MCP server",
        move |_ctx: RequestContext, args: AskUpstreamArgs| {
            let (client, url) = (Arc::clone(&client), url.clone());
            async move {
                let client = client
                    .get_or_try_init(|| async {
                        let info = Implementation::new("mcp-rs-demo", env!("CARGO_PKG_VERSION"));
                        mcp_client::Client::connect_http(
                            &url,
                            mcp_client::ClientOptions::new(info),
                            mcp_client::HttpOptions::default(),
                            mcp_client::NoHandler,
                        )
                        .await
                    })
                    .await
                    .map_err(|e| Error::tool(format!("the upstream server: {e}")))?;
                client
                    .call_tool(&args.tool, args.arguments)
                    .await
                    .map_err(|e| Error::tool(format!("the upstream server: {e}")))
            }
        },
    )
}
