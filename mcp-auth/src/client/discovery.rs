//! From an MCP server's URL (and its 401 challenge) to its authorization
//! server's validated metadata: RFC 9728 Protected Resource Metadata, then
//! RFC 8414 / OpenID Connect Discovery, as the MCP authorization spec
//! orders them; for servers that publish no Protected Resource Metadata,
//! the 2025-03-26 revision's discovery.

use url::Url;

use super::challenge::BearerChallenge;
use crate::error::{Error, Reason};
use crate::fetch::{FetchPolicy, SafeFetcher, is_loopback};
use crate::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};

/// What [`discover`] found, every part checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Discovery {
    /// The resource to name in authorization and token requests (RFC
    /// 8707): the metadata's `resource`, which is the MCP server's URL or,
    /// as some servers publish, a parent of it on the same origin.
    pub resource: String,
    /// Where the Protected Resource Metadata was found; `None` for a
    /// server that publishes none (the 2025-03-26 revision's discovery).
    pub resource_metadata_url: Option<String>,
    /// The MCP server's Protected Resource Metadata; for a server that
    /// publishes none, what the 2025-03-26 revision implies: the server's
    /// URL as the resource, its origin as the authorization server.
    pub resource_metadata: ProtectedResourceMetadata,
    /// The authorization server chosen: the first of the metadata's
    /// `authorization_servers`, and exactly the metadata's `issuer`. Record
    /// it with each authorization request (RFC 9207), and keep client
    /// credentials under it.
    pub issuer: String,
    /// Where the authorization server's metadata was found; `None` when
    /// there is none and the 2025-03-26 default endpoints are used.
    pub authorization_server_metadata_url: Option<String>,
    /// The authorization server's metadata: `issuer` is [`Discovery::issuer`],
    /// `code_challenge_methods_supported` has `S256`, `token_endpoint` is
    /// set, and every endpoint is https (or loopback http where allowed).
    pub authorization_server: AuthorizationServerMetadata,
    /// The scopes to ask for, by the spec's scope selection strategy: the
    /// challenge's `scope`, else the metadata's `scopes_supported`, else
    /// none (omit the parameter).
    pub scope: Option<String>,
}

/// Discovers the authorization server of the MCP server at `server_url`,
/// with a [`SafeFetcher`] on the default [`FetchPolicy`]. `challenge` is
/// the Bearer challenge of the server's 401, if it sent one.
///
/// See [`discover_with`] for the steps and checks.
///
/// # Example
///
/// From a refused MCP request to a client ID at the server's authorization
/// server:
///
/// ```no_run
/// use mcp_auth::client::{BearerChallenge, ClientConfig, discover, register};
///
/// # async fn run(url: &str, headers: &http::HeaderMap) -> Result<(), mcp_auth::Error> {
/// // `headers` are those of the server's 401.
/// let challenge = BearerChallenge::from_headers(headers);
/// let found = discover(url, challenge.as_ref()).await?;
/// let config = ClientConfig::new("My MCP client", ["http://127.0.0.1:53682/callback"]);
/// let registration = register(&config, &found.authorization_server).await?;
/// // Keep `registration.credentials` under `found.issuer`, then authorize
/// // with PKCE S256 at `found.authorization_server.authorization_endpoint`
/// // for `found.resource` and `found.scope`.
/// # let _ = registration;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`discover_with`].
pub async fn discover(
    server_url: &str,
    challenge: Option<&BearerChallenge>,
) -> Result<Discovery, Error> {
    let fetch = SafeFetcher::shared()?;
    discover_with(&fetch, server_url, challenge).await
}

