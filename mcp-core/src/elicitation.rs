//! Elicitation: the server asks the user for input through the client
//! (`elicitation/create`, 2025-06-18 and later), by form or by URL.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};

use crate::Meta;
use crate::meta::RequestMeta;
use crate::tasks::TaskMetadata;

/// Params of `elicitation/create`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ElicitParams {
    /// Ask for structured data through a form.
    Form(FormElicitation),
    /// Send the user to a URL (2025-11-25 and later).
    Url(UrlElicitation),
}

/// The `"form"` mode marker; absent on the wire means form mode as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FormMode {
    /// `"form"`.
    Form,
}

/// A form elicitation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FormElicitation {
    /// `Some` when `"mode": "form"` is sent explicitly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<FormMode>,
    /// What to ask.
    pub message: String,
    /// The shape of the answer: a flat object of primitive fields.
    pub requested_schema: ElicitationSchema,
    /// Run as a task (2025-11-25 tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// Request metadata (legacy requests).
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

/// A URL elicitation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UrlElicitation {
    mode: UrlMode,
    /// Why the user should open the URL.
    pub message: String,
    /// The URL.
    pub url: String,
    /// Identifies this elicitation (2025-11-25; removed in 2026-07-28).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elicitation_id: Option<String>,
    /// Run as a task (2025-11-25 tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// Request metadata (legacy requests).
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<RequestMeta>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum UrlMode {
    Url,
}

impl ElicitParams {
    /// A form asking `message`, answered in the shape of `schema`.
    pub fn form(message: impl Into<String>, schema: ElicitationSchema) -> Self {
        Self::Form(FormElicitation {
            mode: None,
            message: message.into(),
            requested_schema: schema,
            task: None,
            meta: None,
        })
    }

    /// Send the user to `url`.
    pub fn url(message: impl Into<String>, url: impl Into<String>) -> Self {
        Self::Url(UrlElicitation::new(message, url))
    }

    /// The message shown to the user.
    pub fn message(&self) -> &str {
        match self {
            Self::Form(f) => &f.message,
            Self::Url(u) => &u.message,
        }
    }
}

impl UrlElicitation {
    /// Send the user to `url`.
    pub fn new(message: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            mode: UrlMode::Url,
            message: message.into(),
            url: url.into(),
            elicitation_id: None,
            task: None,
            meta: None,
        }
    }

    /// Sets the elicitation id (2025-11-25).
    #[must_use]
    pub fn with_elicitation_id(mut self, id: impl Into<String>) -> Self {
        self.elicitation_id = Some(id.into());
        self
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ElicitRepr {
    #[serde(default)]
    mode: Option<String>,
    message: String,
    #[serde(default)]
    requested_schema: Option<ElicitationSchema>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    elicitation_id: Option<String>,
    #[serde(default)]
    task: Option<TaskMetadata>,
    #[serde(rename = "_meta", default)]
    meta: Option<RequestMeta>,
}

impl<'de> Deserialize<'de> for ElicitParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = ElicitRepr::deserialize(d)?;
        match r.mode.as_deref() {
            None | Some("form") => Ok(Self::Form(FormElicitation {
                mode: r.mode.is_some().then_some(FormMode::Form),
                message: r.message,
                requested_schema: r
                    .requested_schema
                    .ok_or_else(|| D::Error::missing_field("requestedSchema"))?,
                task: r.task,
                meta: r.meta,
            })),
            Some("url") => Ok(Self::Url(UrlElicitation {
                mode: UrlMode::Url,
                message: r.message,
                url: r.url.ok_or_else(|| D::Error::missing_field("url"))?,
                elicitation_id: r.elicitation_id,
                task: r.task,
                meta: r.meta,
            })),
            Some(other) => Err(D::Error::custom(format_args!(
                "unknown elicitation mode {other:?}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for UrlElicitation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ElicitParams::deserialize(d)? {
            ElicitParams::Url(u) => Ok(u),
            ElicitParams::Form(_) => Err(serde::de::Error::custom("expected a URL elicitation")),
        }
    }
}

/// The requested schema of a form: an object of primitive-typed fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ElicitationSchema {
    /// The JSON Schema dialect, if declared.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(rename = "type")]
    kind: ObjectType,
    /// The fields.
    pub properties: BTreeMap<String, PrimitiveSchema>,
    /// Names of the required fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ObjectType {
    Object,
}

impl ElicitationSchema {
    /// A schema with no fields yet.
    pub fn new() -> Self {
        Self {
            schema: None,
            kind: ObjectType::Object,
            properties: BTreeMap::new(),
            required: None,
        }
    }

    /// Adds a field; `required` adds it to the required list.
    #[must_use]
    pub fn field(
        mut self,
        name: impl Into<String>,
        schema: PrimitiveSchema,
        required: bool,
    ) -> Self {
        let name = name.into();
        if required {
            self.required
                .get_or_insert_with(Vec::new)
                .push(name.clone());
        }
        self.properties.insert(name, schema);
        self
    }
}

impl Default for ElicitationSchema {
    fn default() -> Self {
        Self::new()
    }
}

/// The schema of one form field. Every variant's members are typed and
/// optional beyond what the spec requires; see the spec's
/// `PrimitiveSchemaDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PrimitiveSchema {
    /// `{"type": "string", ...}` with optional format and length bounds.
    String(StringSchema),
    /// `{"type": "number" | "integer", ...}`.
    Number(NumberSchema),
    /// `{"type": "boolean", ...}`.
    Boolean(BooleanSchema),
    /// A single- or multi-select enumeration, titled or not.
    Enum(EnumSchema),
}

