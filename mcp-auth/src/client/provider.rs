//! [`OAuth`]: the whole client side of MCP authorization behind the HTTP
//! transport's [`AuthProvider`] hook, so that connecting to a protected
//! server is one call.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderValue;
use mcp_client::{AuthChallenge, AuthProvider};
use tokio::sync::Mutex;

use super::challenge::BearerChallenge;
use super::discovery::{Discovery, discover_with};
use super::flow::{
    self, AuthorizationRequest, CallbackParams, ClientAuthMethod, Credentials, LoopbackRedirect,
    SigningKey,
};
use super::registration::{ClientConfig, ClientCredentials, register_with};
use super::store::{MemoryTokenStore, StoredTokens, TokenKey, TokenStore};
use crate::error::Error;
use crate::fetch::SafeFetcher;
use crate::secret::Secret;

/// How long the user has to sign in, by default.
const SIGN_IN: Duration = Duration::from_secs(300);
/// How long before expiry an access token is refreshed, by default.
const MARGIN: Duration = Duration::from_secs(30);
/// Step-ups to one set of scopes, at most, before a 403 is let through.
const MAX_STEP_UPS: u32 = 2;

/// Sends the user to an authorization URL (opens a browser, prints it…).
type Open = Arc<dyn Fn(&str) + Send + Sync>;

/// Takes the user through authorization at a URL and returns the query of
/// the request that came back to the host's redirect URI.
type HandleRedirect = Arc<
    dyn Fn(String) -> mcp_core::BoxFuture<'static, Result<CallbackParams, Error>> + Send + Sync,
>;

/// How tokens are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// The authorization code flow, with the user, through a loopback
    /// redirect.
    Code,
    /// The client credentials grant: no user.
    ClientCredentials,
    /// Token exchange (RFC 8693): a user's token, received from that
    /// user's client, traded for one for this server.
    TokenExchange,
}

/// An OAuth 2.1 client for one MCP server, as an [`AuthProvider`] for
/// [`HttpOptions::with_auth`](mcp_client::HttpOptions::with_auth): it
/// answers the server's challenges by doing what the MCP authorization
/// spec says, and sends the tokens it gets.
///
/// - **401**: discovers the authorization server (from the challenge's
///   `resource_metadata`, see [`discover`](super::discover)), gets a client ID there
///   ([`register`](super::register): configured credentials, a Client ID Metadata Document,
///   or dynamic registration, kept per issuer for next time), and gets
///   tokens: the authorization code flow with PKCE, `state`, `resource` and
///   the scope of [`flow::select_scope`] (the user is sent to the
///   authorization URL through the [`with_open`](Self::with_open) hook,
///   and the answer comes back to a [`LoopbackRedirect`]), or, built with
///   [`OAuth::client_credentials`], the client credentials grant, or,
///   built with [`OAuth::token_exchange`], token exchange. Every
///   401 discovers again: when the server has moved to another
///   authorization server, the client gets a client ID there and tokens
///   afresh (what it had at the old one is never sent to the new one);
///   otherwise a rejected token is first refreshed, when there is a
///   refresh token.
/// - **403 `insufficient_scope`**: steps up, asking for the scopes already
///   granted together with those the challenge names; at most twice per
///   set of scopes, so a server that keeps refusing is not asked forever.
/// - **Every request**: the stored access token, refreshed when it expires
///   within 30 s ([`with_refresh_margin`](Self::with_refresh_margin)); a
///   refresh that the server refuses (`invalid_grant`) forgets the tokens,
///   so that the next 401 authorizes again.
///
/// Refreshes and authorizations are single-flight: callers arriving while
/// one is under way wait for it and use its tokens, so a rotated refresh
/// token is stored before anyone else could use the old one.
///
/// Tokens are kept in a [`TokenStore`] ([`MemoryTokenStore`] by default)
/// under the server's resource and the issuer. `Debug` shows no secret.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use mcp_auth::client::{ClientConfig, OAuth};
/// use mcp_client::{Client, ClientOptions, HttpOptions, NoHandler};
/// use mcp_core::Implementation;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let url = "https://mcp.example.com/mcp";
/// // A loopback redirect URI without a port: any port is allowed (RFC 8252 §7.3).
/// let config = ClientConfig::new("My MCP client", ["http://127.0.0.1/callback"]);
/// let oauth = OAuth::new(url, config).with_open(|url| eprintln!("Sign in at {url}"));
/// let http = HttpOptions::default().with_auth(Arc::new(oauth));
/// let options = ClientOptions::new(Implementation::new("my-client", "1.0.0"));
/// let client = Client::connect_http(url, options, http, NoHandler).await?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
pub struct OAuth {
    server_url: String,
    config: ClientConfig,
    grant: Grant,
    store: Arc<dyn TokenStore>,
    open: Open,
    /// A redirect URI the host serves itself, and how it hands back what
    /// arrived there.
    host_redirect: Option<(String, HandleRedirect)>,
    sign_in: Duration,
    margin: Duration,
    scope: Option<String>,
    signing_key: Option<SigningKey>,
    /// The token traded by [`Grant::TokenExchange`], and its issuer: the
    /// one authorization server it may be sent to.
    subject_token: Option<(Secret, String)>,
    /// Every request to the authorization and resource servers; `None`
    /// for the one shared per process.
    fetch: Option<SafeFetcher>,
    state: Mutex<State>,
}

