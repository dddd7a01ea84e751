//! Reading `WWW-Authenticate` (RFC 9110 §11.6.1) as a client must: several
//! challenges in one header value and across header values, quoted strings
//! with escapes and commas inside, token68, scheme and parameter names in
//! any case; and the Bearer challenge's parameters (RFC 6750 §3, RFC 9728
//! §5.1).
//!
//! Malformed parts are skipped, never guessed at: a parameter that does not
//! parse is dropped up to the next comma outside quotes, and an unterminated
//! quoted string ends its header value (a quote cannot swallow the next
//! header). Nothing here panics, whatever the input.

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;

/// One challenge: an auth scheme with either a token68 or parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge {
    /// The auth scheme as sent; compare it with [`Challenge::is`], which
    /// ignores case.
    pub scheme: String,
    /// The token68 form (`Basic dXNlcg==`), when the challenge has one.
    pub token68: Option<String>,
    /// The parameters in order, names lowercased and values unquoted. A
    /// name given twice keeps its first value.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Every challenge in `values`, each a `WWW-Authenticate` header value.
    pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Self> {
        let mut out = Vec::new();
        for value in values {
            parse_value(value, &mut out);
        }
        out
    }

    /// Every challenge in the `WWW-Authenticate` headers of `headers`.
    /// Bytes that are not UTF-8 become U+FFFD.
    pub fn from_headers(headers: &HeaderMap) -> Vec<Self> {
        let values: Vec<String> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        Self::parse_all(values.iter().map(String::as_str))
    }

    /// Whether the scheme is `scheme`, ignoring case.
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of parameter `name` (any case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A `Bearer` challenge (RFC 6750 §3) with what an MCP client acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerChallenge {
    /// RFC 9728 §5.1: where the resource's Protected Resource Metadata is.
    pub resource_metadata: Option<String>,
    /// The scopes the request needs, space-separated; authoritative for
    /// the current operation (see [`BearerChallenge::scopes`]).
    pub scope: Option<String>,
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, …
    pub error: Option<String>,
    /// What went wrong, for developers. Server-controlled text: do not
    /// show it to users as if it came from the client.
    pub error_description: Option<String>,
    /// A page about the error.
    pub error_uri: Option<String>,
    /// The protection space.
    pub realm: Option<String>,
}

impl BearerChallenge {
    /// The first Bearer challenge in the `WWW-Authenticate` headers of
    /// `headers` (a 401 or 403 response's).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        Challenge::from_headers(headers)
            .iter()
            .find_map(Self::from_challenge)
    }

    /// The first Bearer challenge in `values`, each a `WWW-Authenticate`
    /// header value.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        Challenge::parse_all(values)
            .iter()
            .find_map(Self::from_challenge)
    }

    /// `challenge`'s parameters, when its scheme is Bearer.
    pub fn from_challenge(challenge: &Challenge) -> Option<Self> {
        if !challenge.is("bearer") {
            return None;
        }
        let get = |name: &str| challenge.param(name).map(str::to_owned);
        Some(Self {
            resource_metadata: get("resource_metadata"),
            scope: get("scope"),
            error: get("error"),
            error_description: get("error_description"),
            error_uri: get("error_uri"),
            realm: get("realm"),
        })
    }

    /// The scopes of [`BearerChallenge::scope`], one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// RFC 9110 §11.2 `token68` characters (before the trailing `=`s).
