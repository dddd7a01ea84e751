//! RFC 6570 URI templates for MCP resource templates.
//!
//! A template is parsed once with [`UriTemplate::parse`]. [`UriTemplate::expand`]
//! implements levels 1-3 of RFC 6570 for string values, and
//! [`UriTemplate::matches`] is its inverse: it tests whether a concrete URI
//! could have been produced by the template and extracts the (percent-decoded)
//! variable values. Matching uses a small backtracking search with memoisation
//! and a hard step budget, so pathological templates or inputs fail fast
//! (no match) instead of consuming unbounded time.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};
use std::str::FromStr;

/// Largest prefix length allowed by RFC 6570 (`{var:9999}`).
const MAX_PREFIX: usize = 9999;
/// Upper bound on the work one `matches` call may do before giving up.
const MAX_STEPS: usize = 100_000;

/// An expression operator, one row of the table in RFC 6570 appendix A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    ch: char,
    first: &'static str,
    sep: &'static str,
    named: bool,
    if_empty: &'static str,
    allow_reserved: bool,
    /// Characters a matched value may not contain (before context is added).
    stop: &'static [u8],
}

const fn op(ch: char, first: &'static str, sep: &'static str, named: bool) -> Op {
    let if_empty = if ch == '?' || ch == '&' { "=" } else { "" };
    let allow_reserved = ch == '+' || ch == '#';
    let stop: &[u8] = match ch {
        '+' | '#' => b"",
        '.' => b"./?#",
        ';' => b";/?#",
        '?' | '&' => b"&#",
        _ => b"/?#",
    };
    Op {
        ch,
        first,
        sep,
        named,
        if_empty,
        allow_reserved,
        stop,
    }
}

const SIMPLE: Op = op(' ', "", ",", false);
const OPERATORS: [Op; 7] = [
    op('+', "", ",", false),
    op('#', "#", ",", false),
    op('.', ".", ".", false),
    op('/', "/", "/", false),
    op(';', ";", ";", true),
    op('?', "?", "&", true),
    op('&', "&", "&", true),
];

impl Op {
    /// Whether a variable of a positional expression may be absent when matching.
    fn optional(self) -> bool {
        !self.first.is_empty()
    }
}

/// Bit set of ASCII characters.
fn mask(chars: &[u8]) -> u128 {
    chars.iter().fold(0, |m, &c| m | (1u128 << (c & 0x7f)))
}

fn in_mask(m: u128, b: u8) -> bool {
    b < 128 && m & (1u128 << b) != 0
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct VarSpec {
    name: String,
    prefix: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expr {
    op: Op,
    vars: Vec<VarSpec>,
    /// Characters a value of this expression may not contain when matching.
    stop: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expr(Expr),
}

impl Part {
    fn expr(&self) -> Option<&Expr> {
        match self {
            Self::Expr(e) => Some(e),
            Self::Literal(_) => None,
        }
    }
}

/// A parsed RFC 6570 URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
    names: Vec<String>,
    repeated_names: bool,
}

/// Why a template failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    message: String,
    offset: usize,
}

fn err(message: impl Into<String>, offset: usize) -> TemplateError {
    let message = message.into();
    TemplateError { message, offset }
}

impl TemplateError {
    /// Byte offset in the template where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { message, offset } = self;
        write!(f, "invalid URI template: {message} at byte {offset}")
    }
}

impl std::error::Error for TemplateError {}

