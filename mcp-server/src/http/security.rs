//! DNS-rebinding protection: which `Origin` and `Host` values are accepted.

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

    fn host_allowed(&self, host: &str) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let name = strip_port(host);
        hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Whether a request with these headers may be served.
    pub(crate) fn check(
        &self,
        host: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), &'static str> {
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

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .and_then(|i| authority.get(..=i))
            .unwrap_or(authority);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default() {
        let allowed = AllowedHosts::default();
        for host in ["localhost:8000", "127.0.0.1", "[::1]:9", "LOCALHOST"] {
            assert!(allowed.check(Some(host), None).is_ok(), "{host}");
        }
        assert!(allowed.check(Some("evil.example:8000"), None).is_err());
        assert!(
            allowed
                .check(Some("localhost"), Some("http://localhost:3000"))
                .is_ok()
        );
        assert!(
            allowed
                .check(Some("localhost"), Some("https://evil.example"))
                .is_err()
        );
        assert!(allowed.check(Some("localhost"), Some("null")).is_err());
        let custom = AllowedHosts::loopback()
            .with_host("mcp.example.com")
            .with_origin("https://app.example.com");
        assert!(
            custom
                .check(Some("mcp.example.com"), Some("https://app.example.com"))
                .is_ok()
        );
        assert!(
            AllowedHosts::any()
                .check(Some("anything"), Some("https://x"))
                .is_ok()
        );
    }
}
