//! Single-pass, lenient envelope decoding.
//!
//! Every member is read with a visitor that accepts any JSON shape, so the
//! only way decoding itself fails is malformed JSON. Shape problems (a
//! numeric `jsonrpc`, a `null` id, a missing method) are recorded and turned
//! into [`Error::InvalidRequest`] afterwards, which keeps the request id
//! readable for the error response even when something else is wrong.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::id::IdVisitor;
use super::{ErrorResponse, Message, Notification, RawJson, Request, RequestId, Response};
use crate::error::{Error, ErrorObject};

/// What one frame held: a single message, or a JSON-RPC batch.
///
/// Batches exist only in protocol revision 2025-03-26; decode with
/// `allow_batch` set only on connections that negotiated it.
#[derive(Debug, Clone)]
#[expect(clippy::exhaustive_enums, reason = "a frame is one message or a batch")]
pub enum Incoming {
    /// One message.
    Single(Message),
    /// A non-empty batch; each element decoded on its own, so one bad element
    /// gets its own error response and the rest are still served.
    Batch(Vec<Result<Message, Error>>),
}

impl Incoming {
    /// Decodes a frame in one pass.
    ///
    /// # Errors
    /// [`Error::Parse`] when the bytes are not JSON; [`Error::InvalidRequest`]
    /// when the JSON is not a message, when it is a batch and `allow_batch`
    /// is false, or when the batch is empty.
    pub fn from_slice(bytes: &[u8], allow_batch: bool) -> Result<Self, Error> {
        match read_top::<Untyped>(bytes)? {
            Top::Single(env) => env.into_message().map(Self::Single),
            Top::Batch(items) => Self::batch(items, allow_batch),
        }
    }

    /// Decodes a frame, and a request's params with it when `method`
    /// precedes `params` (as every SDK writes them) and `T` decodes that
    /// method's params: one pass over the bytes instead of a skim of the
    /// params, kept raw, then a second pass into their types.
    ///
    /// A request whose params were decoded so comes back with `params`
    /// `None` and `frame` kept, from which [`Request::raw_params`] reads
    /// them again if ever asked. Anything else (a failure of any kind, a
    /// notification or response, a batch) is decoded again as
    /// [`Incoming::from_slice`] decodes it, so results and errors are
    /// exactly that function's.
    pub(crate) fn from_frame_typed<T: TypedParams>(
        frame: &Bytes,
        allow_batch: bool,
    ) -> (Result<Self, Error>, Option<T>) {
        match read_top::<T>(frame) {
            Ok(Top::Single(mut env)) => match (env.typed.take(), env.into_message()) {
                (None, message) => return (message.map(Self::Single), None),
                (Some(typed), Ok(Message::Request(mut request))) => {
                    request.frame = Some(frame.clone());
                    return (Ok(Self::Single(Message::Request(request))), Some(typed));
                }
                // Params decoded for what turned out not to be a request
                // (no id), or for an invalid one: read again, raw.
                (Some(_), _) => {}
            },
            // Batch elements were read with their params raw already.
            Ok(Top::Batch(items)) => return (Self::batch(items, allow_batch), None),
            Err(_) => {}
        }
        (Self::from_slice(frame, allow_batch), None)
    }

    fn batch(items: Vec<Envelope>, allow_batch: bool) -> Result<Self, Error> {
        match items {
            _ if !allow_batch => Err(Error::InvalidRequest {
                id: None,
                message: "JSON-RPC batches are not supported by this protocol revision".into(),
            }),
            items if items.is_empty() => Err(Error::InvalidRequest {
                id: None,
                message: "empty JSON-RPC batch".into(),
            }),
            items => Ok(Self::Batch(
                items.into_iter().map(Envelope::into_message).collect(),
            )),
        }
    }
}

/// A request's params decoded while its envelope is read, for the methods
/// the implementor knows; the params of other methods stay raw.
pub(crate) trait TypedParams: Sized {
    /// Whether `method`'s params are decoded in the pass.
    fn decodes(method: &str) -> bool;

    /// Decodes `method`'s params from the members of their object.
    ///
    /// # Errors
    /// When they do not match the method's params; the frame is then read
    /// again with its params raw, and the error is reported from there.
    fn decode<'de, A: MapAccess<'de>>(method: &str, map: A) -> Result<Self, A::Error>;
}

/// No params decoded in the pass.
pub(super) enum Untyped {}

impl TypedParams for Untyped {
    fn decodes(_: &str) -> bool {
        false
    }

    fn decode<'de, A: MapAccess<'de>>(_: &str, _: A) -> Result<Self, A::Error> {
        Err(de::Error::custom("no params are decoded in the pass"))
    }
}

fn read_top<T: TypedParams>(bytes: &[u8]) -> Result<Top<T>, Error> {
    // Text checked for UTF-8 once, as a whole, is parsed without checking
    // each string again (a call per member name and value).
    match std::str::from_utf8(bytes) {
        Ok(text) => read_top_from(serde_json::Deserializer::from_str(text)),
        Err(_) => read_top_from(serde_json::Deserializer::from_slice(bytes)),
    }
}

