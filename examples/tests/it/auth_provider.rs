//! `mcp_auth::client::OAuth` as the HTTP transport's credentials: the real
//! client connects to the protected example application with no token in
//! hand, and the provider does the rest against the real authorization
//! server (`examples/oidc/as.mjs`): discovery, dynamic registration, the
//! code flow through its loopback redirect, step-up, single-flight refresh,
//! and the client credentials grant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use examples::auth::{self, Config};
use mcp_auth::Error as AuthError;
use mcp_auth::client::flow::CallbackParams;
use mcp_auth::client::store::{MemoryTokenStore, StoredTokens, TokenKey, TokenStore};
use mcp_auth::client::{ClientConfig, OAuth};
use mcp_client::{Client, HttpOptions};
use mcp_core::Era;
use reqwest::Url;
use serde_json::json;

use crate::oidc::Oidc;
use crate::support::{Host, args, options, whoami};

/// A bound on the whole of a test's sign-in, so a wedged flow fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Serves the example application for `oidc`'s tokens on a free loopback
/// port; its URL.
pub(crate) async fn serve(oidc: &Oidc) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = Config::new(oidc.issuer(), &url);
    let (app, endpoint) = auth::app(&config).await.unwrap();
    tokio::spawn(auth::serve(listener, app, endpoint, std::future::pending()));
    url
}

/// A token store that counts what is saved.
#[derive(Default)]
struct Counting {
    inner: MemoryTokenStore,
    saves: AtomicUsize,
}

#[mcp_auth::async_trait]
impl TokenStore for Counting {
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredTokens>, AuthError> {
        self.inner.load(key).await
    }

    async fn save(&self, key: &TokenKey, tokens: &StoredTokens) -> Result<(), AuthError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(key, tokens).await
    }

    async fn remove(&self, key: &TokenKey) -> Result<(), AuthError> {
        self.inner.remove(key).await
    }
}

/// The user, played by `oidc`'s browser, at authorization URL `url`:
/// login and consent are followed, and the redirect is loaded at the
/// provider's loopback listener, whose answer comes back.
async fn sign_in_at(oidc: &Oidc, url: &Url) -> reqwest::Result<reqwest::Response> {
    let redirect_uri = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    let params = oidc.browse(url.as_str(), &redirect_uri).await;
    let mut callback = Url::parse(&redirect_uri).unwrap();
    callback.query_pairs_mut().extend_pairs(&params);
    reqwest::get(callback).await
}

/// The user who signs in at each authorization URL ([`sign_in_at`]).
/// Counts the sign-ins.
fn user(oidc: &Arc<Oidc>) -> (impl Fn(&str) + Send + Sync + 'static, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let oidc = oidc.clone();
    let counted = count.clone();
    let open = move |url: &str| {
        counted.fetch_add(1, Ordering::SeqCst);
        let oidc = oidc.clone();
        let url = Url::parse(url).unwrap();
        tokio::spawn(async move {
            let page = sign_in_at(&oidc, &url).await.unwrap();
            assert_eq!(page.status(), reqwest::StatusCode::OK);
        });
    };
    (open, count)
}

/// A public client with a loopback redirect URI on any port.
fn native() -> ClientConfig {
    ClientConfig::new("mcp-rs provider tests", ["http://127.0.0.1/callback"])
}

/// The test authorization server, the protected demo app, and a provider
/// for it keeping tokens in `store`, whose user signs in at the test
/// server.
struct Setup {
    oidc: Arc<Oidc>,
    url: String,
    oauth: Arc<OAuth>,
    sign_ins: Arc<AtomicUsize>,
}

/// [`Setup`], or `None` when the test authorization server is not
/// installed.
async fn setup(store: Arc<dyn TokenStore>) -> Option<Setup> {
    let oidc = Arc::new(Oidc::start().await?);
    let url = serve(&oidc).await;
    let (open, sign_ins) = user(&oidc);
    let oauth = Arc::new(OAuth::new(&url, native()).with_open(open).with_store(store));
    Some(Setup {
        oidc,
        url,
        oauth,
        sign_ins,
    })
}