impl UriTemplate {
    /// Parses an RFC 6570 template (levels 1-3 operators, `:prefix` and `*` modifiers).
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut pos = 0;
        while let Some(rest) = template.get(pos..).filter(|r| !r.is_empty()) {
            let lit = rest.find(['{', '}']).unwrap_or(rest.len());
            if let Some(l) = rest.get(..lit).filter(|l| !l.is_empty()) {
                parts.push(Part::Literal(l.to_owned()));
            }
            let open = pos + lit;
            match rest.get(lit..).and_then(|r| r.chars().next()) {
                None => break,
                Some('}') => return Err(err("unmatched '}'", open)),
                Some(_) => {}
            }
            let body = template.get(open + 1..).unwrap_or_default();
            let close = body
                .find(['{', '}'])
                .filter(|&k| body.get(k..k + 1) == Some("}"));
            let Some(close) = close else {
                return Err(match body.find(['{', '}']) {
                    Some(k) => err("nested '{'", open + 1 + k),
                    None => err("unclosed '{'", open),
                });
            };
            let body = body.get(..close).unwrap_or_default();
            parts.push(Part::Expr(parse_expression(body, open)?));
            pos = open + close + 2;
        }
        // `{+var}` must not swallow a query or fragment that a later part expects.
        let (mut later_query, mut later_fragment) = (false, false);
        for part in parts.iter_mut().rev() {
            match part {
                Part::Literal(l) => {
                    later_query |= l.contains('?');
                    later_fragment |= l.contains('#');
                }
                Part::Expr(e) => {
                    if e.op.ch == '+' {
                        e.stop |= (u128::from(later_query) << b'?')
                            | (u128::from(later_fragment) << b'#');
                    }
                    later_query |= e.op.ch == '?';
                    later_fragment |= e.op.ch == '#';
                }
            }
        }
        let (mut names, mut repeated_names) = (Vec::<String>::new(), false);
        for v in parts.iter().filter_map(Part::expr).flat_map(|e| &e.vars) {
            repeated_names |= names.contains(&v.name);
            if !names.contains(&v.name) {
                names.push(v.name.clone());
            }
        }
        let source = template.to_owned();
        Ok(Self {
            source,
            parts,
            names,
            repeated_names,
        })
    }

    /// The template text as given to [`UriTemplate::parse`].
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Variable names in order of appearance (deduplicated).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// If `uri` matches, the variables' values (percent-decoded), keyed by name.
    ///
    /// Optional variables that are absent from `uri` (e.g. omitted query
    /// parameters) are not in the map. Returns `None` on no match, on invalid
    /// percent-escapes, or when the search exceeds its work budget.
    pub fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        self.try_match(uri).ok().flatten()
    }

    /// As [`matches`](Self::matches), but a search that ran out of its work
    /// budget (a long URI against a template that names a variable more
    /// than once, say) is an error rather than `None`, for callers that
    /// tell "no such resource" from "too costly to decide".
    ///
    /// # Errors
    /// [`BudgetExceeded`] when the search took more steps than allowed.
    pub fn try_match(&self, uri: &str) -> Result<Option<BTreeMap<String, String>>, BudgetExceeded> {
        let mut runs: Vec<(u128, Vec<usize>)> = Vec::new();
        for e in self.parts.iter().filter_map(Part::expr) {
            if runs.iter().all(|(m, _)| *m != e.stop) {
                runs.push((e.stop, run_ends(uri, e.stop)));
            }
        }
        let mut matcher = Matcher {
            parts: &self.parts,
            uri,
            runs,
            steps: 0,
            failed: (!self.repeated_names).then(HashSet::new),
            binds: Vec::new(),
        };
        if !matcher
            .run(0, 0, false, 0)
            .map_err(|Exhausted| BudgetExceeded)?
        {
            return Ok(None);
        }
        // For repeated names the longest binding is the full value; the others
        // are equal to it or (for `:prefix` uses) prefixes of it.
        let mut raw: BTreeMap<&str, &str> = BTreeMap::new();
        for b in &matcher.binds {
            let Some(value) = b.value else { continue };
            let slot = raw.entry(b.name).or_insert(value);
            if value.len() > slot.len() {
                *slot = value;
            }
        }
        Ok(raw
            .into_iter()
            .map(|(k, v)| Some((k.to_owned(), percent_decode(v)?)))
            .collect())
    }

    /// Expands with the given values (missing variables expand to nothing, as
    /// RFC 6570 says for undefined).
    pub fn expand(&self, vars: &BTreeMap<String, String>) -> String {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Expr(e) => expand_expression(e, vars, &mut out),
            }
        }
        out
    }
}

