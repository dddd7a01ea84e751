//! Getting a client ID at an authorization server, in the spec's order:
//! credentials the client already has for that issuer, a Client ID
//! Metadata Document, dynamic client registration (RFC 7591). Whatever
//! comes out is bound to the issuer that gave it.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use super::cimd::{ClientMetadataDocument, check_redirect_uri};
use crate::error::Error;
use crate::fetch::{SafeFetcher, is_loopback};
use crate::metadata::AuthorizationServerMetadata;
use crate::secret::Secret;

/// A client's identity at one authorization server, bound to that
/// server's issuer: client IDs are only valid where they were issued (RFC
/// 6749 §2.2), and the spec forbids using one server's credentials with
/// another.
///
/// The issuer is fixed at construction; whatever sends the credentials
/// must first pass [`ClientCredentials::check_issuer`] with the issuer it
/// is about to talk to. `Serialize` writes the secret in clear, for a
/// credential store; `Debug` does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientCredentials {
    issuer: String,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<Secret>,
    /// Seconds since the Unix epoch; `None` for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_expires_at: Option<u64>,
    token_endpoint_auth_method: String,
}

impl ClientCredentials {
    /// A public client (no secret, `token_endpoint_auth_method` `none`)
    /// registered at `issuer`.
    pub fn public(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            secret_expires_at: None,
            token_endpoint_auth_method: "none".to_owned(),
        }
    }

    /// A confidential client registered at `issuer`, authenticating with
    /// `client_secret_basic`.
    pub fn confidential(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        secret: Secret,
    ) -> Self {
        Self {
            client_secret: Some(secret),
            token_endpoint_auth_method: "client_secret_basic".to_owned(),
            ..Self::public(issuer, client_id)
        }
    }

    /// These credentials authenticating at the token endpoint with
    /// `method` (`client_secret_post`, …).
    #[must_use]
    pub fn with_auth_method(mut self, method: impl Into<String>) -> Self {
        self.token_endpoint_auth_method = method.into();
        self
    }

    /// These credentials with a secret that expires at `at` (seconds since
    /// the Unix epoch).
    #[must_use]
    pub fn with_secret_expiry(mut self, at: u64) -> Self {
        self.secret_expires_at = Some(at);
        self
    }

    /// The issuer of the authorization server they belong to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, for a confidential client.
    pub fn client_secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// When the secret expires (seconds since the Unix epoch); `None` for
    /// never.
    pub fn secret_expires_at(&self) -> Option<u64> {
        self.secret_expires_at
    }

    /// How the client authenticates at the token endpoint (`none`,
    /// `client_secret_basic`, `client_secret_post`, …).
    pub fn token_endpoint_auth_method(&self) -> &str {
        &self.token_endpoint_auth_method
    }

    /// Whether the secret has expired at `now`; the client must register
    /// again.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.secret_expires_at
            .is_some_and(|at| SystemTime::UNIX_EPOCH + Duration::from_secs(at) <= now)
    }

    /// That these credentials were issued by `issuer` (exact comparison).
    ///
    /// # Errors
    /// [`Error::Refused`] when they belong to another authorization server:
    /// register there instead.
    pub fn check_issuer(&self, issuer: &str) -> Result<(), Error> {
        if self.issuer == issuer {
            Ok(())
        } else {
            Err(Error::Refused(
                format!(
                    "client {} belongs to {}, not to {issuer}: credentials are never sent to \
                 another authorization server",
                    self.client_id, self.issuer
                )
                .into(),
            ))
        }
    }
}

/// How [`register`] got the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationMethod {
    /// Credentials the client had for this issuer: pre-registered, or kept
    /// from an earlier registration.
    PreRegistered,
    /// The client's Client ID Metadata Document URL: the same client ID
    /// at every server that takes one, though still bound to this issuer
    /// like any other.
    MetadataDocument,
    /// Dynamic client registration (RFC 7591).
    Dynamic,
}