/// A string field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StringSchema {
    #[serde(rename = "type")]
    kind: StringType,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Minimum length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Maximum length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// `email`, `uri`, `date` or `date-time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StringType {
    #[default]
    String,
}

/// A numeric field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumberSchema {
    /// `number` or `integer`.
    #[serde(rename = "type")]
    pub kind: NumberKind,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Number>,
    /// Maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Number>,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Number>,
}

/// Numeric field kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum NumberKind {
    /// Any number.
    Number,
    /// Integers only.
    Integer,
}

/// A boolean field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BooleanSchema {
    #[serde(rename = "type")]
    kind: BooleanType,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BooleanType {
    #[default]
    Boolean,
}

/// An enumeration field. Kept as one struct: the five spec variants differ
/// only in which of these members they use (`enum`, `oneOf`, `items`,
/// `enumNames`), and `type` says single (`string`) or multi (`array`) select.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnumSchema {
    /// `string` (single select) or `array` (multi select).
    #[serde(rename = "type")]
    pub kind: EnumKind,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Untitled single select: the allowed values.
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Legacy titled single select: display names parallel to `enum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enum_names: Option<Vec<String>>,
    /// Titled single select: `{const, title}` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<TitledOption>>,
    /// Multi select: the item schema (`{type: "string", enum}` or `{anyOf}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<EnumItems>,
    /// Multi select: minimum selections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    /// Multi select: maximum selections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    /// Default: a string for single select, an array for multi select.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// Single or multi select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EnumKind {
    /// Single select.
    String,
    /// Multi select.
    Array,
}

/// A titled option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TitledOption {
    /// The value.
    #[serde(rename = "const")]
    pub value: String,
    /// Its display name.
    pub title: String,
}

impl TitledOption {
    /// Option `value`, shown as `title`.
    pub fn new(value: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            title: title.into(),
        }
    }
}

/// Item schema of a multi-select enumeration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnumItems {
    /// `"string"` for untitled items.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Untitled: the allowed values.
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Titled: the options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<TitledOption>>,
}

impl PrimitiveSchema {
    /// A string field.
    pub fn string() -> Self {
        Self::String(StringSchema::default())
    }

    /// A number field.
    pub fn number() -> Self {
        Self::Number(NumberSchema {
            kind: NumberKind::Number,
            title: None,
            description: None,
            minimum: None,
            maximum: None,
            default: None,
        })
    }

    /// An integer field.
    pub fn integer() -> Self {
        match Self::number() {
            Self::Number(mut n) => {
                n.kind = NumberKind::Integer;
                Self::Number(n)
            }
            other => other,
        }
    }

    /// A single-select field over titled options.
    pub fn titled_one_of(options: Vec<TitledOption>) -> Self {
        Self::Enum(EnumSchema {
            one_of: Some(options),
            values: None,
            ..Self::enum_base(EnumKind::String)
        })
    }

    /// A multi-select field over `values`.
    pub fn many_of_values<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Self::Enum(EnumSchema {
            items: Some(EnumItems {
                kind: Some("string".to_owned()),
                values: Some(values.into_iter().map(Into::into).collect()),
                any_of: None,
            }),
            ..Self::enum_base(EnumKind::Array)
        })
    }

    /// A multi-select field over titled options.
    pub fn many_of_titled(options: Vec<TitledOption>) -> Self {
        Self::Enum(EnumSchema {
            items: Some(EnumItems {
                kind: None,
                values: None,
                any_of: Some(options),
            }),
            ..Self::enum_base(EnumKind::Array)
        })
    }

    fn enum_base(kind: EnumKind) -> EnumSchema {
        EnumSchema {
            kind,
            title: None,
            description: None,
            values: None,
            enum_names: None,
            one_of: None,
            items: None,
            min_items: None,
            max_items: None,
            default: None,
        }
    }

    /// A boolean field.
    pub fn boolean() -> Self {
        Self::Boolean(BooleanSchema::default())
    }

    /// A single-select field over `values`.
    pub fn one_of_values<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Self::Enum(EnumSchema {
            kind: EnumKind::String,
            title: None,
            description: None,
            values: Some(values.into_iter().map(Into::into).collect()),
            enum_names: None,
            one_of: None,
            items: None,
            min_items: None,
            max_items: None,
            default: None,
        })
    }

    /// Sets the description, whatever the variant.
    #[must_use]
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        let slot = match &mut self {
            Self::String(s) => &mut s.description,
            Self::Number(s) => &mut s.description,
            Self::Boolean(s) => &mut s.description,
            Self::Enum(s) => &mut s.description,
        };
        *slot = Some(text.into());
        self
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrimitiveRepr {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    min_length: Option<u64>,
    #[serde(default)]
    max_length: Option<u64>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    minimum: Option<Number>,
    #[serde(default)]
    maximum: Option<Number>,
    #[serde(rename = "enum", default)]
    values: Option<Vec<String>>,
    #[serde(default)]
    enum_names: Option<Vec<String>>,
    #[serde(default)]
    one_of: Option<Vec<TitledOption>>,
    #[serde(default)]
    items: Option<EnumItems>,
    #[serde(default)]
    min_items: Option<u64>,
    #[serde(default)]
    max_items: Option<u64>,
    #[serde(default)]
    default: Option<Value>,
}

