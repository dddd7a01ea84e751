//! The gateway's configuration: one TOML file, read and checked at
//! startup (and again on every reload), with errors that name the line.
//!
//! The schema is documented in `docs/gateway.md`; [`Config::parse`] is the
//! one way in. Secrets are never written in the file: a field that needs
//! one names it, and the [`Secrets`](mcp_server::secrets::Secrets) source
//! configured under `[secrets]` resolves it.

mod policy;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub(crate) use policy::RuleTarget;
pub use policy::{Effect, Refusal, Rule};

use crate::error::Error;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// How the gateway presents itself and names what it federates.
    #[serde(default)]
    pub gateway: GatewaySection,
    /// The Streamable HTTP endpoint (`mcp-gateway serve`).
    #[serde(default)]
    pub listen: Listen,
    /// Who may call the HTTP endpoint; open when absent.
    pub auth: Option<AuthSection>,
    /// Where secrets come from.
    #[serde(default)]
    pub secrets: SecretsSection,
    /// The servers behind the gateway, in the order their lists are merged.
    #[serde(default, rename = "upstream")]
    pub upstreams: Vec<UpstreamConfig>,
    /// Who may use what; checked in order, the first rule that matches
    /// decides.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    /// What happens when no rule matches, and how refusals look.
    #[serde(default)]
    pub policy: PolicySection,
    /// Rate limits per caller, tool or method (`mcp_server::limit`).
    #[serde(default, rename = "rate_limit")]
    pub rate_limits: Vec<RateLimitConfig>,
    /// Legacy sessions, resumable events and rate limits on a Redis shared
    /// by every instance of a gateway pool; in memory when absent.
    pub redis: Option<RedisSection>,
}

/// `[redis]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisSection {
    /// The secret holding the Redis URL (it may carry a password).
    pub url_secret: String,
    /// The secret every instance derives its request-state key from, so
    /// that a 2026-07-28 retry may land on any of them.
    pub state_key_secret: String,
}

/// `[gateway]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct GatewaySection {
    /// The server name clients see.
    pub name: String,
    /// Between an upstream's name and a tool or prompt name.
    pub separator: String,
    /// When names get their upstream's prefix.
    pub prefix: PrefixMode,
    /// Entries per page of a merged list.
    pub page_size: usize,
    /// Put before the upstreams' own instructions.
    pub instructions: Option<String>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self {
            name: "mcp-gateway".to_owned(),
            separator: "__".to_owned(),
            prefix: PrefixMode::Auto,
            page_size: 100,
            instructions: None,
        }
    }
}

/// When tool and prompt names (and resource URIs) carry their upstream's
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrefixMode {
    /// Only when there is more than one upstream.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never: names must not collide (a colliding entry is left out, with
    /// a warning).
    Never,
}

/// `[listen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Listen {
    /// Address to bind; `$PORT` wins when set (containers).
    pub bind: String,
    /// The endpoint's path.
    pub path: String,
    /// Host names accepted besides loopback (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// Seconds in-flight requests get on SIGTERM.
    pub grace_secs: f64,
    /// Requests one client (its principal, else its address) may have in
    /// flight at once; the gateway holds each for its upstream's round
    /// trip, so a busy service behind one address needs more than a
    /// server's default.
    pub max_in_flight_per_client: usize,
    /// Requests in flight at once, over all clients.
    pub max_in_flight: usize,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".to_owned(),
            path: "/mcp".to_owned(),
            allowed_hosts: Vec::new(),
            grace_secs: 10.0,
            max_in_flight_per_client: 64,
            max_in_flight: 512,
        }
    }
}

/// `[auth]`: the gateway as an OAuth 2.1 resource server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSection {
    /// The authorization server's issuer; JWTs from it are accepted.
    pub issuer: Option<String>,
    /// The endpoint's canonical URL, the audience tokens must carry.
    pub resource: String,
    /// Scopes advertised in the Protected Resource Metadata and required
    /// of every request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// API keys: the hex SHA-256 of each (a digest, not a secret).
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// One API key of `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// Hex SHA-256 of the key.
    pub sha256: String,
    /// Who the key stands for.
    pub subject: String,
    /// What it may do.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `[secrets]`: mounted files first, then the environment.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SecretsSection {
    /// A directory with one file per secret (Kubernetes, Cloud Run, ECS).
    pub dir: Option<String>,
    /// Environment variables `PREFIX` + the secret's name, upper-cased
    /// (for development); `None` reads no environment.
    pub env_prefix: Option<String>,
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PolicySection {
    /// When no rule matches.
    pub default: Effect,
    /// How a refused call is answered.
    pub refuse: Refusal,
}

/// One `[[rate_limit]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// The limit's name, as reported in refusals.
    pub name: String,
    /// How many requests…
    pub count: u32,
    /// …per `second`, `minute`, `hour` or `day`.
    pub per: String,
    /// Callers of this class only: `user` (a token), `api-key`.
    pub class: Option<String>,
    /// Anonymous callers only (keyed by address).
    #[serde(default)]
    pub anonymous: bool,
    /// This tool only (as clients see its name).
    pub tool: Option<String>,
    /// This method only.
    pub method: Option<String>,
}

