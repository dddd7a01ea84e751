//! API keys beside JWTs and alone, Protected Resource Metadata and
//! discovery, CORS preflights, and a verifier that loads its keys late.

use super::*;

#[tokio::test]
async fn api_keys_beside_jwts() {
    let keys = Arc::new(ApiKeys::new());
    let key = "test-only-agent-key-9f2c4e1a7b3d5f60";
    keys.insert(
        key,
        Identity::new("build-agent", ["mcp:read".to_owned(), "mcp:ci".to_owned()]),
    );
    let p = start(Setup {
        api_keys: Some(Arc::clone(&keys)),
        // Verify every request, so that a removed key stops at once.
        cache_ttl: Some(Duration::ZERO),
        ..Setup::default()
    })
    .await;
    p.accepts(key).await;
    let whoami = send(p.modern(
        Some(key),
        "tools/call",
        Some("whoami"),
        json!({"name": "whoami", "arguments": {}}),
    ))
    .await;
    assert_eq!(whoami.status, 200, "{whoami:?}");
    let identity: Value = serde_json::from_str(
        whoami.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        identity,
        json!({"subject": "build-agent", "scopes": ["mcp:ci", "mcp:read"]})
    );
    p.still_serves().await;

    assert!(keys.remove(key));
    // FirstOf answers with its last verifier's refusal (the JWT one).
    p.invalid_token(key, "").await;
    p.invalid_token("test-only-never-issued", "").await;
    // Keys are not JWTs: checking them fetched no keys.
    assert_eq!(p.auth.jwks_fetches(), 1);
    p.still_serves().await;
}

/// API keys are not cached (checking them costs no more than the cache):
/// a removed key is refused at once.
#[tokio::test]
async fn a_removed_api_key_is_refused_at_once() {
    let keys = Arc::new(ApiKeys::new());
    let key = "test-only-agent-key-0c1d2e3f4a5b6c7d";
    keys.insert(key, Identity::new("build-agent", ["mcp:read".to_owned()]));
    // The default cache (60 s), as documented on `with_cache_ttl`.
    let p = start(Setup {
        api_keys: Some(Arc::clone(&keys)),
        ..Setup::default()
    })
    .await;
    p.accepts(key).await;
    assert!(keys.remove(key));
    p.invalid_token(key, "not a JWT").await;
}

#[tokio::test]
async fn protected_resource_metadata_is_public_and_cors_readable() {
    let p = start(Setup::default()).await;
    assert_eq!(
        p.well_known,
        [
            "/.well-known/oauth-protected-resource/mcp".to_owned(),
            "/.well-known/oauth-protected-resource".to_owned()
        ]
    );
    for path in &p.well_known {
        let response = p
            .http
            .get(format!("{}{path}", p.origin))
            .header("origin", "https://app.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*", "{path}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        let document: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(
            document,
            json!({
                "resource": p.url,
                "authorization_servers": [p.auth.issuer],
                "scopes_supported": ["mcp:read", "mcp:admin"],
                "bearer_methods_supported": ["header"],
            }),
            "{path}"
        );
        // Preflights are answered too, without a token.
        let response = p
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", p.origin))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
    }
}

#[tokio::test]
async fn discovery_refuses_metadata_naming_another_issuer() {
    let auth = AuthServer::start(vec![SigningKey::rsa().jwk()]).await;
    *auth.claimed_issuer.lock().unwrap() = "http://127.0.0.1:9999".to_owned();
    let config = JwtConfig::new(auth.issuer.clone(), "http://127.0.0.1:1/mcp");
    let Err(mcp_auth::Error::Config(why)) = JwtVerifier::discover(config).await else {
        panic!("discovery should refuse the metadata");
    };
    assert!(why.contains("names issuer http://127.0.0.1:9999"), "{why}");
    // The keys of a mismatched issuer are never fetched.
    assert_eq!((auth.metadata_fetches(), auth.jwks_fetches()), (1, 0));

    // Nor can an issuer nothing answers for be used.
    let config = JwtConfig::new("http://127.0.0.1:9", "http://127.0.0.1:1/mcp");
    let Err(mcp_auth::Error::Unavailable(_)) = JwtVerifier::discover(config).await else {
        panic!("discovery of a dead issuer should fail as unavailable");
    };
}

