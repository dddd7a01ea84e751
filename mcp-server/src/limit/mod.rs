//! Rate limits: how many requests a caller may make in a period, by
//! policies that name the callers and the requests they count.
//!
//! A caller is its principal (what an authentication layer vouched for:
//! an OAuth user, an API key's owner), else its network address (an IPv6
//! client by its /64), else — on stdio — the one local peer. Each policy
//! keeps one bucket per caller, refilled continuously (GCRA: a quota of 40
//! an hour allows 40 at once, then one every 90 s). A request is counted
//! by every policy that applies to it and is refused if any of them is
//! spent; a refused request is charged to none.
//!
//! ```
//! use mcp_server::ServerOptions;
//! use mcp_server::limit::{Policy, Quota, RateLimits};
//!
//! let mut options = ServerOptions::default();
//! options.rate_limits = Some(
//!     RateLimits::new()
//!         .policy(Policy::new("users", Quota::per_hour(40)).for_class("user"))
//!         .policy(Policy::new("api-keys", Quota::per_minute(60)).for_class("api-key"))
//!         .policy(Policy::new("anonymous", Quota::per_minute(30)).for_anonymous())
//!         .policy(Policy::new("search", Quota::per_minute(5)).for_tool("search"))
//!         .tool_cost("report", 10),
//! );
//! ```
//!
//! Over Streamable HTTP a refused request gets `429 Too Many Requests`
//! with `Retry-After` and the IETF `RateLimit-Policy` and `RateLimit`
//! fields; on stdio, and for requests inside a batch, a JSON-RPC error
//! `-31429` whose `data` names the policy and the seconds to wait.
//!
//! Buckets live in a [`RateLimitStore`]: [`MemoryRateLimitStore`] by
//! default, per process; a shared store makes a quota hold across
//! instances. The arithmetic is [`gcra`], written here rather than taken
//! from a crate because every store, including one that runs it as a
//! script inside a database, must compute exactly the same thing, and a
//! request spends from several buckets all or nothing.

mod store;

use std::collections::HashMap;
#[cfg(feature = "http")]
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use mcp_core::ErrorObject;
use mcp_core::request::ClientRequest;
use mcp_core::security::SecurityEvent;
use mcp_core::transport::CallerClass;

pub use self::store::{Decision, MemoryRateLimitStore, RateLimitStore, Spend, Tat, gcra};
use crate::clock::{Clock, SystemClock};
use crate::quota::ClientKey;

