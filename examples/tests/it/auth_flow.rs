//! The client side of `mcp-auth` (`mcp_auth::client::flow`) against a real
//! authorization server (`examples/oidc/as.mjs`): the authorization code
//! flow through the loopback redirect, refresh with rotation, client
//! credentials, and the refusals (forged `state`, wrong `iss`, a user who
//! says no, nobody answering).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mcp_auth::client::Secret;
use mcp_auth::client::flow::{
    self, AuthorizationRequest, CallbackParams, ClientAuthMethod, Credentials, LoopbackRedirect,
    PendingAuthorization, SigningKey,
};
use mcp_auth::client::store::{MemoryTokenStore, TokenKey, TokenStore};
use mcp_auth::{Algorithm, AuthorizationServerMetadata, Error, ProtectedResourceMetadata};
use reqwest::Url;
use serde_json::{Value, json};

use crate::oidc::{Oidc, jwt_parts};

/// The MCP server the tokens are for; the server knows any loopback URL as
/// a resource, and nothing needs to listen there.
const MCP: &str = "http://127.0.0.1:1234/mcp";

/// A bound so a wedged server fails the test instead of hanging it;
/// nothing waits for it to pass.
const PATIENCE: Duration = Duration::from_secs(60);

async fn server_metadata(oidc: &Oidc) -> AuthorizationServerMetadata {
    let v = oidc
        .get_json("/.well-known/openid-configuration")
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// A public client registered by DCR for `redirect_uri`, with refresh
/// tokens.
async fn public_client(oidc: &Oidc, redirect_uri: &str) -> Credentials {
    let registered = oidc
        .register(
            &[redirect_uri],
            &["authorization_code", "refresh_token"],
            "none",
        )
        .await;
    Credentials::public(registered.client_id)
}

/// The query the browser would load at `redirect_uri`.
fn callback_url(redirect_uri: &str, params: &HashMap<String, String>) -> String {
    let mut url = Url::parse(redirect_uri).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// Plays the user: follows `url` through login and consent, then loads the
/// redirect in the "browser", which lands on `redirect`'s listener; what
/// the listener made of it.
async fn sign_in(
    oidc: &Oidc,
    redirect: LoopbackRedirect,
    url: &str,
    pending: &PendingAuthorization,
) -> Result<CallbackParams, Error> {
    let redirect_uri = redirect.redirect_uri().to_owned();
    let browser = async {
        let params = oidc.browse(url, &redirect_uri).await;
        let page = reqwest::get(callback_url(&redirect_uri, &params))
            .await
            .unwrap();
        assert_eq!(page.status(), reqwest::StatusCode::OK);
        let text = page.text().await.unwrap();
        assert!(text.contains("close this page"), "{text}");
    };
    let (got, ()) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(redirect.wait(pending, PATIENCE), browser)
    })
    .await
    .unwrap();
    got
}

/// The code flow for `client` (registered for `redirect_uri`) with `scope`,
/// stopping at the callback: the pending request and the callback's
/// parameters, as the browser would deliver them.
async fn authorize(
    oidc: &Oidc,
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    redirect_uri: &str,
    scope: &str,
) -> (PendingAuthorization, HashMap<String, String>) {
    let request =
        AuthorizationRequest::new(metadata, client, redirect_uri, MCP, Some(scope)).unwrap();
    let params = oidc.browse(&request.url(), redirect_uri).await;
    (request.into_pending(), params)
}

fn seconds_from_now(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs()
}

#[tokio::test]
async fn code_flow_through_the_loopback_redirect() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let client = public_client(&oidc, redirect.redirect_uri()).await;
    // No challenge scope: the resource's scopes_supported.
    let prm =
        ProtectedResourceMetadata::new(MCP, oidc.issuer()).with_scopes(["mcp:read", "mcp:write"]);
    let scope = flow::select_scope(None, Some(&prm), &metadata, false);
    assert_eq!(scope.as_deref(), Some("mcp:read mcp:write"));

    let request = AuthorizationRequest::new(
        &metadata,
        &client,
        redirect.redirect_uri(),
        MCP,
        scope.as_deref(),
    )
    .unwrap();
    let url = request.url();
    let pending = request.into_pending();
    assert_eq!(pending.issuer(), oidc.issuer());
    let callback = sign_in(&oidc, redirect, &url, &pending).await.unwrap();
    assert_eq!(callback.get("iss"), Some(oidc.issuer()));
    let tokens = flow::complete(&pending, &callback).await.unwrap();

    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scopes, ["mcp:read", "mcp:write"]);
    assert!(tokens.refresh_token.is_some());
    let left = seconds_from_now(tokens.expires_at.unwrap());
    assert!((295..=300).contains(&left), "{left}");
    let (header, claims) = jwt_parts(tokens.access_token.expose()).expect("a JWT");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["aud"], MCP, "bound to the resource");
    assert_eq!(claims["iss"], oidc.issuer());
    assert_eq!(claims["client_id"], client.client_id.as_str());
    assert_eq!(claims["scope"], "mcp:read mcp:write");
    assert!(!format!("{tokens:?}").contains(tokens.access_token.expose()));

    // Kept under the server and the issuer.
    let store = MemoryTokenStore::new();
    let key = TokenKey::new(MCP, pending.issuer());
    store.save(&key, &tokens).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), Some(tokens));
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    let redirect_uri = "http://127.0.0.1:53682/callback";
    let client = public_client(&oidc, redirect_uri).await;
    let (pending, params) = authorize(&oidc, &metadata, &client, redirect_uri, "mcp:read").await;
    let first = flow::complete(&pending, &params.into_iter().collect())
        .await
        .unwrap();

    let second = flow::refresh(&metadata, &client, &first, MCP)
        .await
        .unwrap();
    let (old, new) = (
        first.refresh_token.clone().unwrap(),
        second.refresh_token.clone().unwrap(),
    );
    assert_ne!(old, new, "rotated, and the new one kept");
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.scopes, ["mcp:read"]);
    let (_, claims) = jwt_parts(second.access_token.expose()).unwrap();
    assert_eq!(claims["aud"], MCP);

    // The old one is spent: the server refuses it (and revokes the grant).
    let e = flow::refresh(&metadata, &client, &first, MCP)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OAuth { error, .. } if error == "invalid_grant"),
        "{e}"
    );
    let e = flow::refresh(&metadata, &client, &second, MCP)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OAuth { error, .. } if error == "invalid_grant"),
        "{e}"
    );
}