/// Discovers the authorization server of the MCP server at `server_url`
/// through `fetch`.
///
/// 1. The Protected Resource Metadata: from the challenge's
///    `resource_metadata` when there is one (and only from there), else
///    from the path-suffixed well-known URL
///    (`/.well-known/oauth-protected-resource/<path>`), else the root one.
///    The challenge's URL must be on the server's origin: the spec does
///    not require that, but a server has no reason to send its clients
///    elsewhere, and an attacker has. Its `resource` must be the server's
///    URL, compared as canonical URLs (scheme and host in any case,
///    default port or none, a trailing slash or none), or a parent path of
///    it on the same origin; it must list an authorization server.
///    When both well-known URLs answer 4xx (and the challenge named none),
///    the server follows the 2025-03-26 revision: see step 3. A redirect
///    is not followed and not taken for "none here" either.
/// 2. The first authorization server's metadata, from RFC 8414's
///    well-known URL (the path inserted), then OpenID Connect's inserted
///    and appended forms; a 4xx or a redirect moves on to the next, a 5xx
///    or a network failure stops. Its `issuer` must equal the issuer
///    exactly; it must list `S256` in `code_challenge_methods_supported`;
///    it must have a `token_endpoint`; every endpoint it names must pass
///    the fetch policy.
///
/// 3. The 2025-03-26 revision's discovery, for a server without Protected
///    Resource Metadata: the authorization server is the server's origin
///    (the path discarded) and the resource the server's URL; its
///    metadata is looked up as in step 2, and when there is none (every
///    URL answering 4xx, none redirecting), the default endpoints `/authorize`, `/token` and
///    `/register` at that origin are used, with PKCE `S256`.
///
/// When the MCP server is not itself on loopback, nothing it points at may
/// be, whatever the policy allows.
///
/// # Errors
/// [`Error::Refused`] when a check fails or the policy refuses a URL;
/// [`Error::InvalidResponse`] when there is no metadata or it is malformed;
/// [`Error::Unavailable`] when a server cannot be reached or fails.
pub async fn discover_with(
    fetch: &SafeFetcher,
    server_url: &str,
    challenge: Option<&BearerChallenge>,
) -> Result<Discovery, Error> {
    let server = server(fetch.policy(), server_url)?;
    let narrowed;
    let fetch = if is_loopback(&server) {
        fetch
    } else {
        narrowed = fetch.without_loopback()?;
        &narrowed
    };

    // 1. Protected Resource Metadata.
    let named = challenge.and_then(|c| c.resource_metadata.as_deref());
    let candidates = match named {
        Some(url) => {
            let parsed = fetch.policy().checked(url)?;
            if parsed.origin() != server.origin() {
                return Err(Error::Refused(format!(
                    "the challenge's resource_metadata {parsed} is not on the server's origin {}",
                    server.origin().ascii_serialization()
                ).into()));
            }
            vec![parsed.to_string()]
        }
        None => well_known_resource_urls(&server),
    };
    let mut misses = Misses::default();
    let found =
        first_document::<ProtectedResourceMetadata>(fetch, &candidates, &mut misses).await?;
    let Some((resource_metadata_url, resource_metadata)) = found else {
        if named.is_some() || misses.redirected {
            return Err(misses.error("protected resource"));
        }
        tracing::debug!(target: "mcp_auth", %server, "no protected resource metadata; discovering as in 2025-03-26");
        return legacy_discovery(fetch, &server, challenge).await;
    };
    let resource = &resource_metadata.resource;
    if !covers(resource, &server) {
        return Err(Error::Refused(
            format!(
                "the protected resource metadata at {resource_metadata_url} is for {resource:?}, \
             not for {server}"
            )
            .into(),
        ));
    }
    let Some(issuer) = resource_metadata.authorization_servers.first().cloned() else {
        return Err(Error::InvalidResponse(format!(
            "the protected resource metadata at {resource_metadata_url} lists no authorization server"
        ).into()));
    };

    // 2. Authorization server metadata.
    let issuer_url = fetch.policy().checked(&issuer)?;
    if issuer_url.query().is_some() {
        return Err(Error::InvalidResponse(
            format!("the issuer {issuer} has a query, which RFC 8414 forbids").into(),
        ));
    }
    let candidates = AuthorizationServerMetadata::candidate_urls(&issuer);
    let mut misses = Misses::default();
    let found =
        first_document::<AuthorizationServerMetadata>(fetch, &candidates, &mut misses).await?;
    let Some((authorization_server_metadata_url, authorization_server)) = found else {
        return Err(misses.error("authorization server"));
    };
    check_authorization_server(
        fetch.policy(),
        &issuer,
        &authorization_server_metadata_url,
        &authorization_server,
    )?;

    Ok(Discovery {
        resource: resource.clone(),
        resource_metadata_url: Some(resource_metadata_url),
        issuer,
        authorization_server_metadata_url: Some(authorization_server_metadata_url),
        authorization_server,
        scope: scope(challenge, &resource_metadata),
        resource_metadata,
    })
}

