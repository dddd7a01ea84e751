//! JWT access tokens (RFC 9068), checked against the authorization server's
//! signing keys (JWKS), which are cached and refetched only when a token
//! names a key not seen yet, at most once per cooldown.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use mcp_core::JsonObject;

use super::identity::Identity;
use super::verifier::TokenVerifier;
use crate::error::Error;
use crate::fetch::{FetchPolicy, SafeFetcher};
use crate::metadata::AuthorizationServerMetadata;

/// Settings of a [`JwtVerifier`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwtConfig {
    /// The authorization server; `iss` must equal it (or one of
    /// `issuer_aliases`).
    pub issuer: String,
    /// Other spellings of the issuer that tokens may carry in `iss`:
    /// Google writes `accounts.google.com` as well as
    /// `https://accounts.google.com`. Empty by default.
    pub issuer_aliases: Vec<String>,
    /// Accepted audiences; the `audience_claim` must contain one.
    /// Normally just the MCP endpoint's canonical URL (RFC 8707); some
    /// providers put their own identifier there instead.
    pub audience: Vec<String>,
    /// The claim that binds a token to this server, whose accepted values
    /// `audience` lists: `aud` (RFC 9068) unless the provider binds its
    /// tokens another way. Cognito's access tokens carry no `aud` but
    /// the app client in `client_id` ([`JwtConfig::cognito`]).
    pub audience_claim: String,
    /// Further claims every token must carry, each with one of the given
    /// values (a claim that is a string, number or boolean equal to one,
    /// or an array holding one): Cognito's `token_use` must be `access`;
    /// a Cloud Run service may accept only the service accounts that call
    /// it (`email`). Empty by default.
    pub required_claims: Vec<(String, Vec<String>)>,
    /// Accepted signing algorithms: asymmetric only by default. HMAC
    /// algorithms are never accepted from a JWKS, whatever this says.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Whether the header must say `typ: at+jwt` (RFC 9068). Off by
    /// default: several providers do not set it.
    pub require_typ: bool,
    /// Where the keys are; `None` reads `jwks_uri` from the authorization
    /// server's metadata.
    pub jwks_uri: Option<String>,
    /// Least time between two fetches of the keys.
    pub refresh_cooldown: Duration,
    /// Keys older than this are refetched (when the cooldown allows).
    pub max_key_age: Duration,
    /// What fetching the metadata and the keys may reach, and its limits
    /// (time, size): [`FetchPolicy::configured`] by default.
    pub fetch_policy: FetchPolicy,
}

impl JwtConfig {
    /// Tokens from `issuer` for `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            issuer_aliases: Vec::new(),
            audience: vec![audience.into()],
            audience_claim: "aud".to_owned(),
            required_claims: Vec::new(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
            ],
            leeway: Duration::from_secs(30),
            require_typ: false,
            jwks_uri: None,
            refresh_cooldown: Duration::from_secs(30),
            max_key_age: Duration::from_secs(3600),
            fetch_policy: FetchPolicy::configured(),
        }
    }
}

impl JwtConfig {
    /// Google-signed OpenID Connect ID tokens for `audience`: what Cloud
    /// Run's service-to-service authentication sends (a service account's
    /// ID token whose `aud` is the receiving service's URL, fetched from
    /// the metadata server or with `gcloud auth print-identity-token
    /// --audiences URL`). Issuer `https://accounts.google.com` (either
    /// spelling), keys from Google's JWKS, RS256.
    ///
    /// Any Google account can get an ID token for any audience: name the
    /// callers too, with `required_claims` (`email`, the service
    /// accounts allowed), or check the identity's claims in the handler.
    ///
    /// ```
    /// use mcp_auth::JwtConfig;
    ///
    /// let mut config = JwtConfig::google_id_tokens("https://notes-abc123-uc.a.run.app/mcp");
    /// config.required_claims.push((
    ///     "email".to_owned(),
    ///     vec!["caller@my-project.iam.gserviceaccount.com".to_owned()],
    /// ));
    /// ```
    pub fn google_id_tokens(audience: impl Into<String>) -> Self {
        let mut config = Self::new("https://accounts.google.com", audience);
        config.issuer_aliases = vec!["accounts.google.com".to_owned()];
        config.jwks_uri = Some("https://www.googleapis.com/oauth2/v3/certs".to_owned());
        config.algorithms = vec![Algorithm::RS256];
        config
    }

