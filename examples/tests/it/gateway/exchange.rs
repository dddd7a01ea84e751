//! Token exchange: an upstream called on behalf of each caller. Two users
//! sign in at the test authorization server and call the gateway with
//! their tokens; the gateway trades each token there (RFC 8693) and the
//! upstream, a resource server of its own, sees each user as the subject
//! and the gateway as the client acting for them, in both eras on either
//! side; it never sees a token the users sent. A caller with an API key
//! has no token to trade and is refused, and a user's token is never sent
//! to an authorization server other than its issuer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_client::{Client, ClientHandler, HttpOptions};
use mcp_core::Era;
use serde_json::json;

use super::{offers, serve};
use crate::oidc::Oidc;
use crate::support::{Host, args, options};

const REDIRECT: &str = "http://127.0.0.1:53682/callback";
/// The gateway's resource: the audience of the users' tokens.
const GATEWAY: &str = "http://127.0.0.1/gateway";
const API_KEY: &str = "api-key-0123456789abcdef0123456789abcdef012345";

async fn client(url: &str, era: Era, token: &str) -> Client {
    client_with(url, era, token, Host::default()).await
}

async fn client_with(url: &str, era: Era, token: &str, host: impl ClientHandler) -> Client {
    let http = HttpOptions::default()
        .with_header("authorization", &format!("Bearer {token}"))
        .unwrap();
    Client::connect_http(url, options(era), http, host)
        .await
        .unwrap()
}

/// A user who gives their own name when asked, once the other user has
/// been asked too: both questions are open at once.
#[derive(Clone)]
struct Named {
    name: &'static str,
    both_asked: Arc<tokio::sync::Barrier>,
}

impl ClientHandler for Named {
    fn capabilities(&self) -> mcp_core::ClientCapabilities {
        mcp_client::capabilities(true, false, false)
    }

    async fn elicit(
        &self,
        _: mcp_core::elicitation::ElicitParams,
    ) -> Result<mcp_core::elicitation::ElicitResult, mcp_core::ErrorObject> {
        // Bounded: a question that never reaches the other user fails
        // the test instead of hanging it.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.both_asked.wait()).await;
        Ok(mcp_core::elicitation::ElicitResult::accept(
            [(
                "name".to_owned(),
                mcp_core::elicitation::ElicitValue::String(self.name.into()),
            )]
            .into(),
        ))
    }
}