/// The challenge's scope, else the metadata's `scopes_supported`.
fn scope(
    challenge: Option<&BearerChallenge>,
    resource_metadata: &ProtectedResourceMetadata,
) -> Option<String> {
    challenge
        .and_then(|c| c.scope.clone())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            let supported = &resource_metadata.scopes_supported;
            (!supported.is_empty()).then(|| supported.join(" "))
        })
}

/// Step 3 of [`discover_with`]: the 2025-03-26 revision's discovery. The
/// authorization server is the MCP server's origin ("discarding any
/// existing path component"), its metadata at RFC 8414's well-known URL
/// there, else the default endpoints.
async fn legacy_discovery(
    fetch: &SafeFetcher,
    server: &Url,
    challenge: Option<&BearerChallenge>,
) -> Result<Discovery, Error> {
    let issuer = server.origin().ascii_serialization();
    let candidates = AuthorizationServerMetadata::candidate_urls(&issuer);
    let mut misses = Misses::default();
    let found =
        first_document::<AuthorizationServerMetadata>(fetch, &candidates, &mut misses).await?;
    let (metadata_url, authorization_server) = match found {
        Some((url, metadata)) => (Some(url), metadata),
        None if misses.redirected => return Err(misses.error("authorization server")),
        None => (None, default_endpoints(&issuer)),
    };
    let at = metadata_url.as_deref().unwrap_or("the default endpoints");
    check_authorization_server(fetch.policy(), &issuer, at, &authorization_server)?;
    let resource_metadata = ProtectedResourceMetadata::new(server.as_str(), &issuer);
    Ok(Discovery {
        resource: server.to_string(),
        resource_metadata_url: None,
        issuer,
        authorization_server_metadata_url: metadata_url,
        authorization_server,
        scope: scope(challenge, &resource_metadata),
        resource_metadata,
    })
}

/// The 2025-03-26 revision's endpoints for an authorization server without
/// metadata: `/authorize`, `/token` and `/register` at `issuer` (an
/// origin). That revision requires PKCE of every client, so `S256` is
/// assumed.
fn default_endpoints(issuer: &str) -> AuthorizationServerMetadata {
    AuthorizationServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: Some(format!("{issuer}/authorize")),
        token_endpoint: Some(format!("{issuer}/token")),
        jwks_uri: None,
        registration_endpoint: Some(format!("{issuer}/register")),
        introspection_endpoint: None,
        revocation_endpoint: None,
        scopes_supported: Vec::new(),
        code_challenge_methods_supported: vec!["S256".to_owned()],
        grant_types_supported: Vec::new(),
        token_endpoint_auth_methods_supported: Vec::new(),
        authorization_response_iss_parameter_supported: None,
        client_id_metadata_document_supported: None,
        other: mcp_core::JsonObject::new(),
    }
}

/// The server's URL, parsed and checked against the policy, without a
/// fragment (never sent, and no part of a resource identifier).
fn server(policy: &FetchPolicy, url: &str) -> Result<Url, Error> {
    let mut parsed = Url::parse(url)
        .map_err(|e| Error::Config(Reason::caused_by(format!("the server URL {url:?}: {e}"), e)))?;
    parsed.set_fragment(None);
    policy.checked(parsed.as_str())
}