    /// Access tokens of an Amazon Cognito user pool (`region`,
    /// `user_pool_id`) for the app clients `client_ids`: Cognito binds
    /// its access tokens to the app client (`client_id`) and leaves `aud`
    /// out, so that claim stands in for the audience, and `token_use`
    /// must be `access` (an ID token, whose `aud` is the client, is not
    /// accepted as a bearer token). RS256.
    ///
    /// This binds tokens to your clients, not to the server's URL: give
    /// this server app clients and scopes (a resource server) no other
    /// service accepts. With Cognito's resource binding, tokens carry
    /// `aud` again: use [`JwtConfig::new`] with the issuer.
    ///
    /// ```
    /// use mcp_auth::JwtConfig;
    ///
    /// let config = JwtConfig::cognito("eu-west-1", "eu-west-1_AbCdEf123", ["3n4b5urk1ft4fl3mg5e62d9ado"]);
    /// assert_eq!(config.issuer, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123");
    /// ```
    pub fn cognito<I, C>(region: &str, user_pool_id: &str, client_ids: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: Into<String>,
    {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}");
        let mut config = Self::new(issuer, "");
        config.audience = client_ids.into_iter().map(Into::into).collect();
        config.audience_claim = "client_id".to_owned();
        config.required_claims = vec![("token_use".to_owned(), vec!["access".to_owned()])];
        config.algorithms = vec![Algorithm::RS256];
        config
    }
}

/// Whether claim `value` is, or holds, one of `accepted`.
fn claim_matches(value: Option<&serde_json::Value>, accepted: &[String]) -> bool {
    use serde_json::Value;
    let one = |v: &Value| match v {
        Value::String(s) => accepted.iter().any(|a| a == s),
        Value::Bool(_) | Value::Number(_) => {
            let text = v.to_string();
            accepted.contains(&text)
        }
        _ => false,
    };
    match value {
        Some(Value::Array(items)) => items.iter().any(one),
        Some(v) => one(v),
        None => false,
    }
}

/// Verifies JWT access tokens against the issuer's JWKS.
///
/// Checks, in order: the header parses and names an allowed algorithm (so
/// `alg: none` and HMAC tokens are refused), `typ` when required, a known
/// key of the algorithm's family (refetching the JWKS once per cooldown for
/// an unknown `kid`), the signature, `iss`, `aud`, `exp`, `nbf` and `iat`
/// with the leeway.
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: JwtConfig,
    /// Set on first use when the configuration leaves it to discovery.
    jwks_uri: tokio::sync::OnceCell<String>,
    fetcher: SafeFetcher,
    keys: RwLock<Keys>,
    /// When the keys were last fetched (or tried); held while fetching, so
    /// concurrent requests share one fetch.
    fetched: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct Keys {
    by_kid: HashMap<String, Arc<Key>>,
    /// Keys without a `kid`, for tokens without one.
    anonymous: Vec<Arc<Key>>,
    at: Option<Instant>,
}

#[derive(Debug)]
struct Key {
    key: DecodingKey,
    /// The algorithm the JWK is restricted to, if it says.
    alg: Option<Algorithm>,
}

impl JwtVerifier {
    /// A verifier for `config`: finds the JWKS (through the authorization
    /// server's metadata unless `jwks_uri` is set) and loads the keys, so
    /// that a wrong setup shows at startup.
    ///
    /// # Errors
    /// [`Error::Config`] when the metadata's issuer differs or it has no
    /// `jwks_uri`; [`Error::Unavailable`] when nothing answers.
    pub async fn discover(config: JwtConfig) -> Result<Self, Error> {
        let verifier = Self::deferred(config)?;
        verifier.inner.refresh(true).await?;
        Ok(verifier)
    }

