//! Secrets from mounted files, rotated while the server runs: a new API
//! key file takes effect without a restart, and a new request-state key
//! still opens what the previous one sealed, but not what the one before
//! that did.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mcp_auth::{ApiKeys, AuthLayer, ProtectedResourceMetadata};
use mcp_server::http::{HttpOptions, StreamableHttp, serve_service};
use mcp_server::secrets::{EnvSecrets, FileSecrets, Secrets};
use mcp_server::{Server, ServerOptions, StateKey};
use serde_json::{Value, json};

use crate::support::test_router;

/// A directory of mounted secrets for one test.
pub(crate) struct Mount(pub(crate) PathBuf);

impl Mount {
    pub(crate) fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mcp-it-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Replaces the file as orchestrators do: written aside, renamed in,
    /// so a reader never sees half a secret.
    pub(crate) fn write(&self, name: &str, value: &str) {
        let aside = self.0.join(format!(".{name}.new"));
        std::fs::write(&aside, value).unwrap();
        std::fs::rename(aside, self.0.join(name)).unwrap();
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(serve_service(
        listener,
        app,
        Default::default(),
        std::future::pending(),
    ));
    url
}

/// A 2026-07-28 POST of `body`; status and JSON answer.
async fn post(url: &str, key: Option<&str>, name: &str, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", name);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn call(name: &str, extra: &Value) -> Value {
    let mut params = json!({
        "name": name, "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}
        }
    });
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
}

#[tokio::test]
async fn a_rotated_api_key_file_takes_effect_without_a_restart() {
    let mount = Mount::new("api-keys");
    let (old, new) = ("sk-old-0123456789abcdef0123", "sk-new-fedcba9876543210fedc");
    let line = |key: &str, who: &str| format!("# agents\n{}:{who}:mcp:read\n", ApiKeys::hash(key));
    mount.write("api-keys", &line(old, "agent"));
    let secrets = Secrets::new().with(FileSecrets::new(&mount.0));
    let keys = Arc::new(ApiKeys::new());
    keys.load(secrets.require("api-keys").await.unwrap().expose())
        .unwrap();
    let watch = secrets
        .watch("api-keys", Duration::from_secs(3600), {
            let keys = Arc::clone(&keys);
            move |secret| {
                if let Err(e) = keys.load(secret.expose()) {
                    tracing::error!(error = %e, "API keys not reloaded");
                }
            }
        })
        .await
        .unwrap();
    let endpoint = StreamableHttp::new(Server::new(test_router().0), HttpOptions::default());
    let metadata = ProtectedResourceMetadata::without_authorization_servers("http://127.0.0.1/mcp");
    let app =
        axum::Router::new().route_service("/mcp", endpoint.layer(AuthLayer::new(keys, &metadata)));
    let url = serve(app).await;
    let whoami = call("whoami", &json!({}));

    assert_eq!(post(&url, Some(old), "whoami", &whoami).await.0, 200);
    assert_eq!(post(&url, Some(new), "whoami", &whoami).await.0, 401);
    // Nothing changed yet: a poll finds nothing to do.
    assert!(!watch.refresh().await.unwrap());
    mount.write("api-keys", &line(new, "agent"));
    assert!(watch.refresh().await.unwrap());
    assert_eq!(post(&url, Some(old), "whoami", &whoami).await.0, 401);
    assert_eq!(post(&url, Some(new), "whoami", &whoami).await.0, 200);
    // A malformed file changes nothing: the new key still works.
    mount.write("api-keys", "not a key line\n");
    assert!(watch.refresh().await.unwrap());
    assert_eq!(post(&url, Some(new), "whoami", &whoami).await.0, 200);
}

#[tokio::test]
async fn a_request_state_survives_one_key_rotation_and_not_two() {
    let mount = Mount::new("state-key");
    let secret = |c: char| c.to_string().repeat(44);
    mount.write("state-key", &secret('a'));
    let secrets = Secrets::new()
        .with(FileSecrets::new(&mount.0))
        .with(EnvSecrets::new("MCP_IT_UNSET_"));
    let key = StateKey::from_secret(&secrets.require("state-key").await.unwrap()).unwrap();
    let watch = secrets
        .watch("state-key", Duration::from_secs(3600), {
            let key = key.clone();
            move |secret| key.rotate_to(&secret).unwrap()
        })
        .await
        .unwrap();
    let mut options = ServerOptions::default();
    options.state_key = key;
    let endpoint = StreamableHttp::new(
        Server::with_options(test_router().0, options),
        HttpOptions::default(),
    );
    let url = serve(axum::Router::new().route_service("/mcp", endpoint)).await;

    // A tool that asks the client for input: the first round's answer is
    // an input request with a sealed state.
    let first_round = || async {
        let (status, answer) =
            post(&url, None, "ask_wrapped", &call("ask_wrapped", &json!({}))).await;
        assert_eq!(status, 200, "{answer}");
        let result = &answer["result"];
        assert_eq!(result["resultType"], "input_required", "{answer}");
        let asked = result["inputRequests"].as_object().unwrap();
        let (question, _) = asked.iter().next().unwrap();
        let retry = json!({
            "inputResponses": {question.clone(): {"action": "accept", "content": {"name": "Ada"}}},
            "requestState": result["requestState"].clone(),
        });
        call("ask_wrapped", &retry)
    };
    let retry = first_round().await;
    mount.write("state-key", &secret('b'));
    assert!(watch.refresh().await.unwrap());
    let (status, answer) = post(&url, None, "ask_wrapped", &retry).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["content"][0]["text"], "Accept", "{answer}");

    let retry = first_round().await;
    for c in ['c', 'd'] {
        mount.write("state-key", &secret(c));
        assert!(watch.refresh().await.unwrap());
    }
    let (_, answer) = post(&url, None, "ask_wrapped", &retry).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not issued by this server"),
        "{answer}"
    );
    // A missing secret is an error naming it and where it was looked for.
    let e = secrets.require("absent-key").await.unwrap_err().to_string();
    assert!(
        e.contains("\"absent-key\"") && e.contains("MCP_IT_UNSET_ABSENT_KEY"),
        "{e}"
    );
}
