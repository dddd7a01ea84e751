//! The HTTP headers of 2026-07-28 Streamable HTTP that mirror the body, so
//! intermediaries can route without parsing JSON: `Mcp-Method`, `Mcp-Name`
//! and the `Mcp-Param-{Name}` headers a tool asks for with `x-mcp-header`.
//!
//! Runtime-free: headers are plain name/value strings here, so the server
//! and client transports (and any proxy) share one implementation of the
//! encoding and validation rules.
//!
//! ```
//! use mcp_core::headers::{self, ParamHeader};
//!
//! let schema = serde_json::json!({"type": "object", "properties": {
//!     "region": {"type": "string", "x-mcp-header": "Region"}}});
//! let params = ParamHeader::from_schema(schema.as_object().unwrap()).unwrap();
//! let args = serde_json::json!({"region": "us-west1"});
//! let value = params[0].value_in(args.as_object().unwrap()).unwrap();
//! assert_eq!(params[0].header(), "Mcp-Param-Region");
//! assert_eq!(value.as_deref(), Some("us-west1"));
//! assert_eq!(headers::encode_value("Hello, 世界"), "=?base64?SGVsbG8sIOS4lueVjA==?=");
//! ```

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::JsonObject;
use crate::error::ErrorObject;

/// The protocol version of the request (all revisions since 2025-06-18).
pub const PROTOCOL_VERSION: &str = "MCP-Protocol-Version";
/// The JSON-RPC method (2026-07-28).
pub const METHOD: &str = "Mcp-Method";
/// `params.name` or `params.uri` of `tools/call`, `prompts/get` and
/// `resources/read` (2026-07-28).
pub const NAME: &str = "Mcp-Name";
/// The legacy session id.
pub const SESSION_ID: &str = "Mcp-Session-Id";
/// Prefix of the headers mirroring tool parameters.
pub const PARAM_PREFIX: &str = "Mcp-Param-";

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// Largest integer a JavaScript number holds exactly: the range
/// `x-mcp-header` integers must stay in.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// How deep `from_schema` looks into a tool's input schema.
const MAX_SCHEMA_DEPTH: usize = 64;

fn header_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        && !value.starts_with([' ', '\t'])
        && !value.ends_with([' ', '\t'])
}

fn is_sentinel(value: &str) -> bool {
    value.len() >= SENTINEL_START.len() + SENTINEL_END.len()
        && value.starts_with(SENTINEL_START)
        && value.ends_with(SENTINEL_END)
}

/// A value as it may travel in a header: itself when it is plain
/// visible ASCII, else (and when it looks like the sentinel itself)
/// `=?base64?…?=`.
pub fn encode_value(value: &str) -> Cow<'_, str> {
    if header_safe(value) && !is_sentinel(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(format!(
            "{SENTINEL_START}{}{SENTINEL_END}",
            B64.encode(value)
        ))
    }
}

/// The value a header carries, decoding the Base64 sentinel form.
///
/// # Errors
/// The -32020 error object when the value has characters headers may not
/// carry, or a sentinel that is not Base64 of UTF-8.
pub fn decode_value(value: &str) -> Result<Cow<'_, str>, ErrorObject> {
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
    {
        return Err(ErrorObject::header_mismatch(
            "header value has invalid characters",
        ));
    }
    if !is_sentinel(value) {
        return Ok(Cow::Borrowed(value));
    }
    let inner = value
        .get(SENTINEL_START.len()..value.len() - SENTINEL_END.len())
        .unwrap_or_default();
    let bytes = B64
        .decode(inner)
        .map_err(|_| ErrorObject::header_mismatch("header value is not valid Base64"))?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| ErrorObject::header_mismatch("Base64 header value is not UTF-8"))
}

/// The value `Mcp-Name` mirrors for `method`, if it mirrors one.
pub fn name_source(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// The parts of a request's params that the HTTP headers mirror, read
/// once by either side of the transport.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct Mirrored {
    /// `_meta`, whose protocol version goes into `MCP-Protocol-Version`.
    #[serde(rename = "_meta", default)]
    pub meta: Option<crate::meta::RequestMeta>,
    /// `name` of `tools/call` and `prompts/get`.
    #[serde(default)]
    pub name: Option<String>,
    /// `uri` of `resources/read`.
    #[serde(default)]
    pub uri: Option<String>,
    /// `tools/call` arguments, some of which `x-mcp-header` mirrors.
    #[serde(default)]
    pub arguments: Option<JsonObject>,
}

impl Mirrored {
    /// Reads the mirrored parts of `params`; empty when they do not parse
    /// (the body's own decoding reports that).
    pub fn of(params: Option<&serde_json::value::RawValue>) -> Self {
        params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_default()
    }

