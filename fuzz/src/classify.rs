//! The auth layer's reading of a body against the dispatcher's: the real
//! `AuthLayer` in front of the real `StreamableHttp`, in process, with a
//! handler that records every tool, prompt and resource the dispatcher
//! acts on. The property: whatever the bytes, everything the dispatcher
//! acts on was classified by the layer, so it needed its scopes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use mcp_auth::{ApiKeys, AuthLayer, Identity, ProtectedResourceMetadata, RequiredScopes};
use mcp_core::completion::{CompleteParams, CompleteResult, Reference};
use mcp_core::headers::Mirrored;
use mcp_core::prompts::{GetPromptParams, GetPromptResult};
use mcp_core::resources::{ReadResourceParams, ReadResourceResult};
use mcp_core::{
    CallToolParams, CallToolResult, Implementation, Message, ServerCapabilities,
    capabilities::{ListChangedCapability, ResourcesCapability},
};
use mcp_server::http::{AllowedHosts, HttpOptions, StreamableHttp};
use mcp_server::{Handler, RequestContext, Server};
use tower_layer::Layer as _;
use tower_service::Service as _;

/// The names that need a scope of their own: `kind:name`.
const SCOPED: [&str; 3] = ["a", "b", "save_note"];

/// What the dispatcher acted on: `tool:NAME`, `prompt:NAME`,
/// `resource:URI`.
type Acts = Arc<Mutex<Vec<String>>>;

/// A handler that offers everything and records what it is asked.
#[derive(Clone, Default)]
struct Recorder(Acts);

impl Recorder {
    fn record(&self, what: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }
}

impl Handler for Recorder {
    fn info(&self) -> Implementation {
        Implementation::new("recorder", "1")
    }

    fn capabilities(&self) -> ServerCapabilities {
        let mut caps = ServerCapabilities::default();
        caps.tools = Some(ListChangedCapability::default());
        caps.prompts = Some(ListChangedCapability::default());
        let mut resources = ResourcesCapability::default();
        resources.subscribe = Some(true);
        caps.resources = Some(resources);
        caps.completions = Some(mcp_core::JsonObject::new());
        caps
    }

    async fn call_tool(
        &self,
        _: RequestContext,
        params: CallToolParams,
    ) -> Result<CallToolResult, mcp_server::Error> {
        self.record(format!("tool:{}", params.name));
        Ok(CallToolResult::success(Vec::new()))
    }

    async fn get_prompt(
        &self,
        _: RequestContext,
        params: GetPromptParams,
    ) -> Result<GetPromptResult, mcp_server::Error> {
        self.record(format!("prompt:{}", params.name));
        Ok(GetPromptResult::new(Vec::new()))
    }

    async fn read_resource(
        &self,
        _: RequestContext,
        params: ReadResourceParams,
    ) -> Result<ReadResourceResult, mcp_server::Error> {
        self.record(format!("resource:{}", params.uri));
        Ok(ReadResourceResult::new(Vec::new()))
    }

    async fn subscribe(&self, _: RequestContext, uri: String) -> Result<(), mcp_server::Error> {
        self.record(format!("resource:{uri}"));
        Ok(())
    }

    async fn complete(
        &self,
        _: RequestContext,
        params: CompleteParams,
    ) -> Result<CompleteResult, mcp_server::Error> {
        self.record(match params.reference {
            Reference::Prompt { name, .. } => format!("prompt:{name}"),
            Reference::Resource { uri } => format!("resource:{uri}"),
            _ => "other".to_owned(),
        });
        Ok(CompleteResult::new(Vec::new()))
    }
}

/// The scopes: `base` always, and one per scoped name and kind.
fn scopes() -> RequiredScopes {
    let mut scopes = RequiredScopes::new().always(["base"]);
    for name in SCOPED {
        scopes = scopes
            .tool(name, [format!("tool:{name}")])
            .prompt(name, [format!("prompt:{name}")])
            .resource(name, [format!("resource:{name}")]);
    }
    scopes
}

const FULL: &str = "fuzz-key-with-every-scope-0123456789abcdef";
const BASE: &str = "fuzz-key-with-the-base-scope-0123456789abcdef";

type Endpoint = mcp_auth::Auth<StreamableHttp<Recorder>>;

struct Harness {
    runtime: tokio::runtime::Runtime,
    endpoint: Endpoint,
    acts: Acts,
    /// Legacy sessions, by key: 2025-11-25 and 2025-03-26 (batches).
    sessions: [[String; 2]; 2],
}

fn harness() -> &'static Mutex<Harness> {
    static HARNESS: OnceLock<Mutex<Harness>> = OnceLock::new();
    HARNESS.get_or_init(|| Mutex::new(Harness::new()))
}

impl Harness {
    fn new() -> Self {
        // Paused time: a request that would wait (a subscription stream)
        // gives up at once instead of stalling the fuzzer.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let recorder = Recorder::default();
        let acts = Arc::clone(&recorder.0);
        let mut options = HttpOptions::default();
        options.allowed = AllowedHosts::any();
        let endpoint =
            runtime.block_on(async { StreamableHttp::new(Server::new(recorder), options) });
        let keys = ApiKeys::new();
        let all: BTreeSet<String> = SCOPED
            .iter()
            .flat_map(|n| {
                [
                    format!("tool:{n}"),
                    format!("prompt:{n}"),
                    format!("resource:{n}"),
                ]
            })
            .chain(["base".to_owned()])
            .collect();
        keys.insert(FULL, Identity::new("full", all));
        keys.insert(BASE, Identity::new("base", ["base".to_owned()]));
        let metadata = ProtectedResourceMetadata::new("http://localhost/mcp", "http://localhost");
        let endpoint = AuthLayer::new(Arc::new(keys), &metadata)
            .with_scopes(scopes())
            .with_cache_ttl(Duration::from_secs(3600))
            .layer(endpoint);
        let mut harness = Self {
            runtime,
            endpoint,
            acts,
            sessions: Default::default(),
        };
        for (k, key) in [FULL, BASE].into_iter().enumerate() {
            for (v, version) in ["2025-11-25", "2025-03-26"].into_iter().enumerate() {
                harness.sessions[k][v] = harness.open_session(key, version);
            }
        }
        harness
    }

