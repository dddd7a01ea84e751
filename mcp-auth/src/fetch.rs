//! The one HTTP client of this crate, for both sides: discovery,
//! registration and token requests on the client side, metadata, JWKS and
//! introspection on the server side. Every URL is checked before anything
//! is sent, and so is every address a name resolves to; no redirect is
//! followed; time and size are bounded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::{Host, Url};

use crate::error::{Error, Reason};

/// What a [`SafeFetcher`] may connect to, and how much it reads.
///
/// Always refused: schemes other than http and https; http to anything but
/// a loopback host; URLs with user information or a fragment; hosts that
/// are literal unspecified (`0.0.0.0`, `::`), link-local (169.254.0.0/16,
/// where cloud metadata services live, and fe80::/10), multicast, broadcast
/// or reserved addresses; names that resolve only to such addresses;
/// redirects (a 3xx answer is an error, whatever its target).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchPolicy {
    /// Loopback hosts (`localhost` and its subdomains, 127.0.0.0/8, `::1`),
    /// over http too. Other names never reach a loopback address, whatever
    /// this says: a public name that resolves to one is DNS rebinding.
    /// **On by default**: MCP servers and their authorization servers on
    /// the user's own machine are common (development, local proxies).
    ///
    /// The risk: a server can point the client at services on the user's
    /// machine, which then receive GETs (and a registration POST) they did
    /// not expect; the answers are only read as JSON metadata and never
    /// sent anywhere. `discover` narrows this on its
    /// own: when the MCP server is not on loopback, nothing it points at
    /// may be. Turn it off where no loopback server is expected.
    pub allow_loopback: bool,
    /// Literal private addresses (10.0.0.0/8, 172.16.0.0/12,
    /// 192.168.0.0/16, 100.64.0.0/10, fc00::/7). Off by default: a server
    /// naming one is how SSRF into a network starts. Names that resolve to
    /// private addresses are allowed either way (intranet servers are
    /// reached by name, over https, whose certificate check a rebinding
    /// attacker cannot pass).
    pub allow_private: bool,
    /// Time limit of each request, body included.
    pub timeout: Duration,
    /// Largest body read.
    pub max_bytes: usize,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allow_loopback: true,
            allow_private: false,
            timeout: Duration::from_secs(10),
            max_bytes: 256 * 1024,
        }
    }
}

impl FetchPolicy {
    /// The policy for URLs from your own configuration (an issuer, a JWKS
    /// or introspection endpoint a resource server is set up with), rather
    /// than from a peer: literal private addresses are allowed too, since
    /// authorization servers inside a network are common. Link-local and
    /// the other forbidden addresses stay refused, and so does plain http
    /// off loopback: keys fetched over it could be swapped in transit.
    pub fn configured() -> Self {
        Self::default().with_private(true)
    }

    /// The policy with `allow_loopback` set to `allow`.
    #[must_use]
    pub fn with_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// The policy with `allow_private` set to `allow`.
    #[must_use]
    pub fn with_private(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// The policy with each request limited to `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The policy reading at most `max_bytes` of a body.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Whether `url` may be fetched.
    ///
    /// # Errors
    /// [`Error::Refused`] saying why not.
    pub fn check(&self, url: &str) -> Result<(), Error> {
        self.checked(url).map(drop)
    }

    /// `url` parsed, when it may be fetched.
    pub(crate) fn checked(&self, url: &str) -> Result<Url, Error> {
        let parsed = Url::parse(url).map_err(|e| refused(url, &format!("not a URL ({e})")))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(refused(url, &format!("the {other} scheme is not fetched"))),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refused(url, "it carries user information"));
        }
        if parsed.fragment().is_some() {
            return Err(refused(url, "it has a fragment"));
        }
        let Some(class) = host_class(&parsed) else {
            return Err(refused(url, "it has no host"));
        };
        match class {
            Class::Loopback if !self.allow_loopback => {
                Err(refused(url, "loopback hosts are not allowed"))
            }
            Class::Loopback => Ok(parsed),
            Class::Private if !self.allow_private => Err(refused(
                url,
                "its host is a private address (FetchPolicy::allow_private is off)",
            )),
            Class::Forbidden(what) => Err(refused(url, &format!("its host is {what} address"))),
            Class::Private | Class::Public if !https => Err(refused(
                url,
                "plain http is allowed for loopback hosts only; use https",
            )),
            Class::Private | Class::Public => Ok(parsed),
        }
    }
}

fn refused(url: &str, why: &str) -> Error {
    // The URL came from a server: keep it printable and short.
    let shown: String = url.chars().take(200).filter(|c| !c.is_control()).collect();
    Error::Refused(format!("{shown}: {why}").into())
}

