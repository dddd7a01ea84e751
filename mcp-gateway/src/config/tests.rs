#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use super::*;

const GOOD: &str = r#"
[gateway]
name = "front"
separator = "___"

[[upstream]]
name = "notes"
command = "notes-server"
args = ["--verbose"]
env_secrets = { NOTES_KEY = "notes-key" }

[[upstream]]
name = "search"
url = "https://search.example.com/mcp"
header_secrets = { authorization = "search-token" }
oauth = { grant = "client_credentials", client_id = "gw", client_secret = "search-client" }
versions = ["2025-11-25"]

[[rule]]
effect = "deny"
upstream = "notes"
tool = "delete_*"
scopes = ["admin"]

[policy]
default = "allow"
refuse = "forbidden"
"#;

fn error(text: &str) -> String {
    match Config::parse(text) {
        Err(Error::Config(why)) => why,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn a_full_file_parses() {
    let config = Config::parse(GOOD).unwrap();
    assert_eq!(config.gateway.separator, "___");
    assert_eq!(config.upstreams.len(), 2);
    assert_eq!(
        config.upstream("notes").unwrap().transport(),
        Transport::Stdio
    );
    assert_eq!(
        config.upstream("search").unwrap().transport(),
        Transport::Http
    );
    assert!(matches!(
        config.upstream("search").unwrap().oauth,
        Some(UpstreamOAuth::ClientCredentials { .. })
    ));
    assert_eq!(config.policy.refuse, Refusal::Forbidden);
    assert!(config.rules[0].covers("notes", RuleTarget::Tool("delete_all")));
    assert!(!config.rules[0].covers("notes", RuleTarget::Tool("read")));
    assert!(!config.rules[0].covers("search", RuleTarget::Tool("delete_all")));
    assert!(!config.rules[0].covers("notes", RuleTarget::Prompt("delete_all")));
}

#[test]
fn errors_name_the_line() {
    let duplicate = "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n\n[[upstream]]\nname = \"a\"\ncommand = \"y\"\n";
    assert_eq!(error(duplicate), "line 6: upstream \"a\" is defined twice");
    let both = "[[upstream]]\nname = \"a\"\ncommand = \"x\"\nurl = \"http://h/mcp\"\n";
    assert!(
        error(both).starts_with("line 2: upstream \"a\" has both"),
        "{}",
        error(both)
    );
    let neither = "\n[[upstream]]\nname = \"a\"\n";
    assert!(error(neither).starts_with("line 3: "), "{}", error(neither));
    let bad_name = "[[upstream]]\nname = \"a b\"\ncommand = \"x\"\n";
    assert!(error(bad_name).contains("letters, digits"));
    let unknown_rule = "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n[[rule]]\neffect = \"deny\"\nupstream = \"b\"\n";
    assert_eq!(
        error(unknown_rule),
        "line 6: rule names upstream \"b\", which is not defined"
    );
    // Syntax and schema errors come from the TOML reader, with the line.
    let typo = "[[upstream]]\nname = \"a\"\ncomand = \"x\"\n";
    let why = error(typo);
    assert!(why.contains("line 3") && why.contains("comand"), "{why}");
    let version = "[[upstream]]\nname = \"a\"\ncommand = \"x\"\nversions = [\"2099-01-01\"]\n";
    assert!(error(version).contains("unknown protocol version"));
    let separator = "[gateway]\nseparator = \"-\"\n";
    assert!(error(separator).contains("one or more '_'"));
    let prefix = "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n\n[[upstream]]\nname = \"b\"\ncommand = \"x\"\nprefix = \"a\"\n";
    assert_eq!(
        error(prefix),
        "line 6: upstream \"b\": prefix \"a\" is another upstream's too"
    );
    let limit = "[[rate_limit]]\nname = \"x\"\ncount = 1\nper = \"fortnight\"\n";
    assert!(error(limit).contains("per one of second"));
}

#[test]
fn secrets_are_named_not_inlined() {
    // A secret's value has no field to go in.
    let inlined =
        "[[upstream]]\nname = \"a\"\nurl = \"https://h/mcp\"\nclient_secret = \"hunter2\"\n";
    assert!(error(inlined).contains("unknown field"));
}

#[test]
fn the_example_files_parse() {
    for (name, text) in [
        (
            "local-stdio.toml",
            include_str!("../../examples/local-stdio.toml"),
        ),
        ("desktop.toml", include_str!("../../examples/desktop.toml")),
        ("pool.toml", include_str!("../../examples/pool.toml")),
        (
            "on-behalf.toml",
            include_str!("../../examples/on-behalf.toml"),
        ),
    ] {
        let config = Config::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(config.upstreams.len() >= 2, "{name}");
    }
}
