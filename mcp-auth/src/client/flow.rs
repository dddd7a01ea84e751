//! The OAuth 2.1 grants an MCP client uses: the authorization code flow
//! with PKCE, the `resource` indicator and RFC 9207 `iss` checking; refresh;
//! and client credentials. The client authenticates at the token endpoint
//! with `none`, `client_secret_basic`, `client_secret_post` or
//! `private_key_jwt` ([`Credentials`]); token endpoints must be https or
//! loopback http, and a redirect from one is never followed.
//!
//! ```no_run
//! use std::time::Duration;
//! use mcp_auth::AuthorizationServerMetadata;
//! use mcp_auth::client::flow::{self, AuthorizationRequest, Credentials, LoopbackRedirect};
//!
//! # async fn run(metadata: AuthorizationServerMetadata) -> Result<(), mcp_auth::Error> {
//! let resource = "https://mcp.example.com/mcp";
//! let redirect = LoopbackRedirect::bind().await?;
//! let client = Credentials::public("client-id-from-registration");
//! let request = AuthorizationRequest::new(
//!     &metadata,
//!     &client,
//!     redirect.redirect_uri(),
//!     resource,
//!     Some("mcp:read"),
//! )?;
//! println!("Open {}", request.url());
//! let pending = request.into_pending();
//! let callback = redirect.wait(&pending, Duration::from_secs(300)).await?;
//! let tokens = flow::complete(&pending, &callback).await?;
//! // Later, with the same resource:
//! let tokens = flow::refresh(&metadata, &client, &tokens, resource).await?;
//! # let _ = tokens;
//! # Ok(())
//! # }
//! ```

mod credentials;
mod loopback;
mod token;

use std::net::IpAddr;

use url::Url;

pub use self::credentials::{ClientAuthMethod, Credentials, SigningKey};
pub use self::loopback::LoopbackRedirect;
use crate::client::pkce::{Pkce, S256, State};
use crate::client::store::StoredTokens;
use crate::error::{Error, Reason};
use crate::fetch::SafeFetcher;
use crate::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use crate::secret::Secret;

/// The scope to ask for, as the MCP spec orders it: the `scope` of the
/// 401/403 challenge when there is one; else the protected resource's
/// `scopes_supported`; else none (the `scope` parameter is left out).
/// With `want_refresh`, `offline_access` is added when the authorization
/// server lists it in its `scopes_supported`, and only to a scope that is
/// there already: alone it would narrow an omitted scope to itself.
pub fn select_scope(
    challenge_scope: Option<&str>,
    resource: Option<&ProtectedResourceMetadata>,
    server: &AuthorizationServerMetadata,
    want_refresh: bool,
) -> Option<String> {
    let mut scopes: Vec<&str> = match challenge_scope.map(str::split_ascii_whitespace) {
        Some(challenge) if challenge.clone().next().is_some() => challenge.collect(),
        _ => resource
            .map(|r| r.scopes_supported.iter().map(String::as_str).collect())
            .unwrap_or_default(),
    };
    let mut seen = std::collections::HashSet::new();
    scopes.retain(|s| seen.insert(*s));
    if scopes.is_empty() {
        return None;
    }
    const OFFLINE: &str = "offline_access";
    if want_refresh && server.scopes_supported.iter().any(|s| s == OFFLINE) && seen.insert(OFFLINE)
    {
        scopes.push(OFFLINE);
    }
    Some(scopes.join(" "))
}

/// Whether `url` is https, or http to a loopback address.
fn https_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// `value`, parsed, when it is an https or loopback-http URL without a
/// fragment.
fn checked_url(what: &str, value: &str) -> Result<Url, Error> {
    let url = Url::parse(value)
        .map_err(|e| Error::Config(Reason::caused_by(format!("{what} {value:?}: {e}"), e)))?;
    if !https_or_loopback(&url) {
        return Err(Error::Config(
            format!("{what} {value} is neither https nor http on a loopback address").into(),
        ));
    }
    if url.fragment().is_some() {
        return Err(Error::Config(
            format!("{what} {value} has a fragment").into(),
        ));
    }
    Ok(url)
}