async fn connect(url: &str, era: Era, oauth: &Arc<OAuth>) -> Client {
    let http = HttpOptions::default().with_auth(oauth.clone());
    tokio::time::timeout(
        PATIENCE,
        Client::connect_http(url, options(era), http, Host::default()),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn one_call_connects_through_discovery_registration_and_the_code_flow() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let oidc = Arc::new(oidc);
    let url = serve(&oidc).await;
    let (open, sign_ins) = user(&oidc);
    let oauth = Arc::new(OAuth::new(&url, native()).with_open(open));
    assert!(!format!("{oauth:?}").contains("Bearer"));
    for era in [Era::Modern, Era::Legacy] {
        let client = connect(&url, era, &oauth).await;
        assert_eq!(client.server().era, era);
        let me = whoami(&client).await;
        assert_eq!(me["subject"], "test-user", "{era:?}");
        assert_eq!(me["scopes"], json!(["mcp:read"]), "{era:?}");
        client.close().await.unwrap();
    }
    // The second connection used the tokens of the first.
    assert_eq!(sign_ins.load(Ordering::SeqCst), 1);
    let key = oauth.token_key().await.unwrap();
    assert_eq!(key.resource, url);
    assert_eq!(key.issuer, oidc.issuer());
}

#[tokio::test]
async fn a_host_that_handles_the_redirect_itself() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let oidc = Arc::new(oidc);
    let url = serve(&oidc).await;
    // The host's own route: nothing listens there; the host hands back
    // what its browser brought to it.
    let redirect_uri = "http://127.0.0.1:1/host/callback";
    let browser = oidc.clone();
    let handled = Arc::new(AtomicUsize::new(0));
    let seen = handled.clone();
    let config = ClientConfig::new("mcp-rs host tests", [redirect_uri]);
    let oauth = Arc::new(OAuth::new(&url, config).with_redirect_handler(
        redirect_uri,
        move |authorize_url: String| {
            let browser = browser.clone();
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                let query = browser.browse(&authorize_url, redirect_uri).await;
                Ok(query.into_iter().collect::<CallbackParams>())
            }
        },
    ));
    let client = connect(&url, Era::Modern, &oauth).await;
    assert_eq!(whoami(&client).await["subject"], "test-user");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_declined_sign_in_is_the_error_the_caller_sees() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let oidc = Arc::new(oidc);
    let url = serve(&oidc).await;
    let browser = oidc.clone();
    // A user who says no at the authorization server.
    let decline = move |authorize_url: &str| {
        let browser = browser.clone();
        let mut declined = Url::parse(authorize_url).unwrap();
        declined.query_pairs_mut().append_pair("login_hint", "deny");
        tokio::spawn(async move {
            let _ = sign_in_at(&browser, &declined).await;
        });
    };
    let oauth = Arc::new(OAuth::new(&url, native()).with_open(decline));
    let http = HttpOptions::default().with_auth(oauth);
    let refused = tokio::time::timeout(
        PATIENCE,
        Client::connect_http(&url, options(Era::Modern), http, Host::default()),
    )
    .await
    .unwrap();
    let Err(e) = refused else {
        panic!("connecting should fail")
    };
    let message = e.to_string();
    assert!(
        message.contains("HTTP 401") && message.contains("access_denied"),
        "{message}"
    );
}

