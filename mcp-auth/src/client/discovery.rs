//! From an MCP server's URL (and its 401 challenge) to its authorization
//! server's validated metadata: RFC 9728 Protected Resource Metadata, then
//! RFC 8414 / OpenID Connect Discovery, as the MCP authorization spec
//! orders them.

use url::Url;

use super::challenge::BearerChallenge;
use super::safe_fetch::{FetchPolicy, SafeFetcher, is_loopback};
use crate::error::Error;
use crate::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};

/// What [`discover`] found, every part checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Discovery {
    /// The resource to name in authorization and token requests (RFC
    /// 8707): the metadata's `resource`, which is the MCP server's URL or,
    /// as some servers publish, a parent of it on the same origin.
    pub resource: String,
    /// Where the Protected Resource Metadata was found.
    pub resource_metadata_url: String,
    /// The MCP server's Protected Resource Metadata.
    pub resource_metadata: ProtectedResourceMetadata,
    /// The authorization server chosen: the first of the metadata's
    /// `authorization_servers`, and exactly the metadata's `issuer`. Record
    /// it with each authorization request (RFC 9207), and keep client
    /// credentials under it.
    pub issuer: String,
    /// Where the authorization server's metadata was found.
    pub authorization_server_metadata_url: String,
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
    let fetch = SafeFetcher::new(FetchPolicy::default())?;
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
/// 2. The first authorization server's metadata, from RFC 8414's
///    well-known URL (the path inserted), then OpenID Connect's inserted
///    and appended forms; a 4xx or a redirect moves on to the next, a 5xx
///    or a network failure stops. Its `issuer` must equal the issuer
///    exactly; it must list `S256` in `code_challenge_methods_supported`;
///    it must have a `token_endpoint`; every endpoint it names must pass
///    the fetch policy.
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
        narrowed = fetch.without_loopback();
        &narrowed
    };

    // 1. Protected Resource Metadata.
    let candidates = match challenge.and_then(|c| c.resource_metadata.as_deref()) {
        Some(url) => {
            let parsed = fetch.policy().checked(url)?;
            if parsed.origin() != server.origin() {
                return Err(Error::Refused(format!(
                    "the challenge's resource_metadata {parsed} is not on the server's origin {}",
                    server.origin().ascii_serialization()
                )));
            }
            vec![parsed.to_string()]
        }
        None => well_known_resource_urls(&server),
    };
    let (resource_metadata_url, resource_metadata) =
        first_document::<ProtectedResourceMetadata>(fetch, &candidates, "protected resource")
            .await?;
    let resource = &resource_metadata.resource;
    if !covers(resource, &server) {
        return Err(Error::Refused(format!(
            "the protected resource metadata at {resource_metadata_url} is for {resource:?}, \
             not for {server}"
        )));
    }
    let Some(issuer) = resource_metadata.authorization_servers.first().cloned() else {
        return Err(Error::InvalidResponse(format!(
            "the protected resource metadata at {resource_metadata_url} lists no authorization server"
        )));
    };

    // 2. Authorization server metadata.
    let issuer_url = fetch.policy().checked(&issuer)?;
    if issuer_url.query().is_some() {
        return Err(Error::InvalidResponse(format!(
            "the issuer {issuer} has a query, which RFC 8414 forbids"
        )));
    }
    let candidates = AuthorizationServerMetadata::candidate_urls(&issuer);
    let (authorization_server_metadata_url, authorization_server) =
        first_document::<AuthorizationServerMetadata>(fetch, &candidates, "authorization server")
            .await?;
    check_authorization_server(
        fetch.policy(),
        &issuer,
        &authorization_server_metadata_url,
        &authorization_server,
    )?;

    let scope = challenge
        .and_then(|c| c.scope.clone())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            let supported = &resource_metadata.scopes_supported;
            (!supported.is_empty()).then(|| supported.join(" "))
        });
    Ok(Discovery {
        resource: resource.clone(),
        resource_metadata_url,
        issuer,
        authorization_server_metadata_url,
        authorization_server,
        scope,
        resource_metadata,
    })
}

/// The server's URL, parsed and checked against the policy, without a
/// fragment (never sent, and no part of a resource identifier).
fn server(policy: &FetchPolicy, url: &str) -> Result<Url, Error> {
    let mut parsed =
        Url::parse(url).map_err(|e| Error::Config(format!("the server URL {url:?}: {e}")))?;
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

/// The first of `urls` holding a document: a 4xx or a redirect means "not
/// here", anything else (a refusal, a 5xx, a network failure, a document
/// that does not parse) ends the search.
async fn first_document<T: serde::de::DeserializeOwned>(
    fetch: &SafeFetcher,
    urls: &[String],
    what: &str,
) -> Result<(String, T), Error> {
    let mut tried = Vec::new();
    for url in urls {
        match fetch.get(url).await {
            Ok(answer) if answer.status.is_client_error() => {
                tried.push(format!("{url}: HTTP {}", answer.status));
            }
            Ok(answer) if answer.status.is_redirection() => {
                tried.push(answer.redirect(url).to_string());
            }
            Ok(answer) => return Ok((url.clone(), answer.expect_json(url)?)),
            Err(e) => return Err(e),
        }
    }
    Err(Error::InvalidResponse(format!(
        "no {what} metadata ({})",
        tried.join("; ")
    )))
}

fn check_authorization_server(
    policy: &FetchPolicy,
    issuer: &str,
    url: &str,
    metadata: &AuthorizationServerMetadata,
) -> Result<(), Error> {
    // RFC 8414 §3.3: identical, no normalization; else a mix-up.
    if metadata.issuer != issuer {
        return Err(Error::Refused(format!(
            "the metadata at {url} names issuer {:?}, not {issuer:?}",
            metadata.issuer
        )));
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
        return Err(Error::Refused(format!(
            "the authorization server {issuer} {has}: it must support PKCE with S256"
        )));
    }
    if metadata.token_endpoint.is_none() {
        return Err(Error::InvalidResponse(format!(
            "the metadata at {url} has no token_endpoint"
        )));
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
                Error::Refused(why) => Error::Refused(format!("{name} of {issuer}: {why}")),
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
