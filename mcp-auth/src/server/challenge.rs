//! `WWW-Authenticate: Bearer …` challenges (RFC 6750 §3, RFC 9728 §5.1).

use http::HeaderValue;

/// A Bearer challenge, built up field by field.
#[derive(Debug, Default)]
pub(crate) struct Challenge<'a> {
    pub(crate) resource_metadata: &'a str,
    pub(crate) scope: Option<String>,
    pub(crate) error: Option<&'static str>,
    pub(crate) description: Option<&'a str>,
}

/// A quoted-string: `"` and `\` escaped, control characters dropped (they
/// could end the header or forge another).
fn quoted(value: &str, out: &mut String) {
    out.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl Challenge<'_> {
    pub(crate) fn header(&self) -> HeaderValue {
        let mut out = String::from("Bearer ");
        let mut fields = vec![("resource_metadata", self.resource_metadata)];
        if let Some(scope) = self.scope.as_deref().filter(|s| !s.is_empty()) {
            fields.push(("scope", scope));
        }
        if let Some(error) = self.error {
            fields.push(("error", error));
        }
        if let Some(description) = self.description {
            fields.push(("error_description", description));
        }
        for (i, (name, value)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
            out.push('=');
            // Only visible ASCII survives: header values are bytes, and
            // descriptions are for developers.
            let ascii: String = value
                .chars()
                .map(|c| if c.is_ascii() { c } else { '?' })
                .collect();
            quoted(&ascii, &mut out);
        }
        HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_escaped() {
        let c = Challenge {
            resource_metadata: "https://x/.well-known/oauth-protected-resource/mcp",
            scope: Some("mcp:read mcp:write".into()),
            error: Some("invalid_token"),
            description: Some("bad \"aud\"\r\nX-Evil: 1 ✓"),
        };
        assert_eq!(
            c.header().to_str().unwrap(),
            "Bearer resource_metadata=\"https://x/.well-known/oauth-protected-resource/mcp\", \
             scope=\"mcp:read mcp:write\", error=\"invalid_token\", \
             error_description=\"bad \\\"aud\\\"X-Evil: 1 ?\""
        );
    }
}