    /// A verifier for `config` that finds and loads the keys when first
    /// needed, for servers that must start while the authorization server
    /// is not up yet. Until the keys are loaded, [`TokenVerifier::ready`]
    /// fails (so a readiness probe keeps traffic away) and tokens are
    /// refused as unavailable (503).
    ///
    /// # Errors
    /// [`Error::Config`] when the fetch policy cannot be applied.
    pub fn deferred(config: JwtConfig) -> Result<Self, Error> {
        let fetcher = SafeFetcher::new(config.fetch_policy.clone())?;
        let jwks_uri = tokio::sync::OnceCell::new_with(config.jwks_uri.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                jwks_uri,
                fetcher,
                keys: RwLock::default(),
                fetched: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

/// The `jwks_uri` of `issuer`'s metadata, checking that the metadata is
/// the issuer's own.
async fn discover_jwks_uri(fetcher: &SafeFetcher, issuer: &str) -> Result<String, Error> {
    let metadata = metadata(fetcher, issuer).await?;
    metadata
        .jwks_uri
        .ok_or_else(|| Error::Config(format!("the metadata of {issuer} has no jwks_uri").into()))
}

/// The metadata of `issuer`, from the first well-known URL that answers.
pub(crate) async fn metadata(
    fetcher: &SafeFetcher,
    issuer: &str,
) -> Result<AuthorizationServerMetadata, Error> {
    let mut last = None;
    for url in AuthorizationServerMetadata::candidate_urls(issuer) {
        match fetcher.get_json::<AuthorizationServerMetadata>(&url).await {
            Ok(metadata) if metadata.issuer == issuer => return Ok(metadata),
            Ok(metadata) => {
                return Err(Error::Config(
                    format!("{url} names issuer {}, not {issuer}", metadata.issuer).into(),
                ));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Unavailable(format!("no metadata for {issuer}").into())))
}

impl Inner {
    /// Fetches the keys, unless they were fetched within the cooldown
    /// (`force` skips the age check but never the cooldown).
    async fn refresh(&self, force: bool) -> Result<(), Error> {
        let mut fetched = self.fetched.lock().await;
        if let Some(at) = *fetched {
            let fresh = at.elapsed() < self.config.max_key_age;
            if at.elapsed() < self.config.refresh_cooldown || (fresh && !force) {
                return Ok(());
            }
        }
        *fetched = Some(Instant::now());
        let jwks_uri = self
            .jwks_uri
            .get_or_try_init(|| discover_jwks_uri(&self.fetcher, &self.config.issuer))
            .await?;
        let set: JwkSet = self.fetcher.get_json(jwks_uri).await?;
        let mut keys = Keys {
            at: Some(Instant::now()),
            ..Keys::default()
        };
        for jwk in &set.keys {
            // Only signature keys of asymmetric families: a symmetric
            // ("oct") key in a JWKS would let anyone who reads the JWKS
            // sign tokens.
            if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
                || matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature)
            {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            let key = Arc::new(Key { key, alg });
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), key);
                }
                None => keys.anonymous.push(key),
            }
        }
        tracing::debug!(uri = %jwks_uri, keys = set.keys.len(), "JWKS fetched");
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        Ok(())
    }

