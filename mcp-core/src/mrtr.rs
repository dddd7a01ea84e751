//! Multi round-trip requests (2026-07-28).
//!
//! A modern server never sends requests. When `tools/call`, `prompts/get` or
//! `resources/read` needs something from the client (a user's answer, a
//! model completion, the roots), it returns an [`InputRequiredResult`]; the
//! client fulfils each input request and retries with the answers in
//! `inputResponses` and the server's opaque `requestState` echoed back.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::elicitation::{ElicitParams, ElicitResult};
use crate::meta::ResultMeta;
use crate::result::{RequestParams, ResultType};
use crate::roots::ListRootsResult;
use crate::sampling::{CreateMessageParams, CreateMessageResult};
use crate::tasks::ext::CreateTaskResult;

/// Input requests keyed by a server-chosen name.
pub type InputRequests = BTreeMap<String, InputRequest>;

/// Answers keyed by the name of the input request they fulfil.
pub type InputResponses = BTreeMap<String, InputResponse>;

/// Something the server needs from the client, without a JSON-RPC id.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InputRequest {
    /// `elicitation/create`.
    Elicit(ElicitParams),
    /// `sampling/createMessage`.
    CreateMessage(CreateMessageParams),
    /// `roots/list`.
    ListRoots(RequestParams),
}

impl InputRequest {
    /// The method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Elicit(_) => "elicitation/create",
            Self::CreateMessage(_) => "sampling/createMessage",
            Self::ListRoots(_) => "roots/list",
        }
    }
}

impl Serialize for InputRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("InputRequest", 2)?;
        st.serialize_field("method", self.method())?;
        match self {
            Self::Elicit(p) => st.serialize_field("params", p)?,
            Self::CreateMessage(p) => st.serialize_field("params", p)?,
            Self::ListRoots(p) if p.meta.is_none() => st.skip_field("params")?,
            Self::ListRoots(p) => st.serialize_field("params", p)?,
        }
        st.end()
    }
}

#[derive(Deserialize)]
struct InputRequestRepr {
    method: String,
    #[serde(default)]
    params: Option<Box<RawValue>>,
}

fn params_of<T: DeserializeOwned, E: serde::de::Error>(raw: Option<&RawValue>) -> Result<T, E> {
    serde_json::from_str(raw.map_or("{}", RawValue::get)).map_err(E::custom)
}

impl<'de> Deserialize<'de> for InputRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = InputRequestRepr::deserialize(d)?;
        let raw = r.params.as_deref();
        Ok(match r.method.as_str() {
            "elicitation/create" => Self::Elicit(params_of(raw)?),
            "sampling/createMessage" => Self::CreateMessage(params_of(raw)?),
            "roots/list" => Self::ListRoots(params_of(raw)?),
            other => {
                return Err(serde::de::Error::custom(format_args!(
                    "unknown input request method {other:?}"
                )));
            }
        })
    }
}

/// The client's answer to one input request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum InputResponse {
    /// Answer to `elicitation/create`.
    Elicit(ElicitResult),
    /// Answer to `sampling/createMessage`.
    CreateMessage(CreateMessageResult),
    /// Answer to `roots/list`.
    ListRoots(ListRootsResult),
}