    fn open_session(&mut self, key: &str, version: &str) -> String {
        let init = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"fuzz","version":"1"}}}}}}"#
        );
        let (status, headers, _) = self.post(key, None, version, Bytes::from(init));
        assert_eq!(status, 200, "initialize");
        let id = headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned();
        let done = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let (status, _, _) = self.post(key, Some(&id), version, done);
        assert_eq!(status, 202);
        id
    }

    /// Ends a session (and what runs in it).
    fn end_session(&mut self, key: &str, id: &str, version: &str) {
        let request = http::Request::delete("http://localhost/mcp")
            .header("authorization", format!("Bearer {key}"))
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", version)
            .body(Full::new(Bytes::new()))
            .expect("a request");
        let endpoint = &mut self.endpoint;
        self.runtime.block_on(async {
            let _ = endpoint.call(request).await;
        });
    }

    /// POSTs `body`; status, headers and body of the answer. Stateless
    /// requests get their mirrored headers from the body, as a client
    /// sets them.
    fn post(
        &mut self,
        key: &str,
        session: Option<&str>,
        version: &str,
        body: Bytes,
    ) -> (u16, http::HeaderMap, Bytes) {
        let mut request = http::Request::post("http://localhost/mcp")
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .header("mcp-protocol-version", version);
        match session {
            Some(id) => request = request.header("mcp-session-id", id),
            None => {
                if let Ok(Message::Request(r)) = Message::from_slice(&body) {
                    let peek = Mirrored::of(r.params.as_deref());
                    let encode = |v: &str| mcp_core::headers::encode_value(v).into_owned();
                    request = request.header("mcp-method", encode(&r.method));
                    if let Some(name) = peek.name_for(&r.method) {
                        request = request.header("mcp-name", encode(name));
                    }
                }
            }
        }
        let request = request.body(Full::new(body)).expect("a request");
        let endpoint = &mut self.endpoint;
        self.runtime.block_on(async {
            let call = async {
                std::future::poll_fn(|cx| {
                    tower_service::Service::<http::Request<Full<Bytes>>>::poll_ready(endpoint, cx)
                })
                .await
                .ok()?;
                let response = endpoint.call(request).await.ok()?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await.ok()?.to_bytes();
                Some((parts.status.as_u16(), parts.headers, body))
            };
            tokio::time::timeout(Duration::from_secs(5), call)
                .await
                .ok()
                .flatten()
                .unwrap_or((0, http::HeaderMap::new(), Bytes::new()))
        })
    }
}

/// One body, sent as the first byte says: stateless, or in a legacy
/// session (2025-11-25, or 2025-03-26 with batches), with the key holding
/// every scope or only the base one. Panics if the dispatcher acted on a
/// scoped name whose scope the layer did not ask for; returns how many
/// scoped names it acted on (so tests can tell they reached it).
pub fn classification(data: &[u8]) -> usize {
    let Some((&mode, body)) = data.split_first() else {
        return 0;
    };
    let mut harness = harness().lock().unwrap_or_else(PoisonError::into_inner);
    let full = mode & 1 == 0;
    let key = if full { FULL } else { BASE };
    let needed = scopes().needed_by_body(body);
    harness
        .acts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let body = Bytes::copy_from_slice(body);
    let (status, _, answer) = match (mode >> 1) % 3 {
        0 => harness.post(key, None, "2026-07-28", body),
        transport => {
            let v = usize::from(transport - 1);
            let version = ["2025-11-25", "2025-03-26"][v];
            let k = usize::from(!full);
            let session = harness.sessions[k][v].clone();
            let answer = harness.post(key, Some(&session), version, body.clone());
            // A request that is still running (a subscription stream,
            // which a legacy client ends by cancelling) keeps its id busy:
            // the session is replaced, so the next input starts afresh.
            if answer.0 == 0 {
                harness.end_session(key, &session, version);
            }
            if answer.0 == 0 || answer.0 == 404 {
                harness.sessions[k][v] = harness.open_session(key, version);
            }
            if answer.0 == 404 {
                // The session expired (time passes while subscription
                // streams time out): the body again, in the new one.
                harness
                    .acts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
                let session = harness.sessions[k][v].clone();
                harness.post(key, Some(&session), version, body)
            } else {
                answer
            }
        }
    };
    let acts = harness
        .acts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut scoped = 0;
    for act in &acts {
        let (kind, name) = act.split_once(':').unwrap_or((act, ""));
        if !SCOPED.contains(&name) {
            continue;
        }
        scoped += 1;
        let scope = format!("{kind}:{name}");
        assert!(
            needed.contains(&scope),
            "the dispatcher acted on {act} (status {status}), which the layer did not \
             classify (it asked for {needed:?}); answer: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(full, "acted on {act} with only the base scope");
    }
    scoped
}