fn read_top_from<'de, R: serde_json::de::Read<'de>, T: TypedParams>(
    mut de: serde_json::Deserializer<R>,
) -> Result<Top<T>, Error> {
    let top = de
        .deserialize_any(TopVisitor(PhantomData))
        .map_err(|e| Error::from_json(&e))?;
    de.end().map_err(|e| Error::from_json(&e))?;
    Ok(top)
}

enum Top<T> {
    Single(Envelope<T>),
    /// Batch elements never have their params decoded in the pass.
    Batch(Vec<Envelope>),
}

struct TopVisitor<T>(PhantomData<T>);

impl<'de, T: TypedParams> Visitor<'de> for TopVisitor<T> {
    type Value = Top<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message object or batch array")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top<T>, A::Error> {
        EnvelopeVisitor(PhantomData).visit_map(map).map(Top::Single)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(env) = seq.next_element_seed(EnvelopeSeed)? {
            items.push(env);
        }
        Ok(Top::Batch(items))
    }
}

/// The id member as found: absent, valid, `null`, or something else.
#[derive(Default)]
enum IdField {
    #[default]
    Absent,
    Valid(RequestId),
    Null,
    Invalid,
}

pub(super) struct Envelope<T = Untyped> {
    /// First shape problem seen; reported as invalid request.
    problem: Option<&'static str>,
    /// `None` when `jsonrpc` is absent, else whether it was `"2.0"`.
    version_ok: Option<bool>,
    id: IdField,
    method: Option<Option<String>>,
    params: Option<RawJson>,
    result: Option<RawJson>,
    error: Option<RawJson>,
    /// The params, when they were decoded in the pass (`params` is then
    /// `None`).
    typed: Option<T>,
}

impl<T> Default for Envelope<T> {
    fn default() -> Self {
        Self {
            problem: None,
            version_ok: None,
            id: IdField::Absent,
            method: None,
            params: None,
            result: None,
            error: None,
            typed: None,
        }
    }
}

impl<T> Envelope<T> {
    fn note(&mut self, problem: &'static str) {
        self.problem.get_or_insert(problem);
    }

    pub(super) fn into_message(self) -> Result<Message, Error> {
        let shape_problem = match self.id {
            IdField::Null if self.error.is_none() => Some("\"id\" must not be null"),
            IdField::Invalid => Some("\"id\" must be a string or an integer"),
            _ => None,
        };
        let id = match self.id {
            IdField::Valid(id) => Some(id),
            _ => None,
        };
        // Responses are never answered: a malformed one is reported as
        // such, so the session fails its request instead of replying.
        let response_shaped =
            self.method.is_none() && (self.result.is_some() || self.error.is_some());
        let invalid_response = |message: &str| Error::InvalidResponse {
            id: id.clone(),
            message: message.to_owned(),
        };
        let invalid = |message: &str| {
            if response_shaped {
                invalid_response(message)
            } else {
                Error::InvalidRequest {
                    id: id.clone(),
                    message: message.to_owned(),
                }
            }
        };
        if let Some(problem) = self.problem {
            return Err(invalid(problem));
        }
        match self.version_ok {
            None => return Err(invalid("missing \"jsonrpc\": \"2.0\"")),
            Some(false) => return Err(invalid("\"jsonrpc\" must be \"2.0\"")),
            Some(true) => {}
        }
        if let Some(problem) = shape_problem {
            return Err(invalid(problem));
        }
        if let Some(params) = &self.params
            && !params.get().starts_with('{')
        {
            // MCP params are always named; positional arrays would bind to
            // struct fields by position, so they are refused.
            return Err(invalid("\"params\" must be an object"));
        }
        match (self.method, self.result, self.error) {
            (Some(None), _, _) => Err(invalid("\"method\" must be a string")),
            (Some(Some(method)), None, None) => Ok(match id {
                Some(id) => Message::Request(Request {
                    id,
                    method,
                    params: self.params,
                    frame: None,
                }),
                None => Message::Notification(Notification {
                    method,
                    params: self.params,
                }),
            }),
            (None, Some(result), None) => match id.clone() {
                Some(id) => Ok(Message::Response(Response { id, result })),
                None => Err(invalid_response(
                    "a response needs the \"id\" of its request",
                )),
            },
            (None, None, Some(error)) => {
                let error: ErrorObject = serde_json::from_str(error.get())
                    .map_err(|e| invalid_response(&format!("malformed \"error\": {e}")))?;
                Ok(Message::Error(ErrorResponse { id, error }))
            }
            (None, Some(_), Some(_)) => Err(invalid_response(
                "a response has \"result\" or \"error\", not both",
            )),
            (None, None, None) => Err(invalid(
                "not a JSON-RPC message: no \"method\", \"result\" or \"error\"",
            )),
            _ => Err(invalid(
                "a message has exactly one of \"method\", \"result\" or \"error\"",
            )),
        }
    }
}