    /// The value `Mcp-Name` carries for `method`.
    pub fn name_for(&self, method: &str) -> Option<&str> {
        match name_source(method) {
            Some("uri") => self.uri.as_deref(),
            Some(_) => self.name.as_deref(),
            None => None,
        }
    }

    /// The protocol version `_meta` names (2026-07-28 requests).
    pub fn protocol_version(&self) -> Option<&crate::ProtocolVersion> {
        self.meta.as_ref()?.protocol_version.as_ref()
    }
}

/// A tool parameter mirrored into a header (`x-mcp-header`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParamHeader {
    header: String,
    /// The chain of `properties` keys from the schema root.
    path: Vec<String>,
}

fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl ParamHeader {
    /// The full header name, `Mcp-Param-{Name}`.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The property path the header mirrors.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// The annotated parameters of a tool's input schema.
    ///
    /// # Errors
    /// Why the schema breaks the `x-mcp-header` rules (a client must then
    /// leave the tool out of its list): an annotation outside a chain of
    /// `properties`, on a non-primitive or `number` parameter, an empty,
    /// non-token or duplicate name.
    pub fn from_schema(schema: &JsonObject) -> Result<Vec<Self>, String> {
        let mut found = Vec::new();
        walk(schema, &mut Vec::new(), true, 0, &mut found)?;
        let mut seen: Vec<String> = Vec::new();
        for header in &found {
            let lower = header.header.to_ascii_lowercase();
            if seen.contains(&lower) {
                return Err(format!("x-mcp-header {:?} is used twice", header.header));
            }
            seen.push(lower);
        }
        Ok(found)
    }

    /// The header value for `arguments`: `None` when the argument is
    /// absent, else the converted and encoded value.
    ///
    /// # Errors
    /// When the argument is not a string, a boolean or a safe integer.
    pub fn value_in(&self, arguments: &JsonObject) -> Result<Option<String>, String> {
        let mut current: Option<&Value> = None;
        for (i, key) in self.path.iter().enumerate() {
            let object = if i == 0 {
                Some(arguments)
            } else {
                current.and_then(Value::as_object)
            };
            current = object.and_then(|o| o.get(key));
            if current.is_none() {
                return Ok(None);
            }
        }
        let text = match current {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => i.to_string(),
                _ => return Err(format!("{} must be a safe integer", self.header)),
            },
            Some(_) => {
                return Err(format!(
                    "{} mirrors a value that is not a primitive",
                    self.header
                ));
            }
        };
        Ok(Some(encode_value(&text).into_owned()))
    }
}