/// What the provider has learnt, behind the single-flight lock.
#[derive(Default)]
struct State {
    /// The server's authorization server and the client's identity there,
    /// once discovered.
    session: Option<Session>,
    /// Client IDs obtained, by issuer.
    registered: HashMap<String, ClientCredentials>,
    /// Step-ups done, by the (sorted) set of scopes asked for.
    step_ups: HashMap<BTreeSet<String>, u32>,
    /// When the tokens were last replaced.
    renewed: Option<Instant>,
}

/// One discovered authorization server.
struct Session {
    discovery: Discovery,
    client: Credentials,
    key: TokenKey,
}

impl OAuth {
    /// A provider for the MCP server at `server_url` that gets tokens with
    /// the user, through the authorization code flow. `config` describes
    /// the client for registration; its first loopback redirect URI gives
    /// the port to listen on (none: a free one, which authorization servers
    /// allow for native clients). The path must be `/callback`.
    pub fn new(server_url: impl Into<String>, config: ClientConfig) -> Self {
        Self::with_grant(server_url.into(), config, Grant::Code)
    }

    /// A provider for the MCP server at `server_url` that gets tokens with
    /// the client credentials grant: a machine acting for itself, with no
    /// user. `config` must give a confidential client: credentials for the
    /// issuer ([`ClientConfig::with_credentials`]), or, for dynamic
    /// registration, `grant_types` `client_credentials` and a
    /// `token_endpoint_auth_method` such as `client_secret_basic`.
    pub fn client_credentials(server_url: impl Into<String>, config: ClientConfig) -> Self {
        Self::with_grant(server_url.into(), config, Grant::ClientCredentials)
    }

    /// A provider for the MCP server at `server_url` that acts for a user
    /// whose access token it was given (`subject_token`, sent by that
    /// user's client to this program, and issued by `issuer`): it trades
    /// it for a token for `server_url` ([`flow::token_exchange`], RFC
    /// 8693) and again when that expires. The token is only ever sent to
    /// `issuer`: a server whose authorization server is another is
    /// refused ([`Error::Config`]), for an authorization server of the
    /// server's choosing could replay the user's token. `subject_token` is
    /// never sent to `server_url`. `config` must give a confidential
    /// client, as for [`OAuth::client_credentials`].
    pub fn token_exchange(
        server_url: impl Into<String>,
        config: ClientConfig,
        subject_token: Secret,
        issuer: impl Into<String>,
    ) -> Self {
        let mut oauth = Self::with_grant(server_url.into(), config, Grant::TokenExchange);
        oauth.subject_token = Some((subject_token, issuer.into()));
        oauth
    }