struct EnvelopeSeed;

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Envelope;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Envelope, D::Error> {
        d.deserialize_any(EnvelopeVisitor(PhantomData))
    }
}

impl<'de> de::Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EnvelopeVisitor(PhantomData))
    }
}

/// Produces an `Envelope` from any JSON value; non-objects become an
/// envelope that reports itself as invalid.
struct EnvelopeVisitor<T>(PhantomData<T>);

fn not_an_object<T>() -> Envelope<T> {
    let mut env = Envelope::default();
    env.note("a JSON-RPC message must be an object");
    env
}

macro_rules! reject_scalars {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(not_an_object())
        })*
    };
}

impl<'de, T: TypedParams> Visitor<'de> for EnvelopeVisitor<T> {
    type Value = Envelope<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message object")
    }

    reject_scalars!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: de::Error>(self) -> Result<Envelope<T>, E> {
        Ok(not_an_object())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Envelope<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        let mut env = Envelope::default();
        env.note("nested batches are not allowed");
        Ok(env)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<T>, A::Error> {
        let mut env = Envelope::default();
        let mut seen = [false; 6];
        while let Some(key) = map.next_key::<Key>()? {
            if let Some(slot) = key.slot()
                && std::mem::replace(seen.get_mut(slot).unwrap_or(&mut false), true)
            {
                env.note("duplicate member in message");
            }
            match key {
                Key::JsonRpc => env.version_ok = Some(map.next_value::<IsVersion2>()?.0),
                Key::Id => env.id = map.next_value::<LenientId>()?.0,
                Key::Method => env.method = Some(map.next_value::<LenientString>()?.0),
                Key::Params => match &env.method {
                    Some(Some(method))
                        if T::decodes(method) && env.params.is_none() && env.typed.is_none() =>
                    {
                        env.typed = Some(map.next_value_seed(ObjectSeed(method, PhantomData))?);
                    }
                    _ => env.params = Some(map.next_value::<Box<RawValue>>()?),
                },
                Key::Result => env.result = Some(map.next_value::<Box<RawValue>>()?),
                Key::Error => env.error = Some(map.next_value::<Box<RawValue>>()?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(env)
    }
}

/// Params decoded for their method; anything but an object fails (MCP
/// params are always named), and the frame is read again raw.
struct ObjectSeed<'m, T>(&'m str, PhantomData<T>);

impl<'de, T: TypedParams> DeserializeSeed<'de> for ObjectSeed<'_, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: TypedParams> Visitor<'de> for ObjectSeed<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of params")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::decode(self.0, map)
    }
}

/// Envelope member names; anything else is ignored as the spec allows.
enum Key {
    JsonRpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    Other,
}

impl Key {
    fn slot(&self) -> Option<usize> {
        Some(match self {
            Self::JsonRpc => 0,
            Self::Id => 1,
            Self::Method => 2,
            Self::Params => 3,
            Self::Result => 4,
            Self::Error => 5,
            Self::Other => return None,
        })
    }
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "jsonrpc" => Key::JsonRpc,
                    "id" => Key::Id,
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Defines a newtype that deserializes from any JSON value: the given
/// visit methods produce a value, everything else (drained) the fallback.
macro_rules! lenient {
    ($name:ident($ty:ty) = $fallback:expr, expecting $what:literal, { $($body:tt)* }) => {
        struct $name($ty);

        impl<'de> de::Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    $($body)*
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<$ty, E> { Ok($fallback) }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<$ty, E> { Ok($fallback) }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$ty, A::Error> {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Ok($fallback)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok($fallback)
                    }
                }
                d.deserialize_any(V).map($name)
            }
        }
    };
}

lenient!(IsVersion2(bool) = false, expecting "\"2.0\"", {
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> { Ok(v == "2.0") }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> { Ok(false) }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> { Ok(false) }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> { Ok(false) }
});

lenient!(LenientString(Option<String>) = None, expecting "a string", {
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> { Ok(Some(v.to_owned())) }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> { Ok(Some(v)) }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<String>, E> { Ok(None) }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<String>, E> { Ok(None) }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> { Ok(None) }
});

lenient!(LenientId(IdField) = IdField::Invalid, expecting "a string or an integer", {
    fn visit_str<E: de::Error>(self, v: &str) -> Result<IdField, E> {
        IdVisitor.visit_str(v).map(IdField::Valid)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<IdField, E> {
        IdVisitor.visit_string(v).map(IdField::Valid)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdField, E> {
        IdVisitor.visit_i64(v).map(IdField::Valid)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdField, E> {
        Ok(IdVisitor.visit_u64::<E>(v).map_or(IdField::Invalid, IdField::Valid))
    }
    fn visit_unit<E: de::Error>(self) -> Result<IdField, E> { Ok(IdField::Null) }
});