/// What [`register`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registration {
    /// The credentials, bound to the authorization server's issuer. Keep
    /// those of a dynamic registration (under the issuer) and pass them
    /// back in [`ClientConfig::credentials`] next time.
    pub credentials: ClientCredentials,
    /// How they were obtained.
    pub method: RegistrationMethod,
    /// RFC 7592: the token to read or change the registration.
    pub registration_access_token: Option<Secret>,
    /// RFC 7592: where the registration can be read or changed.
    pub registration_client_uri: Option<String>,
    /// When the client ID was issued (seconds since the Unix epoch).
    pub client_id_issued_at: Option<u64>,
}

/// The client as it describes itself to authorization servers, and the
/// credentials it already has.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Shown to the user on the consent screen.
    pub client_name: String,
    /// Where authorization responses go: https, or http on a loopback host
    /// (`127.0.0.1`, `[::1]`, `localhost`).
    pub redirect_uris: Vec<String>,
    /// `authorization_code` and `refresh_token` by default.
    pub grant_types: Vec<String>,
    /// `none` by default: a public client, which is what an MCP client on
    /// a user's machine is.
    pub token_endpoint_auth_method: String,
    /// For dynamic registration: `None` picks `native` when every redirect
    /// URI is loopback, else `web` (OpenID Connect Registration; the spec
    /// requires sending one).
    pub application_type: Option<String>,
    /// Scopes the client may ask for (`scope` in the registration).
    pub scope: Option<String>,
    /// The client's home page.
    pub client_uri: Option<String>,
    /// The client's logo.
    pub logo_uri: Option<String>,
    /// Identifies the client software across registrations.
    pub software_id: Option<String>,
    /// The client software's version.
    pub software_version: Option<String>,
    /// The https URL where the client's Client ID Metadata Document is
    /// served (see [`ClientConfig::metadata_document`]): the client ID at
    /// every authorization server that supports those documents.
    pub metadata_document_url: Option<String>,
    /// Credentials the client has: pre-registered, or kept from earlier
    /// registrations. Only those of the authorization server's issuer are
    /// ever used there.
    pub credentials: Vec<ClientCredentials>,
}

impl ClientConfig {
    /// A public client named `client_name` receiving authorization
    /// responses at `redirect_uris`.
    pub fn new<I, S>(client_name: impl Into<String>, redirect_uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            client_name: client_name.into(),
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
            grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            token_endpoint_auth_method: "none".to_owned(),
            application_type: None,
            scope: None,
            client_uri: None,
            logo_uri: None,
            software_id: None,
            software_version: None,
            metadata_document_url: None,
            credentials: Vec::new(),
        }
    }

    /// Adds credentials the client has (for their issuer only).
    #[must_use]
    pub fn with_credentials(mut self, credentials: ClientCredentials) -> Self {
        self.credentials.push(credentials);
        self
    }

    /// Uses the Client ID Metadata Document served at `url` where
    /// authorization servers support it.
    #[must_use]
    pub fn with_metadata_document(mut self, url: impl Into<String>) -> Self {
        self.metadata_document_url = Some(url.into());
        self
    }

    /// The Client ID Metadata Document to serve at
    /// [`ClientConfig::metadata_document_url`].
    ///
    /// # Errors
    /// [`Error::Config`] without a URL, or as
    /// [`ClientMetadataDocument::validate`].
    pub fn metadata_document(&self) -> Result<ClientMetadataDocument, Error> {
        let Some(url) = &self.metadata_document_url else {
            return Err(Error::Config(
                "no metadata_document_url for a Client ID Metadata Document"
                    .to_owned()
                    .into(),
            ));
        };
        let mut document = ClientMetadataDocument::new(url, &self.client_name, &self.redirect_uris);
        document.grant_types.clone_from(&self.grant_types);
        document.response_types = self.response_types();
        document
            .token_endpoint_auth_method
            .clone_from(&self.token_endpoint_auth_method);
        document.scope.clone_from(&self.scope);
        document.client_uri.clone_from(&self.client_uri);
        document.logo_uri.clone_from(&self.logo_uri);
        document.software_id.clone_from(&self.software_id);
        document.software_version.clone_from(&self.software_version);
        document.validate()?;
        Ok(document)
    }

    fn response_types(&self) -> Vec<String> {
        if self.grant_types.iter().any(|g| g == "authorization_code") {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        }
    }

    fn application_type(&self) -> String {
        self.application_type.clone().unwrap_or_else(|| {
            let native = !self.redirect_uris.is_empty()
                && self
                    .redirect_uris
                    .iter()
                    .all(|u| Url::parse(u).is_ok_and(|u| is_loopback(&u)));
            if native { "native" } else { "web" }.to_owned()
        })
    }

    fn validate(&self) -> Result<(), Error> {
        if self.redirect_uris.is_empty()
            && self.grant_types.iter().any(|g| g == "authorization_code")
        {
            return Err(Error::Config(
                "the authorization code grant needs a redirect URI"
                    .to_owned()
                    .into(),
            ));
        }
        self.redirect_uris
            .iter()
            .try_for_each(|u| check_redirect_uri(u))
    }

    /// The RFC 7591 registration request.
    fn registration_request(&self) -> serde_json::Value {
        let mut request = serde_json::json!({
            "client_name": self.client_name,
            "redirect_uris": self.redirect_uris,
            "grant_types": self.grant_types,
            "response_types": self.response_types(),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "application_type": self.application_type(),
        });
        let optional = [
            ("scope", &self.scope),
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("software_id", &self.software_id),
            ("software_version", &self.software_version),
        ];
        if let Some(object) = request.as_object_mut() {
            for (key, value) in optional {
                if let Some(value) = value {
                    object.insert(key.to_owned(), value.clone().into());
                }
            }
        }
        request
    }
}