impl FromStr for UriTemplate {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for UriTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses the text between `{` and `}`; `open` is the byte offset of the `{`.
fn parse_expression(body: &str, open: usize) -> Result<Expr, TemplateError> {
    let mut chars = body.chars();
    let (op, list, mut offset) = match chars.next() {
        None => return Err(err("empty expression", open)),
        Some(c @ ('=' | ',' | '!' | '@' | '|')) => {
            return Err(err(format!("reserved operator '{c}'"), open + 1));
        }
        Some(c) => match OPERATORS.iter().find(|o| o.ch == c) {
            Some(&op) => (op, chars.as_str(), open + 2),
            None => (SIMPLE, body, open + 1),
        },
    };
    if list.is_empty() {
        return Err(err("empty expression", open));
    }
    let mut vars = Vec::new();
    for spec in list.split(',') {
        let split = spec.find([':', '*']).unwrap_or(spec.len());
        let (name, modifier) = spec.split_at_checked(split).unwrap_or((spec, ""));
        if !valid_varname(name) {
            return Err(err(format!("invalid variable name {name:?}"), offset));
        }
        let at = offset + name.len();
        let prefix = match modifier.strip_prefix(':') {
            None if modifier.is_empty() || modifier == "*" => None,
            Some(d)
                if d.bytes().all(|b| b.is_ascii_digit())
                    && !d.is_empty()
                    && !d.starts_with('0') =>
            {
                match d.parse() {
                    Ok(n) if n <= MAX_PREFIX => Some(n),
                    _ => return Err(err("prefix length exceeds 9999", at)),
                }
            }
            _ => return Err(err("invalid modifier", at)),
        };
        let name = name.to_owned();
        vars.push(VarSpec { name, prefix });
        offset += spec.len() + 1;
    }
    let mut stop = mask(op.stop);
    if vars.len() > 1 && op.sep == "," {
        stop |= mask(b",");
    }
    Ok(Expr { op, vars, stop })
}

/// `varname = varchar *( ["."] varchar )`, `varchar = ALPHA / DIGIT / "_" / pct-encoded`.
fn valid_varname(name: &str) -> bool {
    name.split('.').all(|seg| {
        let b = seg.as_bytes();
        let ok = |(i, &c): (usize, &u8)| {
            c.is_ascii_alphanumeric() || c == b'_' || pct_byte(b, i).is_some()
        };
        !b.is_empty() && b.iter().enumerate().all(ok)
    })
}

fn expand_expression(e: &Expr, vars: &BTreeMap<String, String>, out: &mut String) {
    let mut first = true;
    for spec in &e.vars {
        let Some(value) = vars.get(spec.name.as_str()) else {
            continue;
        };
        out.push_str(if first { e.op.first } else { e.op.sep });
        first = false;
        let value = match spec.prefix {
            Some(n) => value
                .char_indices()
                .nth(n)
                .and_then(|(i, _)| value.get(..i))
                .unwrap_or(value),
            None => value.as_str(),
        };
        if e.op.named {
            out.push_str(&spec.name);
            if value.is_empty() {
                out.push_str(e.op.if_empty);
                continue;
            }
            out.push('=');
        }
        encode_into(value, e.op.allow_reserved, out);
    }
}

fn encode_into(value: &str, allow_reserved: bool, out: &mut String) {
    const UNRESERVED: &[u8] = b"-._~";
    const RESERVED: &[u8] = b":/?#[]@!$&'()*+,;=";
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || UNRESERVED.contains(&b)
            || (allow_reserved && (RESERVED.contains(&b) || pct_byte(bytes, i).is_some()));
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The byte encoded by the `%XX` triplet at `b[i]`, if it is one.
fn pct_byte(b: &[u8], i: usize) -> Option<u8> {
    let hex = |j: usize| char::from(*b.get(j)?).to_digit(16);
    if b.get(i) != Some(&b'%') {
        return None;
    }
    u8::try_from((hex(i + 1)? << 4) | hex(i + 2)?).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
    while let Some(&c) = b.get(i) {
        out.push(if c == b'%' { pct_byte(b, i)? } else { c });
        i += if c == b'%' { 3 } else { 1 };
    }
    String::from_utf8(out).ok()
}

/// `ends[p]` = first index `>= p` whose byte is in `m` (or `uri.len()`).
fn run_ends(uri: &str, m: u128) -> Vec<usize> {
    let mut ends = vec![uri.len(); uri.len() + 1];
    let mut next = uri.len();
    for (i, (&b, slot)) in uri.as_bytes().iter().zip(ends.iter_mut()).enumerate().rev() {
        if in_mask(m, b) {
            next = i;
        }
        *slot = next;
    }
    ends
}

/// Byte index just past `max_chars` decoded characters of `uri` from `start`.
fn prefix_limit(uri: &[u8], start: usize, max_chars: usize) -> usize {
    let (mut i, mut chars) = (start, 0);
    while let Some(&b) = uri.get(i) {
        let escaped = pct_byte(uri, i);
        if escaped.unwrap_or(b) & 0xC0 != 0x80 {
            if chars == max_chars {
                return i;
            }
            chars += 1;
        }
        i += if escaped.is_some() { 3 } else { 1 };
    }
    uri.len()
}

/// Signals that the step budget ran out.
struct Exhausted;

/// A URI template match that took more steps than allowed; see
/// [`UriTemplate::try_match`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetExceeded;

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "matching the URI took more than {MAX_STEPS} steps")
    }
}