/// The token endpoint of `metadata`, checked.
fn token_endpoint(metadata: &AuthorizationServerMetadata) -> Result<String, Error> {
    let endpoint = metadata.token_endpoint.as_deref().ok_or_else(|| {
        Error::Config(format!("{} has no token_endpoint", metadata.issuer).into())
    })?;
    checked_url("token endpoint", endpoint)?;
    Ok(endpoint.to_owned())
}

/// `resource` when it is an absolute URL without a fragment (RFC 8707 §2).
/// It is sent exactly as given.
fn checked_resource(resource: &str) -> Result<(), Error> {
    match Url::parse(resource) {
        Ok(url) if url.fragment().is_none() => Ok(()),
        _ => Err(Error::Config(
            format!("resource {resource:?} is not an absolute URL without a fragment").into(),
        )),
    }
}

/// Parameters an [`AuthorizationRequest`] sets itself, which
/// [`AuthorizationRequest::with_param`] does not override.
const RESERVED: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

/// An authorization code request (OAuth 2.1 §4.1.1): the URL to open in
/// the user's browser, and the [`PendingAuthorization`] that checks and
/// redeems the answer.
///
/// The URL carries `response_type=code`, `client_id`, `redirect_uri`,
/// `scope` (when given), a fresh `state`, a fresh PKCE `S256` challenge and
/// `resource`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    endpoint: Url,
    extra: Vec<(String, String)>,
    pending: PendingAuthorization,
}

impl AuthorizationRequest {
    /// A request to `metadata`'s authorization server for `client`, to be
    /// redirected to `redirect_uri`, for a token for the MCP server whose
    /// canonical URL is `resource`, with `scope` (space-separated; see
    /// [`select_scope`]). The issuer of `metadata` is recorded for the `iss`
    /// check, so `metadata` must be the validated document.
    ///
    /// # Errors
    /// [`Error::Config`] when the server does not list PKCE `S256` in
    /// `code_challenge_methods_supported` (absent counts as not), an
    /// endpoint is missing or neither https nor loopback http, the redirect
    /// URI is neither, `resource` is not an absolute URL without a
    /// fragment, or the client cannot authenticate at this server;
    /// [`Error::Unavailable`] when there is no randomness.
    pub fn new(
        metadata: &AuthorizationServerMetadata,
        client: &Credentials,
        redirect_uri: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<Self, Error> {
        if !metadata
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == S256)
        {
            return Err(Error::Config(
                format!(
                    "{} does not list PKCE S256 in code_challenge_methods_supported",
                    metadata.issuer
                )
                .into(),
            ));
        }
        let endpoint = metadata.authorization_endpoint.as_deref().ok_or_else(|| {
            Error::Config(format!("{} has no authorization_endpoint", metadata.issuer).into())
        })?;
        let endpoint = checked_url("authorization endpoint", endpoint)?;
        let token_endpoint = token_endpoint(metadata)?;
        checked_url("redirect URI", redirect_uri)?;
        checked_resource(resource)?;
        let auth_method = client.auth_method(metadata)?;
        let scope = scope
            .map(|s| s.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty());
        Ok(Self {
            endpoint,
            extra: Vec::new(),
            pending: PendingAuthorization {
                pkce: Pkce::generate()?,
                state: State::generate()?,
                issuer: metadata.issuer.clone(),
                iss_required: metadata.authorization_response_iss_parameter_supported == Some(true),
                token_endpoint,
                credentials: client.clone(),
                auth_method,
                redirect_uri: redirect_uri.to_owned(),
                resource: resource.to_owned(),
                scope,
            },
        })
    }