/// Gets a client ID at the authorization server described by `metadata`,
/// through a [`SafeFetcher`] on the default [`FetchPolicy`](crate::FetchPolicy).
///
/// See [`register_with`].
///
/// # Errors
/// As [`register_with`].
pub async fn register(
    config: &ClientConfig,
    metadata: &AuthorizationServerMetadata,
) -> Result<Registration, Error> {
    let fetch = SafeFetcher::shared()?;
    register_with(&fetch, config, metadata).await
}

/// Gets a client ID at the authorization server described by `metadata`
/// (normally [`Discovery::authorization_server`](super::Discovery)), in the
/// spec's order:
///
/// 1. credentials in [`ClientConfig::credentials`] for exactly this issuer
///    whose secret has not expired;
/// 2. the Client ID Metadata Document URL, when the server says
///    `client_id_metadata_document_supported` and the client has one;
/// 3. dynamic client registration (RFC 7591), when the server has a
///    `registration_endpoint`: `application_type` `native` for loopback
///    redirect URIs, and the answer's `redirect_uris`, if echoed, must be
///    those sent.
///
/// # Errors
/// [`Error::Config`] when the configuration is invalid or none of the
/// three applies (the user must supply a client ID);
/// [`Error::OAuth`] when the server refuses the registration (e.g.
/// `invalid_redirect_uri`); [`Error::Refused`] for an answer registering
/// other redirect URIs, or an endpoint the policy refuses; as
/// [`SafeFetcher::post_json`] otherwise.
pub async fn register_with(
    fetch: &SafeFetcher,
    config: &ClientConfig,
    metadata: &AuthorizationServerMetadata,
) -> Result<Registration, Error> {
    config.validate()?;
    let issuer = &metadata.issuer;
    let registration = |credentials, method| Registration {
        credentials,
        method,
        registration_access_token: None,
        registration_client_uri: None,
        client_id_issued_at: None,
    };

    let now = SystemTime::now();
    if let Some(known) = config
        .credentials
        .iter()
        .find(|c| c.issuer == *issuer && !c.is_expired(now))
    {
        return Ok(registration(
            known.clone(),
            RegistrationMethod::PreRegistered,
        ));
    }

    if metadata.client_id_metadata_document_supported == Some(true)
        && let Some(url) = &config.metadata_document_url
    {
        let document = config.metadata_document()?;
        let credentials = ClientCredentials::public(issuer, url)
            .with_auth_method(document.token_endpoint_auth_method);
        return Ok(registration(
            credentials,
            RegistrationMethod::MetadataDocument,
        ));
    }

    let Some(endpoint) = &metadata.registration_endpoint else {
        return Err(Error::Config(
            format!(
                "no way to get a client ID at {issuer}: no credentials for it are configured, it \
             does not take Client ID Metadata Documents{}, and it has no registration endpoint",
                if config.metadata_document_url.is_none() {
                    " (nor does the client have one)"
                } else {
                    ""
                }
            )
            .into(),
        ));
    };
    let answer: RegistrationResponse = fetch
        .post_json(endpoint, &config.registration_request())
        .await?;
    answer.into_registration(issuer, endpoint, config)
}