impl std::error::Error for BudgetExceeded {}

struct Bind<'a> {
    name: &'a str,
    /// `None` when the variable is absent from an expression.
    value: Option<&'a str>,
    prefixed: bool,
}

struct Matcher<'a> {
    parts: &'a [Part],
    uri: &'a str,
    runs: Vec<(u128, Vec<usize>)>,
    steps: usize,
    /// Failed states `(part, var index, expression started, position)`; only
    /// sound (and so only used) when no variable name appears twice.
    failed: Option<HashSet<(usize, usize, bool, usize)>>,
    binds: Vec<Bind<'a>>,
}

impl<'a> Matcher<'a> {
    fn tick(&mut self, n: usize) -> Result<(), Exhausted> {
        self.steps += n;
        if self.steps > MAX_STEPS {
            Err(Exhausted)
        } else {
            Ok(())
        }
    }

    fn starts(&self, pos: usize, s: &str) -> bool {
        self.uri.get(pos..).is_some_and(|rest| rest.starts_with(s))
    }

    fn run_end(&self, stop: u128, pos: usize) -> usize {
        self.runs
            .iter()
            .find(|(m, _)| *m == stop)
            .and_then(|(_, ends)| ends.get(pos).copied())
            .unwrap_or(pos)
    }

    /// Records a binding if its value decodes (a split inside a `%XX`
    /// triplet or a multi-byte character does not) and it is consistent
    /// with earlier bindings of the same name. `None` records the name as
    /// absent: an expansion writes a defined variable into every
    /// expression that names it, so absent in one and present in another
    /// is no match.
    fn bind(&mut self, name: &'a str, value: Option<&'a str>, prefixed: bool) -> bool {
        if value.is_some_and(|v| v.contains('%') && percent_decode(v).is_none()) {
            return false;
        }
        let consistent =
            self.binds
                .iter()
                .filter(|b| b.name == name)
                .all(|b| match (b.value, value) {
                    (None, None) => true,
                    (Some(old), Some(new)) => {
                        old == new
                            || (b.prefixed && new.starts_with(old))
                            || (prefixed && old.starts_with(new))
                    }
                    _ => false,
                });
        if consistent {
            self.binds.push(Bind {
                name,
                value,
                prefixed,
            });
        }
        consistent
    }

