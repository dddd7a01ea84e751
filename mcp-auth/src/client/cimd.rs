//! Client ID Metadata Documents: a client ID that is an https URL, whose
//! document the authorization server fetches.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Error;
use crate::fetch::is_loopback;
use crate::metadata_service::MetadataService;

/// A Client ID Metadata Document
/// (draft-ietf-oauth-client-id-metadata-document): the client's metadata,
/// served at the https URL that is its `client_id`. Authorization servers
/// fetch it when they see that URL as a client ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientMetadataDocument {
    /// The URL the document is served at, exactly.
    pub client_id: String,
    /// Shown to the user.
    pub client_name: String,
    /// Where authorization responses may go.
    pub redirect_uris: Vec<String>,
    /// `authorization_code` and `refresh_token` by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// `code` by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
    /// `none`; `private_key_jwt` with `jwks_uri`. Never a shared secret:
    /// the document is public.
    pub token_endpoint_auth_method: String,
    /// Scopes the client may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client's home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// The client's logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// The client's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// The client's privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// The client's public keys, for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// People responsible for the client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// Identifies the client software.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// The client software's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

impl ClientMetadataDocument {
    /// The document of a public client served at `client_id`, using the
    /// authorization code and refresh token grants.
    pub fn new<I, S>(
        client_id: impl Into<String>,
        client_name: impl Into<String>,
        redirect_uris: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            client_id: client_id.into(),
            client_name: client_name.into(),
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
            grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            response_types: vec!["code".to_owned()],
            token_endpoint_auth_method: "none".to_owned(),
            scope: None,
            client_uri: None,
            logo_uri: None,
            tos_uri: None,
            policy_uri: None,
            jwks_uri: None,
            contacts: Vec::new(),
            software_id: None,
            software_version: None,
        }
    }

    /// Checks what the spec and the draft require of the client: the
    /// `client_id` is an https URL with a path, in canonical form (servers
    /// compare it as a string), without fragment or user information; the
    /// redirect URIs are https or loopback http; the client does not
    /// authenticate with a shared secret.
    ///
    /// # Errors
    /// [`Error::Config`] saying what is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        check_metadata_document_url(&self.client_id)?;
        if self.client_name.trim().is_empty() {
            return Err(Error::Config(
                "a Client ID Metadata Document needs a client_name"
                    .to_owned()
                    .into(),
            ));
        }
        if self.redirect_uris.is_empty() {
            return Err(Error::Config(
                "a Client ID Metadata Document needs redirect_uris"
                    .to_owned()
                    .into(),
            ));
        }
        self.redirect_uris
            .iter()
            .try_for_each(|u| check_redirect_uri(u))?;
        if self.token_endpoint_auth_method.starts_with("client_secret") {
            return Err(Error::Config(
                format!(
                    "a Client ID Metadata Document cannot use {}: the document is public, so \
                 there is no shared secret",
                    self.token_endpoint_auth_method
                )
                .into(),
            ));
        }
        Ok(())
    }

    /// A service answering GET with this document as JSON; mount it at the
    /// path of `client_id`.
    pub fn service(&self) -> MetadataService {
        MetadataService::json(self)
    }
}

fn check_metadata_document_url(url: &str) -> Result<Url, Error> {
    let bad = |why: &str| {
        Err(Error::Config(
            format!("Client ID Metadata Document URL {url:?}: {why}").into(),
        ))
    };
    let Ok(parsed) = Url::parse(url) else {
        return bad("not an absolute URL");
    };
    if parsed.scheme() != "https" {
        return bad("it must be https");
    }
    if parsed.path() == "/" {
        return bad("it must have a path (https://example.com/client.json)");
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return bad("no fragment or user information allowed");
    }
    if parsed.as_str() != url {
        return bad(&format!(
            "not in canonical form ({parsed}); authorization servers compare it as a string"
        ));
    }
    Ok(parsed)
}

/// A redirect URI the spec allows: https, or http on a loopback host; no
/// fragment (RFC 6749 §3.1.2).
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::Config(format!("redirect URI {uri:?}: {why}").into()));
    let Ok(url) = Url::parse(uri) else {
        return bad("not an absolute URL");
    };
    if url.fragment().is_some() {
        return bad("it has a fragment");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        _ => bad("only https, or http on a loopback host, may receive authorization codes"),
    }
}