impl<'de> Deserialize<'de> for InputResponse {
    /// The three answer shapes have disjoint required members (`action`,
    /// `model`, `roots`); the members are peeked at once, then the whole
    /// answer is decoded as the matching type.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Peek {
            #[serde(default)]
            action: Option<serde::de::IgnoredAny>,
            #[serde(default)]
            model: Option<serde::de::IgnoredAny>,
            #[serde(default)]
            roots: Option<serde::de::IgnoredAny>,
        }
        let raw = <Box<RawValue>>::deserialize(d)?;
        let peek: Peek = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        let parse = |text: &str| -> Result<Self, serde_json::Error> {
            Ok(match (&peek.action, &peek.model, &peek.roots) {
                (Some(_), None, None) => Self::Elicit(serde_json::from_str(text)?),
                (None, Some(_), None) => Self::CreateMessage(serde_json::from_str(text)?),
                (None, None, Some(_)) => Self::ListRoots(serde_json::from_str(text)?),
                _ => {
                    return Err(serde::de::Error::custom(
                        "an input response is an elicitation result (`action`), a sampling \
                         result (`model`) or a roots result (`roots`)",
                    ));
                }
            })
        };
        parse(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// "I need input first": the result of a request that cannot finish yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InputRequiredResult {
    #[serde(rename = "resultType")]
    kind: InputRequiredTag,
    /// What the client must answer before retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<InputRequests>,
    /// Opaque state the client must echo on the retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_state: Option<String>,
    /// Result metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
enum InputRequiredTag {
    #[default]
    #[serde(rename = "input_required")]
    InputRequired,
}

impl InputRequiredResult {
    /// A result asking for `requests`.
    pub fn new(requests: InputRequests) -> Self {
        Self {
            kind: InputRequiredTag::InputRequired,
            input_requests: Some(requests),
            request_state: None,
            meta: None,
        }
    }

    /// Sets the state to be echoed.
    #[must_use]
    pub fn with_request_state(mut self, state: impl Into<String>) -> Self {
        self.request_state = Some(state.into());
        self
    }
}

/// The answer to a request that may need input first (`tools/call`,
/// `prompts/get`, `resources/read`), chosen by `resultType`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Outcome<T> {
    /// The final result (`resultType` `"complete"` or absent).
    Complete(T),
    /// Input is needed; retry with the answers.
    InputRequired(InputRequiredResult),
    /// The tasks extension turned the call into a task (`"task"`).
    Task(CreateTaskResult),
    /// A 2025-11-25 task-augmented request created a task (`{"task": …}`,
    /// no `resultType`).
    LegacyTask(crate::tasks::legacy::CreateTaskResult),
}

impl<T> Outcome<T> {
    /// The final result, if this is one.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::InputRequired(_) | Self::Task(_) | Self::LegacyTask(_) => None,
        }
    }
}

impl<T> From<T> for Outcome<T> {
    fn from(t: T) -> Self {
        Self::Complete(t)
    }
}

