//! DNS-rebinding protection: which `Origin` and `Host` values are accepted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Hosts and origins a server answers.
///
/// The default accepts only loopback names (`localhost`, `127.0.0.1`,
/// `[::1]`, any port): right for a server bound to loopback, where a web
/// page on another site could otherwise reach it through DNS rebinding.
/// A server on a public interface lists its public names.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AllowedHosts {
    /// Accepted host names (without port); `None` accepts any.
    pub hosts: Option<Vec<String>>,
    /// Accepted origins (`scheme://host[:port]`), in addition to the
    /// `http(s)://` origins of the accepted hosts; `None` accepts any.
    pub origins: Option<Vec<String>>,
}

impl Default for AllowedHosts {
    fn default() -> Self {
        Self::loopback()
    }
}

const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl AllowedHosts {
    /// Loopback names only.
    pub fn loopback() -> Self {
        Self {
            hosts: Some(LOOPBACK.iter().map(|h| (*h).to_owned()).collect()),
            origins: Some(Vec::new()),
        }
    }

    /// Anything (for servers behind a proxy that checks `Host` itself).
    pub fn any() -> Self {
        Self {
            hosts: None,
            origins: None,
        }
    }

    /// Loopback plus `host` (a public name of the server).
    #[must_use]
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        if let Some(hosts) = &mut self.hosts {
            hosts.push(host.into().to_ascii_lowercase());
        }
        self
    }

    /// Also accepts requests from pages of `origin`.
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        if let Some(origins) = &mut self.origins {
            origins.push(origin.into().to_ascii_lowercase());
        }
        self
    }

    /// Whether `authority` (`host[:port]`) names an accepted host.
    /// Malformed authorities are not accepted.
    fn host_allowed(&self, authority: &str) -> bool {
        let Some((host, text)) = host_of(authority) else {
            return false;
        };
        let Some(hosts) = &self.hosts else {
            return true;
        };
        // Spelled as listed (the usual case), nothing needs parsing.
        hosts.iter().any(|h| h.eq_ignore_ascii_case(text))
            || host.parsed().is_some_and(|host| {
                hosts.iter().any(|h| {
                    host_of(h)
                        .and_then(|(h, _)| h.parsed())
                        .is_some_and(|allowed| allowed == host)
                })
            })
    }

    /// Whether a request may be served, given its target's authority (the
    /// request URI's, as HTTP/2 `:authority` and absolute-form HTTP/1
    /// targets carry it), its `Host` header and its `Origin` header.
    ///
    /// Unless any host is accepted, a request must name its host (in one
    /// place or both) and every name it gives must be accepted; an origin,
    /// when present, must be accepted too. `Err` says what was refused.
    ///
    /// # Errors
    /// The reason, for the 403 answer.
    pub fn check(
        &self,
        authority: Option<&str>,
        host: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), &'static str> {
        if self.hosts.is_some() && authority.is_none() && host.is_none() {
            return Err("the request names no host (Host header or :authority)");
        }
        if let Some(authority) = authority
            && !self.host_allowed(authority)
        {
            return Err("request authority not allowed");
        }
        if let Some(host) = host
            && !self.host_allowed(host)
        {
            return Err("Host header not allowed");
        }
        if let Some(origin) = origin
            && !self.origin_allowed(origin)
        {
            return Err("Origin not allowed");
        }
        Ok(())
    }

    /// [`check`](Self::check) of a request's target and headers, read as
    /// the endpoint reads them: a `Host` or `Origin` header given twice,
    /// or in bytes that are not text, could be read two ways, and is
    /// refused rather than guessed at. For a layer in front of the
    /// endpoint that must decide exactly as it does.
    ///
    /// # Errors
    /// The reason, for the 403 answer.
    pub fn check_request(
        &self,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<(), &'static str> {
        match (
            single(headers, &http::header::HOST),
            single(headers, &http::header::ORIGIN),
        ) {
            (Ok(host), Ok(origin)) => self.check(
                uri.authority().map(http::uri::Authority::as_str),
                host,
                origin,
            ),
            (Err(()), _) => Err("the Host header is repeated or not ASCII"),
            (_, Err(())) => Err("the Origin header is repeated or not ASCII"),
        }
    }

    /// Whether pages of `origin` may call the server.
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        let Some(origins) = &self.origins else {
            return true;
        };
        let lower = origin.to_ascii_lowercase();
        if origins.contains(&lower) {
            return true;
        }
        lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .is_some_and(|authority| self.host_allowed(authority))
    }
}