/// The auth example's server for `issuer`'s tokens on a free loopback
/// port, recording every `Authorization` header into `record`; its URL.
async fn protected_server(issuer: &str, record: Option<Arc<Mutex<Vec<String>>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (app, endpoint) = examples::auth::app(&examples::auth::Config::new(issuer, &url))
        .await
        .unwrap();
    let app = app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            if let (Some(record), Some(value)) = (&record, request.headers().get("authorization")) {
                record
                    .lock()
                    .unwrap()
                    .push(value.to_str().unwrap_or_default().to_owned());
            }
            next.run(request)
        },
    ));
    tokio::spawn(examples::auth::serve(
        listener,
        app,
        endpoint,
        std::future::pending(),
    ));
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_reaches_the_upstream_as_itself() {
    let (Some(oidc), Some(other_as)) = (Oidc::start().await, Oidc::start().await) else {
        return;
    };
    // The upstream: the auth example's server (JWTs of the test issuer,
    // `mcp:read` required, `whoami`), recording every Authorization header.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let upstream = protected_server(oidc.issuer(), Some(Arc::clone(&seen))).await;
    // Another upstream, whose authorization server is another one.
    let elsewhere = protected_server(other_as.issuer(), None).await;

    let dir = std::env::temp_dir().join(format!("mcp-gateway-exchange-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("gateway-secret"), "test-only-gateway-secret").unwrap();
    let oauth = "oauth = { grant = \"token_exchange\", client_id = \"mcp-gateway\", client_secret = \"gateway-secret\", scope = \"mcp:read\" }";
    let config = format!(
        r#"
[secrets]
dir = "{}"

[auth]
issuer = "{}"
resource = "{GATEWAY}"
api_keys = [{{ sha256 = "{}", subject = "robot", scopes = [] }}]

[[upstream]]
name = "modern"
url = "{upstream}"
versions = ["2026-07-28"]
{oauth}

[[upstream]]
name = "legacy"
url = "{upstream}"
versions = ["2025-11-25"]
{oauth}

[[upstream]]
name = "elsewhere"
url = "{elsewhere}"
{oauth}
"#,
        dir.display(),
        oidc.issuer(),
        mcp_auth::ApiKeys::hash(API_KEY),
    );
    let (gateway, url) = serve(&config).await;
    // Listed by the gateway's own connections (client credentials).
    offers(
        &gateway,
        &["modern__whoami", "legacy__whoami", "elsewhere__whoami"],
    )
    .await;

    let app_client = oidc
        .register(&[REDIRECT], &["authorization_code"], "none")
        .await;
    let mut sent = Vec::new();
    for user in ["alice", "bob"] {
        let tokens = oidc
            .authorize_as(&app_client, GATEWAY, "mcp:read", user)
            .await;
        sent.push(tokens.access_token.clone());
        for era in [Era::Modern, Era::Legacy] {
            let caller = client(&url, era, &tokens.access_token).await;
            for upstream in ["modern", "legacy"] {
                let r = caller
                    .call_tool(&format!("{upstream}__whoami"), args(json!({})))
                    .await
                    .unwrap();
                assert_ne!(r.is_error, Some(true), "{user} {era:?} {upstream}: {r:?}");
                let me = r.structured_content.unwrap();
                assert_eq!(me["subject"], user, "{era:?} {upstream}: {me}");
                assert_eq!(me["client_id"], "mcp-gateway", "{era:?} {upstream}: {me}");
                assert_eq!(me["scopes"], json!(["mcp:read"]), "{me}");
            }
            let _ = caller.close().await;
        }
    }
    // Two users' calls in flight at once on a legacy upstream, each asking
    // its user a question: each question reaches its own user.
    let both_asked = Arc::new(tokio::sync::Barrier::new(2));
    let mut users = Vec::new();
    for (name, token) in ["alice", "bob"].into_iter().zip(&sent) {
        let host = Named {
            name,
            both_asked: Arc::clone(&both_asked),
        };
        users.push((name, client_with(&url, Era::Legacy, token, host).await));
    }
    let (a, b) = tokio::join!(
        users[0].1.call_tool("legacy__greet", args(json!({}))),
        users[1].1.call_tool("legacy__greet", args(json!({}))),
    );
    for ((name, _), r) in users.iter().zip([a, b]) {
        let r = r.unwrap();
        assert_eq!(r.text().unwrap(), format!("Hello, {name}!"), "{r:?}");
    }
    for (_, caller) in users {
        let _ = caller.close().await;
    }

    // A user's token goes to the authorization server that issued it and
    // to no other: an upstream that names another is not called, and a
    // second try within the failure memory is not even attempted.
    let asked = |oidc: &Oidc| oidc.stderr().matches("token exchange asked").count();
    let before = asked(&oidc);
    assert!(before > 0, "the users' calls above were exchanged");
    let caller = client(&url, Era::Modern, &sent[0]).await;
    for expected in [
        "signing in on the caller's behalf failed",
        "failed a moment ago",
    ] {
        let r = caller
            .call_tool("elsewhere__whoami", args(json!({})))
            .await
            .unwrap();
        assert_eq!(r.is_error, Some(true), "{r:?}");
        assert!(format!("{r:?}").contains(expected), "{r:?}");
    }
    assert_eq!(asked(&oidc), before, "nothing was exchanged for elsewhere");
    assert_eq!(
        asked(&other_as),
        0,
        "a user's token went to another authorization server"
    );
    let _ = caller.close().await;
    // One connection per user per upstream, in both eras; the refused
    // sign-in counted.
    let status = gateway.status();
    let of = |name: &str| status.iter().find(|s| s.name == name).unwrap();
    assert_eq!(of("modern").callers, 2, "{status:?}");
    assert_eq!(of("legacy").callers, 2, "{status:?}");
    assert_eq!(of("elsewhere").callers, 0, "{status:?}");
    assert_eq!(of("elsewhere").sign_in_failures, 1, "{status:?}");
    let metrics = gateway.metrics();
    assert!(
        metrics.contains("mcp_gateway_upstream_callers{upstream=\"modern\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mcp_gateway_upstream_sign_in_failures_total{upstream=\"elsewhere\"} 1"),
        "{metrics}"
    );

    // An API key is never traded: there is nobody to act for.
    let robot = client(&url, Era::Modern, API_KEY).await;
    let r = robot
        .call_tool("modern__whoami", args(json!({})))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(
        format!("{r:?}").contains("needs the caller's OAuth access token"),
        "{r:?}"
    );

    // The upstream got tokens, and never one a caller sent.
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    for token in sent.iter().map(String::as_str).chain([API_KEY]) {
        assert!(
            seen.iter().all(|h| !h.contains(token)),
            "a caller's token reached the upstream"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