#[tokio::test]
async fn client_credentials_for_confidential_clients() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    for method in [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ] {
        let registered = oidc
            .register(&[], &["client_credentials"], method.name())
            .await;
        let secret = Secret::new(registered.client_secret.unwrap());
        let client = Credentials::confidential(&registered.client_id, secret.clone())
            .with_auth_method(method);
        let tokens = flow::client_credentials(&metadata, &client, MCP, Some("mcp:admin"))
            .await
            .unwrap();
        assert_eq!(tokens.scopes, ["mcp:admin"]);
        assert_eq!(tokens.refresh_token, None);
        let (_, claims) = jwt_parts(tokens.access_token.expose()).unwrap();
        assert_eq!(claims["aud"], MCP, "{method:?}");
        assert_eq!(claims["sub"], registered.client_id.as_str());

        // Chosen from the metadata when not registered: Basic first.
        if method == ClientAuthMethod::ClientSecretBasic {
            let chosen = Credentials::confidential(&registered.client_id, secret);
            assert_eq!(chosen.auth_method(&metadata), Ok(method));
            flow::client_credentials(&metadata, &chosen, MCP, None)
                .await
                .unwrap();
        }

        let wrong = Credentials::confidential(&registered.client_id, Secret::new("wrong"))
            .with_auth_method(method);
        let e = flow::client_credentials(&metadata, &wrong, MCP, Some("mcp:admin"))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::OAuth { error, .. } if error == "invalid_client"),
            "{e}"
        );
    }
}

/// A P-256 key for tests only: PKCS#8 DER, base64, and its public half.
const TEST_EC_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzMj2GJHRHJNvEoNbPk4f9Wa+VMAmPGA9p8ZDW8q/7EWhRANCAATDWhyvAHl070YFK607QvCh1/j2Vi0xl5yV8nfgSPIIQP5OP6xfUy1e85ZRnlOwgezblTVRRsRizjujpvPNoiMj";
const TEST_EC_X: &str = "w1ocrwB5dO9GBSutO0Lwodf49lYtMZeclfJ34EjyCEA";
const TEST_EC_Y: &str = "_k4_rF9TLV7zllGeU7CB7NuVNVFGxGLOO6Om882iIyM";

#[tokio::test]
async fn client_credentials_with_private_key_jwt() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    // Registered with the public half of the key (the driver's
    // registration has no JWKS).
    let registration = json!({
        "client_name": "mcp tests (private_key_jwt)",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": {"keys": [{
            "kty": "EC", "crv": "P-256", "x": TEST_EC_X, "y": TEST_EC_Y,
            "kid": "test-es256", "use": "sig", "alg": "ES256"
        }]},
    });
    let response = reqwest::Client::new()
        .post(format!("{}/reg", oidc.issuer()))
        .header("content-type", "application/json")
        .body(registration.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let registered: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let client_id = registered["client_id"].as_str().unwrap();

    let der = B64.decode(TEST_EC_KEY).unwrap();
    let key = SigningKey::from_der(Algorithm::ES256, &der)
        .unwrap()
        .with_kid("test-es256");
    let client = Credentials::private_key(client_id, key);
    assert_eq!(
        client.auth_method(&metadata),
        Ok(ClientAuthMethod::PrivateKeyJwt)
    );
    let tokens = flow::client_credentials(&metadata, &client, MCP, Some("mcp:read"))
        .await
        .unwrap();
    let (_, claims) = jwt_parts(tokens.access_token.expose()).unwrap();
    assert_eq!(claims["aud"], MCP);
    assert_eq!(claims["sub"], client_id);
    assert_eq!(claims["scope"], "mcp:read");

    // Another key with the same kid is not the client.
    let other = Credentials::private_key(
        client_id,
        SigningKey::from_der(Algorithm::ES256, &other_key())
            .unwrap()
            .with_kid("test-es256"),
    );
    let e = flow::client_credentials(&metadata, &other, MCP, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::OAuth { error, .. } if error == "invalid_client"),
        "{e}"
    );
}