    fn run(&mut self, p: usize, i: usize, started: bool, pos: usize) -> Result<bool, Exhausted> {
        self.tick(1)?;
        let key = (p, i, started, pos);
        if self.failed.as_ref().is_some_and(|f| f.contains(&key)) {
            return Ok(false);
        }
        let parts = self.parts;
        let ok = match parts.get(p) {
            None => pos == self.uri.len(),
            Some(Part::Literal(lit)) => {
                self.starts(pos, lit) && self.run(p + 1, 0, false, pos + lit.len())?
            }
            Some(Part::Expr(e)) if e.op.named => self.named(p, e, pos)?,
            Some(Part::Expr(e)) => self.positional(p, e, i, started, pos)?,
        };
        if let (false, Some(f)) = (ok, self.failed.as_mut()) {
            f.insert(key);
        }
        Ok(ok)
    }

    /// Operators without names (`{x}`, `+`, `#`, `.`, `/`): one variable at a time.
    fn positional(
        &mut self,
        p: usize,
        e: &'a Expr,
        i: usize,
        started: bool,
        pos: usize,
    ) -> Result<bool, Exhausted> {
        let Some(var) = e.vars.get(i) else {
            return self.run(p + 1, 0, false, pos);
        };
        let lead = if started { e.op.sep } else { e.op.first };
        if self.starts(pos, lead) {
            let start = pos + lead.len();
            let mut max_end = self.run_end(e.stop, start);
            if let Some(n) = var.prefix {
                max_end = max_end.min(prefix_limit(self.uri.as_bytes(), start, n));
            }
            let min_len = usize::from(!e.op.optional());
            for end in (start + min_len..=max_end).rev() {
                self.tick(1)?;
                let Some(value) = self.uri.get(start..end) else {
                    continue;
                };
                let mark = self.binds.len();
                if self.bind(&var.name, Some(value), var.prefix.is_some()) {
                    if self.run(p, i + 1, true, end)? {
                        return Ok(true);
                    }
                    self.binds.truncate(mark);
                }
            }
        }
        if !e.op.optional() {
            return Ok(false);
        }
        let mark = self.binds.len();
        if self.bind(&var.name, None, false) && self.run(p, i + 1, started, pos)? {
            return Ok(true);
        }
        self.binds.truncate(mark);
        Ok(false)
    }