/// A host, compared by what it denotes: addresses by value (so `[::1]`
/// and `[0:0::1]` are one), names without case or a final dot. Checked for
/// its characters when found; parsed only when compared by value.
#[derive(Debug, Clone, Copy)]
enum Host<'a> {
    /// The inside of `[…]`.
    V6(&'a str),
    /// A name, or an IPv4 address.
    Name(&'a str),
}

/// What a [`Host`] denotes.
#[derive(Debug, PartialEq)]
enum Parsed<'a> {
    Ip(IpAddr),
    Name(Lowercase<'a>),
}

/// A name compared without case.
#[derive(Debug)]
struct Lowercase<'a>(&'a str);

impl PartialEq for Lowercase<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl<'a> Host<'a> {
    /// What it denotes; `None` for brackets that hold no IPv6 address.
    fn parsed(self) -> Option<Parsed<'a>> {
        Some(match self {
            Self::V6(v6) => Parsed::Ip(IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)),
            Self::Name(name) => match name.parse::<Ipv4Addr>() {
                Ok(v4) => Parsed::Ip(IpAddr::V4(v4)),
                Err(_) => Parsed::Name(Lowercase(name)),
            },
        })
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]`, `[v6]:port`),
/// and its text (`[v6]` with its brackets, a name without a final dot),
/// parsed strictly: `None` for anything else, such as a bracketed part
/// that is not an IPv6 address, text after it that is not a port, or a
/// name with characters no host name has.
fn host_of(authority: &str) -> Option<(Host<'_>, &str)> {
    let (host, text, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            let valid = !v6.is_empty()
                && v6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !valid || v6.parse::<Ipv6Addr>().is_err() {
                return None;
            }
            let text = authority.get(..v6.len() + 2)?;
            (Host::V6(v6), text, port)
        }
        None => {
            let (name, port) = match authority.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (authority, None),
            };
            let name = name.strip_suffix('.').unwrap_or(name);
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
            if !valid {
                return None;
            }
            (Host::Name(name), name, port)
        }
    };
    // A port is 1 to 5 digits, no sign, no spaces, at most 65535.
    if let Some(port) = port
        && (!port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return None;
    }
    Some((host, text))
}

/// A header's one value as text; `Err` when it is repeated or not text.
fn single<'a>(
    headers: &'a http::HeaderMap,
    name: &http::HeaderName,
) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    value.to_str().map(Some).map_err(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default() {
        let allowed = AllowedHosts::default();
        for host in [
            "localhost:8000",
            "127.0.0.1",
            "[::1]:9",
            "LOCALHOST",
            "[0::1]",
            "localhost.",
        ] {
            assert!(allowed.check(None, Some(host), None).is_ok(), "{host}");
        }
        assert!(
            allowed
                .check(None, Some("evil.example:8000"), None)
                .is_err()
        );
        assert!(
            allowed
                .check(None, Some("localhost"), Some("http://localhost:3000"))
                .is_ok()
        );
        assert!(
            allowed
                .check(None, Some("localhost"), Some("https://evil.example"))
                .is_err()
        );
        assert!(
            allowed
                .check(None, Some("localhost"), Some("null"))
                .is_err()
        );
        let custom = AllowedHosts::loopback()
            .with_host("mcp.example.com")
            .with_origin("https://app.example.com");
        assert!(
            custom
                .check(
                    None,
                    Some("mcp.example.com"),
                    Some("https://app.example.com")
                )
                .is_ok()
        );
        assert!(
            AllowedHosts::any()
                .check(None, Some("anything"), Some("https://x"))
                .is_ok()
        );
    }

    #[test]
    fn malformed_or_missing_hosts_are_refused() {
        let allowed = AllowedHosts::default();
        for host in [
            "[::1]evil.example",
            "[::1]:80x",
            "[::1]:",
            "[::1",
            "[localhost]",
            "localhost:99999999",
            "localhost:80000",
            "localhost:+80",
            "localhost:80:80",
            "::1",
            "",
            "local host",
            "localhost@evil.example",
        ] {
            assert!(allowed.check(None, Some(host), None).is_err(), "{host:?}");
            assert!(allowed.check(Some(host), None, None).is_err(), "{host:?}");
        }
        // HTTP/2 carries the host as :authority: it is checked as Host is.
        assert!(allowed.check(Some("evil.example"), None, None).is_err());
        assert!(
            allowed
                .check(Some("evil.example"), Some("localhost"), None)
                .is_err()
        );
        assert!(allowed.check(Some("127.0.0.1:80"), None, None).is_ok());
        // No host at all is refused unless any host is accepted.
        assert!(allowed.check(None, None, None).is_err());
        assert!(AllowedHosts::any().check(None, None, None).is_ok());
        assert!(
            allowed
                .check(None, Some("localhost"), Some("http://[::1]evil.example"))
                .is_err()
        );
    }
}