fn host_class(url: &Url) -> Option<Class> {
    Some(match url.host()? {
        Host::Domain(name) if is_localhost(name) => Class::Loopback,
        Host::Domain(_) => Class::Public,
        Host::Ipv4(ip) => classify(IpAddr::V4(ip)),
        Host::Ipv6(ip) => classify(IpAddr::V6(ip)),
    })
}

/// Whether `url`'s host is a loopback name or address.
#[cfg(feature = "client")]
pub(crate) fn is_loopback(url: &Url) -> bool {
    host_class(url) == Some(Class::Loopback)
}

/// `localhost` and its subdomains (RFC 6761 §6.3 reserves them for
/// loopback), with or without the root's dot.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .get(name.len().saturating_sub(10)..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Loopback,
    Private,
    /// Never connected to; says what kind of address it is.
    Forbidden(&'static str),
    Public,
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Class::Loopback
    } else if a == 0 {
        // 0.0.0.0 reaches the local host on most systems.
        Class::Forbidden("an unspecified")
    } else if ip.is_link_local() {
        Class::Forbidden("a link-local")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Class::Forbidden("a multicast, broadcast or reserved")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Class::Private
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let first = ip.segments().first().copied().unwrap_or_default();
    if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_unspecified() {
        Class::Forbidden("an unspecified")
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        // Link-local, and the deprecated site-local.
        Class::Forbidden("a link-local")
    } else if ip.is_multicast() {
        Class::Forbidden("a multicast, broadcast or reserved")
    } else if first & 0xfe00 == 0xfc00 {
        Class::Private
    } else {
        Class::Public
    }
}

/// Whether a connection may go to `ip`, which a name resolved to. A
/// loopback name (allowed plain http) must resolve to loopback only, and
/// only a loopback name may resolve to loopback: a public name pointing
/// at the user's own machine is DNS rebinding, whatever the policy.
fn may_connect(ip: IpAddr, allow_loopback: bool, loopback_name: bool) -> bool {
    match classify(ip) {
        Class::Loopback => allow_loopback && loopback_name,
        Class::Forbidden(_) => false,
        Class::Private | Class::Public => !loopback_name,
    }
}

/// Resolves names as the system does, then drops the addresses the policy
/// forbids, so a name cannot smuggle in what a literal address could not
/// (DNS rebinding to the metadata service, say), and `localhost` cannot
/// lead plain http off the machine.
#[derive(Debug)]
struct Resolver {
    allow_loopback: bool,
    lookup: Lookup,
}

/// Where names are looked up.
#[derive(Debug, Clone, Default)]
enum Lookup {
    /// As the system does.
    #[default]
    System,
    /// A fixed table, for tests of what names resolve to.
    #[cfg(test)]
    Fixed(Arc<std::collections::HashMap<String, Vec<IpAddr>>>),
}