/// How many requests per period, and how many of them at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Quota {
    /// `count` requests per `period` (at least one), all of which may come
    /// at once.
    pub fn new(count: u32, period: Duration) -> Self {
        let count = count.max(1);
        Self {
            count,
            period: period.max(Duration::from_nanos(u64::from(count))),
            burst: count,
        }
    }

    /// `count` a second.
    pub fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` a minute.
    pub fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// `count` an hour.
    pub fn per_hour(count: u32) -> Self {
        Self::new(count, Duration::from_secs(3600))
    }

    /// `count` a day.
    pub fn per_day(count: u32) -> Self {
        Self::new(count, Duration::from_secs(86_400))
    }

    /// At most `burst` (at least one) at once, the rest spread over the
    /// period.
    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// Requests per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Requests allowed at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time one request's unit takes to refill.
    pub(crate) fn interval_nanos(&self) -> u64 {
        u64::try_from(self.period.as_nanos() / u128::from(self.count)).unwrap_or(u64::MAX)
    }
}

/// Whose requests a policy counts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Callers {
    All,
    Class(Arc<str>),
    Anonymous,
}

/// Which requests a policy counts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requests {
    All,
    Method(String),
    Tool(String),
}

/// A named quota, for some callers and some requests; each caller has a
/// bucket of its own.
#[derive(Debug, Clone)]
pub struct Policy {
    name: Arc<str>,
    quota: Quota,
    callers: Callers,
    requests: Requests,
}

impl Policy {
    /// `quota` for every caller and every request. The name is what
    /// refusals and the `RateLimit` fields say.
    pub fn new(name: impl Into<String>, quota: Quota) -> Self {
        // Names go into structured header fields as strings: printable
        // ASCII only, so the field always serializes.
        let name: String = name
            .into()
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            name: name.into(),
            quota,
            callers: Callers::All,
            requests: Requests::All,
        }
    }

    /// Only callers of `class`, as the authentication layer classed them
    /// (`mcp-auth`: `"user"` for OAuth tokens, `"api-key"` for API keys).
    /// A principal no layer classed is a `"user"`.
    #[must_use]
    pub fn for_class(mut self, class: impl Into<String>) -> Self {
        self.callers = Callers::Class(class.into().into());
        self
    }

    /// Only callers no layer vouched for, by their address.
    #[must_use]
    pub fn for_anonymous(mut self) -> Self {
        self.callers = Callers::Anonymous;
        self
    }

    /// Only requests of `method` (`"resources/read"`).
    #[must_use]
    pub fn for_method(mut self, method: impl Into<String>) -> Self {
        self.requests = Requests::Method(method.into());
        self
    }

    /// Only calls of the tool `name`.
    #[must_use]
    pub fn for_tool(mut self, name: impl Into<String>) -> Self {
        self.requests = Requests::Tool(name.into());
        self
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    fn counts(&self, caller: &Caller, method: &str, tool: Option<&str>) -> bool {
        let callers = match &self.callers {
            Callers::All => true,
            Callers::Class(class) => caller.class.as_deref() == Some(class),
            Callers::Anonymous => caller.class.is_none(),
        };
        callers
            && match &self.requests {
                Requests::All => true,
                Requests::Method(m) => m == method,
                Requests::Tool(t) => tool == Some(t.as_str()),
            }
    }
}

/// Who is calling, for bucketing: who, and, if vouched for, a class.
struct Caller {
    id: Option<ClientKey>,
    class: Option<Arc<str>>,
}

impl Caller {
    fn of(extensions: &http::Extensions) -> Self {
        let class = extensions.get::<mcp_core::transport::Principal>().map(|_| {
            match extensions.get::<CallerClass>() {
                Some(class) => Arc::clone(&class.0),
                None => Arc::clone(&USER),
            }
        });
        Self {
            id: ClientKey::of(extensions),
            class,
        }
    }

    /// The key of this caller's bucket for `policy`. Addresses as hex
    /// digits: formatting them as text costs more than the rest of the
    /// check.
    fn key(&self, policy: &str) -> String {
        let mut key = String::with_capacity(policy.len() + 40);
        key.push_str(policy);
        key.push('\u{0}');
        match &self.id {
            Some(ClientKey::Principal(p)) => {
                key.push_str("p:");
                key.push_str(p);
            }
            Some(ClientKey::Address(std::net::IpAddr::V4(ip))) => {
                key.push_str("a4:");
                mcp_core::hex::push(&mut key, &ip.octets());
            }
            Some(ClientKey::Address(std::net::IpAddr::V6(ip))) => {
                key.push_str("a6:");
                mcp_core::hex::push(&mut key, &ip.octets());
            }
            None => key.push_str("local"),
        }
        key
    }
}

/// The class of principals no layer classed.
static USER: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("user"));

/// The rate limits of a server: policies, per-tool costs, and where the
/// buckets are kept. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RateLimits {
    policies: Arc<[Policy]>,
    costs: Arc<HashMap<String, u32>>,
    store: Arc<dyn RateLimitStore>,
    clock: Arc<dyn Clock>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimits {
    /// No policies yet; buckets in memory, time from the system clock.
    pub fn new() -> Self {
        Self {
            policies: Arc::new([]),
            costs: Arc::default(),
            store: Arc::new(MemoryRateLimitStore::default()),
            clock: Arc::new(SystemClock),
        }
    }

    /// Adds `policy`, replacing one of the same name.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        let mut policies: Vec<Policy> = self.policies.iter().cloned().collect();
        policies.retain(|p| p.name != policy.name);
        policies.push(policy);
        self.policies = policies.into();
        self
    }

    /// A call of tool `name` spends `units` (instead of one) of every
    /// policy that counts it. A cost above a quota's burst is always
    /// refused by that policy.
    #[must_use]
    pub fn tool_cost(mut self, name: impl Into<String>, units: u32) -> Self {
        Arc::make_mut(&mut self.costs).insert(name.into(), units);
        self
    }

    /// Keeps buckets in `store` (one shared by all instances, say).
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.store = store;
        self
    }

    /// Takes the time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether the bucket store can be used now.
    #[cfg(feature = "http")]
    pub(crate) async fn ready(&self) -> Result<(), crate::Error> {
        self.store.ready().await
    }

    /// The policies, in the order they were added.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Spends what the request `method` (with its decoded params `call`)
    /// costs its caller from every policy that counts it.
    pub(crate) async fn check(
        &self,
        extensions: &http::Extensions,
        method: &str,
        call: Option<&ClientRequest>,
    ) -> Result<(), Refusal> {
        let tool = match call {
            Some(ClientRequest::CallTool(p)) => Some(p.name.as_str()),
            _ => None,
        };
        let caller = Caller::of(extensions);
        let mut applying = self
            .policies
            .iter()
            .filter(|p| p.counts(&caller, method, tool));
        let Some(first) = applying.next() else {
            return Ok(());
        };
        let cost = tool.and_then(|t| self.costs.get(t)).copied().unwrap_or(1);
        let spend = |p: &Policy, key| Spend {
            key,
            quota: p.quota,
            cost,
        };
        let now = self.clock.now();
        // One policy is the common case: no lists to build for it.
        let one;
        let many: Vec<&Policy>;
        let (counting, decisions): (&[&Policy], _) = match applying.next() {
            None => {
                let key = caller.key(&first.name);
                one = [first];
                (&one, self.store.spend(&[spend(first, &key)], now).await)
            }
            Some(second) => {
                many = [first, second].into_iter().chain(applying).collect();
                let keys: Vec<String> = many.iter().map(|p| caller.key(&p.name)).collect();
                let spends: Vec<Spend<'_>> = many
                    .iter()
                    .zip(&keys)
                    .map(|(p, key)| spend(p, key))
                    .collect();
                (&many, self.store.spend(&spends, now).await)
            }
        };
        let decisions = decisions.map_err(Refusal::Unavailable)?;
        // The refusal that takes longest to clear is the one to report.
        let refused = counting
            .iter()
            .zip(&decisions)
            .filter(|(_, d)| !d.allowed)
            .max_by_key(|(_, d)| d.retry_after.unwrap_or(Duration::MAX));
        match refused {
            None => Ok(()),
            Some((policy, decision)) => {
                let refusal = Refusal::Limited(Box::new(Limited {
                    policy: Arc::clone(&policy.name),
                    quota: policy.quota,
                    decision: *decision,
                }));
                crate::telemetry::Metrics::global().rate_limited(&policy.name);
                let reason = refusal.error_object();
                crate::security_event::refused(
                    SecurityEvent::RateLimited,
                    extensions,
                    &reason.message(),
                );
                Err(refusal)
            }
        }
    }
}

/// Why a request was refused before it ran.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Over a policy's quota.
    Limited(Box<Limited>),
    /// The bucket store could not be reached.
    Unavailable(crate::Error),
}

/// The policy a request was over, and its bucket.
#[derive(Debug)]
#[cfg_attr(not(feature = "http"), allow(dead_code, reason = "HTTP fields only"))]
pub(crate) struct Limited {
    policy: Arc<str>,
    quota: Quota,
    decision: Decision,
}

impl Refusal {
    /// The JSON-RPC error a client is told.
    pub(crate) fn error_object(&self) -> ErrorObject {
        match self {
            Self::Limited(l) => ErrorObject::rate_limited(&l.policy, l.decision.retry_after),
            Self::Unavailable(e) => {
                tracing::warn!(target: "mcp_server::rate_limit", error = %e, "rate-limit store unavailable");
                ErrorObject::internal_error("rate limits cannot be checked right now; retry later")
            }
        }
    }

    /// Whole seconds to wait, rounded up; none when waiting would not help.
    #[cfg(feature = "http")]
    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Limited(l) => l.decision.retry_after.map(ceil_secs),
            Self::Unavailable(_) => Some(5),
        }
    }

    /// The `RateLimit-Policy` and `RateLimit` field values (IETF
    /// draft-ietf-httpapi-ratelimit-headers), for a refusal by a policy.
    #[cfg(feature = "http")]
    pub(crate) fn fields(&self) -> Option<(String, String)> {
        let Self::Limited(l) = self else {
            return None;
        };
        let name = SfString(&l.policy);
        let policy = format!("{name};q={};w={}", l.quota.count, ceil_secs(l.quota.period));
        let now = format!(
            "{name};r={};t={}",
            l.decision.remaining,
            ceil_secs(l.decision.reset)
        );
        Some((policy, now))
    }
}

#[cfg(feature = "http")]
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A structured-field string (RFC 8941): quoted, with `"` and `\` escaped.
#[cfg(feature = "http")]
struct SfString<'a>(&'a str);

