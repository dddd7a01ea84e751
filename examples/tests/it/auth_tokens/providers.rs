//! Tokens in the shapes two platforms issue, minted here: Google-signed
//! ID tokens (Cloud Run's service-to-service authentication) and Amazon
//! Cognito access tokens (no `aud`; the app client in `client_id`).

use super::*;

/// The service account allowed to call the Cloud Run service.
pub(super) const CALLER: &str = "caller@my-project.iam.gserviceaccount.com";
pub(super) const REGION: &str = "eu-west-1";
pub(super) const POOL: &str = "eu-west-1_AbCdEf123";
/// The Cognito app client made for this MCP server.
pub(super) const APP_CLIENT: &str = "3n4b5urk1ft4fl3mg5e62d9ado";

/// Refused as an invalid token, saying `says`.
async fn refused(p: &Protected, token: &str, says: &str) {
    let answer = send(p.echo(Some(token))).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.body["error"], "invalid_token", "{answer:?}");
    let description = answer.body["error_description"].as_str().unwrap();
    assert!(description.contains(says), "{says:?} not in {answer:?}");
    assert!(answer.challenge.unwrap().contains("invalid_token"));
}

/// `claims` with `changes` (`null` removes one).
fn with(claims: &Value, changes: &Value) -> Value {
    let mut claims = claims.clone();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

#[tokio::test]
async fn google_signed_id_tokens_for_the_service_url_from_an_allowed_account() {
    let p = start(Setup {
        provider: Some(Provider::Google),
        // ID tokens carry no scopes: who may call is the account.
        scopes: RequiredScopes::new(),
        ..Setup::default()
    })
    .await;
    let now = now();
    // As the metadata server mints them for a service account.
    let id_token = json!({
        "iss": "https://accounts.google.com", "aud": p.url,
        "azp": "109876543210987654321", "sub": "109876543210987654321",
        "email": CALLER, "email_verified": true,
        "iat": now, "exp": now + 3600,
    });
    let rsa = SigningKey::rsa();
    p.accepts(&rsa.sign(&id_token)).await;
    let whoami = send(p.modern(
        Some(&rsa.sign(&id_token)),
        "tools/call",
        Some("whoami"),
        json!({"name": "whoami", "arguments": {}}),
    ))
    .await;
    let text = whoami.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("109876543210987654321"), "{text}");
    // Google writes the issuer both ways.
    p.accepts(&rsa.sign(&with(&id_token, &json!({"iss": "accounts.google.com"}))))
        .await;
    // A token for another service, from another account, by another
    // issuer, or expired: refused, saying why.
    let other_service = with(
        &id_token,
        &json!({"aud": "https://other-abc123-uc.a.run.app"}),
    );
    refused(&p, &rsa.sign(&other_service), "another audience").await;
    let stranger = with(&id_token, &json!({"email": "someone@gmail.com"}));
    refused(&p, &rsa.sign(&stranger), "claim email").await;
    refused(
        &p,
        &rsa.sign(&with(&id_token, &json!({"email": null}))),
        "missing claim email",
    )
    .await;
    let elsewhere = with(&id_token, &json!({"iss": "https://accounts.example.com"}));
    refused(&p, &rsa.sign(&elsewhere), "another authorization server").await;
    let expired = with(&id_token, &json!({"exp": now - 600, "iat": now - 4200}));
    refused(&p, &rsa.sign(&expired), "expired").await;
    // Only RS256, as Google signs.
    refused(&p, &SigningKey::ec().sign(&id_token), "algorithm").await;
    p.accepts(&rsa.sign(&id_token)).await;
}

#[tokio::test]
async fn cognito_access_tokens_are_bound_by_their_app_client() {
    let p = start(Setup {
        provider: Some(Provider::Cognito),
        scopes: RequiredScopes::new().always(["https://mcp.example.com/mcp/mcp:read"]),
        ..Setup::default()
    })
    .await;
    let now = now();
    // As Cognito issues them: no `aud`, no `typ`.
    let access = json!({
        "iss": format!("https://cognito-idp.{REGION}.amazonaws.com/{POOL}"),
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "client_id": APP_CLIENT,
        "token_use": "access", "scope": "https://mcp.example.com/mcp/mcp:read",
        "auth_time": now, "iat": now, "exp": now + 3600, "jti": "j1",
        "username": "ada", "version": 2, "origin_jti": "o1", "event_id": "e1",
    });
    let rsa = SigningKey::rsa();
    p.accepts(&rsa.sign(&access)).await;
    // The pool's ID token (`aud` is the client) is no access token.
    let id_token = with(
        &access,
        &json!({"token_use": "id", "aud": APP_CLIENT, "client_id": null, "scope": null}),
    );
    refused(&p, &rsa.sign(&id_token), "client_id").await;
    let id_token = with(&access, &json!({"token_use": "id"}));
    refused(&p, &rsa.sign(&id_token), "claim token_use").await;
    // Another app client of the pool, or none.
    let other = with(&access, &json!({"client_id": "anotherclient"}));
    refused(&p, &rsa.sign(&other), "another audience (client_id)").await;
    refused(
        &p,
        &rsa.sign(&with(&access, &json!({"client_id": null}))),
        "missing claim client_id",
    )
    .await;
    // Another pool.
    let pool = with(
        &access,
        &json!({"iss": format!("https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Other")}),
    );
    refused(&p, &rsa.sign(&pool), "another authorization server").await;
    // Without the resource server's scope: 403.
    let unscoped = with(&access, &json!({"scope": "openid"}));
    let answer = send(p.echo(Some(&rsa.sign(&unscoped)))).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    p.accepts(&rsa.sign(&access)).await;
}