/// Browsers send CORS preflights without credentials, and can read a 401
/// only when it carries CORS headers; with CORS on at the endpoint, both
/// should work behind the auth layer.
#[tokio::test]
async fn cors_preflights_pass_the_auth_layer() {
    let p = start(Setup {
        cors: true,
        ..Setup::default()
    })
    .await;
    let response = p
        .http
        .request(reqwest::Method::OPTIONS, &p.url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .cloned();
    assert!(status.is_success(), "{status}");
    assert_eq!(allowed.unwrap(), "https://app.example");
    let answer = p
        .http
        .post(&p.url)
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let exposed = answer.headers().get("access-control-expose-headers");
    assert!(
        exposed.is_some_and(|v| v
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("www-authenticate")),
        "{:?}",
        answer.headers()
    );
}

/// A server that takes API keys only: its metadata names no authorization
/// server, a key serves a real client in both eras, and an OAuth client
/// is told there is nowhere to get a token.
#[tokio::test]
async fn api_keys_only_without_an_authorization_server() {
    let keys = Arc::new(ApiKeys::new());
    let key = "test-only-agent-key-5e6f7a8b9c0d1e2f";
    keys.insert(key, Identity::new("build-agent", ["mcp:read".to_owned()]));
    let listener = bind().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let metadata = ProtectedResourceMetadata::without_authorization_servers(url.clone());
    let endpoint = StreamableHttp::new(Server::new(router()), Default::default());
    let [suffixed, root] = metadata.well_known_paths();
    let app = axum::Router::new()
        // `layer` on the endpoint: no tower trait to import.
        .route_service("/mcp", endpoint.layer(AuthLayer::new(keys, &metadata)))
        .route_service(&suffixed, metadata.service())
        .route_service(&root, metadata.service());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let document = reqwest::get(metadata.url()).await.unwrap();
    let document: Value = serde_json::from_slice(&document.bytes().await.unwrap()).unwrap();
    assert_eq!(
        document,
        json!({"resource": url, "bearer_methods_supported": ["header"]})
    );
    for era in [Era::Modern, Era::Legacy] {
        let http = HttpOptions::default()
            .with_header("authorization", &format!("Bearer {key}"))
            .unwrap();
        let client = Client::connect_http(&url, options(era), http, Host::default())
            .await
            .unwrap();
        let r = client.call_tool("whoami", ()).await.unwrap();
        assert!(r.text().unwrap().contains("build-agent"), "{r:?}");
    }
    // Without a key: a typed 401 whose challenge points at the metadata.
    let Err(mcp_client::Error::Http {
        status,
        www_authenticate,
        ..
    }) = Client::connect_http(
        &url,
        options(Era::Modern),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    else {
        panic!("connecting without a key should fail")
    };
    assert_eq!(status, 401);
    assert!(
        www_authenticate[0].contains(&format!("resource_metadata=\"{}\"", metadata.url())),
        "{www_authenticate:?}"
    );
    // An OAuth client finds nowhere to get a token, and says so.
    let oauth = mcp_auth::client::OAuth::new(
        &url,
        mcp_auth::client::ClientConfig::new("api-key test", ["http://127.0.0.1/callback"]),
    );
    let http = HttpOptions::default().with_auth(Arc::new(oauth));
    let Err(e) = Client::connect_http(&url, options(Era::Modern), http, Host::default()).await
    else {
        panic!("OAuth has no authorization server to use")
    };
    assert!(
        e.to_string().contains("lists no authorization server"),
        "{e}"
    );
}

/// A verifier that loads its keys when first needed lets the server start
/// while the authorization server is down; its readiness fails until the
/// keys are there, tokens meanwhile get 503, and both recover by
/// themselves once the JWKS answers.
#[tokio::test]
async fn a_deferred_verifier_is_not_ready_until_its_keys_load() {
    let key = SigningKey::rsa();
    let auth = AuthServer::start(vec![key.jwk()]).await;
    auth.jwks_down.store(true, Ordering::SeqCst);
    let listener = bind().await;
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let mut config = JwtConfig::new(auth.issuer.clone(), url.clone());
    config.refresh_cooldown = Duration::ZERO;
    let verifier = JwtVerifier::deferred(config).unwrap();
    assert_eq!(auth.metadata_fetches() + auth.jwks_fetches(), 0);
    let metadata = ProtectedResourceMetadata::new(url.clone(), auth.issuer.clone());
    let layer = AuthLayer::new(Arc::new(verifier), &metadata);
    let endpoint = StreamableHttp::new(Server::new(router()), Default::default());
    let health = endpoint.health().with_check("auth", {
        let layer = layer.clone();
        move || {
            let layer = layer.clone();
            async move { layer.ready().await }
        }
    });
    let app = axum::Router::new()
        .route_service("/mcp", endpoint.layer(layer))
        .route_service("/readyz", health.readiness());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let ready = url.replace("/mcp", "/readyz");

    let answer = reqwest::get(&ready).await.unwrap();
    assert_eq!(answer.status(), 503);
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["failing"], json!(["auth"]), "{body}");
    let p = Protected {
        url: url.clone(),
        origin: url.replace("/mcp", ""),
        prm: metadata.url(),
        well_known: metadata.well_known_paths(),
        auth: Arc::clone(&auth),
        http: reqwest::Client::new(),
    };
    let token = key.sign(&p.claims());
    let refused = send(p.echo(Some(&token))).await;
    assert_eq!(refused.status, 503, "{refused:?}");

    auth.jwks_down.store(false, Ordering::SeqCst);
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 200);
    p.accepts(&token).await;
}
