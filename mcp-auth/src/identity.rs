//! Who a verified request comes from.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use mcp_core::JsonObject;
use mcp_core::transport::Principal;

/// The verified caller of a request, put in the request's extensions by
/// [`AuthLayer`](crate::AuthLayer): handlers read it with
/// `ctx.extensions().get::<Identity>()` to tell users apart.
///
/// The token itself is not kept: nothing downstream can pass it on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Identity {
    /// The subject (`sub`): the user, or the client acting for itself.
    pub subject: Option<String>,
    /// The OAuth client the token was issued to (`client_id`, else `azp`).
    pub client_id: Option<String>,
    /// The scopes granted.
    pub scopes: BTreeSet<String>,
    /// When the token stops being valid.
    pub expires_at: Option<SystemTime>,
    /// The authorization server that issued the token (`iss`).
    pub issuer: Option<String>,
    /// Every claim of the token (or of the introspection answer); shared,
    /// since the identity is cloned into every request.
    pub claims: Arc<JsonObject>,
}

impl Identity {
    /// An identity for `subject` with `scopes` and nothing else (API keys,
    /// tests).
    pub fn new(subject: impl Into<String>, scopes: impl IntoIterator<Item = String>) -> Self {
        Self {
            subject: Some(subject.into()),
            client_id: None,
            scopes: scopes.into_iter().collect(),
            expires_at: None,
            issuer: None,
            claims: Arc::default(),
        }
    }

    /// Reads the standard claims: `sub`, `client_id`/`azp`, `scope` (a
    /// space-separated string) or `scp` (a string or an array), `exp`,
    /// `iss`.
    pub fn from_claims(claims: JsonObject) -> Self {
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let mut scopes = BTreeSet::new();
        for name in ["scope", "scp"] {
            match claims.get(name) {
                Some(serde_json::Value::String(s)) => {
                    scopes.extend(s.split_ascii_whitespace().map(str::to_owned));
                }
                Some(serde_json::Value::Array(items)) => {
                    scopes.extend(items.iter().filter_map(|i| i.as_str()).map(str::to_owned));
                }
                _ => {}
            }
        }
        let expires_at = claims
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .map(|s| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s));
        Self {
            subject: text("sub"),
            client_id: text("client_id").or_else(|| text("azp")),
            scopes,
            expires_at,
            issuer: text("iss"),
            claims: Arc::new(claims),
        }
    }

    /// Who this is, as the server binds sessions to it: the issuer and the
    /// subject (or client id).
    pub fn principal(&self) -> Principal {
        let who = self.subject.as_deref().or(self.client_id.as_deref());
        Principal(format!(
            "{} {}",
            self.issuer.as_deref().unwrap_or_default(),
            who.unwrap_or_default()
        ))
    }

    /// Whether every scope of `needed` was granted.
    pub fn has_scopes<'a>(&self, needed: impl IntoIterator<Item = &'a String>) -> bool {
        needed.into_iter().all(|s| self.scopes.contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let a = Identity::from_claims(claims(serde_json::json!({
            "sub": "ada", "scope": "mcp:read  mcp:write", "azp": "app", "exp": 10
        })));
        assert_eq!(a.subject.as_deref(), Some("ada"));
        assert_eq!(a.client_id.as_deref(), Some("app"));
        assert_eq!(a.scopes.len(), 2);
        assert!(a.expires_at.is_some());
        let b = Identity::from_claims(claims(serde_json::json!({"scp": ["mcp:read"]})));
        assert!(b.has_scopes(&["mcp:read".to_owned()]));
        assert!(!b.has_scopes(&["mcp:write".to_owned()]));
    }
}