    fn has_keys(&self) -> bool {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        !keys.by_kid.is_empty() || !keys.anonymous.is_empty()
    }

    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<(Arc<Key>, bool)> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let stale = keys
            .at
            .is_none_or(|at| at.elapsed() >= self.config.max_key_age);
        let usable = |k: &&Arc<Key>| k.alg.is_none_or(|a| a == alg);
        let key = match kid {
            Some(kid) => keys.by_kid.get(kid).filter(usable),
            None => keys.anonymous.iter().find(usable),
        };
        key.map(|k| (Arc::clone(k), stale))
    }

    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Arc<Key>, Error> {
        match self.find(kid, alg) {
            Some((key, false)) => return Ok(key),
            Some((key, true)) => {
                // Old keys still verify while the refetch fails.
                if let Err(e) = self.refresh(false).await {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping the old keys");
                }
                return Ok(self.find(kid, alg).map_or(key, |(k, _)| k));
            }
            None => {}
        }
        // A key not seen yet: the issuer may have rotated its keys.
        self.refresh(true).await?;
        self.find(kid, alg).map(|(k, _)| k).ok_or_else(|| {
            Error::InvalidToken(
                match kid {
                    Some(kid) => format!("unknown signing key {kid:?}"),
                    None => "no signing key for a token without kid".to_owned(),
                }
                .into(),
            )
        })
    }

    async fn verify(&self, token: &str) -> Result<Identity, Error> {
        let invalid = |why: String| Error::InvalidToken(why.into());
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            // A JWT whose algorithm this library does not even name
            // (`none`, made-up ones) is refused as such; anything else is
            // not a JWT, which another verifier may know.
            match header_alg(token) {
                Some(alg) => invalid(format!("algorithm {alg:?} not accepted")),
                // The decoder's own text can quote the token's bytes.
                None => {
                    tracing::debug!(target: "mcp_auth", kind = ?e.kind(), "not a JWT");
                    Error::Unrecognized("not a JWT with a supported algorithm".into())
                }
            }
        })?;
        let alg = header.alg;
        if alg.family() == jsonwebtoken::AlgorithmFamily::Hmac
            || !self.config.algorithms.contains(&alg)
        {
            return Err(invalid(format!("algorithm {alg:?} not accepted")));
        }
        if self.config.require_typ
            && !header.typ.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
            })
        {
            return Err(invalid(
                "not an access token (typ must be at+jwt)".to_owned(),
            ));
        }
        let key = self.key(header.kid.as_deref(), alg).await?;
        if !family_matches_key(alg, &key.key) {
            return Err(invalid(format!("the key does not fit algorithm {alg:?}")));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        let mut issuers = vec![self.config.issuer.as_str()];
        issuers.extend(self.config.issuer_aliases.iter().map(String::as_str));
        validation.set_issuer(&issuers);
        let by_aud = self.config.audience_claim == "aud";
        if by_aud {
            validation.set_audience(&self.config.audience);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        } else {
            // Bound by another claim, checked below; an `aud` the token
            // may also carry is the provider's business.
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "iss"]);
        }
        let data = jsonwebtoken::decode::<JsonObject>(token, &key.key, &validation)
            .map_err(|e| invalid(describe(e.kind())))?;
        let claim = &self.config.audience_claim;
        if !by_aud && !claim_matches(data.claims.get(claim), &self.config.audience) {
            return Err(invalid(match data.claims.get(claim) {
                None => format!("missing claim {claim}"),
                Some(_) => format!("issued for another audience ({claim})"),
            }));
        }
        for (name, accepted) in &self.config.required_claims {
            if !claim_matches(data.claims.get(name), accepted) {
                return Err(invalid(match data.claims.get(name) {
                    None => format!("missing claim {name}"),
                    Some(_) => format!("claim {name} has a value not accepted"),
                }));
            }
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        if let Some(iat) = data.claims.get("iat").and_then(serde_json::Value::as_u64)
            && iat > (now + self.config.leeway).as_secs()
        {
            return Err(invalid("issued in the future (iat)".to_owned()));
        }
        Ok(Identity::from_claims(data.claims))
    }
}

fn family_matches_key(alg: Algorithm, key: &DecodingKey) -> bool {
    key.family() == alg.family()
}

/// The `alg` of a JWT-shaped token's header, read without checking
/// anything else.
fn header_alg(token: &str) -> Option<String> {
    use base64::Engine as _;
    let (header, rest) = token.split_once('.')?;
    rest.split_once('.')?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let header: JsonObject = serde_json::from_slice(&json).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// What was wrong, in words a developer acts on.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".to_owned(),
        ErrorKind::ExpiredSignature => "expired".to_owned(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf)".to_owned(),
        ErrorKind::InvalidAudience => "issued for another audience (aud)".to_owned(),
        ErrorKind::InvalidIssuer => "issued by another authorization server (iss)".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim}"),
        ErrorKind::InvalidClaimFormat(claim) => format!("malformed claim {claim}"),
        ErrorKind::InvalidAlgorithm => "algorithm not accepted".to_owned(),
        other => format!("malformed token ({other:?})"),
    }
}

#[async_trait::async_trait]
impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<Identity, Error> {
        self.inner.verify(token).await
    }

    /// Ready once signing keys are loaded; while there are none, each
    /// probe tries to load them (at most once per refresh cooldown).
    async fn ready(&self) -> Result<(), Error> {
        if self.inner.has_keys() {
            return Ok(());
        }
        self.inner.refresh(true).await?;
        if self.inner.has_keys() {
            Ok(())
        } else {
            Err(Error::Unavailable("no signing keys loaded yet".into()))
        }
    }
}