/// RFC 9728 §3.1: the well-known segment between host and path, then the
/// root form (alone when the path is empty). The query is dropped.
fn well_known_resource_urls(server: &Url) -> Vec<String> {
    let mut root = server.clone();
    root.set_query(None);
    root.set_path("/.well-known/oauth-protected-resource");
    let path = server.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if !path.is_empty() {
        let mut suffixed = root.clone();
        suffixed.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        urls.push(suffixed.to_string());
    }
    urls.push(root.to_string());
    urls
}

/// Whether the resource identifier `resource` names `server`: the same
/// canonical URL, or a parent path of it on the same origin.
fn covers(resource: &str, server: &Url) -> bool {
    let Ok(resource) = Url::parse(resource) else {
        return false;
    };
    // `origin()` lowercases scheme and host and drops default ports.
    if resource.fragment().is_some() || resource.origin() != server.origin() {
        return false;
    }
    let r = resource.path().trim_end_matches('/');
    let s = server.path().trim_end_matches('/');
    match resource.query() {
        // A query narrows: only the same one matches.
        Some(query) => r == s && server.query() == Some(query),
        None => r == s || s.strip_prefix(r).is_some_and(|rest| rest.starts_with('/')),
    }
}

/// The URLs a [`first_document`] search found nothing at.
#[derive(Default)]
struct Misses {
    /// What each answered.
    notes: Vec<String>,
    /// Whether one answered with a redirect, which is not followed.
    redirected: bool,
}

impl Misses {
    /// No `what` metadata anywhere tried.
    fn error(&self, what: &str) -> Error {
        Error::InvalidResponse(format!("no {what} metadata ({})", self.notes.join("; ")).into())
    }
}

