//! Per-user isolation, end to end: two callers with their own API keys, a
//! real client each over HTTP in both eras, against the private-notes
//! server. Neither can read, change, list or complete the other's notes,
//! through any tool, resource or completion, even knowing the ids.

use std::sync::Arc;

use mcp_auth::{ApiKeys, AuthLayer, Identity, ProtectedResourceMetadata};
use mcp_client::{Client, HttpOptions};
use mcp_core::Era;
use mcp_core::completion::Reference;
use mcp_server::Server;
use mcp_server::http::{ServeOptions, StreamableHttp, serve_service};
use serde_json::{Value, json};

use crate::support::{Host, options};

const ADA: &str = "ada-key-0123456789abcdef0123";
const BOB: &str = "bob-key-0123456789abcdef0123";

async fn server() -> String {
    let keys = Arc::new(ApiKeys::new());
    keys.insert(ADA, Identity::new("ada", []));
    keys.insert(BOB, Identity::new("bob", []));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let metadata = ProtectedResourceMetadata::without_authorization_servers(url.clone());
    let endpoint = StreamableHttp::new(
        Server::new(examples::private_notes::router()),
        Default::default(),
    );
    let app =
        axum::Router::new().route_service("/mcp", endpoint.layer(AuthLayer::new(keys, &metadata)));
    tokio::spawn(serve_service(
        listener,
        app,
        ServeOptions::default(),
        std::future::pending(),
    ));
    url
}

async fn client(url: &str, key: &str, era: Era) -> Client {
    let http = HttpOptions::default()
        .with_header("authorization", &format!("Bearer {key}"))
        .unwrap();
    Client::connect_http(url, options(era), http, Host::default())
        .await
        .unwrap()
}

async fn listed(client: &Client) -> Vec<u64> {
    let r = client.call_tool("list_notes", ()).await.unwrap();
    let listed: Value = r.structured().unwrap().unwrap();
    listed["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .collect()
}

async fn completed(client: &Client, typed: &str) -> Vec<String> {
    let reference = Reference::Resource {
        uri: "notes://{id}".to_owned(),
    };
    client
        .complete(reference, "id", typed)
        .await
        .unwrap()
        .completion
        .values
}

#[tokio::test]
async fn one_caller_cannot_reach_anothers_notes_by_any_route() {
    let url = server().await;
    for era in [Era::Modern, Era::Legacy] {
        let ada = client(&url, ADA, era).await;
        let bob = client(&url, BOB, era).await;
        let saved = ada
            .call_tool("add_note", json!({"text": "ada's secret"}))
            .await
            .unwrap();
        let saved: Value = saved.structured().unwrap().unwrap();
        let (id, uri) = (
            saved["id"].as_u64().unwrap(),
            saved["uri"].as_str().unwrap().to_owned(),
        );
        bob.call_tool("add_note", json!({"text": "bob's"}))
            .await
            .unwrap();

        // Ada reaches hers by every route.
        assert!(listed(&ada).await.contains(&id));
        let read = ada.read_resource(&uri).await.unwrap();
        assert_eq!(read.contents[0].as_text(), Some("ada's secret"));
        assert!(completed(&ada, "").await.contains(&id.to_string()));

        // Bob, knowing the id: not listed, not readable, not completed,
        // not deletable; each answer the same as for a note that never was.
        assert!(!listed(&bob).await.contains(&id), "{era:?}");
        let refused = bob.read_resource(&uri).await.unwrap_err();
        let never = bob.read_resource("notes://999999").await.unwrap_err();
        assert_eq!(
            refused.to_string().replace(&uri, "X"),
            never.to_string().replace("notes://999999", "X")
        );
        assert!(
            !completed(&bob, "").await.contains(&id.to_string()),
            "{era:?}"
        );
        assert!(completed(&bob, &id.to_string()).await.is_empty(), "{era:?}");
        let deleted = bob
            .call_tool("delete_note", json!({"id": id}))
            .await
            .unwrap();
        assert_eq!(deleted.is_error, Some(true));
        assert_eq!(
            deleted.text().as_deref(),
            Some(format!("no note {id}").as_str())
        );

        // Ada's note is untouched, and hers to delete.
        let read = ada.read_resource(&uri).await.unwrap();
        assert_eq!(read.contents[0].as_text(), Some("ada's secret"));
        let deleted = ada
            .call_tool("delete_note", json!({"id": id}))
            .await
            .unwrap();
        assert_eq!(deleted.is_error, None);
        assert!(!listed(&ada).await.contains(&id));
    }
}

#[tokio::test]
async fn without_an_identity_the_notes_are_closed() {
    // The router alone, served without an auth layer: nobody's notes.
    let endpoint = StreamableHttp::new(
        Server::new(examples::private_notes::router()),
        Default::default(),
    );
    let (url, _task) = crate::support::serve_endpoint(endpoint, std::future::pending()).await;
    let anonymous = crate::support::http_client(&url, Era::Modern).await;
    let r = anonymous
        .call_tool("add_note", json!({"text": "x"}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(r.text().unwrap().contains("signed-in"));
}
