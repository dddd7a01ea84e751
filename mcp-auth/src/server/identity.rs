//! Who a verified request comes from.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use mcp_core::JsonObject;
use mcp_core::transport::{CallerClass, Principal};

/// The verified caller of a request, put in the request's extensions by
/// [`AuthLayer`](crate::AuthLayer): handlers read it with
/// `ctx.extensions().get::<Identity>()` to tell users apart.
///
/// Cheap to clone (it is shared). The token itself is not kept: nothing
/// downstream can pass it on.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity(Arc<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    subject: Option<String>,
    client_id: Option<String>,
    scopes: BTreeSet<String>,
    expires_at: Option<SystemTime>,
    issuer: Option<String>,
    claims: JsonObject,
    principal: Principal,
    /// `"user"` unless someone said otherwise (`class_set`).
    class: CallerClass,
    class_set: bool,
    /// Whether the auth layer may remember it for the token (not for
    /// verifiers as fast as the cache, whose answers must change at once).
    cacheable: bool,
}

impl Identity {
    /// An identity for `subject` with `scopes` and nothing else (API keys,
    /// tests).
    pub fn new(subject: impl Into<String>, scopes: impl IntoIterator<Item = String>) -> Self {
        Self::build(
            Some(subject.into()),
            None,
            scopes.into_iter().collect(),
            None,
            None,
            JsonObject::new(),
        )
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
        let (subject, client_id, issuer) = (
            text("sub"),
            text("client_id").or_else(|| text("azp")),
            text("iss"),
        );
        Self::build(subject, client_id, scopes, expires_at, issuer, claims)
    }

    fn build(
        subject: Option<String>,
        client_id: Option<String>,
        scopes: BTreeSet<String>,
        expires_at: Option<SystemTime>,
        issuer: Option<String>,
        claims: JsonObject,
    ) -> Self {
        // Issuer and subject (or client): sessions and sealed state are
        // bound to it, so it is worked out once.
        let who = subject.as_deref().or(client_id.as_deref());
        let principal = Principal(
            format!(
                "{} {}",
                issuer.as_deref().unwrap_or_default(),
                who.unwrap_or_default()
            )
            .into(),
        );
        Self(Arc::new(Inner {
            subject,
            client_id,
            scopes,
            expires_at,
            issuer,
            claims,
            principal,
            class: CallerClass(Arc::from("user")),
            class_set: false,
            cacheable: true,
        }))
    }

    /// The subject (`sub`): the user, or the client acting for itself.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The OAuth client the token was issued to (`client_id`, else `azp`).
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// The scopes granted.
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.0.scopes
    }

    /// When the token stops being valid.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at
    }

    /// The authorization server that issued the token (`iss`).
    pub fn issuer(&self) -> Option<&str> {
        self.0.issuer.as_deref()
    }

    /// Every claim of the token (or of the introspection answer).
    pub fn claims(&self) -> &JsonObject {
        &self.0.claims
    }

    /// Who this is, as the server binds sessions to it: the issuer and the
    /// subject (or client id).
    pub fn principal(&self) -> &Principal {
        &self.0.principal
    }

    /// This identity with the caller class `class`: what rate-limit
    /// policies choose quotas by. Verifiers of tokens say `"user"` (the
    /// default), [`ApiKeys`](crate::ApiKeys) says `"api-key"` for the
    /// identities it holds unless they were given a class.
    #[must_use]
    pub fn with_class(mut self, class: impl Into<String>) -> Self {
        let inner = Arc::make_mut(&mut self.0);
        inner.class = CallerClass(class.into().into());
        inner.class_set = true;
        self
    }

    /// The caller class (`"user"` unless set).
    pub fn class(&self) -> &CallerClass {
        &self.0.class
    }

    /// Whether the auth layer may remember this identity for its token.
    pub(crate) fn cacheable(&self) -> bool {
        self.0.cacheable
    }

    /// This identity, never remembered for its token: its verifier is
    /// as fast as the cache, and its answer must change as soon as the
    /// verifier's does.
    pub(crate) fn uncached(mut self) -> Self {
        Arc::make_mut(&mut self.0).cacheable = false;
        self
    }

    /// This identity classed as `class` unless it was classed already.
    pub(crate) fn or_class(self, class: &str) -> Self {
        if self.0.class_set {
            self
        } else {
            self.with_class(class)
        }
    }

    /// Whether every scope of `needed` was granted.
    pub fn has_scopes<'a>(&self, needed: impl IntoIterator<Item = &'a String>) -> bool {
        needed.into_iter().all(|s| self.0.scopes.contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let a = Identity::from_claims(claims(serde_json::json!({
            "sub": "ada", "scope": "mcp:read  mcp:write", "azp": "app", "exp": 10, "iss": "https://as"
        })));
        assert_eq!(a.subject(), Some("ada"));
        assert_eq!(a.client_id(), Some("app"));
        assert_eq!(a.scopes().len(), 2);
        assert!(a.expires_at().is_some());
        assert_eq!(&*a.principal().0, "https://as ada");
        let b = Identity::from_claims(claims(serde_json::json!({"scp": ["mcp:read"]})));
        assert!(b.has_scopes(&["mcp:read".to_owned()]));
        assert!(!b.has_scopes(&["mcp:write".to_owned()]));
    }
}