/// RFC 7591 §3.2.1, the members read.
#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    client_secret: Option<String>,
    client_id_issued_at: Option<u64>,
    client_secret_expires_at: Option<u64>,
    registration_access_token: Option<String>,
    registration_client_uri: Option<String>,
    token_endpoint_auth_method: Option<String>,
    redirect_uris: Option<Vec<String>>,
}

impl RegistrationResponse {
    fn into_registration(
        self,
        issuer: &str,
        endpoint: &str,
        config: &ClientConfig,
    ) -> Result<Registration, Error> {
        if self.client_id.is_empty() {
            return Err(Error::InvalidResponse(
                format!("{endpoint}: an empty client_id").into(),
            ));
        }
        if let Some(registered) = &self.redirect_uris {
            let mut got: Vec<&str> = registered.iter().map(String::as_str).collect();
            let mut sent: Vec<&str> = config.redirect_uris.iter().map(String::as_str).collect();
            got.sort_unstable();
            got.dedup();
            sent.sort_unstable();
            sent.dedup();
            if got != sent {
                return Err(Error::Refused(
                    format!(
                        "{endpoint} registered the redirect URIs {registered:?}, not {:?}",
                        config.redirect_uris
                    )
                    .into(),
                ));
            }
        }
        let method = self
            .token_endpoint_auth_method
            .unwrap_or_else(|| config.token_endpoint_auth_method.clone());
        let mut credentials = match self.client_secret {
            Some(secret) => {
                ClientCredentials::confidential(issuer, self.client_id, Secret::new(secret))
            }
            None => ClientCredentials::public(issuer, self.client_id),
        }
        .with_auth_method(method);
        // RFC 7591: 0 is "never".
        credentials.secret_expires_at = self.client_secret_expires_at.filter(|&at| at != 0);
        Ok(Registration {
            credentials,
            method: RegistrationMethod::Dynamic,
            registration_access_token: self.registration_access_token.map(Secret::new),
            registration_client_uri: self.registration_client_uri,
            client_id_issued_at: self.client_id_issued_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const REDIRECT: &str = "http://127.0.0.1:53682/callback";

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = ClientCredentials::confidential("https://as", "id", Secret::new("hunter2"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret([redacted])"), "{shown}");
        let r = Registration {
            credentials: c.clone(),
            method: RegistrationMethod::Dynamic,
            registration_access_token: Some(Secret::new("rat-value")),
            registration_client_uri: None,
            client_id_issued_at: None,
        };
        assert!(!format!("{r:?}").contains("rat-value"));
        assert_eq!(c.client_secret().map(Secret::expose), Some("hunter2"));
        // A store gets the secret back.
        let stored = serde_json::to_value(&c).unwrap();
        assert_eq!(stored["client_secret"], "hunter2");
        assert_eq!(
            serde_json::from_value::<ClientCredentials>(stored).unwrap(),
            c
        );
    }

    #[test]
    fn credentials_are_bound_to_their_issuer() {
        let c = ClientCredentials::public("https://as.example.com", "abc");
        assert_eq!(c.check_issuer("https://as.example.com"), Ok(()));
        for other in [
            "https://other.example.com",
            "https://as.example.com/",
            "https://AS.example.com",
        ] {
            assert!(
                matches!(c.check_issuer(other), Err(Error::Refused(_))),
                "{other}"
            );
        }
    }

    #[test]
    fn expiry() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let c = ClientCredentials::public("i", "c");
        assert!(!c.is_expired(at));
        assert!(c.clone().with_secret_expiry(1000).is_expired(at));
        assert!(!c.with_secret_expiry(1001).is_expired(at));
    }

    #[test]
    fn registration_request_for_a_loopback_client() {
        let config = ClientConfig::new("My MCP client", [REDIRECT]);
        assert_eq!(
            config.registration_request(),
            json!({
                "client_name": "My MCP client",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "application_type": "native",
            })
        );
        let mut web = ClientConfig::new("w", ["https://app.example.com/cb", REDIRECT]);
        web.scope = Some("mcp:read".into());
        web.software_id = Some("sid".into());
        let request = web.registration_request();
        assert_eq!(request["application_type"], "web");
        assert_eq!(request["scope"], "mcp:read");
        assert_eq!(request["software_id"], "sid");
        assert_eq!(request.get("logo_uri"), None);
        web.application_type = Some("native".into());
        assert_eq!(web.registration_request()["application_type"], "native");
        for native in ["http://localhost:1/cb", "http://[::1]:2/cb"] {
            assert_eq!(
                ClientConfig::new("n", [native]).registration_request()["application_type"],
                "native"
            );
        }
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback() {
        for ok in [
            REDIRECT,
            "http://localhost/cb",
            "https://app.example.com/cb",
        ] {
            assert_eq!(ClientConfig::new("c", [ok]).validate(), Ok(()), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "http://10.0.0.1/cb",
            "com.example.app:/cb",
            "https://app.example.com/cb#x",
            "/cb",
        ] {
            assert!(
                matches!(
                    ClientConfig::new("c", [bad]).validate(),
                    Err(Error::Config(_))
                ),
                "{bad}"
            );
        }
        let none: [&str; 0] = [];
        assert!(ClientConfig::new("c", none).validate().is_err());
        let mut machine = ClientConfig::new("c", none);
        machine.grant_types = vec!["client_credentials".into()];
        assert_eq!(machine.validate(), Ok(()));
        assert_eq!(machine.registration_request()["response_types"], json!([]));
    }

    #[test]
    fn metadata_documents() {
        let config = ClientConfig::new("Example MCP Client", [REDIRECT])
            .with_metadata_document("https://app.example.com/oauth/client-metadata.json");
        let doc = config.metadata_document().unwrap();
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            json!({
                "client_id": "https://app.example.com/oauth/client-metadata.json",
                "client_name": "Example MCP Client",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })
        );
        for (bad, why) in [
            ("http://app.example.com/client.json", "https"),
            ("https://app.example.com", "path"),
            ("https://app.example.com/", "path"),
            ("https://App.example.com/client.json", "canonical"),
            ("https://app.example.com/a/../client.json", "canonical"),
            ("https://app.example.com/client.json#x", "fragment"),
            ("https://u@app.example.com/client.json", "user"),
            ("client.json", "absolute"),
        ] {
            match ClientMetadataDocument::new(bad, "n", [REDIRECT]).validate() {
                Err(Error::Config(e)) => assert!(e.contains(why), "{bad}: {e}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let mut secret = ClientMetadataDocument::new("https://a.example/c.json", "n", [REDIRECT]);
        secret.token_endpoint_auth_method = "client_secret_basic".into();
        assert!(secret.validate().is_err());
        assert!(
            ClientMetadataDocument::new("https://a.example/c.json", " ", [REDIRECT])
                .validate()
                .is_err()
        );
        let none: [&str; 0] = [];
        assert!(
            ClientMetadataDocument::new("https://a.example/c.json", "n", none)
                .validate()
                .is_err()
        );
    }

    fn metadata(doc: serde_json::Value) -> AuthorizationServerMetadata {
        serde_json::from_value(doc).unwrap()
    }

    #[tokio::test]
    async fn known_credentials_then_metadata_documents_without_a_request() {
        // No registration endpoint: nothing here may touch the network.
        let a = metadata(
            json!({"issuer": "https://a.example", "client_id_metadata_document_supported": true}),
        );
        let b = metadata(json!({"issuer": "https://b.example"}));
        let config = ClientConfig::new("c", [REDIRECT])
            .with_credentials(ClientCredentials::public("https://b.example", "for-b"))
            .with_metadata_document("https://app.example/client.json");
        let r = register(&config, &a).await.unwrap();
        assert_eq!(r.method, RegistrationMethod::MetadataDocument);
        assert_eq!(r.credentials.client_id(), "https://app.example/client.json");
        assert_eq!(r.credentials.issuer(), "https://a.example");
        let r = register(&config, &b).await.unwrap();
        assert_eq!(r.method, RegistrationMethod::PreRegistered);
        assert_eq!(r.credentials.client_id(), "for-b");
        // b's credentials are never used at c, which offers nothing else.
        let c = metadata(json!({"issuer": "https://c.example"}));
        let e = register(&config, &c).await.unwrap_err();
        assert!(
            matches!(&e, Error::Config(why) if why.contains("https://c.example")),
            "{e:?}"
        );
        // An expired secret is not used.
        let expired = ClientConfig::new("c", [REDIRECT]).with_credentials(
            ClientCredentials::confidential("https://b.example", "old", Secret::new("s"))
                .with_secret_expiry(1),
        );
        assert!(matches!(
            register(&expired, &b).await,
            Err(Error::Config(_))
        ));
        // Without the document URL, a supporting server still needs another way.
        let plain = ClientConfig::new("c", [REDIRECT]);
        assert!(matches!(register(&plain, &a).await, Err(Error::Config(_))));
    }

    #[test]
    fn registration_responses() {
        let config = ClientConfig::new("c", [REDIRECT, "http://localhost:1/cb"]);
        let parse = |v: serde_json::Value| {
            serde_json::from_value::<RegistrationResponse>(v)
                .unwrap()
                .into_registration("https://as", "https://as/reg", &config)
        };
        let r = parse(json!({
            "client_id": "abc",
            "client_secret": "s3cr3t",
            "client_secret_expires_at": 0,
            "client_id_issued_at": 17,
            "registration_access_token": "rat",
            "registration_client_uri": "https://as/reg/abc",
            "token_endpoint_auth_method": "client_secret_post",
            "redirect_uris": ["http://localhost:1/cb", REDIRECT],
        }))
        .unwrap();
        assert_eq!(r.credentials.issuer(), "https://as");
        assert_eq!(r.credentials.client_id(), "abc");
        assert_eq!(r.credentials.client_secret().unwrap().expose(), "s3cr3t");
        assert_eq!(r.credentials.secret_expires_at(), None);
        assert_eq!(
            r.credentials.token_endpoint_auth_method(),
            "client_secret_post"
        );
        assert_eq!(r.registration_access_token.unwrap().expose(), "rat");
        assert_eq!(r.client_id_issued_at, Some(17));
        let r = parse(json!({"client_id": "p", "client_secret_expires_at": 99})).unwrap();
        assert_eq!(r.credentials.token_endpoint_auth_method(), "none");
        assert_eq!(r.credentials.secret_expires_at(), Some(99));
        assert!(matches!(
            parse(json!({"client_id": "x", "redirect_uris": ["https://evil.example/cb"]})),
            Err(Error::Refused(_))
        ));
        assert!(matches!(
            parse(json!({"client_id": ""})),
            Err(Error::InvalidResponse(_))
        ));
    }
}