impl<T: DeserializeOwned> Outcome<T> {
    /// Decodes an outcome from JSON text: a quick lexical scan finds the
    /// top-level `resultType`, then the matching type is decoded in one
    /// pass. This is what [`Response::outcome`](crate::Response::outcome)
    /// uses; the `Deserialize` impl adds one skim of the value first.
    ///
    /// # Errors
    /// When the JSON does not match the type its `resultType` names, or
    /// names a result type this crate does not know.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        use serde::de::Error;
        let result_type = match scan::result_type(text) {
            scan::Found::Value(v) => ResultType::from(v),
            scan::Found::Absent { task: true } => {
                return serde_json::from_str(text).map(Self::LegacyTask);
            }
            scan::Found::Absent { task: false } => ResultType::Complete,
            // Escapes in a key or a non-string value: let serde decide.
            scan::Found::Unsure => {
                #[derive(Deserialize)]
                struct Peek {
                    #[serde(rename = "resultType", default)]
                    result_type: Option<ResultType>,
                    #[serde(default)]
                    task: Option<serde::de::IgnoredAny>,
                }
                let peek = serde_json::from_str::<Peek>(text)?;
                if peek.result_type.is_none() && peek.task.is_some() {
                    return serde_json::from_str(text).map(Self::LegacyTask);
                }
                peek.result_type.unwrap_or_default()
            }
        };
        match result_type {
            ResultType::Complete => serde_json::from_str(text).map(Self::Complete),
            ResultType::InputRequired => serde_json::from_str(text).map(Self::InputRequired),
            ResultType::Task => serde_json::from_str(text).map(Self::Task),
            ResultType::Other(other) => Err(serde_json::Error::custom(format_args!(
                "unrecognised resultType {other:?}"
            ))),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Outcome<T> {
    /// Works with any `serde_json` input; see [`Outcome::from_json`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <Box<RawValue>>::deserialize(d)?;
        Self::from_json(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// A lexical scan for one top-level member of a JSON object, cheaper than
/// a serde skim because it allocates nothing and decodes nothing.
mod scan {
    pub(super) enum Found<'a> {
        /// The member's string value (without escapes).
        Value(&'a str),
        /// No `resultType`; `task` tells whether a top-level `task` member
        /// (a 2025-11-25 task result) is there.
        Absent { task: bool },
        /// Could not tell cheaply (escapes, unusual shapes, malformed input).
        Unsure,
    }

    const KEY: &[u8] = b"resultType";
    const TASK: &[u8] = b"task";

    pub(super) fn result_type(json: &str) -> Found<'_> {
        let mut task = false;
        let b = json.as_bytes();
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return Found::Unsure;
        }
        i += 1;
        loop {
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b'}') => return Found::Absent { task },
                Some(b'"') => {}
                _ => return Found::Unsure,
            }
            let Some((key, after)) = plain_string(b, i) else {
                return Found::Unsure;
            };
            i = skip_ws(b, after);
            if b.get(i) != Some(&b':') {
                return Found::Unsure;
            }
            i = skip_ws(b, i + 1);
            task |= key == TASK;
            if key == KEY {
                return match plain_string(b, i) {
                    Some((value, _)) => {
                        std::str::from_utf8(value).map_or(Found::Unsure, Found::Value)
                    }
                    None => Found::Unsure,
                };
            }
            let Some(after) = skip_value(b, i) else {
                return Found::Unsure;
            };
            i = skip_ws(b, after);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => return Found::Absent { task },
                _ => return Found::Unsure,
            }
        }
    }

    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// A string starting at `i` with no escapes: its bytes and the index
    /// after the closing quote.
    fn plain_string(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let rest = b.get(i + 1..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        (rest.get(end) == Some(&b'"')).then(|| (rest.get(..end).unwrap_or_default(), i + 2 + end))
    }

    /// The index after the value starting at `i`.
    fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
        let mut depth = 0usize;
        loop {
            match *b.get(i)? {
                b'"' => {
                    i += 1;
                    loop {
                        match *b.get(i)? {
                            b'\\' => i += 2,
                            b'"' => break,
                            _ => i += 1,
                        }
                    }
                    i += 1;
                }
                b'{' | b'[' => {
                    depth += 1;
                    i += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    i += 1;
                }
                b',' if depth == 0 => return Some(i),
                _ => i += 1,
            }
            if depth == 0 && matches!(b.get(i), Some(b',' | b'}' | b']') | None) {
                return Some(i);
            }
        }
    }
}

/// Params of the requests that may need input first (`tools/call`,
/// `prompts/get`, `resources/read`): where a retry carries its answers.
pub trait InputRetry {
    /// The answers and the echoed state this request carries.
    fn retry(&self) -> (Option<&InputResponses>, Option<&str>);
    /// Sets the answers and the state for the next round.
    fn set_retry(&mut self, responses: InputResponses, state: Option<String>);
}

macro_rules! input_retry {
    ($($ty:ty),*) => {$(
        impl InputRetry for $ty {
            fn retry(&self) -> (Option<&InputResponses>, Option<&str>) {
                (self.input_responses.as_ref(), self.request_state.as_deref())
            }
            fn set_retry(&mut self, responses: InputResponses, state: Option<String>) {
                self.input_responses = Some(responses);
                self.request_state = state;
            }
        }
    )*};
}

input_retry!(
    crate::tools::CallToolParams,
    crate::prompts::GetPromptParams,
    crate::resources::ReadResourceParams
);
