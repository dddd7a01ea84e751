//! Who may use what: the rules of the configuration applied to the caller
//! of one request.

use mcp_auth::Identity;

use crate::config::{Config, Effect, Rule, RuleTarget};

/// Whether the caller (`None`: no credentials, as over stdio) may see and
/// use `target` of `upstream`: the first rule that covers it and matches
/// the caller decides, else the default.
pub(crate) fn allows(
    config: &Config,
    caller: Option<&Identity>,
    upstream: &str,
    target: RuleTarget<'_>,
) -> bool {
    config
        .rules
        .iter()
        .find(|rule| rule.covers(upstream, target) && matches(rule, caller))
        .map_or(config.policy.default, |rule| rule.effect)
        == Effect::Allow
}

/// Whether the caller may subscribe to `uri` of `upstream`: a
/// subscription also hears of every resource under it, so it is allowed
/// only when everything under it would be too. Rules are walked in order:
/// one that covers the whole subtree decides; one that covers part of it
/// refuses if it denies, and otherwise leaves the rest to the rules after.
pub(crate) fn allows_under(
    config: &Config,
    caller: Option<&Identity>,
    upstream: &str,
    uri: &str,
) -> bool {
    for rule in &config.rules {
        if rule
            .upstream
            .as_ref()
            .is_some_and(|u| u.get_ref() != upstream)
            || !matches(rule, caller)
        {
            continue;
        }
        let whole = match &rule.resource {
            Some(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) if uri.starts_with(prefix) => true,
                Some(prefix) if prefix.starts_with(uri) => false,
                None if pattern.starts_with(uri) => false,
                _ => continue,
            },
            // About the whole upstream, or about other kinds only.
            None if rule.tool.is_none() && rule.prompt.is_none() => true,
            None => continue,
        };
        if whole {
            return rule.effect == Effect::Allow;
        }
        if rule.effect == Effect::Deny {
            return false;
        }
    }
    config.policy.default == Effect::Allow
}

/// Whether the caller meets every condition of `rule` on callers.
fn matches(rule: &Rule, caller: Option<&Identity>) -> bool {
    let no_conditions =
        rule.scopes.is_empty() && rule.subjects.is_empty() && rule.claims.is_empty();
    let Some(caller) = caller else {
        return no_conditions;
    };
    caller.has_scopes(&rule.scopes)
        && (rule.subjects.is_empty()
            || caller
                .subject()
                .is_some_and(|s| rule.subjects.iter().any(|allowed| allowed == s)))
        && rule.claims.iter().all(|(name, wanted)| {
            match caller.claims().get(name) {
                Some(serde_json::Value::String(value)) => value == wanted,
                // A list claim (`groups`) matches when it holds the value.
                Some(serde_json::Value::Array(values)) => {
                    values.iter().any(|v| v.as_str() == Some(wanted.as_str()))
                }
                Some(serde_json::Value::Bool(b)) => wanted.parse::<bool>() == Ok(*b),
                Some(serde_json::Value::Number(n)) => wanted
                    .parse::<f64>()
                    .ok()
                    .is_some_and(|w| Some(w) == n.as_f64()),
                Some(_) => false,
                None => false,
            }
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn config(rules: &str) -> Config {
        Config::parse(&format!(
            "[[upstream]]\nname = \"up\"\ncommand = \"x\"\n{rules}"
        ))
        .unwrap()
    }

    #[test]
    fn a_subscription_is_refused_when_anything_under_it_is() {
        let deny_below = config("[[rule]]\neffect = \"deny\"\nresource = \"memo://secret/*\"\n");
        let up = |c: &Config, uri: &str| allows_under(c, None, "up", uri);
        assert!(!up(&deny_below, "memo://secret"));
        assert!(!up(&deny_below, "memo://"));
        assert!(!up(&deny_below, "memo://secret/plan"));
        assert!(up(&deny_below, "memo://public"));
        // Reading the parent itself stays allowed.
        assert!(allows(
            &deny_below,
            None,
            "up",
            RuleTarget::Resource("memo://secret")
        ));

        // An allowed part does not decide for the rest: the default does.
        let allow_part = config(
            "[[rule]]\neffect = \"allow\"\nresource = \"memo://a/*\"\n[policy]\ndefault = \"deny\"\n",
        );
        assert!(up(&allow_part, "memo://a/"));
        assert!(!up(&allow_part, "memo://"));
        // A rule about tools only says nothing about resources.
        let tools = config("[[rule]]\neffect = \"deny\"\ntool = \"*\"\n");
        assert!(up(&tools, "memo://"));
        // A rule about the whole upstream decides for everything in it.
        let whole = config("[[rule]]\neffect = \"deny\"\nupstream = \"up\"\n");
        assert!(!up(&whole, "memo://"));
    }
}