    /// Named operators (`;`, `?`, `&`): `name[=value]` pairs in any order, each optional.
    fn named(&mut self, p: usize, e: &'a Expr, pos: usize) -> Result<bool, Exhausted> {
        let uri = self.uri;
        let mut found: Vec<(usize, &'a VarSpec, &'a str)> = Vec::new();
        let mut cur = pos;
        loop {
            let lead = if found.is_empty() {
                e.op.first
            } else {
                e.op.sep
            };
            let Some(after) = uri.get(cur..).and_then(|r| r.strip_prefix(lead)) else {
                break;
            };
            let name_len = after
                .find(|c: char| c == '=' || u8::try_from(c).is_ok_and(|b| in_mask(e.stop, b)))
                .unwrap_or(after.len());
            let name = after.get(..name_len).unwrap_or_default();
            let Some(var) = e.vars.iter().find(|v| v.name == name) else {
                break;
            };
            if found.iter().any(|(_, v, _)| v.name == name) {
                break;
            }
            let mut end = cur + lead.len() + name_len;
            let mut value = "";
            if after.get(name_len..).is_some_and(|r| r.starts_with('=')) {
                let vstart = end + 1;
                end = self.run_end(e.stop, vstart);
                if let Some(n) = var.prefix {
                    end = end.min(prefix_limit(uri.as_bytes(), vstart, n));
                }
                value = uri.get(vstart..end).unwrap_or_default();
            }
            self.tick(end - cur)?;
            found.push((end, var, value));
            cur = end;
        }
        for k in (0..=found.len()).rev() {
            self.tick(1)?;
            let mark = self.binds.len();
            let mut consistent = true;
            for &(_, var, value) in found.iter().take(k) {
                consistent = consistent && self.bind(&var.name, Some(value), var.prefix.is_some());
            }
            for var in &e.vars {
                let present = found.iter().take(k).any(|(_, v, _)| v.name == var.name);
                consistent = consistent && (present || self.bind(&var.name, None, false));
            }
            let end = k
                .checked_sub(1)
                .and_then(|j| found.get(j))
                .map_or(pos, |f| f.0);
            if consistent && self.run(p + 1, 0, false, end)? {
                return Ok(true);
            }
            self.binds.truncate(mark);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn t(s: &str) -> UriTemplate {
        UriTemplate::parse(s).expect("template should parse")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Asserts that `uri` matches `template` with exactly `pairs`.
    fn ok(template: &str, uri: &str, pairs: &[(&str, &str)]) {
        assert_eq!(
            t(template).matches(uri),
            Some(map(pairs)),
            "{template} vs {uri}"
        );
    }

    fn no(template: &str, uri: &str) {
        assert_eq!(t(template).matches(uri), None, "{template} vs {uri}");
    }

    /// `template => expansion` lines from RFC 6570 section 3.2 (levels 1-3).
    const RFC_CASES: &str = "
        {var} => value
        {hello} => Hello%20World%21
        {+var} => value
        {+hello} => Hello%20World!
        {+path}/here => /foo/bar/here
        here?ref={+path} => here?ref=/foo/bar
        X{#var} => X#value
        X{#hello} => X#Hello%20World!
        map?{x,y} => map?1024,768
        {x,hello,y} => 1024,Hello%20World%21,768
        {+x,hello,y} => 1024,Hello%20World!,768
        {+path,x}/here => /foo/bar,1024/here
        {#x,hello,y} => #1024,Hello%20World!,768
        {#path,x}/here => #/foo/bar,1024/here
        X{.var} => X.value
        X{.x,y} => X.1024.768
        {/var} => /value
        {/var,x}/here => /value/1024/here
        {;x,y} => ;x=1024;y=768
        {;x,y,empty} => ;x=1024;y=768;empty
        {?x,y} => ?x=1024&y=768
        {?x,y,empty} => ?x=1024&y=768&empty=
        ?fixed=yes{&x} => ?fixed=yes&x=1024
        {&x,y,empty} => &x=1024&y=768&empty=
        {var:3} => val
        {var:30} => value
        {+path:6}/here => /foo/b/here
        {#path:6}/here => #/foo/b/here
        X{.var:3} => X.val
        {/var:1,var} => /v/value
        {;hello:5} => ;hello=Hello
        {?var:3} => ?var=val
        {&var:3} => &var=val
        {var*} => value
        {/path*} => /%2Ffoo%2Fbar
        {undef} =>
        {x,undef,y} => 1024,768
        {x,empty} => 1024,
        X{.empty} => X.
        {/var,empty} => /value/
        {?undef} =>
        {;x,undef} => ;x=1024
        {var}\u{e9} => value\u{e9}";

    #[test]
    fn rfc_expansion_levels_1_to_3() {
        let vars = map(&[
            ("var", "value"),
            ("hello", "Hello World!"),
            ("path", "/foo/bar"),
            ("empty", ""),
            ("x", "1024"),
            ("y", "768"),
        ]);
        for line in RFC_CASES.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (template, expected) = line.split_once(" =>").expect("case line");
            assert_eq!(t(template).expand(&vars), expected.trim(), "{template}");
        }
        let expand = |tpl: &str, v: &str| t(tpl).expand(&map(&[("v", v)]));
        assert_eq!(expand("{v}", "\u{e9} 50%"), "%C3%A9%2050%25");
        assert_eq!(expand("{+v}", "a%2Fb%zz"), "a%2Fb%25zz");
    }

    fn round_trip(template: &str, pairs: &[(&str, &str)]) {
        let uri = t(template).expand(&map(pairs));
        ok(template, &uri, pairs);
    }

    #[test]
    fn round_trips_for_each_operator() {
        round_trip("{x}", &[("x", "hello world/?#,&")]);
        round_trip("{x,y}", &[("x", "a,b"), ("y", "c d")]);
        round_trip("{+x}", &[("x", "a/b c/d.txt")]);
        round_trip("{+x,y}/here", &[("x", "/foo/bar"), ("y", "1024")]);
        round_trip("X{#x}", &[("x", "frag/ment?q")]);
        round_trip("{#x,y}/here", &[("x", "/foo/bar"), ("y", "1024")]);
        round_trip("X{.x,y}", &[("x", "tar"), ("y", "gz")]);
        round_trip("{/x,y}/here", &[("x", "value"), ("y", "a/b")]);
        round_trip(
            "{;x,y,empty}",
            &[("x", "1024"), ("y", "7;68"), ("empty", "")],
        );
        round_trip(
            "{?x,y,empty}",
            &[("x", "a b"), ("y", "c&d=e"), ("empty", "")],
        );
        round_trip("?fixed=yes{&x,y}", &[("x", "1"), ("y", "2")]);
        round_trip("/a{/b}{?c}{#d}", &[("b", "x"), ("c", "y"), ("d", "z")]);
        round_trip("{var:3}", &[("var", "val")]);
        round_trip("{v}", &[("v", "caf\u{e9}")]);
    }

    /// `template | uri | expected`, expected being `-` (no match) or `name=value, ...`.
    const MATCH_CASES: &str = "
        file:///{path} | file:///readme.md | path=readme.md
        file:///{path} | file:///a/b | -
        file:///{path} | file:/// | -
        file:///logs/{+path} | file:///logs/2024/01/app.log | path=2024/01/app.log
        github://repos/{owner}/{repo}/issues/{id} | github://repos/rust-lang/rust/issues/42 \
            | owner=rust-lang, repo=rust, id=42
        github://repos/{owner}/{repo}/issues/{id} | github://repos/a/b/issues/1/extra | -
        github://repos/{owner}/{repo}/issues/{id} | github://repos/a/b/issues/ | -
        github://repos/{owner}/{repo}/issues/{id} | github://repos/a/issues/1 | -
        github://repos/{owner}/{repo}/issues/{id} | gitlab://repos/a/b/issues/1 | -
        db://users/{id}{?fields,limit} | db://users/42 | id=42
        db://users/{id}{?fields,limit} | db://users/42?limit=10&fields=name,email \
            | id=42, fields=name,email, limit=10
        db://users/{id}{?fields,limit} | db://users/42?limit=5 | id=42, limit=5
        db://users/{id}{?fields,limit} | db://users/42?other=1 | -
        db://users/{id}{?fields,limit} | db://users/42?limit=1&limit=2 | -
        db://users/{id}{?fields,limit} | db://users/42/x | -
        weather://{city}/current | weather://new%20york/current | city=new york
        weather://{city}/current | weather://london/forecast | -
        weather://{city}/current | weather://london/current/x | -
        weather://{city}/current | weather://bad%zzcity/current | -
        weather://{city}/current | weather://bad%c3/current | -
        weather://{city}/current | xweather://london/current | -
        file:///{+path}{?v} | file:///a/b.txt?v=2 | path=a/b.txt, v=2
        file:///{+path}{?v} | file:///a/b.txt | path=a/b.txt
        fetch://{+url} | fetch://h/x?y=1#z | url=h/x?y=1#z
        {name}.{ext} | my.file.tar | name=my.file, ext=tar
        {id}.json | 123.json | id=123
        X{#v} | X |
        {/a,b} | /x | a=x
        {;x,y} | ;y=2;x=1 | x=1, y=2
        {/var:1,var} | /v/value | var=value
        {/var:1,var} | /w/value | -
        {a}/{a} | x/x | a=x
        {a}/{a} | x/y | -
        {;c}{#c} | #x | -
        {;c}{#c} | ;c=x#x | c=x
        {/a}{?a} | ?a=x | -
        {/a}{?a} | /x?a=x | a=x
        {/a}{?a} |  |
        {var:3} | value | -
        {var:2} | %C3%A9t | var=\u{e9}t
        abc | abc |
        abc | abcd | -
        {a} |  | -";

    #[test]
    fn matching() {
        for line in MATCH_CASES.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut fields = line.split('|').map(str::trim);
            let (tpl, uri) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
            let expected = match fields.next().unwrap_or("") {
                "-" => None,
                "" => Some(BTreeMap::new()),
                pairs => Some(map(&pairs
                    .split(", ")
                    .map(|kv| kv.split_once('=').expect("name=value"))
                    .collect::<Vec<_>>())),
            };
            assert_eq!(t(tpl).matches(uri), expected, "{tpl} vs {uri}");
        }
    }

    #[test]
    fn pathological_inputs_return_quickly() {
        let a = "a".repeat(5000);
        let commas = ",".repeat(5000);
        let cases = [
            ("{a}{b}{c}{d}{e}{f}{g}!", a.clone()),
            ("{a}{a}{a}{a}{a}{a}!", a.clone()),
            ("{+a}{+b}{+c}{+d}{+e}/x", format!("{a}/{a}")),
            ("{#a,b,c,d,e,f}!", commas.clone()),
            ("{x,y,z,w}{x,y}!", commas),
            ("{?a,b,c}{&a,b,c}!", format!("?a={a}&b=1&c=2&a=3")),
        ];
        for (template, input) in cases {
            let start = Instant::now();
            no(template, &input);
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{template} too slow"
            );
        }
        // Long but legitimate inputs still match.
        let path = format!("{a}/b/c");
        ok(
            "file:///logs/{+path}",
            &format!("file:///logs/{path}"),
            &[("path", &path)],
        );
        let name = "n".repeat(20_000);
        ok(
            "{name}.{ext}",
            &format!("{name}.txt"),
            &[("name", &name), ("ext", "txt")],
        );
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("file:///{path", 8, "unclosed"),
            ("{}", 0, "empty expression"),
            ("a{+}", 1, "empty expression"),
            ("{a{b}}", 2, "nested"),
            ("a}b", 1, "unmatched"),
            ("{a b}", 1, "invalid variable name"),
            ("{x,-y}", 3, "invalid variable name"),
            ("{.a.}", 2, "invalid variable name"),
            ("{a,}", 3, "invalid variable name"),
            ("{=a}", 1, "reserved operator"),
            ("{var:10000}", 4, "exceeds 9999"),
            ("{var:0}", 4, "invalid modifier"),
            ("{var:}", 4, "invalid modifier"),
            ("{var:3*}", 4, "invalid modifier"),
            ("{var**}", 4, "invalid modifier"),
        ];
        for (template, offset, what) in cases {
            let err = UriTemplate::parse(template).expect_err(template);
            assert_eq!(err.offset(), offset, "{template}: {err}");
            let msg = err.to_string();
            assert!(
                msg.contains(what) && msg.contains(&format!("byte {offset}")),
                "{msg}"
            );
        }
        assert!(UriTemplate::parse("{var:9999}").is_ok());
        assert!(UriTemplate::parse("{a.b_c%20,d*}").is_ok());
    }

    #[test]
    fn accessors_and_traits() {
        let tpl: UriTemplate = "db://{a}/{b}{?a,c}".parse().expect("parses");
        assert_eq!(tpl.as_str(), "db://{a}/{b}{?a,c}");
        assert_eq!(tpl.to_string(), tpl.as_str());
        assert_eq!(tpl.variables().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(tpl, t("db://{a}/{b}{?a,c}"));
        let err: Box<dyn std::error::Error> = Box::new(UriTemplate::parse("{").expect_err("fails"));
        assert!(err.to_string().contains("byte 0"));
    }

    /// Adjacent expressions split between encoded characters, never inside
    /// one: every expansion matches its template again.
    #[test]
    fn splits_never_fall_inside_an_escape() {
        ok("{b}{a}", "ab%3A", &[("b", "ab"), ("a", ":")]);
        ok("x{b:5}{a}", "xabce%3A", &[("b", "abce"), ("a", ":")]);
        ok("{b}{a}", "%E2%82%AC%E2%82%AC", &[("b", "€"), ("a", "€")]);
    }
}