#[tokio::test]
async fn insufficient_scope_steps_up_to_the_union() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let oidc = Arc::new(oidc);
    let url = serve(&oidc).await;
    let (open, sign_ins) = user(&oidc);
    let store = Arc::new(MemoryTokenStore::new());
    let oauth = Arc::new(
        OAuth::new(&url, native())
            .with_open(open)
            .with_scope(auth::READ)
            .with_store(store.clone()),
    );
    let client = connect(&url, Era::Modern, &oauth).await;
    assert_eq!(whoami(&client).await["scopes"], json!(["mcp:read"]));
    let note = json!({"name": "stepped-up", "text": "hello"});
    let r = client.call_tool("save_note", args(note)).await.unwrap();
    assert_eq!(
        r.content[0].as_text(),
        Some("saved memo://notes/stepped-up")
    );
    assert_eq!(sign_ins.load(Ordering::SeqCst), 2);
    assert_eq!(
        whoami(&client).await["scopes"],
        json!(["mcp:admin", "mcp:read"])
    );
    let key = oauth.token_key().await.unwrap();
    let held = store.load(&key).await.unwrap().unwrap();
    for scope in ["mcp:read", "mcp:admin"] {
        assert!(held.scopes.iter().any(|s| s == scope), "{:?}", held.scopes);
    }
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_refresh() {
    let store = Arc::new(Counting::default());
    // The binding keeps the authorization server running.
    let Some(Setup {
        oidc: _server,
        url,
        oauth,
        sign_ins,
    }) = setup(store.clone()).await
    else {
        return;
    };
    let client = Arc::new(connect(&url, Era::Modern, &oauth).await);
    whoami(&client).await;
    let key = oauth.token_key().await.unwrap();
    let before = store.load(&key).await.unwrap().unwrap();
    let old_refresh = before.refresh_token.clone().unwrap();
    // Expired a minute ago, as far as the client knows.
    let expired = before.with_expires_at(SystemTime::now() - Duration::from_secs(60));
    store.inner.save(&key, &expired).await.unwrap();
    let saves = store.saves.load(Ordering::SeqCst);

    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { whoami(&client).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap()["subject"], "test-user");
    }
    assert_eq!(store.saves.load(Ordering::SeqCst), saves + 1, "one refresh");
    let after = store.load(&key).await.unwrap().unwrap();
    // Rotated: the old refresh token is gone, and reusing it would have
    // revoked the grant, failing the calls above.
    assert_ne!(after.refresh_token.as_ref(), Some(&old_refresh));
    assert_ne!(after.access_token, expired.access_token);
    assert!(!after.expires_within(Duration::from_secs(60)));
    assert_eq!(sign_ins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_credentials_end_to_end() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let url = serve(&oidc).await;
    let none: [&str; 0] = [];
    let mut config = ClientConfig::new("machine", none);
    config.grant_types = vec!["client_credentials".into()];
    config.token_endpoint_auth_method = "client_secret_basic".into();
    let store = Arc::new(Counting::default());
    let oauth = Arc::new(
        OAuth::client_credentials(&url, config)
            .with_open(|url| panic!("no user in this mode: {url}"))
            .with_store(store.clone()),
    );
    for era in [Era::Modern, Era::Legacy] {
        let client = connect(&url, era, &oauth).await;
        let me = whoami(&client).await;
        // The client acts for itself.
        assert_eq!(me["subject"], me["client_id"], "{era:?}");
        assert_ne!(me["subject"], "test-user");
        let note = json!({"name": "machine", "text": "hello"});
        let r = client.call_tool("save_note", args(note)).await.unwrap();
        assert_ne!(r.is_error, Some(true), "{r:?}");
        client.close().await.unwrap();
    }
    // The 401's scope (mcp:read), then a step-up for save_note; the second
    // era used the same token.
    assert_eq!(store.saves.load(Ordering::SeqCst), 2);

    // An expired token is replaced without a user, and without a 401.
    let key = oauth.token_key().await.unwrap();
    let held = store.load(&key).await.unwrap().unwrap();
    let expired = held.with_expires_at(SystemTime::now() - Duration::from_secs(1));
    store.inner.save(&key, &expired).await.unwrap();
    let client = connect(&url, Era::Modern, &oauth).await;
    assert_eq!(
        whoami(&client).await["scopes"],
        json!(["mcp:admin", "mcp:read"])
    );
    assert_eq!(store.saves.load(Ordering::SeqCst), 3);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refusals_share_one_sign_in() {
    let store = Arc::new(MemoryTokenStore::new());
    // The binding keeps the authorization server running.
    let Some(Setup {
        oidc: _server,
        url,
        oauth,
        sign_ins,
    }) = setup(store.clone()).await
    else {
        return;
    };
    let client = Arc::new(connect(&url, Era::Modern, &oauth).await);
    // Signed out behind the client's back: every call is refused at once.
    let key = oauth.token_key().await.unwrap();
    store.remove(&key).await.unwrap();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { whoami(&client).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap()["subject"], "test-user");
    }
    assert_eq!(sign_ins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_refresh_forgets_the_tokens_and_signs_in_again() {
    let store = Arc::new(MemoryTokenStore::new());
    // The binding keeps the authorization server running.
    let Some(Setup {
        oidc: _server,
        url,
        oauth,
        sign_ins,
    }) = setup(store.clone()).await
    else {
        return;
    };
    let client = connect(&url, Era::Modern, &oauth).await;
    let key = oauth.token_key().await.unwrap();
    let held = store.load(&key).await.unwrap().unwrap();
    // An expired token whose refresh token the server never issued.
    let bogus = held
        .with_refresh_token(mcp_auth::client::Secret::new("not-a-refresh-token"))
        .with_expires_at(SystemTime::now() - Duration::from_secs(60));
    store.save(&key, &bogus).await.unwrap();
    // invalid_grant: the request goes without a token, the 401 signs in.
    assert_eq!(whoami(&client).await["subject"], "test-user");
    assert_eq!(sign_ins.load(Ordering::SeqCst), 2);
    let now = store.load(&key).await.unwrap().unwrap();
    assert_ne!(now.access_token, bogus.access_token);
    assert_ne!(now.refresh_token, bogus.refresh_token);
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_server_that_moves_to_another_authorization_server_gets_a_new_client() {
    let (Some(first), Some(second)) = (Oidc::start().await, Oidc::start().await) else {
        return;
    };
    let (first, second) = (Arc::new(first), Arc::new(second));
    // The application trusts `first`, then, on the same address, `second`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/mcp");
    let (app, endpoint) = auth::app(&Config::new(first.issuer(), &url)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let old = tokio::spawn(auth::serve(listener, app, endpoint, async {
        let _ = stopped.await;
    }));

    // The user signs in at whichever authorization server is asked.
    let (open_first, at_first) = user(&first);
    let (open_second, at_second) = user(&second);
    let issuer = first.issuer().to_owned();
    let open = move |url: &str| {
        if url.starts_with(&issuer) {
            open_first(url);
        } else {
            open_second(url);
        }
    };
    let oauth = Arc::new(OAuth::new(&url, native()).with_open(open));
    let client = connect(&url, Era::Modern, &oauth).await;
    assert_eq!(whoami(&client).await["subject"], "test-user");
    assert_eq!(oauth.token_key().await.unwrap().issuer, first.issuer());

    let _ = stop.send(());
    old.await.unwrap().unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (app, endpoint) = auth::app(&Config::new(second.issuer(), &url))
        .await
        .unwrap();
    tokio::spawn(auth::serve(listener, app, endpoint, std::future::pending()));

    // The first server's token is refused; the provider follows the
    // metadata to the second server, registers there and signs in.
    let me = tokio::time::timeout(PATIENCE, whoami(&client))
        .await
        .unwrap();
    assert_eq!(me["subject"], "test-user");
    assert_eq!(at_first.load(Ordering::SeqCst), 1);
    assert_eq!(at_second.load(Ordering::SeqCst), 1);
    assert_eq!(oauth.token_key().await.unwrap().issuer, second.issuer());
    client.close().await.unwrap();
}