impl<'de> Deserialize<'de> for PrimitiveSchema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = PrimitiveRepr::deserialize(d)?;
        let bad_default =
            || D::Error::custom(format_args!("`default` does not match type {:?}", r.kind));
        let is_enum = r.values.is_some() || r.one_of.is_some() || r.kind == "array";
        Ok(match r.kind.as_str() {
            "string" | "array" if is_enum => Self::Enum(EnumSchema {
                kind: if r.kind == "array" {
                    EnumKind::Array
                } else {
                    EnumKind::String
                },
                title: r.title,
                description: r.description,
                values: r.values,
                enum_names: r.enum_names,
                one_of: r.one_of,
                items: r.items,
                min_items: r.min_items,
                max_items: r.max_items,
                default: r.default,
            }),
            "string" => Self::String(StringSchema {
                kind: StringType::String,
                default: match r.default {
                    None => None,
                    Some(Value::String(s)) => Some(s),
                    Some(_) => return Err(bad_default()),
                },
                title: r.title,
                description: r.description,
                min_length: r.min_length,
                max_length: r.max_length,
                format: r.format,
            }),
            "number" | "integer" => Self::Number(NumberSchema {
                kind: if r.kind == "number" {
                    NumberKind::Number
                } else {
                    NumberKind::Integer
                },
                default: match r.default {
                    None => None,
                    Some(Value::Number(n)) => Some(n),
                    Some(_) => return Err(bad_default()),
                },
                title: r.title,
                description: r.description,
                minimum: r.minimum,
                maximum: r.maximum,
            }),
            "boolean" => Self::Boolean(BooleanSchema {
                kind: BooleanType::Boolean,
                default: match r.default {
                    None => None,
                    Some(Value::Bool(b)) => Some(b),
                    Some(_) => return Err(bad_default()),
                },
                title: r.title,
                description: r.description,
            }),
            other => {
                return Err(D::Error::custom(format_args!(
                    "elicitation fields are string, number, integer, boolean or enum, not {other:?}"
                )));
            }
        })
    }
}

/// What the user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ElicitAction {
    /// Submitted (form) or consented (URL).
    Accept,
    /// Explicitly refused.
    Decline,
    /// Dismissed without choosing.
    Cancel,
}

/// One submitted form value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ElicitValue {
    /// A string.
    String(String),
    /// A number.
    Number(Number),
    /// A boolean.
    Bool(bool),
    /// Multi-select values.
    Strings(Vec<String>),
}

impl<'de> Deserialize<'de> for ElicitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ElicitValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, number, boolean or array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ElicitValue, E> {
                Ok(ElicitValue::String(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ElicitValue, E> {
                Ok(ElicitValue::String(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ElicitValue, E> {
                Ok(ElicitValue::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ElicitValue, E> {
                Ok(ElicitValue::Number(v.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ElicitValue, E> {
                Ok(ElicitValue::Number(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ElicitValue, E> {
                Number::from_f64(v)
                    .map(ElicitValue::Number)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<ElicitValue, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(ElicitValue::Strings)
            }
        }
        d.deserialize_any(V)
    }
}

/// The client's answer to `elicitation/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The submitted values (form mode, `accept` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<BTreeMap<String, ElicitValue>>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ElicitResult {
    /// An answer with `action` and no content.
    pub fn new(action: ElicitAction) -> Self {
        Self {
            action,
            content: None,
            meta: None,
        }
    }

    /// An accepted form with `content`.
    pub fn accept(content: BTreeMap<String, ElicitValue>) -> Self {
        Self {
            action: ElicitAction::Accept,
            content: Some(content),
            meta: None,
        }
    }
}

/// Params of `notifications/elicitation/complete` (2025-11-25 only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitationCompleteParams {
    /// The URL elicitation that completed.
    pub elicitation_id: String,
}

impl ElicitationCompleteParams {
    /// Completion of elicitation `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            elicitation_id: id.into(),
        }
    }
}
