//! Token endpoint requests: one form POST, no redirects, the client
//! authenticated as chosen, and a strictly read answer.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::{ClientAuthMethod, Credentials};
use crate::client::Secret;
use crate::client::store::StoredTokens;
use crate::error::Error;
use crate::fetch::SafeFetcher;

/// Longest OAuth error text kept.
const MAX_TEXT: usize = 300;

/// A token response, read.
#[derive(Debug)]
pub(super) struct Granted {
    pub(super) tokens: StoredTokens,
    /// Whether the server said which scopes it granted.
    pub(super) scope_given: bool,
    /// What a token exchange issued (RFC 8693 `issued_token_type`).
    pub(super) issued_token_type: Option<String>,
}

/// POSTs `params` to the token endpoint of `issuer` through `fetch`,
/// authenticating as `method`. A code or a refresh token never follows a
/// redirect elsewhere, nor reaches an address a name was pointed at to
/// reach (the cloud metadata service, or this machine under a public name).
pub(super) async fn request(
    fetch: &SafeFetcher,
    endpoint: &str,
    issuer: &str,
    credentials: &Credentials,
    method: ClientAuthMethod,
    params: &[(&str, &str)],
) -> Result<Granted, Error> {
    let assertion;
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let secret = credentials.client_secret.as_ref().map(Secret::expose);
    let mut basic = None;
    match method {
        ClientAuthMethod::None => form.push(("client_id", &credentials.client_id)),
        ClientAuthMethod::ClientSecretPost => {
            form.push(("client_id", &credentials.client_id));
            form.push(("client_secret", secret.unwrap_or_default()));
        }
        ClientAuthMethod::ClientSecretBasic => {
            basic = Some((credentials.client_id.as_str(), secret.unwrap_or_default()));
        }
        ClientAuthMethod::PrivateKeyJwt => {
            let key = credentials
                .signing_key
                .as_ref()
                .ok_or_else(|| Error::Config("private_key_jwt needs a signing key".into()))?;
            assertion = key.assertion(&credentials.client_id, issuer)?;
            form.push(("client_id", &credentials.client_id));
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
            form.push(("client_assertion", &assertion));
        }
    }
    // Expiry counts from before the request: never later than the server's.
    let sent_at = SystemTime::now();
    let answer = fetch.post_form(endpoint, &form, basic).await?;
    let status = answer.status;
    if status.is_redirection() {
        return Err(Error::Unavailable(
            format!(
                "token endpoint {endpoint}: answered with a redirect (HTTP {status}), not followed"
            )
            .into(),
        ));
    }
    let json = serde_json::from_slice::<Value>(&answer.body).ok();
    if !status.is_success() {
        return Err(match json.as_ref().and_then(oauth_error) {
            Some(refused) => refused,
            None => Error::Unavailable(format!("token endpoint {endpoint}: HTTP {status}").into()),
        });
    }
    let Some(json) = json else {
        return Err(Error::InvalidResponse(
            format!("token endpoint {endpoint}: the answer is not JSON").into(),
        ));
    };
    parse(&json, sent_at)
}

/// An OAuth error response (RFC 6749 §5.2), when `v` is one.
pub(super) fn oauth_error(v: &Value) -> Option<Error> {
    let error = v.get("error")?.as_str()?;
    let description = v.get("error_description").and_then(Value::as_str);
    Some(refused(error, description))
}

/// [`Error::Refused`] with the server's texts cut to printable ASCII (they
/// end up in logs and terminals).
pub(super) fn refused(error: &str, description: Option<&str>) -> Error {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(MAX_TEXT)
            .collect()
    };
    Error::OAuth {
        error: clean(error),
        description: description.map(clean),
    }
}