    fn with_grant(server_url: String, config: ClientConfig, grant: Grant) -> Self {
        Self {
            server_url,
            config,
            grant,
            store: Arc::new(MemoryTokenStore::new()),
            open: Arc::new(|url| eprintln!("Open this URL to authorize: {url}")),
            host_redirect: None,
            sign_in: SIGN_IN,
            margin: MARGIN,
            scope: None,
            signing_key: None,
            subject_token: None,
            fetch: None,
            state: Mutex::new(State::default()),
        }
    }

    /// Sends every request of discovery, registration and the grants
    /// through `fetch` (by default, one on the default [`FetchPolicy`]
    /// shared by the process): to reach an authorization server at a
    /// private address, say.
    ///
    /// [`FetchPolicy`]: crate::FetchPolicy
    #[must_use]
    pub fn with_fetcher(mut self, fetch: SafeFetcher) -> Self {
        self.fetch = Some(fetch);
        self
    }

    /// The fetcher requests go through.
    fn fetch(&self) -> Result<SafeFetcher, Error> {
        match &self.fetch {
            Some(fetch) => Ok(fetch.clone()),
            None => SafeFetcher::shared(),
        }
    }

    /// Keeps tokens in `store` (by default in memory).
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// Sends the user to the authorization URL with `open` (by default it
    /// is printed to stderr). The answer is awaited on the loopback
    /// redirect once `open` returns, so `open` must not block on the user.
    #[must_use]
    pub fn with_open(mut self, open: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.open = Arc::new(open);
        self
    }

    /// For hosts that handle the redirect themselves (a web application's
    /// route, say): authorization sends the user back to `redirect_uri`
    /// (one of the configuration's redirect URIs), and `handle` takes the
    /// authorization URL, sees the user through, and returns the query the
    /// host received there. `state` and `iss` are checked as usual, and no
    /// loopback listener is opened.
    #[must_use]
    pub fn with_redirect_handler<F, Fut>(
        mut self,
        redirect_uri: impl Into<String>,
        handle: F,
    ) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallbackParams, Error>> + Send + 'static,
    {
        let handle: HandleRedirect = Arc::new(move |url| Box::pin(handle(url)));
        self.host_redirect = Some((redirect_uri.into(), handle));
        self
    }

    /// How long the user has to sign in (5 minutes by default).
    #[must_use]
    pub fn with_sign_in_timeout(mut self, timeout: Duration) -> Self {
        self.sign_in = timeout;
        self
    }