fn is_token68(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos..)?.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn at_end(&self) -> bool {
        self.peek().is_none()
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| f(c)) {
            self.pos += c.len_utf8();
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }

    /// Skips spaces and tabs; whether there were any.
    fn skip_ws(&mut self) -> bool {
        !self.eat_while(is_ws).is_empty()
    }

    fn skip_separators(&mut self) {
        self.eat_while(|c| is_ws(c) || c == ',');
    }

    fn token(&mut self) -> Option<&'a str> {
        Some(self.eat_while(is_tchar)).filter(|t| !t.is_empty())
    }

    /// A quoted-string, the cursor on its opening quote: its unescaped
    /// content, or `None` when it is unterminated or holds a control
    /// character (which no header can carry, and logs should not). Either
    /// way the cursor ends past the closing quote, if any.
    fn quoted(&mut self) -> Option<String> {
        self.bump();
        let mut out = String::new();
        let mut clean = true;
        loop {
            let c = match self.bump()? {
                '"' => return clean.then_some(out),
                '\\' => self.bump()?,
                c => c,
            };
            clean &= !c.is_control() || c == '\t';
            out.push(c);
        }
    }

    /// Whether a parameter (`name =`) starts here; consumes nothing.
    fn at_param(&mut self) -> bool {
        let start = self.pos;
        let yes = self.token().is_some() && {
            self.skip_ws();
            self.peek() == Some('=')
        };
        self.pos = start;
        yes
    }

    /// A token68 standing alone: followed by the end, or by a comma and
    /// something other than a parameter (`Bearer a=, b=c` is two
    /// parameters, not a token68); else nothing is consumed.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.eat_while(is_token68).is_empty() {
            return None;
        }
        self.eat_while(|c| c == '=');
        let end = self.pos;
        self.skip_ws();
        let after = self.pos;
        let alone = match self.peek() {
            None => true,
            Some(',') => {
                self.skip_separators();
                !self.at_param()
            }
            Some(_) => false,
        };
        if alone {
            self.pos = after;
            self.s.get(start..end)
        } else {
            self.pos = start;
            None
        }
    }

    /// Skips to the next comma outside a quoted string (not consuming it),
    /// or to the end.
    fn skip_item(&mut self) {
        let mut quoted = false;
        while let Some(c) = self.peek() {
            match c {
                ',' if !quoted => return,
                '"' => quoted = !quoted,
                '\\' if quoted => {
                    self.bump();
                }
                _ => {}
            }
            self.bump();
        }
    }
}

/// The challenges of one header value.
fn parse_value(value: &str, out: &mut Vec<Challenge>) {
    let mut cur = Cursor { s: value, pos: 0 };
    loop {
        cur.skip_separators();
        if cur.at_end() {
            return;
        }
        let Some(scheme) = cur.token() else {
            cur.skip_item();
            continue;
        };
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: Vec::new(),
        };
        let spaced = cur.skip_ws();
        if !spaced && cur.peek().is_some_and(|c| c != ',') {
            // `Bearer"x"`: not a challenge.
            cur.skip_item();
            continue;
        }
        let token68 = if spaced { cur.token68() } else { None };
        if let Some(t) = token68 {
            challenge.token68 = Some(t.to_owned());
        } else {
            // Parameters, possibly after empty list elements
            // (`Bearer ,realm=x`).
            let at = cur.pos;
            cur.skip_separators();
            if cur.at_param() {
                params(&mut cur, &mut challenge.params);
            } else {
                cur.pos = at;
            }
        }
        out.push(challenge);
        // Whatever is left before the next comma is not part of any
        // challenge.
        cur.skip_ws();
        if cur.peek().is_some_and(|c| c != ',') {
            cur.skip_item();
        }
    }
}