    /// Adds a parameter to the URL (`login_hint`, `prompt`, …). The
    /// parameters the request sets itself (`state`, `scope`,
    /// `code_challenge`, `resource`, …) are not overridden: those names are
    /// ignored.
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if !RESERVED.contains(&name.as_str()) {
            self.extra.push((name, value.into()));
        }
        self
    }

    /// The URL to open in the browser.
    pub fn url(&self) -> String {
        let p = &self.pending;
        let mut url = self.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &p.credentials.client_id)
                .append_pair("redirect_uri", &p.redirect_uri);
            if let Some(scope) = &p.scope {
                query.append_pair("scope", scope);
            }
            query
                .append_pair("state", p.state.as_str())
                .append_pair("code_challenge", p.pkce.challenge())
                .append_pair("code_challenge_method", p.pkce.method())
                .append_pair("resource", &p.resource)
                .extend_pairs(&self.extra);
        }
        url.into()
    }

    /// What the answer is checked against.
    pub fn pending(&self) -> &PendingAuthorization {
        &self.pending
    }

    /// What the answer is checked against, once the URL is out.
    pub fn into_pending(self) -> PendingAuthorization {
        self.pending
    }
}

/// An authorization request waiting for its answer: the PKCE verifier, the
/// `state`, the recorded issuer, and what the code exchange needs. Kept in
/// memory, one per request. `Debug` does not show the secrets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingAuthorization {
    pkce: Pkce,
    state: State,
    issuer: String,
    iss_required: bool,
    token_endpoint: String,
    credentials: Credentials,
    auth_method: ClientAuthMethod,
    redirect_uri: String,
    resource: String,
    scope: Option<String>,
}

/// What a callback turned out to be (no `Debug`: it holds the code).
enum Verdict<'a> {
    /// Not the answer to this request (no or another `state`): ignored.
    Foreign,
    /// The answer, and it says no or fails a check.
    Refused(Error),
    /// The answer, with its code.
    Code(&'a str),
}

impl PendingAuthorization {
    /// The issuer recorded from the metadata.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The redirect URI of the request.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The resource of the request.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The scope asked for, if any.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The `state` sent.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Checks a callback, in the order that keeps forged answers from being
    /// acted on: `state` (CSRF), then `iss` (RFC 9207: present → must equal
    /// the recorded issuer, by simple string comparison; absent → refused
    /// when the server advertises it), and only then `error` and `code`.
    fn examine<'a>(&self, callback: &'a CallbackParams) -> Verdict<'a> {
        let invalid = |why: String| Verdict::Refused(Error::InvalidResponse(why.into()));
        for name in ["state", "iss", "code", "error"] {
            if callback.count(name) > 1 {
                return invalid(format!("the callback repeats `{name}`"));
            }
        }
        match callback.get("state") {
            Some(state) if self.state.matches(state) => {}
            _ => return Verdict::Foreign,
        }
        match callback.get("iss") {
            Some(iss) if iss != self.issuer => {
                return invalid(format!(
                    "the callback's iss {iss:?} is not the issuer {:?} (mix-up?)",
                    self.issuer
                ));
            }
            None if self.iss_required => {
                return invalid(format!(
                    "the callback has no iss, which {} promises (RFC 9207)",
                    self.issuer
                ));
            }
            _ => {}
        }
        if let Some(error) = callback.get("error") {
            return Verdict::Refused(token::refused(error, callback.get("error_description")));
        }
        match callback.get("code") {
            Some(code) if !code.is_empty() => Verdict::Code(code),
            _ => invalid("the callback has neither code nor error".to_owned()),
        }
    }
}

/// The query parameters of an authorization response, as delivered to the
/// redirect URI. `Debug` does not show the code.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackParams {
    pairs: Vec<(String, String)>,
}

impl CallbackParams {
    /// The parameters of a query string (`code=…&state=…&iss=…`, without
    /// the `?`), decoded.
    pub fn from_query(query: &str) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, name: &str) -> usize {
        self.pairs.iter().filter(|(k, _)| k == name).count()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for CallbackParams {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// Only the parameters that say what happened show; the code, `state`
/// and anything a server might add (tokens, even) are redacted.
impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.pairs {
            if matches!(
                k.as_str(),
                "error" | "error_description" | "error_uri" | "iss"
            ) {
                map.entry(k, v);
            } else {
                map.entry(k, &format_args!("[redacted]"));
            }
        }
        map.finish()
    }
}