/// One `[[upstream]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UpstreamConfig {
    /// Its name: the prefix of its tools and prompts, and in logs and
    /// metrics. Letters, digits, `-` and `.`, starting with a letter.
    pub name: Spanned<String>,
    /// A stdio server: the program to run.
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables set for it.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables set from secrets: variable -> secret name.
    #[serde(default)]
    pub env_secrets: BTreeMap<String, String>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// A Streamable HTTP server (either era): its URL.
    pub url: Option<String>,
    /// Headers sent with every HTTP request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Headers set from secrets: header -> secret name (an API key, say).
    #[serde(default)]
    pub header_secrets: BTreeMap<String, String>,
    /// OAuth for an HTTP upstream.
    pub oauth: Option<UpstreamOAuth>,
    /// Overrides the prefix of its names (`""` for none).
    pub prefix: Option<String>,
    /// Protocol versions to offer it, newest first (by default every
    /// version the client speaks): `["2025-11-25"]` keeps it on a legacy
    /// session.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Seconds one request may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Requests in flight at once; more wait.
    #[serde(default = "default_concurrency")]
    pub max_concurrent: usize,
    /// Calls per period it may be sent, from all callers together (per
    /// gateway instance); more are refused as rate limited.
    pub max_rate: Option<Rate>,
    /// Failures in a row that open the circuit breaker.
    #[serde(default = "default_failures")]
    pub failure_threshold: u32,
    /// Seconds the circuit stays open before one probe goes through.
    #[serde(default = "default_open")]
    pub open_secs: f64,
}

fn default_timeout() -> f64 {
    60.0
}
fn default_concurrency() -> usize {
    64
}
fn default_failures() -> u32 {
    5
}
fn default_open() -> f64 {
    10.0
}

/// A number of calls per period.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rate {
    /// How many…
    pub count: u32,
    /// …per `second`, `minute`, `hour` or `day`.
    pub per: String,
}

/// How the gateway signs in to an HTTP upstream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "grant", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UpstreamOAuth {
    /// The gateway's own client at the upstream's authorization server
    /// (found from the upstream's metadata).
    ClientCredentials {
        /// The client ID.
        client_id: String,
        /// The secret holding its client secret.
        client_secret: String,
        /// The scope to ask for.
        scope: Option<String>,
    },
    /// Calls go out on behalf of their caller: the caller's access token
    /// (a JWT from `[auth] issuer`) is traded by the gateway's client at
    /// the upstream's authorization server for a token of that caller for
    /// the upstream (RFC 8693 token exchange), one connection per caller.
    /// The gateway's own connection (lists, subscriptions) signs in with
    /// the client credentials grant of the same client. Callers without
    /// such a token (API keys, stdio) cannot call the upstream.
    TokenExchange {
        /// The gateway's client ID there.
        client_id: String,
        /// The secret holding its client secret.
        client_secret: String,
        /// The scope to ask for.
        scope: Option<String>,
    },
    /// A person signs in through the browser once; tokens are kept in
    /// `token_dir` and refreshed (a desktop gateway).
    AuthorizationCode {
        /// A pre-registered client; registered dynamically when absent.
        client_id: Option<String>,
        /// The scope to ask for.
        scope: Option<String>,
        /// Where tokens are kept.
        token_dir: Option<String>,
    },
}

/// What kind of server an upstream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// Run as a child process, over stdio.
    Stdio,
    /// Reached over Streamable HTTP.
    Http,
}

impl UpstreamConfig {
    /// Its name.
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// How it is reached (checked by [`Config::parse`]).
    pub fn transport(&self) -> Transport {
        if self.command.is_some() {
            Transport::Stdio
        } else {
            Transport::Http
        }
    }

    /// Time limit of one request.
    pub fn timeout(&self) -> Duration {
        seconds(self.timeout_secs)
    }

    /// How long the circuit stays open.
    pub fn open_for(&self) -> Duration {
        seconds(self.open_secs)
    }
}

pub(crate) fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