    /// How long before it expires an access token is refreshed (30 s by
    /// default).
    #[must_use]
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The scope to ask for when a 401 challenge names none (space
    /// separated), instead of everything the server lists in its
    /// `scopes_supported`. A challenge's scope still wins, as the spec
    /// says.
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Signs client assertions with `key` where the client authenticates
    /// with `private_key_jwt` (RFC 7523): credentials whose
    /// `token_endpoint_auth_method` is `private_key_jwt`, e.g.
    /// `ClientCredentials::public(issuer, id).with_auth_method("private_key_jwt")`.
    #[must_use]
    pub fn with_signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// The key the tokens are stored under, once the server's
    /// authorization server is known (after the first challenge).
    pub async fn token_key(&self) -> Option<TokenKey> {
        let state = self.state.lock().await;
        state.session.as_ref().map(|s| s.key.clone())
    }

    /// The access token to send, refreshed when due.
    async fn access_token(&self) -> Result<Option<StoredTokens>, Error> {
        let mut state = self.state.lock().await;
        let Some(session) = &state.session else {
            return Ok(None);
        };
        let Some(tokens) = self.store.load(&session.key).await? else {
            return Ok(None);
        };
        if !tokens.expires_within(self.margin) {
            return Ok(Some(tokens));
        }
        let renewed = match self.grant {
            Grant::Code if tokens.refresh_token.is_some() => self.refresh(session, &tokens).await?,
            // Sent as it is: the server says whether it still holds.
            Grant::Code => return Ok(Some(tokens)),
            Grant::ClientCredentials | Grant::TokenExchange => {
                let scope = join(&tokens.scopes);
                Some(self.obtain(session, scope.as_deref()).await?)
            }
        };
        state.renewed = Some(Instant::now());
        Ok(renewed)
    }

    /// Refreshes `tokens` and stores the result; `None` (the tokens
    /// forgotten) when the grant is gone.
    async fn refresh(
        &self,
        session: &Session,
        tokens: &StoredTokens,
    ) -> Result<Option<StoredTokens>, Error> {
        let metadata = &session.discovery.authorization_server;
        match flow::refresh_with(
            &self.fetch()?,
            metadata,
            &session.client,
            tokens,
            &session.discovery.resource,
        )
        .await
        {
            Ok(fresh) => {
                self.store.save(&session.key, &fresh).await?;
                Ok(Some(fresh))
            }
            Err(Error::OAuth { error, .. }) if error == "invalid_grant" => {
                tracing::debug!(target: "mcp_auth", "refresh token refused; authorizing again");
                self.store.remove(&session.key).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// New tokens with `scope`, by the provider's grant, stored.
    async fn obtain(&self, session: &Session, scope: Option<&str>) -> Result<StoredTokens, Error> {
        let metadata = &session.discovery.authorization_server;
        let resource = &session.discovery.resource;
        let tokens = match self.grant {
            Grant::ClientCredentials => {
                flow::client_credentials_with(
                    &self.fetch()?,
                    metadata,
                    &session.client,
                    resource,
                    scope,
                )
                .await?
            }
            Grant::TokenExchange => {
                let (subject, issuer) = self.subject_token.as_ref().ok_or_else(|| {
                    Error::Config("token exchange without a subject token".into())
                })?;
                if session.discovery.issuer != *issuer {
                    return Err(Error::Config(
                        format!(
                            "token exchange: the server's authorization server {} did not issue the token ({issuer}); it is not sent there",
                            session.discovery.issuer
                        )
                        .into(),
                    ));
                }
                flow::token_exchange_with(
                    &self.fetch()?,
                    metadata,
                    &session.client,
                    subject,
                    resource,
                    scope,
                )
                .await?
            }
            Grant::Code if self.host_redirect.is_some() => {
                let Some((redirect_uri, handle)) = &self.host_redirect else {
                    return Err(Error::Config("no redirect handler".into()));
                };
                let request = AuthorizationRequest::new(
                    metadata,
                    &session.client,
                    redirect_uri,
                    resource,
                    scope,
                )?;
                let url = request.url();
                let pending = request.into_pending();
                let callback = tokio::time::timeout(self.sign_in, handle(url))
                    .await
                    .map_err(|_| {
                        Error::Timeout("the host's redirect did not come back".into())
                    })??;
                flow::complete_with(&self.fetch()?, &pending, &callback).await?
            }
            Grant::Code => {
                let redirect = self.listen().await?;
                let request = AuthorizationRequest::new(
                    metadata,
                    &session.client,
                    redirect.redirect_uri(),
                    resource,
                    scope,
                )?;
                (self.open)(&request.url());
                let pending = request.into_pending();
                let callback = redirect.wait(&pending, self.sign_in).await?;
                flow::complete_with(&self.fetch()?, &pending, &callback).await?
            }
        };
        self.store.save(&session.key, &tokens).await?;
        Ok(tokens)
    }

    /// The loopback listener, on the port of the configured redirect URI.
    async fn listen(&self) -> Result<LoopbackRedirect, Error> {
        let port = self
            .config
            .redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .find(|u| u.scheme() == "http")
            .and_then(|u| u.port());
        LoopbackRedirect::bind_port(port.unwrap_or(0)).await
    }

    /// Gets a client ID at the authorization server `discovery` found, and
    /// makes it the session's.
    async fn start_session(&self, state: &mut State, discovery: Discovery) -> Result<(), Error> {
        let issuer = discovery.issuer.clone();
        let mut config = self.config.clone();
        config
            .credentials
            .extend(state.registered.get(&issuer).cloned());
        let registration =
            register_with(&self.fetch()?, &config, &discovery.authorization_server).await?;
        registration.credentials.check_issuer(&issuer)?;
        let client = credentials(&registration.credentials, self.signing_key.as_ref());
        state
            .registered
            .insert(issuer.clone(), registration.credentials);
        state.session = Some(Session {
            key: TokenKey::new(&discovery.resource, issuer),
            discovery,
            client,
        });
        Ok(())
    }

    /// The scope for a first authorization, as the spec orders it.
    fn first_scope(
        &self,
        session: &Session,
        challenge: Option<&BearerChallenge>,
    ) -> Option<String> {
        let asked = challenge
            .and_then(|c| c.scope.as_deref())
            .filter(|s| !s.trim().is_empty())
            .or(self.scope.as_deref());
        flow::select_scope(
            asked,
            Some(&session.discovery.resource_metadata),
            &session.discovery.authorization_server,
            self.grant == Grant::Code,
        )
    }

    /// A 401: tokens that work, or an error.
    async fn unauthorized(
        &self,
        challenge: Option<&BearerChallenge>,
        arrived: Instant,
    ) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        // Someone else got tokens while this request was refused.
        if state.renewed.is_some_and(|at| at > arrived) {
            return Ok(());
        }
        let discovery = discover_with(&self.fetch()?, &self.server_url, challenge).await?;
        match &state.session {
            Some(session) if session.discovery.issuer == discovery.issuer => {}
            Some(session) => {
                tracing::debug!(
                    target: "mcp_auth",
                    from = %session.discovery.issuer,
                    to = %discovery.issuer,
                    "the server moved to another authorization server"
                );
                self.start_session(&mut state, discovery).await?;
            }
            None => self.start_session(&mut state, discovery).await?,
        }
        let Some(session) = &state.session else {
            return Ok(());
        };
        let held = self.store.load(&session.key).await?;
        if let Some(tokens) = &held
            && self.grant == Grant::Code
            && tokens.refresh_token.is_some()
            && self.refresh(session, tokens).await?.is_some()
        {
            state.renewed = Some(Instant::now());
            return Ok(());
        }
        let scope = self.first_scope(session, challenge);
        self.obtain(session, scope.as_deref()).await?;
        state.renewed = Some(Instant::now());
        Ok(())
    }

    /// A 403 `insufficient_scope`: whether tokens with more scopes were
    /// obtained (or already are).
    async fn step_up(&self, challenge: &BearerChallenge) -> Result<bool, Error> {
        let mut state = self.state.lock().await;
        let Some(session) = &state.session else {
            return Ok(false);
        };
        let held = self.store.load(&session.key).await?;
        let granted: BTreeSet<String> =
            held.iter().flat_map(|t| t.scopes.iter().cloned()).collect();
        let needed: BTreeSet<String> = challenge.scopes().map(str::to_owned).collect();
        if needed.is_empty() {
            return Ok(false);
        }
        if held.is_some() && needed.is_subset(&granted) {
            // Stepped up already, by a request refused at the same time.
            return Ok(true);
        }
        let wanted: BTreeSet<String> = granted.union(&needed).cloned().collect();
        let done = state.step_ups.get(&wanted).copied().unwrap_or(0);
        if done >= MAX_STEP_UPS {
            tracing::debug!(target: "mcp_auth", ?wanted, "step-up limit reached");
            return Ok(false);
        }
        let scope = join(&wanted.iter().cloned().collect::<Vec<_>>());
        let Some(session) = &state.session else {
            return Ok(false);
        };
        let scope = flow::select_scope(
            scope.as_deref(),
            None,
            &session.discovery.authorization_server,
            self.grant == Grant::Code,
        );
        self.obtain(session, scope.as_deref()).await?;
        *state.step_ups.entry(wanted).or_default() += 1;
        state.renewed = Some(Instant::now());
        Ok(true)
    }
}

/// Scopes as one space-separated string; `None` for none.
fn join(scopes: &[String]) -> Option<String> {
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// The credentials of a registration, as the token endpoint takes them;
/// `key` signs the assertions of a `private_key_jwt` client.
fn credentials(registered: &ClientCredentials, key: Option<&SigningKey>) -> Credentials {
    let method = registered.token_endpoint_auth_method();
    let client = match (registered.client_secret(), key) {
        (_, Some(key)) if method == ClientAuthMethod::PrivateKeyJwt.name() => {
            Credentials::private_key(registered.client_id(), key.clone())
        }
        (Some(secret), _) => Credentials::confidential(registered.client_id(), secret.clone()),
        (None, _) => Credentials::public(registered.client_id()),
    };
    match ClientAuthMethod::from_name(registered.token_endpoint_auth_method()) {
        Some(method) => client.with_auth_method(method),
        None => client,
    }
}

#[async_trait::async_trait]
impl AuthProvider for OAuth {
    async fn authorization(
        &self,
    ) -> Result<Option<HeaderValue>, Box<dyn std::error::Error + Send + Sync>> {
        let Some(tokens) = self.access_token().await? else {
            return Ok(None);
        };
        let mut value = HeaderValue::try_from(format!("Bearer {}", tokens.access_token.expose()))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    async fn on_challenge(
        &self,
        challenge: &AuthChallenge,
    ) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
        let arrived = Instant::now();
        let bearer = BearerChallenge::parse(challenge.www_authenticate.iter().map(String::as_str));
        let outcome = match challenge.status.as_u16() {
            401 => self
                .unauthorized(bearer.as_ref(), arrived)
                .await
                .map(|()| true),
            403 => match &bearer {
                Some(b) if b.error.as_deref() == Some("insufficient_scope") => {
                    self.step_up(b).await
                }
                _ => Ok(false),
            },
            _ => Ok(false),
        };
        outcome.map_err(|e| {
            tracing::warn!(target: "mcp_auth", url = %challenge.url, "authorization failed: {e}");
            Box::new(e) as Box<dyn std::error::Error + Send + Sync>
        })
    }
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("server_url", &self.server_url)
            .field("client_name", &self.config.client_name)
            .field("grant", &self.grant)
            .field("sign_in_timeout", &self.sign_in)
            .field("refresh_margin", &self.margin)
            .field("scope", &self.scope)
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Secret;
    use crate::client::flow::tests::test_key;

    const ISSUER: &str = "https://as.example.com";

    #[test]
    fn a_private_key_jwt_client_signs_with_the_key() {
        let registered =
            ClientCredentials::public(ISSUER, "svc").with_auth_method("private_key_jwt");
        let client = credentials(&registered, Some(&test_key()));
        assert_eq!(client.client_id, "svc");
        assert!(client.signing_key.is_some());
        assert!(client.client_secret.is_none());
        assert_eq!(client.auth_method, Some(ClientAuthMethod::PrivateKeyJwt));
    }

    #[test]
    fn the_key_is_only_used_where_private_key_jwt_is_registered() {
        let secret = ClientCredentials::confidential(ISSUER, "app", Secret::new("s3cret"));
        let client = credentials(&secret, Some(&test_key()));
        assert!(client.signing_key.is_none());
        assert!(client.client_secret.is_some());
        assert_eq!(
            client.auth_method,
            Some(ClientAuthMethod::ClientSecretBasic)
        );

        let public = ClientCredentials::public(ISSUER, "cli");
        let client = credentials(&public, Some(&test_key()));
        assert!(client.signing_key.is_none());
        assert_eq!(client.auth_method, Some(ClientAuthMethod::None));
    }

    #[test]
    fn private_key_jwt_without_a_key_cannot_authenticate() {
        let registered =
            ClientCredentials::public(ISSUER, "svc").with_auth_method("private_key_jwt");
        let client = credentials(&registered, None);
        let metadata: crate::AuthorizationServerMetadata = serde_json::from_value(
            serde_json::json!({"issuer": ISSUER, "token_endpoint": "https://as.example.com/token"}),
        )
        .unwrap();
        assert!(matches!(
            client.auth_method(&metadata),
            Err(Error::Config(_))
        ));
    }
}