#[cfg(feature = "http")]
impl fmt::Display for SfString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('"')
    }
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::clock::ManualClock;

    fn limits(clock: &ManualClock) -> RateLimits {
        RateLimits::new()
            .policy(Policy::new("users", Quota::per_hour(40)).for_class("user"))
            .policy(Policy::new("keys", Quota::per_minute(60)).for_class("api-key"))
            .policy(Policy::new("anon", Quota::per_minute(2)).for_anonymous())
            .with_clock(Arc::new(clock.clone()))
    }

    fn user(name: &str, class: Option<&str>) -> http::Extensions {
        let mut ext = http::Extensions::new();
        ext.insert(mcp_core::transport::Principal(Arc::from(name)));
        if let Some(class) = class {
            ext.insert(CallerClass(Arc::from(class)));
        }
        ext
    }

    #[tokio::test]
    async fn classes_get_their_own_quota_and_callers_their_own_bucket() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30));
        let limits = limits(&clock);
        let ada = user("ada", None);
        for _ in 0..40 {
            limits.check(&ada, "tools/list", None).await.unwrap();
        }
        let refused = limits.check(&ada, "tools/list", None).await.unwrap_err();
        assert_eq!(refused.retry_after(), Some(90));
        let (policy, now) = refused.fields().unwrap();
        assert_eq!(policy, "\"users\";q=40;w=3600");
        assert_eq!(now, "\"users\";r=0;t=3600");
        // Another user, and a key, are not affected.
        limits
            .check(&user("bob", None), "tools/list", None)
            .await
            .unwrap();
        let key = user("billing", Some("api-key"));
        for _ in 0..60 {
            limits.check(&key, "tools/list", None).await.unwrap();
        }
        assert!(limits.check(&key, "tools/list", None).await.is_err());
        // Recovery on schedule: one unit per 90 s for users.
        clock.advance(Duration::from_secs(89));
        assert!(limits.check(&ada, "tools/list", None).await.is_err());
        clock.advance(Duration::from_secs(1));
        limits.check(&ada, "tools/list", None).await.unwrap();
    }

    #[tokio::test]
    async fn anonymous_callers_are_bucketed_by_address() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30));
        let limits = limits(&clock);
        let from = |ip: &str| {
            let mut ext = http::Extensions::new();
            ext.insert(std::net::SocketAddr::new(ip.parse().unwrap(), 4000));
            ext
        };
        for _ in 0..2 {
            limits.check(&from("10.0.0.1"), "ping", None).await.unwrap();
        }
        assert!(limits.check(&from("10.0.0.1"), "ping", None).await.is_err());
        limits.check(&from("10.0.0.2"), "ping", None).await.unwrap();
        // One /64 is one caller.
        for _ in 0..2 {
            limits
                .check(&from("2001:db8::1"), "ping", None)
                .await
                .unwrap();
        }
        assert!(
            limits
                .check(&from("2001:db8::2"), "ping", None)
                .await
                .is_err()
        );
    }

    #[test]
    fn policy_names_serialize_as_structured_field_strings() {
        let p = Policy::new("a \"b\"\\c\n", Quota::per_second(1));
        assert_eq!(SfString(p.name()).to_string(), r#""a \"b\"\\c_""#);
    }
}