impl Config {
    /// Reads and checks a configuration file's text.
    ///
    /// # Errors
    /// [`Error::Config`] naming the line and what is wrong: TOML syntax,
    /// an unknown or missing field, a duplicate or invalid upstream name,
    /// an upstream with both or neither of `command` and `url`, a rule or
    /// rate limit naming an upstream that does not exist.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.check(text)?;
        Ok(config)
    }

    /// Reads and checks a configuration file.
    ///
    /// # Errors
    /// [`Error::Config`] when the file cannot be read, or as [`Config::parse`].
    pub fn load(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config(why) => Error::Config(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    fn check(&self, text: &str) -> Result<(), Error> {
        let at = |span: std::ops::Range<usize>, why: String| {
            let line = text
                .get(..span.start)
                .map_or(0, |t| t.lines().count().max(1));
            Error::Config(format!("line {line}: {why}"))
        };
        let mut names = HashSet::new();
        for upstream in &self.upstreams {
            let name = upstream.name();
            let span = upstream.name.span();
            if !valid_name(name) {
                return Err(at(
                    span,
                    format!(
                        "upstream name {name:?}: use letters, digits, '-' and '.', starting with a letter"
                    ),
                ));
            }
            if !names.insert(name) {
                return Err(at(span, format!("upstream {name:?} is defined twice")));
            }
            match (&upstream.command, &upstream.url) {
                (Some(_), Some(_)) => {
                    return Err(at(
                        span,
                        format!("upstream {name:?} has both `command` and `url`: choose one"),
                    ));
                }
                (None, None) => {
                    return Err(at(
                        span,
                        format!("upstream {name:?} needs `command` (stdio) or `url` (HTTP)"),
                    ));
                }
                (Some(_), None) if upstream.oauth.is_some() || !upstream.headers.is_empty() => {
                    return Err(at(
                        span,
                        format!("upstream {name:?}: `oauth` and `headers` are for HTTP upstreams"),
                    ));
                }
                (None, Some(url))
                    if !url.starts_with("http://") && !url.starts_with("https://") =>
                {
                    return Err(at(
                        span,
                        format!("upstream {name:?}: {url:?} is not an http(s) URL"),
                    ));
                }
                _ => {}
            }
            if matches!(upstream.oauth, Some(UpstreamOAuth::TokenExchange { .. }))
                && self.auth.as_ref().and_then(|a| a.issuer.as_ref()).is_none()
            {
                return Err(at(
                    span,
                    format!(
                        "upstream {name:?}: token exchange needs callers with OAuth tokens: set [auth] issuer"
                    ),
                ));
            }
            if let Some(bad) = upstream
                .versions
                .iter()
                .find(|v| !mcp_core::ProtocolVersion::new((*v).clone()).is_known())
            {
                return Err(at(
                    span,
                    format!("upstream {name:?}: unknown protocol version {bad:?}"),
                ));
            }
            if let Some(prefix) = &upstream.prefix
                && !prefix.is_empty()
                && !valid_name(prefix)
            {
                return Err(at(
                    span,
                    format!("upstream {name:?}: prefix {prefix:?} must be empty or a valid name"),
                ));
            }
            if !(upstream.timeout_secs > 0.0 && upstream.open_secs >= 0.0) {
                return Err(at(
                    span,
                    format!("upstream {name:?}: times must be positive"),
                ));
            }
            if let Some(rate) = &upstream.max_rate
                && (rate.count == 0 || crate::serve::period(&rate.per).is_none())
            {
                return Err(at(
                    span,
                    format!(
                        "upstream {name:?}: max_rate needs a count of at least 1 per second, minute, hour or day"
                    ),
                ));
            }
            if upstream.max_concurrent == 0 || upstream.failure_threshold == 0 {
                return Err(at(
                    span,
                    format!(
                        "upstream {name:?}: max_concurrent and failure_threshold must be at least 1"
                    ),
                ));
            }
        }
        // Upstream names (and prefixes) never hold `_`: a separator of
        // underscores cannot make two names meet.
        if self.gateway.separator.is_empty() || !self.gateway.separator.chars().all(|c| c == '_') {
            return Err(Error::Config(format!(
                "[gateway] separator {:?}: one or more '_'",
                self.gateway.separator
            )));
        }
        let mut prefixes = HashSet::new();
        for upstream in &self.upstreams {
            let prefix = upstream.prefix.as_deref().unwrap_or(upstream.name());
            if !prefix.is_empty() && !prefixes.insert(prefix) {
                return Err(at(
                    upstream.name.span(),
                    format!(
                        "upstream {:?}: prefix {prefix:?} is another upstream's too",
                        upstream.name()
                    ),
                ));
            }
        }
        if self.gateway.page_size == 0 {
            return Err(Error::Config(
                "[gateway] page_size must be at least 1".to_owned(),
            ));
        }
        for rule in &self.rules {
            if let Some(upstream) = &rule.upstream
                && !names.contains(upstream.get_ref().as_str())
            {
                return Err(at(
                    upstream.span(),
                    format!(
                        "rule names upstream {:?}, which is not defined",
                        upstream.get_ref()
                    ),
                ));
            }
        }
        for limit in &self.rate_limits {
            if crate::serve::period(&limit.per).is_none() || limit.count == 0 {
                return Err(Error::Config(format!(
                    "rate_limit {:?}: count must be at least 1 and per one of second, minute, hour, day",
                    limit.name
                )));
            }
        }
        Ok(())
    }

    /// The upstream called `name`.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamConfig> {
        self.upstreams.iter().find(|u| u.name() == name)
    }
}

/// Upstream names make prefixes and URI schemes: `[A-Za-z][A-Za-z0-9.-]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && name.len() <= 64
}

#[cfg(test)]
mod tests;