/// Checks the answer to `pending` and exchanges its code for tokens:
/// `state` must match, `iss` must be the recorded issuer (see
/// [`PendingAuthorization`]), and an `error` answer becomes
/// [`Error::Refused`]; only then is the code sent, with the PKCE
/// `code_verifier`, `redirect_uri` and `resource`, to the token endpoint
/// (never following a redirect). The tokens' scopes are those granted, or
/// those asked for when the server does not say.
///
/// # Errors
/// [`Error::InvalidResponse`] for a callback that fails a check (nothing
/// is sent) or a token response that breaks the rules; [`Error::Refused`]
/// when the authorization or token endpoint says no;
/// [`Error::Unavailable`] when the token endpoint cannot be reached or
/// answers with something other than an OAuth response.
pub async fn complete(
    pending: &PendingAuthorization,
    callback: &CallbackParams,
) -> Result<StoredTokens, Error> {
    complete_with(&SafeFetcher::shared()?, pending, callback).await
}

/// [`complete`] through `fetch`.
///
/// # Errors
/// As [`complete`].
pub async fn complete_with(
    fetch: &SafeFetcher,
    pending: &PendingAuthorization,
    callback: &CallbackParams,
) -> Result<StoredTokens, Error> {
    let code = match pending.examine(callback) {
        Verdict::Foreign => {
            return Err(Error::InvalidResponse(
                "the callback's state is not this request's"
                    .to_owned()
                    .into(),
            ));
        }
        Verdict::Refused(e) => return Err(e),
        Verdict::Code(code) => code,
    };
    let granted = token::request(
        fetch,
        &pending.token_endpoint,
        &pending.issuer,
        &pending.credentials,
        pending.auth_method,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &pending.redirect_uri),
            ("code_verifier", pending.pkce.verifier().expose()),
            ("resource", &pending.resource),
        ],
    )
    .await?;
    let mut tokens = granted.tokens;
    if !granted.scope_given
        && let Some(scope) = &pending.scope
    {
        tokens.scopes = scope.split(' ').map(str::to_owned).collect();
    }
    Ok(tokens)
}

/// Exchanges `tokens`' refresh token for new tokens for `resource` (sent
/// as on the first request). A rotated refresh token replaces the old one;
/// when the server sends none, the old one is kept, and so are the scopes
/// when it does not name them. Store the result in place of `tokens`.
///
/// # Errors
/// [`Error::Config`] when `tokens` has no refresh token or the token
/// endpoint is missing or not https/loopback; [`Error::Refused`] when the
/// server says no (`invalid_grant`: the grant is gone, authorize again);
/// [`Error::InvalidResponse`] and [`Error::Unavailable`] as for
/// [`complete`].
pub async fn refresh(
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    tokens: &StoredTokens,
    resource: &str,
) -> Result<StoredTokens, Error> {
    refresh_with(&SafeFetcher::shared()?, metadata, client, tokens, resource).await
}

/// [`refresh`] through `fetch`.
///
/// # Errors
/// As [`refresh`].
pub async fn refresh_with(
    fetch: &SafeFetcher,
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    tokens: &StoredTokens,
    resource: &str,
) -> Result<StoredTokens, Error> {
    let refresh_token = tokens
        .refresh_token
        .as_ref()
        .ok_or_else(|| Error::Config("no refresh token to refresh with".into()))?;
    let endpoint = token_endpoint(metadata)?;
    checked_resource(resource)?;
    let granted = token::request(
        fetch,
        &endpoint,
        &metadata.issuer,
        client,
        client.auth_method(metadata)?,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("resource", resource),
        ],
    )
    .await?;
    let mut fresh = granted.tokens;
    if fresh.refresh_token.is_none() {
        fresh.refresh_token = Some(refresh_token.clone());
    }
    if !granted.scope_given {
        fresh.scopes.clone_from(&tokens.scopes);
    }
    Ok(fresh)
}

/// The client credentials grant: a confidential client gets a token for
/// itself, for `resource`, with `scope` when given. The client
/// authenticates with `private_key_jwt`, `client_secret_basic` or
/// `client_secret_post` (see [`Credentials::auth_method`]).
///
/// # Errors
/// [`Error::Config`] for a client without a secret or key, or a token endpoint
/// missing or not https/loopback; [`Error::Refused`],
/// [`Error::InvalidResponse`] and [`Error::Unavailable`] as for
/// [`complete`].
pub async fn client_credentials(
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    resource: &str,
    scope: Option<&str>,
) -> Result<StoredTokens, Error> {
    client_credentials_with(&SafeFetcher::shared()?, metadata, client, resource, scope).await
}