/// A successful token response (RFC 6749 §5.1), strictly: an object with a
/// non-empty `access_token`, `token_type` Bearer (any case), and, when
/// present, `expires_in` a whole number of seconds and `refresh_token` and
/// `scope` strings.
pub(super) fn parse(v: &Value, sent_at: SystemTime) -> Result<Granted, Error> {
    let invalid = |why: &str| Error::InvalidResponse(format!("token response: {why}").into());
    let Some(object) = v.as_object() else {
        return Err(invalid("not a JSON object"));
    };
    let text = |name: &str| -> Result<Option<&str>, Error> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
            Some(_) => Err(invalid(&format!("`{name}` is not a non-empty string"))),
        }
    };
    let access_token = text("access_token")?.ok_or_else(|| invalid("no `access_token`"))?;
    let token_type = text("token_type")?.ok_or_else(|| invalid("no `token_type`"))?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(invalid(&format!(
            "`token_type` is {token_type:?}, not Bearer"
        )));
    }
    let expires_in = match object.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .ok_or_else(|| invalid("`expires_in` is not a whole number of seconds"))?,
        ),
    };
    let mut tokens = StoredTokens::new(Secret::new(access_token));
    if let Some(secs) = expires_in {
        let at = sent_at
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(|| invalid("`expires_in` is out of range"))?;
        tokens.expires_at = Some(whole_seconds(at));
    }
    tokens.refresh_token = text("refresh_token")?.map(Secret::new);
    let scope = text("scope")?;
    if let Some(scope) = scope {
        tokens.scopes = scope.split_ascii_whitespace().map(str::to_owned).collect();
    }
    Ok(Granted {
        tokens,
        scope_given: scope.is_some(),
        issued_token_type: text("issued_token_type")?.map(str::to_owned),
    })
}

/// `at` rounded down to the second, as stores keep it.
fn whole_seconds(at: SystemTime) -> SystemTime {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => at,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)
    }

    #[test]
    fn a_full_answer() {
        let v = json!({
            "access_token": "at", "token_type": "bearer", "expires_in": 300,
            "refresh_token": "rt", "scope": "mcp:read  mcp:write", "extra": true
        });
        let g = parse(&v, at()).unwrap();
        assert_eq!(g.tokens.access_token.expose(), "at");
        assert_eq!(g.tokens.token_type, "Bearer");
        assert_eq!(
            g.tokens.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_300))
        );
        assert_eq!(g.tokens.refresh_token.as_ref().unwrap().expose(), "rt");
        assert_eq!(g.tokens.scopes, ["mcp:read", "mcp:write"]);
        assert!(g.scope_given);
        let minimal = parse(&json!({"access_token": "a", "token_type": "Bearer"}), at()).unwrap();
        assert_eq!(minimal.tokens.expires_at, None);
        assert_eq!(minimal.tokens.refresh_token, None);
        assert!(!minimal.scope_given);
    }

    #[test]
    fn strictly() {
        for bad in [
            json!([]),
            json!({"token_type": "Bearer"}),
            json!({"access_token": "", "token_type": "Bearer"}),
            json!({"access_token": 5, "token_type": "Bearer"}),
            json!({"access_token": "a"}),
            json!({"access_token": "a", "token_type": "mac"}),
            json!({"access_token": "a", "token_type": "DPoP"}),
            json!({"access_token": "a", "token_type": "Bearer", "expires_in": -1}),
            json!({"access_token": "a", "token_type": "Bearer", "expires_in": 1.5}),
            json!({"access_token": "a", "token_type": "Bearer", "expires_in": "300"}),
            json!({"access_token": "a", "token_type": "Bearer", "refresh_token": 1}),
            json!({"access_token": "a", "token_type": "Bearer", "scope": ["x"]}),
        ] {
            assert!(
                matches!(parse(&bad, at()), Err(Error::InvalidResponse(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn oauth_errors_are_read_and_cleaned() {
        let e = oauth_error(&json!({
            "error": "invalid_grant",
            "error_description": "grant request is invalid\u{1b}[31m ✓"
        }))
        .unwrap();
        assert_eq!(
            e,
            Error::OAuth {
                error: "invalid_grant".into(),
                description: Some("grant request is invalid[31m ".into())
            }
        );
        assert_eq!(
            e.to_string(),
            "authorization server error invalid_grant: grant request is invalid[31m "
        );
        assert_eq!(oauth_error(&json!({"message": "no"})), None);
    }
}
