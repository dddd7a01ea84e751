//! The metadata documents of MCP authorization: Protected Resource
//! Metadata (RFC 9728), which an MCP server serves, and authorization
//! server metadata (RFC 8414 / OpenID Connect Discovery), which it reads.

use serde::{Deserialize, Serialize};

/// RFC 9728 Protected Resource Metadata: which authorization servers issue
/// tokens for this MCP server, and how to present them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource's canonical URL (the MCP endpoint); tokens must be
    /// issued for exactly this audience.
    pub resource: String,
    /// Issuer URLs of the authorization servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// Scopes clients may ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How tokens may be presented: only `header` here (RFC 6750 §2.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Where developers read about the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// The resource's policy on data use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// The resource's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for the MCP endpoint at `resource` whose credentials are
    /// handed out some other way (API keys): it names no authorization
    /// server, which RFC 9728 allows. An OAuth client learns from it that
    /// it cannot get a token by itself, instead of being sent to an
    /// authorization server that would not issue one.
    pub fn without_authorization_servers(resource: impl Into<String>) -> Self {
        Self {
            authorization_servers: Vec::new(),
            ..Self::new(resource, String::new())
        }
    }

    /// Metadata for the MCP endpoint at `resource`, whose tokens come from
    /// the authorization server `issuer`; tokens go in the header only.
    pub fn new(resource: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: vec![issuer.into()],
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
        }
    }

    /// Lists `scopes` as supported.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Names the resource.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The two paths the document is served at (RFC 9728 §3.1): the
    /// path-suffixed form for the resource's path (`/mcp` →
    /// `/.well-known/oauth-protected-resource/mcp`) and the root form.
    pub fn well_known_paths(&self) -> [String; 2] {
        let path = resource_path(&self.resource);
        let root = "/.well-known/oauth-protected-resource".to_owned();
        let suffixed = if path.is_empty() || path == "/" {
            root.clone()
        } else {
            format!("{root}{path}")
        };
        [suffixed, root]
    }

    /// The URL of the path-suffixed document, as challenges name it.
    pub fn url(&self) -> String {
        let [suffixed, _] = self.well_known_paths();
        format!("{}{suffixed}", origin(&self.resource))
    }
}

/// `https://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url
        .get(after_scheme..)
        .and_then(|rest| rest.find('/'))
        .map_or(url.len(), |i| i + after_scheme);
    url.get(..end).unwrap_or(url)
}

/// The path of a URL, without query or fragment.
fn resource_path(url: &str) -> &str {
    let rest = url.get(origin(url).len()..).unwrap_or_default();
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default().trim_end_matches('/')
}

/// Authorization server metadata (RFC 8414; OpenID Connect Discovery
/// documents parse too). Only what MCP needs is typed; the rest is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorizationServerMetadata {
    /// The issuer; must equal the URL the metadata was looked up for.
    pub issuer: String,
    /// Where users authorize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Where codes and refresh tokens become access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The signing keys of the access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Dynamic client registration (RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// Token introspection (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// Token revocation (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// Scopes the server knows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// PKCE methods; MCP clients refuse servers without `S256`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// Grant types the server issues tokens for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    /// How clients authenticate at the token endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 9207: the authorization response carries `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// Client ID Metadata Documents are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_document_supported: Option<bool>,
    /// Everything else the document says.
    #[serde(flatten)]
    pub other: mcp_core::JsonObject,
}

impl AuthorizationServerMetadata {
    /// Where to look for the metadata of `issuer`, in the order RFC 8414
    /// and OpenID Connect Discovery give: with a path, the well-known
    /// segment goes between host and path, then OpenID Connect's appended
    /// form.
    pub fn candidate_urls(issuer: &str) -> Vec<String> {
        let origin = origin(issuer);
        let path = resource_path(issuer);
        if path.is_empty() {
            vec![
                format!("{origin}/.well-known/oauth-authorization-server"),
                format!("{origin}/.well-known/openid-configuration"),
            ]
        } else {
            vec![
                format!("{origin}/.well-known/oauth-authorization-server{path}"),
                format!("{origin}/.well-known/openid-configuration{path}"),
                format!("{origin}{path}/.well-known/openid-configuration"),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_forms() {
        let prm =
            ProtectedResourceMetadata::new("https://mcp.example.com/mcp", "https://as.example");
        assert_eq!(
            prm.well_known_paths(),
            [
                "/.well-known/oauth-protected-resource/mcp".to_owned(),
                "/.well-known/oauth-protected-resource".to_owned()
            ]
        );
        assert_eq!(
            prm.url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let root = ProtectedResourceMetadata::new("http://127.0.0.1:8000", "x");
        assert_eq!(
            root.well_known_paths()[0],
            "/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            AuthorizationServerMetadata::candidate_urls("https://as.example/tenant/1"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant/1",
                "https://as.example/.well-known/openid-configuration/tenant/1",
                "https://as.example/tenant/1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            AuthorizationServerMetadata::candidate_urls("https://as.example/").len(),
            2
        );
    }
}
