//! A server whose data belongs to its callers: each authenticated caller
//! has notes of their own, and no tool, resource or completion shows or
//! changes another caller's. The caller is the `Identity` the auth layer
//! put in the request; the data is keyed by its principal (issuer and
//! subject), never by anything the client says about itself.
//!
//! What another caller's note looks like from outside is exactly what a
//! note that does not exist looks like, so ids (which are sequential)
//! reveal nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mcp_auth::Identity;
use mcp_core::resources::ResourceTemplate;
use mcp_server::{
    Error, Implementation, Json, NoArgs, RequestContext, ResourceContents, Router,
    resource_template, tool,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Notes one caller may keep, and the size of one.
const MAX_NOTES: usize = 100;
const MAX_NOTE_BYTES: usize = 4096;

#[derive(Default)]
struct Notes {
    next_id: u64,
    /// By owner (principal), then id.
    by_owner: HashMap<Arc<str>, BTreeMap<u64, String>>,
}

type Shared = Arc<Mutex<Notes>>;

fn lock(notes: &Shared) -> MutexGuard<'_, Notes> {
    notes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The caller's principal, from what the auth layer vouched for.
fn owner(ctx: &RequestContext) -> Result<Arc<str>, Error> {
    ctx.extensions()
        .get::<Identity>()
        .map(|identity| Arc::clone(&identity.principal().0))
        .ok_or_else(|| Error::tool("this server keeps notes for signed-in callers only"))
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Add {
    /// The note's text (at most 4 KiB).
    text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ById {
    /// The note's id.
    id: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Saved {
    id: u64,
    uri: String,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Listed {
    notes: Vec<Saved>,
}

fn uri(id: u64) -> String {
    format!("notes://{id}")
}

/// The router: `add_note`, `list_notes`, `delete_note`, and the template
/// `notes://{id}` with completion of `id`, all scoped to the caller.
pub fn router() -> Router {
    let notes: Shared = Arc::default();
    let router = Router::from_info(Implementation::new("private-notes", "1.0.0"));

    let store = Arc::clone(&notes);
    router.add_tool(tool(
        "add_note",
        "Saves a note only you can see",
        move |ctx: RequestContext, args: Add| {
            let notes = Arc::clone(&store);
            async move {
                let owner = owner(&ctx)?;
                if args.text.len() > MAX_NOTE_BYTES {
                    return Err(Error::tool(format!(
                        "a note is at most {MAX_NOTE_BYTES} bytes"
                    )));
                }
                let mut notes = lock(&notes);
                if notes.by_owner.get(&owner).map_or(0, BTreeMap::len) >= MAX_NOTES {
                    return Err(Error::tool(format!(
                        "you have {MAX_NOTES} notes; delete one first"
                    )));
                }
                notes.next_id += 1;
                let id = notes.next_id;
                notes
                    .by_owner
                    .entry(owner)
                    .or_default()
                    .insert(id, args.text);
                Ok(Json(Saved { id, uri: uri(id) }))
            }
        },
    ));

    let store = Arc::clone(&notes);
    router.add_tool(tool(
        "list_notes",
        "Lists your notes",
        move |ctx: RequestContext, _: NoArgs| {
            let notes = Arc::clone(&store);
            async move {
                let owner = owner(&ctx)?;
                let notes = lock(&notes);
                let ids = notes
                    .by_owner
                    .get(&owner)
                    .into_iter()
                    .flat_map(BTreeMap::keys);
                let notes = ids
                    .map(|id| Saved {
                        id: *id,
                        uri: uri(*id),
                    })
                    .collect();
                Ok::<_, Error>(Json(Listed { notes }))
            }
        },
    ));

    let store = Arc::clone(&notes);
    router.add_tool(tool(
        "delete_note",
        "Deletes one of your notes",
        move |ctx: RequestContext, args: ById| {
            let notes = Arc::clone(&store);
            async move {
                let owner = owner(&ctx)?;
                let removed = lock(&notes)
                    .by_owner
                    .get_mut(&owner)
                    .and_then(|mine| mine.remove(&args.id));
                match removed {
                    Some(_) => Ok(format!("deleted note {}", args.id)),
                    // Another caller's note: the same answer as none.
                    None => Err(Error::tool(format!("no note {}", args.id))),
                }
            }
        },
    ));

    let store = Arc::clone(&notes);
    let completions = Arc::clone(&notes);
    let template = resource_template(
        ResourceTemplate::new("notes://{id}", "note")
            .with_title("One of your notes")
            .with_mime_type("text/plain"),
        move |ctx: RequestContext, uri: String, vars: BTreeMap<String, String>| {
            let notes = Arc::clone(&store);
            async move {
                let owner = owner(&ctx)?;
                let id = vars.get("id").and_then(|id| id.parse::<u64>().ok());
                let text = id.and_then(|id| {
                    lock(&notes)
                        .by_owner
                        .get(&owner)
                        .and_then(|mine| mine.get(&id).cloned())
                });
                match text {
                    Some(text) => Ok(vec![ResourceContents::text(uri, text)]),
                    None => Err(mcp_server::resource_not_found(&uri)),
                }
            }
        },
    )
    .map(|t| {
        t.complete_with("id", move |ctx, typed| {
            let Ok(owner) = owner(ctx) else {
                return Vec::new();
            };
            let notes = lock(&completions);
            let ids = notes
                .by_owner
                .get(&owner)
                .into_iter()
                .flat_map(BTreeMap::keys);
            ids.map(u64::to_string)
                .filter(|id| id.starts_with(typed))
                .collect()
        })
    });
    match template {
        Ok(template) => router.add_resource_template(template),
        Err(e) => tracing::error!(error = %e, "the notes template did not parse"),
    }
    router
}