fn walk(
    node: &JsonObject,
    path: &mut Vec<String>,
    reachable: bool,
    depth: usize,
    found: &mut Vec<ParamHeader>,
) -> Result<(), String> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err("input schema nests too deeply".into());
    }
    if let Some(name) = node.get("x-mcp-header") {
        if !reachable || path.is_empty() {
            return Err(
                "x-mcp-header may only annotate a property reached through `properties` alone"
                    .into(),
            );
        }
        let name = name.as_str().unwrap_or_default();
        if name.is_empty() || !name.bytes().all(tchar) {
            return Err(format!("x-mcp-header {name:?} is not a header name token"));
        }
        match node.get("type").and_then(Value::as_str) {
            Some("string" | "integer" | "boolean") => {}
            other => {
                return Err(format!(
                    "x-mcp-header {name:?} annotates a parameter of type {other:?}"
                ));
            }
        }
        found.push(ParamHeader {
            header: format!("{PARAM_PREFIX}{name}"),
            path: path.clone(),
        });
    }
    for (key, value) in node {
        match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => {
                for (name, schema) in properties {
                    if let Value::Object(schema) = schema {
                        path.push(name.clone());
                        walk(schema, path, reachable, depth + 1, found)?;
                        path.pop();
                    }
                }
            }
            (_, Value::Object(inner)) => walk(inner, &mut Vec::new(), false, depth + 1, found)?,
            (_, Value::Array(items)) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        walk(inner, &mut Vec::new(), false, depth + 1, found)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Server side: checks the mirrored headers of a 2026-07-28 request against
/// its body. `header` looks a header up by name (case-insensitively).
///
/// # Errors
/// The -32020 error object naming the header that is missing, malformed or
/// different from the body.
pub fn check<'h>(
    header: impl Fn(&str) -> Option<&'h str>,
    method: &str,
    name: Option<&str>,
    params: &[ParamHeader],
    arguments: Option<&JsonObject>,
) -> Result<(), ErrorObject> {
    let sent = header(METHOD)
        .ok_or_else(|| ErrorObject::header_mismatch("Mcp-Method header is missing"))?;
    if decode_value(sent)? != method {
        return Err(ErrorObject::header_mismatch(format!(
            "Mcp-Method header value '{sent}' does not match body value '{method}'"
        )));
    }
    if name_source(method).is_some() {
        let body = name.unwrap_or_default();
        let sent = header(NAME)
            .ok_or_else(|| ErrorObject::header_mismatch("Mcp-Name header is missing"))?;
        let sent = decode_value(sent)?;
        if sent != body {
            return Err(ErrorObject::header_mismatch(format!(
                "Mcp-Name header value '{sent}' does not match body value '{body}'"
            )));
        }
    }
    let empty = JsonObject::new();
    for param in params {
        let expected = param
            .value_in(arguments.unwrap_or(&empty))
            .map_err(ErrorObject::header_mismatch)?;
        let got = header(param.header()).map(decode_value).transpose()?;
        let expected = expected.as_deref().map(decode_value).transpose()?;
        if got != expected {
            return Err(ErrorObject::header_mismatch(format!(
                "{} header does not match the argument it mirrors",
                param.header()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn values_encode_as_the_spec_table_says() {
        assert_eq!(encode_value("us-west1"), "us-west1");
        assert_eq!(
            encode_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(encode_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(encode_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(
            encode_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
        for v in [
            "us-west1",
            "Hello, 世界",
            " padded ",
            "line1\nline2",
            "=?base64?literal?=",
        ] {
            assert_eq!(decode_value(&encode_value(v)).unwrap(), v);
        }
        assert!(decode_value("=?base64?!!!?=").is_err());
        assert!(decode_value("bad\u{1}").is_err());
    }

    #[test]
    fn annotations_follow_the_rules() {
        let ok = obj(json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "opts": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}}},
            "n": {"type": "integer", "x-mcp-header": "N"}
        }}));
        let found = ParamHeader::from_schema(&ok).unwrap();
        assert_eq!(found.len(), 3);
        let args = obj(json!({"region": "eu", "opts": {"dry": true}, "n": -7}));
        let values: Vec<_> = found.iter().map(|p| p.value_in(&args).unwrap()).collect();
        assert!(values.contains(&Some("eu".into())) && values.contains(&Some("true".into())));
        assert!(values.contains(&Some("-7".into())));
        assert_eq!(found[0].value_in(&JsonObject::new()).unwrap(), None);
        let too_big = obj(json!({"n": 9_007_199_254_740_993_i64}));
        assert!(
            found
                .iter()
                .find(|p| p.header() == "Mcp-Param-N")
                .unwrap()
                .value_in(&too_big)
                .is_err()
        );

        for bad in [
            json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}}),
            json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
            json!({"type": "string", "x-mcp-header": "Root"}),
        ] {
            assert!(
                ParamHeader::from_schema(&obj(bad.clone())).is_err(),
                "{bad}"
            );
        }
        // Hostile nesting fails cleanly.
        let mut deep = json!({"type": "string"});
        for _ in 0..200 {
            deep = json!({"properties": {"x": deep}});
        }
        assert!(ParamHeader::from_schema(&obj(deep)).is_err());
    }

    #[test]
    fn servers_check_headers_against_the_body() {
        let params = ParamHeader::from_schema(&obj(json!({"properties": {
            "region": {"type": "string", "x-mcp-header": "Region"}}})))
        .unwrap();
        let args = obj(json!({"region": "Hello, 世界"}));
        let headers = [
            ("mcp-method", "tools/call"),
            ("mcp-name", "execute_sql"),
            ("mcp-param-region", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        ];
        let lookup = |h: &[(&'static str, &'static str)]| {
            let h = h.to_vec();
            move |name: &str| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            }
        };
        check(
            lookup(&headers),
            "tools/call",
            Some("execute_sql"),
            &params,
            Some(&args),
        )
        .unwrap();
        let wrong_name = [headers[0], ("mcp-name", "other"), headers[2]];
        let e = check(
            lookup(&wrong_name),
            "tools/call",
            Some("execute_sql"),
            &params,
            Some(&args),
        )
        .unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::HEADER_MISMATCH);
        assert!(e.message().contains("'other'"), "{}", e.message());
        let missing = [headers[0], headers[1]];
        assert!(
            check(
                lookup(&missing),
                "tools/call",
                Some("execute_sql"),
                &params,
                Some(&args)
            )
            .is_err()
        );
        assert!(check(lookup(&[]), "tools/list", None, &[], None).is_err());
        check(
            lookup(&[("Mcp-Method", "tools/list")]),
            "tools/list",
            None,
            &[],
            None,
        )
        .unwrap();
    }
}