/// The parameters of a challenge, up to the end or to the comma before the
/// next challenge's scheme (left unconsumed).
fn params(cur: &mut Cursor<'_>, params: &mut Vec<(String, String)>) {
    loop {
        // The caller or the previous round checked a parameter starts here.
        let Some(name) = cur.token() else {
            return;
        };
        cur.skip_ws();
        cur.bump();
        cur.skip_ws();
        let value = if cur.peek() == Some('"') {
            cur.quoted()
        } else {
            cur.token().map(str::to_owned)
        };
        cur.skip_ws();
        match value {
            Some(value) if cur.at_end() || cur.peek() == Some(',') => {
                let name = name.to_ascii_lowercase();
                if !params.iter().any(|(n, _)| *n == name) {
                    params.push((name, value));
                }
            }
            // A malformed value, or junk after it: drop the parameter.
            _ => cur.skip_item(),
        }
        let comma = cur.pos;
        cur.skip_separators();
        if cur.at_end() {
            return;
        }
        // Either another parameter or the next challenge's scheme, which
        // is left for the caller, from the comma on.
        if !cur.at_param() {
            cur.pos = comma;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn one(value: &str) -> Vec<Challenge> {
        Challenge::parse_all([value])
    }

    fn summary(challenges: &[Challenge]) -> Vec<String> {
        challenges
            .iter()
            .map(|c| {
                let mut s = c.scheme.clone();
                if let Some(t) = &c.token68 {
                    s.push_str(&format!(" <{t}>"));
                }
                for (n, v) in &c.params {
                    s.push_str(&format!(" {n}=[{v}]"));
                }
                s
            })
            .collect()
    }

    #[test]
    fn the_mcp_challenge() {
        let b = BearerChallenge::parse([
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource\", \
             scope=\"files:read files:write\"",
        ])
        .unwrap();
        assert_eq!(
            b.resource_metadata.as_deref(),
            Some("https://mcp.example.com/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            b.scopes().collect::<Vec<_>>(),
            ["files:read", "files:write"]
        );
        assert_eq!(b.error, None);
    }

    #[test]
    fn several_challenges_in_one_value() {
        let c = one("Basic realm=\"a, b\", Bearer error=invalid_token, \
             error_description=\"say \\\"no\\\", twice\", resource_metadata=\"https://x/rm\", \
             Newauth");
        assert_eq!(
            summary(&c),
            [
                "Basic realm=[a, b]",
                "Bearer error=[invalid_token] error_description=[say \"no\", twice] \
                 resource_metadata=[https://x/rm]",
                "Newauth",
            ]
        );
    }

    #[test]
    fn token68_and_params_side_by_side() {
        let c = one("Negotiate abc+/==, Basic dXNlcg==,Bearer realm=r , Digest a=b");
        assert_eq!(
            summary(&c),
            [
                "Negotiate <abc+/==>",
                "Basic <dXNlcg==>",
                "Bearer realm=[r]",
                "Digest a=[b]"
            ]
        );
    }

    #[test]
    fn case_and_whitespace() {
        let c = one("  ,, bEaReR\tReSoUrCe_MeTaDaTa = \"u\" ,SCOPE=\"s\"  ,");
        let b = BearerChallenge::from_challenge(&c[0]).unwrap();
        assert_eq!(b.resource_metadata.as_deref(), Some("u"));
        assert_eq!(b.scope.as_deref(), Some("s"));
        assert!(c[0].is("BEARER"));
    }

    #[test]
    fn across_header_values() {
        let mut headers = HeaderMap::new();
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"x"),
        );
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer scope=\"mcp:read\", resource_metadata=\"https://h/m\"",
            ),
        );
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer scope=other"),
        );
        // The unterminated quote ends its own value only.
        let all = Challenge::from_headers(&headers);
        assert_eq!(all.len(), 3);
        assert_eq!(summary(&all[..1]), ["Basic"]);
        let b = BearerChallenge::from_headers(&headers).unwrap();
        assert_eq!(b.scope.as_deref(), Some("mcp:read"));
        assert_eq!(b.resource_metadata.as_deref(), Some("https://h/m"));
        assert_eq!(BearerChallenge::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn non_utf8_bytes_do_not_stop_the_rest() {
        let mut headers = HeaderMap::new();
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_bytes(b"Bearer realm=\"caf\xe9\", scope=a").unwrap(),
        );
        let b = BearerChallenge::from_headers(&headers).unwrap();
        assert_eq!(b.realm.as_deref(), Some("caf\u{fffd}"));
        assert_eq!(b.scope.as_deref(), Some("a"));
    }

    #[test]
    fn malformed_parts_are_dropped_not_guessed() {
        for (input, expected) in [
            // The first value of a name wins.
            ("Bearer scope=a, scope=b", vec!["Bearer scope=[a]"]),
            // Missing commas: the junk is dropped up to the next comma.
            ("Bearer a=b c=d, e=f", vec!["Bearer e=[f]"]),
            ("Bearer a=b c=d, Basic x=y", vec!["Bearer", "Basic x=[y]"]),
            ("Bearer x y", vec!["Bearer"]),
            ("Bearer\"x\", Basic", vec!["Basic"]),
            ("Bearer a=\"x\\", vec!["Bearer"]),
            ("Bearer a=\"x\" junk, b=c", vec!["Bearer b=[c]"]),
            ("Bearer a=, b=c", vec!["Bearer b=[c]"]),
            ("Bearer a==b", vec!["Bearer"]),
            ("Bearer =x, Basic", vec!["Bearer", "Basic"]),
            ("\"quoted\", Bearer", vec!["Bearer"]),
            ("Bearer a=\"x\ny\", b=c", vec!["Bearer b=[c]"]),
            ("", vec![]),
            (",,, ,", vec![]),
            ("Bearer realm=", vec!["Bearer <realm=>"]),
            ("Bearer ,realm=x", vec!["Bearer realm=[x]"]),
            ("Bearer, realm=x, Basic", vec!["Bearer realm=[x]", "Basic"]),
        ] {
            assert_eq!(summary(&one(input)), expected, "{input:?}");
        }
    }

    #[cfg(feature = "server")]
    #[test]
    fn what_the_server_side_builds_reads_back() {
        let built = crate::server::challenge::Challenge {
            resource_metadata: "https://x/.well-known/oauth-protected-resource/mcp",
            scope: Some("mcp:read mcp:write".into()),
            error: Some("invalid_token"),
            description: Some("bad \"aud\", \\ twice"),
        }
        .header();
        let b = BearerChallenge::parse([built.to_str().unwrap()]).unwrap();
        assert_eq!(
            b,
            BearerChallenge {
                resource_metadata: Some(
                    "https://x/.well-known/oauth-protected-resource/mcp".into()
                ),
                scope: Some("mcp:read mcp:write".into()),
                error: Some("invalid_token".into()),
                error_description: Some("bad \"aud\", \\ twice".into()),
                ..BearerChallenge::default()
            }
        );
    }

    /// xorshift64*: deterministic noise without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    #[test]
    fn nasty_inputs_never_panic() {
        const PIECES: &[&str] = &[
            "Bearer",
            "bearer ",
            "Basic",
            " ",
            "\t",
            ",",
            "=",
            "==",
            "\"",
            "\\",
            "\\\"",
            "a",
            "Z9",
            "realm",
            "scope",
            "resource_metadata",
            "error",
            "é",
            "\u{0}",
            "\u{7f}",
            "\r\n",
            "😀",
            "abc+/",
            "~",
            "!#$%&'*+-.^_`|~",
            "\"a,b\"",
            "x=\"y\"",
            ", ,",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = rng.below(24);
            let input: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            let challenges = Challenge::parse_all([input.as_str(), input.as_str()]);
            // Both values parse the same way, independently.
            assert_eq!(challenges.len() % 2, 0, "{input:?}");
            for c in &challenges {
                assert!(
                    !c.scheme.is_empty() && c.scheme.chars().all(is_tchar),
                    "{input:?}"
                );
                for (name, value) in &c.params {
                    assert!(!name.is_empty() && name.chars().all(is_tchar), "{input:?}");
                    assert!(
                        !value.chars().any(|c| c.is_control() && c != '\t'),
                        "{input:?}"
                    );
                }
            }
            let _ = BearerChallenge::parse([input.as_str()]);
        }
        // Random bytes too, through the header map.
        for _ in 0..5_000 {
            let len = rng.below(64);
            let bytes: Vec<u8> = (0..len)
                .map(|_| u8::try_from(rng.next() & 0xff).unwrap())
                .collect();
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let mut headers = HeaderMap::new();
                headers.append(WWW_AUTHENTICATE, value);
                let _ = BearerChallenge::from_headers(&headers);
            }
        }
    }

    #[test]
    fn every_well_formed_parameter_reads_back() {
        let mut rng = Rng(42);
        let alphabet: Vec<char> = " ,=\"\\aZ09:/._-~é\t".chars().collect();
        for _ in 0..5_000 {
            let value: String = (0..rng.below(12))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let mut quoted = String::from("\"");
            for c in value.chars() {
                if matches!(c, '"' | '\\') {
                    quoted.push('\\');
                }
                quoted.push(c);
            }
            quoted.push('"');
            let header = format!("Basic realm=x, Bearer scope={quoted}, error=e, Other t68==");
            let c = one(&header);
            assert_eq!(c.len(), 3, "{header:?}");
            let b = BearerChallenge::from_challenge(&c[1]).unwrap();
            assert_eq!(b.scope.as_deref(), Some(value.as_str()), "{header:?}");
            assert_eq!(b.error.as_deref(), Some("e"));
            assert_eq!(c[2].token68.as_deref(), Some("t68=="));
        }
    }
}