/// The first of `urls` holding a document, or `None` when none does: a 4xx
/// or a redirect means "not here" (noted in `misses`), anything else (a
/// refusal, a 5xx, a network failure, a document that does not parse) ends
/// the search.
async fn first_document<T: serde::de::DeserializeOwned>(
    fetch: &SafeFetcher,
    urls: &[String],
    misses: &mut Misses,
) -> Result<Option<(String, T)>, Error> {
    for url in urls {
        match fetch.get(url).await {
            Ok(answer) if answer.status.is_client_error() => {
                misses.notes.push(format!("{url}: HTTP {}", answer.status));
            }
            Ok(answer) if answer.status.is_redirection() => {
                misses.notes.push(answer.redirect(url).to_string());
                misses.redirected = true;
            }
            Ok(answer) => return Ok(Some((url.clone(), answer.expect_json(url)?))),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn check_authorization_server(
    policy: &FetchPolicy,
    issuer: &str,
    url: &str,
    metadata: &AuthorizationServerMetadata,
) -> Result<(), Error> {
    // RFC 8414 §3.3: identical, no normalization; else a mix-up.
    if metadata.issuer != issuer {
        return Err(Error::Refused(
            format!(
                "the metadata at {url} names issuer {:?}, not {issuer:?}",
                metadata.issuer
            )
            .into(),
        ));
    }
    // PKCE is how the code is bound to this client; without S256 the spec
    // says to stop.
    let methods = &metadata.code_challenge_methods_supported;
    if !methods.iter().any(|m| m == "S256") {
        let has = if methods.is_empty() {
            "does not list code_challenge_methods_supported".to_owned()
        } else {
            format!("lists only {methods:?} in code_challenge_methods_supported")
        };
        return Err(Error::Refused(
            format!("the authorization server {issuer} {has}: it must support PKCE with S256")
                .into(),
        ));
    }
    if metadata.token_endpoint.is_none() {
        return Err(Error::InvalidResponse(
            format!("the metadata at {url} has no token_endpoint").into(),
        ));
    }
    let endpoints = [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("registration_endpoint", &metadata.registration_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
        ("introspection_endpoint", &metadata.introspection_endpoint),
        ("revocation_endpoint", &metadata.revocation_endpoint),
    ];
    for (name, endpoint) in endpoints {
        if let Some(endpoint) = endpoint {
            policy.check(endpoint).map_err(|e| match e {
                Error::Refused(why) => Error::Refused(format!("{name} of {issuer}: {why}").into()),
                other => other,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn well_known_resource_locations() {
        assert_eq!(
            well_known_resource_urls(&url("https://example.com/public/mcp?x=1")),
            [
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            well_known_resource_urls(&url("http://127.0.0.1:8080/mcp/")),
            [
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            well_known_resource_urls(&url("https://example.com")),
            ["https://example.com/.well-known/oauth-protected-resource"]
        );
    }

    #[test]
    fn resource_matching() {
        let server = url("https://mcp.example.com/mcp");
        for ok in [
            "https://mcp.example.com/mcp",
            "HTTPS://MCP.Example.com:443/mcp",
            "https://mcp.example.com/mcp/",
            "https://mcp.example.com",
            "https://mcp.example.com/",
        ] {
            assert!(covers(ok, &server), "{ok}");
        }
        for bad in [
            "https://mcp.example.com/mcp#f",
            "https://mcp.example.com/mc",
            "https://mcp.example.com/mcp/sub",
            "https://mcp.example.com/other",
            "https://mcp.example.com:8443/mcp",
            "http://mcp.example.com/mcp",
            "https://evil.example.com/mcp",
            "https://mcp.example.com.evil/mcp",
            "https://mcp.example.com/mcp?tenant=2",
            "mcp.example.com/mcp",
            "",
        ] {
            assert!(!covers(bad, &server), "{bad}");
        }
        let tenant = url("https://h/mcp?tenant=1");
        assert!(covers("https://h/mcp", &tenant));
        assert!(covers("https://h/mcp?tenant=1", &tenant));
        assert!(!covers("https://h/mcp?tenant=2", &tenant));
        let nested = url("https://h/a/mcp-other");
        assert!(
            !covers("https://h/a/mcp", &nested),
            "a prefix is not a parent"
        );
        assert!(covers("https://h/a", &nested));
    }

    #[test]
    fn loopback_servers() {
        assert!(is_loopback(&url("http://127.0.0.1:1/mcp")));
        assert!(is_loopback(&url("http://localhost/mcp")));
        assert!(is_loopback(&url("https://[::1]/mcp")));
        assert!(!is_loopback(&url("https://mcp.example.com/mcp")));
        assert!(!is_loopback(&url("https://10.0.0.1/mcp")));
    }

    /// A loopback server answering GETs of the paths in `documents` with
    /// their JSON, and 404 to anything else; its base URL.
    async fn serve(documents: Vec<(&'static str, serde_json::Value)>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let documents: Vec<(&str, String)> = documents
            .into_iter()
            .map(|(path, doc)| (path, doc.to_string().replace("BASE", &base)))
            .collect();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                let (status, body) = documents
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map_or((404, "{}".to_owned()), |(_, d)| (200, d.clone()));
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).await.unwrap();
                let _ = stream.shutdown().await;
            }
        });
        base
    }

    #[tokio::test]
    async fn without_resource_metadata_the_origin_is_the_authorization_server() {
        let base = serve(vec![(
            "/.well-known/oauth-authorization-server",
            serde_json::json!({
                "issuer": "BASE",
                "authorization_endpoint": "BASE/oauth/authorize",
                "token_endpoint": "BASE/oauth/token",
                "code_challenge_methods_supported": ["S256"],
            }),
        )])
        .await;
        let server = format!("{base}/mcp");
        let found = discover(&server, None).await.unwrap();
        assert_eq!(found.resource, server);
        assert_eq!(found.resource_metadata_url, None);
        assert_eq!(found.resource_metadata.resource, server);
        assert_eq!(found.issuer, base);
        assert_eq!(
            found.authorization_server_metadata_url,
            Some(format!("{base}/.well-known/oauth-authorization-server"))
        );
        assert_eq!(
            found.authorization_server.token_endpoint,
            Some(format!("{base}/oauth/token"))
        );
        assert_eq!(found.scope, None);
    }

    #[tokio::test]
    async fn without_any_metadata_the_default_endpoints_are_used() {
        let base = serve(Vec::new()).await;
        let bare = BearerChallenge::parse(["Bearer scope=\"mcp:read\""]).unwrap();
        let found = discover(&format!("{base}/deep/mcp"), Some(&bare))
            .await
            .unwrap();
        assert_eq!(found.issuer, base);
        assert_eq!(found.authorization_server_metadata_url, None);
        let metadata = &found.authorization_server;
        assert_eq!(metadata.issuer, base);
        let at = |path: &str| Some(format!("{base}{path}"));
        assert_eq!(metadata.authorization_endpoint, at("/authorize"));
        assert_eq!(metadata.token_endpoint, at("/token"));
        assert_eq!(metadata.registration_endpoint, at("/register"));
        assert_eq!(metadata.code_challenge_methods_supported, ["S256"]);
        assert_eq!(found.scope.as_deref(), Some("mcp:read"));
    }

    #[tokio::test]
    async fn named_resource_metadata_that_is_missing_is_an_error() {
        let base = serve(Vec::new()).await;
        let named = BearerChallenge::parse([format!(
            "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
        )
        .as_str()])
        .unwrap();
        let result = discover(&format!("{base}/mcp"), Some(&named)).await;
        assert!(
            matches!(&result, Err(Error::InvalidResponse(why)) if why.contains("no protected resource metadata")),
            "{result:?}"
        );
    }

    fn metadata(doc: serde_json::Value) -> AuthorizationServerMetadata {
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn authorization_server_checks() {
        let policy = FetchPolicy::default();
        let good = serde_json::json!({
            "issuer": "https://as.example.com",
            "authorization_endpoint": "https://as.example.com/auth",
            "token_endpoint": "https://as.example.com/token",
            "code_challenge_methods_supported": ["plain", "S256"],
        });
        let check = |doc: &serde_json::Value| {
            check_authorization_server(
                &policy,
                "https://as.example.com",
                "u",
                &metadata(doc.clone()),
            )
        };
        assert_eq!(check(&good), Ok(()));
        let with = |key: &str, value: serde_json::Value| {
            let mut doc = good.clone();
            doc[key] = value;
            doc
        };
        let refused = |doc: serde_json::Value, needle: &str| match check(&doc) {
            Err(Error::Refused(why)) => assert!(why.contains(needle), "{why}"),
            other => panic!("{doc}: {other:?}"),
        };
        refused(
            with("issuer", "https://as.example.com/".into()),
            "names issuer",
        );
        refused(
            with("issuer", "https://AS.example.com".into()),
            "names issuer",
        );
        refused(
            with(
                "code_challenge_methods_supported",
                serde_json::json!(["plain"]),
            ),
            "lists only",
        );
        refused(
            with(
                "code_challenge_methods_supported",
                serde_json::json!(["s256"]),
            ),
            "lists only",
        );
        let mut absent = good.clone();
        absent
            .as_object_mut()
            .unwrap()
            .remove("code_challenge_methods_supported");
        refused(absent, "does not list");
        refused(
            with("token_endpoint", "http://as.example.com/token".into()),
            "token_endpoint",
        );
        refused(
            with(
                "registration_endpoint",
                "https://169.254.169.254/reg".into(),
            ),
            "registration_endpoint",
        );
        refused(
            with("authorization_endpoint", "javascript:alert(1)".into()),
            "authorization_endpoint",
        );
        let mut no_token = good.clone();
        no_token.as_object_mut().unwrap().remove("token_endpoint");
        assert!(matches!(check(&no_token), Err(Error::InvalidResponse(_))));
    }
}