/// [`client_credentials`] through `fetch`.
///
/// # Errors
/// As [`client_credentials`].
pub async fn client_credentials_with(
    fetch: &SafeFetcher,
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    resource: &str,
    scope: Option<&str>,
) -> Result<StoredTokens, Error> {
    let granted = confidential_grant(
        fetch,
        metadata,
        client,
        "the client credentials grant",
        vec![("grant_type", "client_credentials"), ("resource", resource)],
        scope,
    )
    .await?;
    Ok(with_scope(granted, scope))
}

/// A grant only a confidential client may ask for: `params` (naming
/// the `resource`), with `scope` when given, POSTed to the token endpoint
/// with the client's authentication. `what` names the grant in errors.
async fn confidential_grant<'a>(
    fetch: &SafeFetcher,
    metadata: &AuthorizationServerMetadata,
    client: &'a Credentials,
    what: &str,
    mut params: Vec<(&'a str, &'a str)>,
    scope: Option<&'a str>,
) -> Result<token::Granted, Error> {
    let method = client.auth_method(metadata)?;
    if method == ClientAuthMethod::None {
        return Err(Error::Config(
            format!("{what} needs a confidential client").into(),
        ));
    }
    let endpoint = token_endpoint(metadata)?;
    if let Some((_, resource)) = params.iter().find(|(name, _)| *name == "resource") {
        checked_resource(resource)?;
    }
    if let Some(scope) = scope.filter(|s| !s.trim().is_empty()) {
        params.push(("scope", scope));
    }
    token::request(fetch, &endpoint, &metadata.issuer, client, method, &params).await
}

/// The granted tokens, with the scopes asked for when the server did not
/// say which it granted.
fn with_scope(granted: token::Granted, scope: Option<&str>) -> StoredTokens {
    let mut tokens = granted.tokens;
    if !granted.scope_given
        && let Some(scope) = scope
    {
        tokens.scopes = scope.split_ascii_whitespace().map(str::to_owned).collect();
    }
    tokens
}

/// RFC 8693's grant type, and its type for access tokens.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Token exchange (RFC 8693): a confidential client (a gateway, say)
/// trades `subject_token`, an access token a user's client sent it, for a
/// token of that user for `resource`, with `scope` when given: the
/// client then calls `resource` on the user's behalf, and the token it
/// received is never passed on. The client authenticates as for
/// [`client_credentials`].
///
/// # Errors
/// As [`client_credentials`]; [`Error::InvalidResponse`] when the server
/// issued something other than an access token.
pub async fn token_exchange(
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    subject_token: &Secret,
    resource: &str,
    scope: Option<&str>,
) -> Result<StoredTokens, Error> {
    token_exchange_with(
        &SafeFetcher::shared()?,
        metadata,
        client,
        subject_token,
        resource,
        scope,
    )
    .await
}

/// [`token_exchange`] through `fetch`.
///
/// # Errors
/// As [`token_exchange`].
pub async fn token_exchange_with(
    fetch: &SafeFetcher,
    metadata: &AuthorizationServerMetadata,
    client: &Credentials,
    subject_token: &Secret,
    resource: &str,
    scope: Option<&str>,
) -> Result<StoredTokens, Error> {
    let granted = confidential_grant(
        fetch,
        metadata,
        client,
        "token exchange",
        vec![
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", subject_token.expose()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("resource", resource),
        ],
        scope,
    )
    .await?;
    // Required in the answer: a token of another type must not be sent
    // as a bearer access token.
    if granted.issued_token_type.as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return Err(Error::InvalidResponse(
            format!(
                "token exchange: issued_token_type is {:?}, not {ACCESS_TOKEN_TYPE}",
                granted.issued_token_type
            )
            .into(),
        ));
    }
    let mut tokens = with_scope(granted, scope);
    // An exchanged token is never refreshed: the subject token is
    // exchanged again.
    tokens.refresh_token = None;
    Ok(tokens)
}

#[cfg(test)]
pub(crate) mod tests;