impl Lookup {
    async fn addresses(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        match self {
            Self::System => Ok(tokio::net::lookup_host((host, 0)).await?.collect()),
            #[cfg(test)]
            Self::Fixed(table) => Ok(table
                .get(host)
                .into_iter()
                .flatten()
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect()),
        }
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let lookup = self.lookup.clone();
        let host = name.as_str().to_owned();
        let loopback_name = is_localhost(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = lookup
                .addresses(&host)
                .await?
                .into_iter()
                .filter(|a| may_connect(a.ip(), allow_loopback, loopback_name))
                .collect();
            if addrs.is_empty() {
                return Err(
                    format!("{host} resolves to no address this client connects to").into(),
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client that follows `policy` where a URL check cannot: no
/// redirects, its time limit, and a resolver that drops the addresses the
/// policy forbids.
fn client_with(policy: &FetchPolicy, lookup: Lookup) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout)
        .dns_resolver(Arc::new(Resolver {
            allow_loopback: policy.allow_loopback,
            lookup,
        }))
        .build()
        .map_err(|e| Error::Config(Reason::caused_by(format!("HTTP client: {e}"), e)))
}

/// An HTTP client that follows a [`FetchPolicy`] (see there for what it
/// refuses): no redirects, its time limit, and a resolver that drops the
/// addresses the policy forbids. Cheap to clone: clones share one
/// connection pool.
///
/// System proxies are honoured; behind a proxy the checks apply to the URLs
/// asked for, not to the addresses the proxy connects to.
#[derive(Debug, Clone)]
pub struct SafeFetcher {
    policy: FetchPolicy,
    http: reqwest::Client,
    /// Kept to build a stricter fetcher that resolves the same way.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    lookup: Lookup,
}

/// What a POST sends.
struct Body {
    content_type: &'static str,
    bytes: Vec<u8>,
    /// An `Authorization: Basic` value (marked sensitive).
    basic: Option<http::HeaderValue>,
}

/// `Authorization: Basic` for a client: id and secret each form-encoded
/// first, as RFC 6749 §2.3.1 asks.
fn basic_credentials(id: &str, secret: &str) -> Result<http::HeaderValue, Error> {
    use base64::Engine as _;
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(id), encode(secret));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    let mut value = http::HeaderValue::try_from(value)
        .map_err(|e| Error::Config(format!("client credentials: {e}").into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// An answer, read within the limits. (No `Debug`: a registration
/// answer's body holds the client secret.)
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// Whether the content type says JSON.
    pub(crate) json: bool,
    /// Where a redirect points (never followed).
    pub(crate) location: Option<String>,
    pub(crate) body: Bytes,
}

impl SafeFetcher {
    /// A fetcher following `policy`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built (no TLS
    /// roots).
    pub fn new(policy: FetchPolicy) -> Result<Self, Error> {
        Self::with_lookup(policy, Lookup::System)
    }

    /// A fetcher on the default policy, built once per process and shared,
    /// so that the functions that take no fetcher reuse its connections.
    ///
    /// # Errors
    /// As [`SafeFetcher::new`].
    #[cfg(feature = "client")]
    pub(crate) fn shared() -> Result<Self, Error> {
        static SHARED: std::sync::OnceLock<SafeFetcher> = std::sync::OnceLock::new();
        if let Some(fetch) = SHARED.get() {
            return Ok(fetch.clone());
        }
        let fetch = Self::new(FetchPolicy::default())?;
        Ok(SHARED.get_or_init(|| fetch).clone())
    }

    fn with_lookup(policy: FetchPolicy, lookup: Lookup) -> Result<Self, Error> {
        let http = client_with(&policy, lookup.clone())?;
        Ok(Self {
            policy,
            http,
            lookup,
        })
    }

    /// The policy it follows.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// This fetcher with loopback hosts refused too: by URL, and by what
    /// names resolve to (its own HTTP client, whose resolver refuses
    /// loopback addresses).
    #[cfg(feature = "client")]
    pub(crate) fn without_loopback(&self) -> Result<Self, Error> {
        if !self.policy.allow_loopback {
            return Ok(self.clone());
        }
        Self::with_lookup(
            self.policy.clone().with_loopback(false),
            self.lookup.clone(),
        )
    }

    /// GETs the JSON document at `url`.
    ///
    /// # Errors
    /// [`Error::Refused`] for a URL the policy refuses or a redirect (none
    /// is followed);
    /// [`Error::Unavailable`] when the server cannot be reached, times
    /// out, answers 5xx or too much; [`Error::InvalidResponse`] for another
    /// status, or a body that is not the expected JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        let answer = self.get(url).await?;
        answer.expect_json(url)
    }

    /// POSTs `body` as JSON to `url` and reads a JSON answer.
    ///
    /// # Errors
    /// As [`SafeFetcher::get_json`], and [`Error::OAuth`] for a 4xx whose
    /// JSON body names an OAuth `error`.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::Config(format!("request body for {url}: {e}").into()))?;
        let body = Body {
            content_type: "application/json",
            bytes: body,
            basic: None,
        };
        let answer = self.send(http::Method::POST, url, Some(body)).await?;
        if answer.status.is_client_error() && answer.json {
            #[derive(serde::Deserialize)]
            struct OAuthError {
                error: String,
                error_description: Option<String>,
            }
            if let Ok(e) = serde_json::from_slice::<OAuthError>(&answer.body) {
                return Err(Error::OAuth {
                    error: e.error,
                    description: e.error_description,
                });
            }
        }
        answer.expect_json(url)
    }

    pub(crate) async fn get(&self, url: &str) -> Result<Answer, Error> {
        self.send(http::Method::GET, url, None).await
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`), with HTTP Basic
    /// client authentication when `basic` is given: the shape of OAuth
    /// token and introspection requests.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Answer, Error> {
        let bytes = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        let basic = basic
            .map(|(id, secret)| basic_credentials(id, secret))
            .transpose()?;
        let body = Body {
            content_type: "application/x-www-form-urlencoded",
            bytes,
            basic,
        };
        self.send(http::Method::POST, url, Some(body)).await
    }

    async fn send(
        &self,
        method: http::Method,
        url: &str,
        body: Option<Body>,
    ) -> Result<Answer, Error> {
        let parsed = self.policy.checked(url)?;
        let mut request = self
            .http
            .request(method, parsed)
            .header(http::header::ACCEPT, "application/json");
        if let Some(body) = body {
            if let Some(basic) = body.basic {
                request = request.header(http::header::AUTHORIZATION, basic);
            }
            request = request
                .header(http::header::CONTENT_TYPE, body.content_type)
                .body(body.bytes);
        }
        let unavailable = |e: reqwest::Error| {
            let why = if e.is_timeout() {
                format!("no answer within {:?}", self.policy.timeout)
            } else {
                // The whole chain: reqwest's own text hides the cause.
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    why.push_str(&format!(": {s}"));
                    source = s.source();
                }
                why
            };
            Error::Unavailable(Reason::caused_by(format!("{url}: {why}"), e))
        };
        let mut response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
        let json = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        let limit = self.policy.max_bytes;
        let too_large = || Error::Unavailable(format!("{url}: answer over {limit} bytes").into());
        if response
            .content_length()
            .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            json,
            location,
            body: body.into(),
        })
    }
}

impl Answer {
    /// The body as `T`, for a 2xx JSON answer.
    pub(crate) fn expect_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        if self.status.is_redirection() {
            return Err(self.redirect(url));
        }
        if self.status.is_server_error() {
            return Err(Error::Unavailable(
                format!("{url}: HTTP {}", self.status).into(),
            ));
        }
        if !self.status.is_success() {
            return Err(Error::InvalidResponse(
                format!("{url}: HTTP {}", self.status).into(),
            ));
        }
        if !self.json {
            return Err(Error::InvalidResponse(
                format!("{url}: the answer is not JSON (Content-Type)").into(),
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::InvalidResponse(Reason::caused_by(
                format!("{url}: not the expected JSON: {e}"),
                e,
            ))
        })
    }
}

impl Answer {
    /// The refusal of a redirect.
    pub(crate) fn redirect(&self, url: &str) -> Error {
        let to = self.location.as_deref().unwrap_or_default();
        refused(
            url,
            &format!(
                "it redirects (HTTP {}) to {to:?}, and redirects are not followed",
                self.status
            ),
        )
    }
}

/// `application/json` or `application/<something>+json`, any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(policy: &FetchPolicy, url: &str) -> Result<(), String> {
        policy.check(url).map_err(|e| match e {
            Error::Refused(why) => why.to_string(),
            other => panic!("{url}: {other:?}"),
        })
    }

    #[test]
    fn schemes_and_loopback() {
        let policy = FetchPolicy::default();
        for ok in [
            "https://as.example.com/.well-known/oauth-authorization-server",
            "https://AS.Example.COM:8443/x?y=1",
            "http://127.0.0.1:8080/mcp",
            "http://127.9.9.9/",
            "http://localhost/",
            "http://LOCALHOST.:1/",
            "http://mcp.localhost/",
            "http://[::1]:3000/",
            "http://[::ffff:127.0.0.1]/",
            // WHATWG URL parsing turns these into 127.0.0.1.
            "http://2130706433/",
            "http://0x7f.1/",
            "https://[2001:db8::1]/",
            "https://8.8.8.8/",
        ] {
            assert_eq!(verdict(&policy, ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://as.example.com/", "plain http"),
            ("http://8.8.8.8/", "plain http"),
            ("ftp://as.example.com/", "ftp scheme"),
            ("file:///etc/passwd", "file scheme"),
            ("javascript:alert(1)", "javascript scheme"),
            ("https://user:pw@as.example.com/", "user information"),
            ("https://as.example.com/#frag", "fragment"),
            ("/relative", "not a URL"),
            ("", "not a URL"),
            ("https://", "not a URL"),
        ] {
            let e = verdict(&policy, bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let strict = FetchPolicy::default().with_loopback(false);
        for bad in [
            "http://127.0.0.1/",
            "https://127.0.0.1/",
            "https://localhost/",
            "https://[::1]/",
            "https://[::ffff:7f00:1]/",
        ] {
            let e = verdict(&strict, bad).unwrap_err();
            assert!(e.contains("loopback"), "{bad}: {e}");
        }
    }

    #[test]
    fn private_and_special_addresses() {
        let policy = FetchPolicy::default();
        for (bad, why) in [
            ("https://10.0.0.1/", "private"),
            ("https://172.16.0.1/", "private"),
            ("https://172.31.255.255/", "private"),
            ("https://192.168.1.1/", "private"),
            ("https://100.64.0.1/", "private"),
            ("https://[fc00::1]/", "private"),
            ("https://[fd12:3456::1]/", "private"),
            ("https://[::ffff:10.1.2.3]/", "private"),
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://[fec0::1]/", "link-local"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://0/", "unspecified"),
            ("https://[::]/", "unspecified"),
            ("https://224.0.0.1/", "multicast"),
            ("https://255.255.255.255/", "multicast"),
            ("https://[ff02::1]/", "multicast"),
            // Numeric forms are normalized before the check.
            ("https://167772161/", "private"),
            ("https://0xa9.0xfe.0xa9.0xfe/", "link-local"),
        ] {
            let e = verdict(&policy, bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // Neighbours of the ranges are public.
        for ok in [
            "https://172.32.0.1/",
            "https://172.15.255.255/",
            "https://100.128.0.1/",
            "https://192.169.0.1/",
            "https://[fe00::1]/",
        ] {
            assert_eq!(verdict(&policy, ok), Ok(()), "{ok}");
        }
        let lan = FetchPolicy::default().with_private(true);
        assert_eq!(verdict(&lan, "https://10.0.0.1/"), Ok(()));
        assert!(
            verdict(&lan, "http://10.0.0.1/").is_err(),
            "still https only"
        );
        assert!(verdict(&lan, "https://169.254.169.254/").is_err());
    }

    #[test]
    fn resolved_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(may_connect(ip("93.184.216.34"), false, false));
        assert!(may_connect(ip("10.1.2.3"), false, false), "intranet names");
        assert!(!may_connect(ip("169.254.169.254"), true, false));
        assert!(!may_connect(ip("0.0.0.0"), true, false));
        assert!(!may_connect(ip("::"), true, false));
        // Loopback only under a loopback name: a public name pointing
        // there is DNS rebinding.
        assert!(!may_connect(ip("127.0.0.1"), true, false));
        assert!(may_connect(ip("127.0.0.1"), true, true));
        assert!(may_connect(ip("::1"), true, true));
        assert!(!may_connect(ip("::1"), false, true));
        assert!(!may_connect(ip("127.0.0.1"), false, false));
        assert!(!may_connect(ip("::ffff:127.0.0.1"), false, false));
        // `localhost` resolving elsewhere is not followed.
        assert!(!may_connect(ip("93.184.216.34"), true, true));
        assert!(!may_connect(ip("10.1.2.3"), true, true));
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/jrd+json",
            " application/json ;x=y",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in ["text/html", "text/json", "application/jsonx", "", "json"] {
            assert!(!is_json(bad), "{bad}");
        }
    }

    #[test]
    fn refusals_keep_server_text_printable() {
        let e = refused("https://x/\u{7}\u{1b}[31m", "why");
        assert_eq!(e, Error::Refused("https://x/[31m: why".into()));
    }

    /// A name that resolves to this machine never reaches it through a
    /// fetcher that must not (discovery for a server that is not on
    /// loopback), nor under a name that is not a loopback name at all.
    #[tokio::test]
    async fn names_resolving_to_loopback_are_not_followed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&reached);
        let server = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let table = [
            ("rebind.example".to_owned(), vec![ip("127.0.0.1")]),
            ("localhost".to_owned(), vec![ip("127.0.0.1")]),
        ];
        let lookup = Lookup::Fixed(Arc::new(table.into_iter().collect()));
        let fetcher = SafeFetcher::with_lookup(FetchPolicy::default(), lookup).unwrap();
        // And narrowed as the client narrows it (feature `client`).
        #[cfg(feature = "client")]
        let fetchers = [fetcher.clone(), fetcher.without_loopback().unwrap()];
        #[cfg(not(feature = "client"))]
        let fetchers = [fetcher];
        for fetch in &fetchers {
            let url = format!("https://rebind.example:{port}/.well-known/x");
            let Err(e) = fetch.get(&url).await else {
                panic!("{url} was fetched");
            };
            assert!(
                matches!(&e, Error::Unavailable(why) if why.contains("resolves to no address")),
                "{e:?}"
            );
        }
        // The narrowed fetcher's resolver refuses loopback even where a
        // URL check would not look: here, a request built by hand.
        #[cfg(feature = "client")]
        {
            let by_hand = fetchers[1]
                .http
                .get(format!("http://localhost:{port}/"))
                .send()
                .await
                .unwrap_err();
            assert!(
                format!("{by_hand:?}").contains("resolves to no address"),
                "{by_hand:?}"
            );
        }
        assert_eq!(
            reached.load(Ordering::SeqCst),
            0,
            "nothing reached the listener"
        );
        server.abort();
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
}