/// Another P-256 key, for tests only.
fn other_key() -> Vec<u8> {
    B64.decode("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKdP/Vk4u7neQa16c85sDj1zTifY03a7G0mA89Eo0+YShRANCAAS6yR+PYdpbrsSPdX5Iky+KZYy0P+YfnqfF+X7N0JF4qK32QNv+IS+3Q7AOd4lu5xUihP8G3p3QESoAjsCM4IwX").unwrap()
}

#[tokio::test]
async fn a_forged_state_is_refused_before_the_code_is_sent() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    let redirect_uri = "http://127.0.0.1:53682/callback";
    let client = public_client(&oidc, redirect_uri).await;
    let (pending, params) = authorize(&oidc, &metadata, &client, redirect_uri, "mcp:read").await;
    let mut tampered: Vec<_> = ["", "forged", &format!("{}x", pending.state().as_str())]
        .into_iter()
        .map(|forged| {
            let mut tampered = params.clone();
            tampered.insert("state".into(), forged.into());
            tampered
        })
        .collect();
    let mut stateless = params.clone();
    stateless.remove("state");
    tampered.push(stateless);
    refused_then_still_good(&pending, tampered, params).await;
}

/// Each of `tampered` is refused before the code is sent, so the genuine
/// `params` still complete afterwards.
async fn refused_then_still_good(
    pending: &PendingAuthorization,
    tampered: Vec<HashMap<String, String>>,
    params: HashMap<String, String>,
) {
    for callback in tampered {
        let e = flow::complete(pending, &callback.into_iter().collect())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidResponse(_)), "{e}");
    }
    // The code was never sent: it is still good.
    flow::complete(pending, &params.into_iter().collect())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported,
        Some(true)
    );
    let redirect_uri = "http://127.0.0.1:53682/callback";
    let client = public_client(&oidc, redirect_uri).await;
    let (pending, params) = authorize(&oidc, &metadata, &client, redirect_uri, "mcp:read").await;
    let mut other = params.clone();
    other.insert("iss".into(), "http://127.0.0.1:9/elsewhere".into());
    let mut slash = params.clone();
    slash.insert("iss".into(), format!("{}/", oidc.issuer()));
    let mut missing = params.clone();
    missing.remove("iss");
    refused_then_still_good(&pending, vec![other, slash, missing], params).await;
}

#[tokio::test]
async fn a_mixed_up_issuer_is_refused_at_the_redirect() {
    // The metadata names another issuer than the server that answers (a
    // mix-up): the callback's iss is the real one, and does not match.
    let elsewhere = "http://127.0.0.1:9/elsewhere";
    let Some(oidc) = Oidc::start_with(&[("AS_ISSUER_OVERRIDE", elsewhere)]).await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    assert_eq!(metadata.issuer, elsewhere);
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let client = public_client(&oidc, redirect.redirect_uri()).await;
    let request = AuthorizationRequest::new(
        &metadata,
        &client,
        redirect.redirect_uri(),
        MCP,
        Some("mcp:read"),
    )
    .unwrap();
    let url = request.url();
    let pending = request.into_pending();
    let e = sign_in(&oidc, redirect, &url, &pending).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidResponse(why) if why.contains(oidc.issuer())),
        "{e}"
    );
}

#[tokio::test]
async fn access_denied_is_a_clear_error() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let metadata = server_metadata(&oidc).await;
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let client = public_client(&oidc, redirect.redirect_uri()).await;
    let request = AuthorizationRequest::new(
        &metadata,
        &client,
        redirect.redirect_uri(),
        MCP,
        Some("mcp:read"),
    )
    .unwrap()
    .with_param("login_hint", "deny");
    let url = request.url();
    let pending = request.into_pending();
    let e = sign_in(&oidc, redirect, &url, &pending).await.unwrap_err();
    assert_eq!(
        e,
        Error::OAuth {
            error: "access_denied".into(),
            description: Some("the test user said no".into()),
        }
    );
    assert!(e.to_string().contains("access_denied"), "{e}");
}

#[tokio::test]
async fn the_loopback_listener_times_out() {
    // No authorization server needed: nobody ever answers.
    let metadata: AuthorizationServerMetadata = serde_json::from_value(serde_json::json!({
        "issuer": "https://as.example.com",
        "authorization_endpoint": "https://as.example.com/authorize",
        "token_endpoint": "https://as.example.com/token",
        "code_challenge_methods_supported": ["S256"],
    }))
    .unwrap();
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let pending = AuthorizationRequest::new(
        &metadata,
        &Credentials::public("app"),
        redirect.redirect_uri(),
        MCP,
        None,
    )
    .unwrap()
    .into_pending();
    let e = redirect
        .wait(&pending, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e}");
}
