//! What the HTTP examples share to run as operators expect: probes and
//! metrics next to the endpoint, rate limits from the command line.

use mcp_server::limit::{Policy, Quota};
use mcp_server::telemetry::MetricsService;

/// A rate-limit policy from `CALLERS=COUNT/PERIOD`: callers `user`,
/// `api-key` (classes the auth layer gives), `anonymous` (by address),
/// `all`, or `tool:NAME` (calls of one tool, per caller); period `second`,
/// `minute`, `hour` or `day`. `api-key=60/minute` allows each key 60 a
/// minute.
///
/// # Errors
/// A message saying what is wrong with `spec`.
pub fn parse_rate_limit(spec: &str) -> Result<Policy, String> {
    let usage =
        || format!("{spec:?}: a rate limit is CALLERS=COUNT/PERIOD, like api-key=60/minute");
    let (callers, quota) = spec.split_once('=').ok_or_else(usage)?;
    let (count, period) = quota.split_once('/').ok_or_else(usage)?;
    let count: u32 = count.parse().map_err(|_| usage())?;
    let quota = match period {
        "second" | "s" => Quota::per_second(count),
        "minute" | "min" => Quota::per_minute(count),
        "hour" | "h" => Quota::per_hour(count),
        "day" | "d" => Quota::per_day(count),
        _ => return Err(usage()),
    };
    let policy = Policy::new(callers, quota);
    Ok(match callers {
        "all" => policy,
        "anonymous" => policy.for_anonymous(),
        _ => match callers.strip_prefix("tool:") {
            Some(tool) => policy.for_tool(tool),
            None => policy.for_class(callers),
        },
    })
}

/// `app` with the probes and metrics operators expect: `/healthz`
/// (liveness), `/readyz` (readiness: `health`, the endpoint's checks and
/// any added) and `/metrics` (Prometheus text).
pub fn with_ops_routes(app: axum::Router, health: &mcp_server::http::Health) -> axum::Router {
    app.route_service("/healthz", health.liveness())
        .route_service("/readyz", health.readiness())
        .route_service("/metrics", MetricsService::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_callers_and_quotas() {
        let p = parse_rate_limit("api-key=60/minute").unwrap();
        assert_eq!((p.name(), p.quota()), ("api-key", Quota::per_minute(60)));
        assert!(parse_rate_limit("tool:search=5/s").is_ok());
        for bad in ["60/minute", "user=60", "user=x/hour", "user=1/fortnight"] {
            assert!(parse_rate_limit(bad).is_err(), "{bad}");
        }
    }
}
