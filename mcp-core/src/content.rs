//! Content blocks: what tools return, prompts contain and sampling exchanges.
//!
//! Decoding goes through a private "every field optional" representation
//! that serde derives in one pass, then picks the variant by `type`. That
//! avoids serde's internally-tagged path, which buffers each block before
//! decoding it.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::capabilities::Icon;
use crate::{JsonObject, Meta};

/// Who a message or annotation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// The user.
    User,
    /// The assistant (the model).
    Assistant,
}

/// Hints for how a client should use or display an object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Annotations {
    /// Who the object is intended for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<Role>>,
    /// Importance from 0 (least) to 1 (most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// ISO 8601 time of last modification (2025-06-18 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

setters!(Annotations {
    /// Sets the audience.
    with_audience => audience: Vec<Role>,
    /// Sets the priority (0..=1).
    with_priority => priority: f64,
    /// Sets the last-modified time.
    with_last_modified => last_modified: String,
});

/// Text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TextContent {
    /// The text.
    pub text: String,
    /// Display hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// Base64-encoded binary media: images and audio share this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MediaContent {
    /// Base64-encoded data.
    pub data: String,
    /// MIME type, e.g. `image/png`.
    pub mime_type: String,
    /// Display hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// A resource the server can read, included by reference (2025-06-18 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourceLink {
    /// The resource URI.
    pub uri: String,
    /// Programmatic name.
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Icons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Vec<Icon>>,
    /// Display hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// A resource's contents, embedded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmbeddedResource {
    /// The contents.
    pub resource: ResourceContents,
    /// Display hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// A content block of a tool result, prompt message or resource link.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentBlock {
    /// `"text"`.
    Text(TextContent),
    /// `"image"`.
    Image(MediaContent),
    /// `"audio"` (2025-03-26 and later).
    Audio(MediaContent),
    /// `"resource_link"` (2025-06-18 and later).
    ResourceLink(ResourceLink),
    /// `"resource"`.
    Resource(EmbeddedResource),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextContent {
            text: text.into(),
            annotations: None,
            meta: None,
        })
    }

    /// An image block from base64 data.
    pub fn image(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::Image(MediaContent::new(data, mime_type))
    }

    /// An audio block from base64 data.
    pub fn audio(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::Audio(MediaContent::new(data, mime_type))
    }

    /// A link to a resource.
    pub fn resource_link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self::ResourceLink(ResourceLink::new(uri, name))
    }

    /// An embedded resource.
    pub fn resource(contents: ResourceContents) -> Self {
        Self::Resource(EmbeddedResource {
            resource: contents,
            annotations: None,
            meta: None,
        })
    }

    /// The text, for text blocks.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(&t.text),
            _ => None,
        }
    }
}

impl MediaContent {
    /// Media from base64 data.
    pub fn new(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            mime_type: mime_type.into(),
            annotations: None,
            meta: None,
        }
    }
}

impl ResourceLink {
    /// A link to `uri`, called `name`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
            icons: None,
            annotations: None,
            meta: None,
        }
    }
}

setters!(ResourceLink {
    /// Sets the display name.
    with_title => title: String,
    /// Sets the description.
    with_description => description: String,
    /// Sets the MIME type.
    with_mime_type => mime_type: String,
    /// Sets the size in bytes.
    with_size => size: u64,
});

/// The contents of a resource: text or base64 binary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ResourceContents {
    /// Text contents.
    Text(TextResourceContents),
    /// Binary contents.
    Blob(BlobResourceContents),
}

/// Text contents of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TextResourceContents {
    /// The URI.
    pub uri: String,
    /// The text.
    pub text: String,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// Binary contents of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BlobResourceContents {
    /// The URI.
    pub uri: String,
    /// Base64-encoded data.
    pub blob: String,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ResourceContents {
    /// Text contents.
    pub fn text(uri: impl Into<String>, text: impl Into<String>) -> Self {
        Self::Text(TextResourceContents {
            uri: uri.into(),
            text: text.into(),
            mime_type: None,
            meta: None,
        })
    }

    /// The text, for text contents.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(&t.text),
            Self::Blob(_) => None,
        }
    }

    /// Binary contents from base64 data.
    pub fn blob(uri: impl Into<String>, blob: impl Into<String>) -> Self {
        Self::Blob(BlobResourceContents {
            uri: uri.into(),
            blob: blob.into(),
            mime_type: None,
            meta: None,
        })
    }

    /// Sets the MIME type.
    #[must_use]
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        let slot = match &mut self {
            Self::Text(t) => &mut t.mime_type,
            Self::Blob(b) => &mut b.mime_type,
        };
        *slot = Some(mime_type.into());
        self
    }

    /// The URI.
    pub fn uri(&self) -> &str {
        match self {
            Self::Text(t) => &t.uri,
            Self::Blob(b) => &b.uri,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceContentsRepr {
    uri: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    blob: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(rename = "_meta", default)]
    meta: Option<Meta>,
}

impl<'de> Deserialize<'de> for ResourceContents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = ResourceContentsRepr::deserialize(d)?;
        match (r.text, r.blob) {
            (Some(text), None) => Ok(Self::Text(TextResourceContents {
                uri: r.uri,
                text,
                mime_type: r.mime_type,
                meta: r.meta,
            })),
            (None, Some(blob)) => Ok(Self::Blob(BlobResourceContents {
                uri: r.uri,
                blob,
                mime_type: r.mime_type,
                meta: r.meta,
            })),
            _ => Err(serde::de::Error::custom(
                "resource contents need exactly one of `text` or `blob`",
            )),
        }
    }
}

/// Every member a content block can have, decoded in one derived pass.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentRepr<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    icons: Option<Vec<Icon>>,
    #[serde(default)]
    resource: Option<ResourceContents>,
    #[serde(default)]
    annotations: Option<Annotations>,
    #[serde(rename = "_meta", default)]
    meta: Option<Meta>,
}

/// Every member a sampling content block can have.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SamplingRepr<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    annotations: Option<Annotations>,
    #[serde(rename = "_meta", default)]
    meta: Option<Meta>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<JsonObject>,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    structured_content: Option<Value>,
}

fn missing<E: serde::de::Error>(kind: &str, field: &'static str) -> E {
    E::custom(format_args!("`{kind}` content is missing `{field}`"))
}

fn media<E: serde::de::Error>(
    kind: &str,
    data: Option<String>,
    mime_type: Option<String>,
    annotations: Option<Annotations>,
    meta: Option<Meta>,
) -> Result<MediaContent, E> {
    Ok(MediaContent {
        data: data.ok_or_else(|| missing(kind, "data"))?,
        mime_type: mime_type.ok_or_else(|| missing(kind, "mimeType"))?,
        annotations,
        meta,
    })
}

impl ContentRepr<'_> {
    fn into_block<E: serde::de::Error>(self) -> Result<ContentBlock, E> {
        Ok(match &*self.kind {
            "text" => ContentBlock::Text(TextContent {
                text: self.text.ok_or_else(|| missing("text", "text"))?,
                annotations: self.annotations,
                meta: self.meta,
            }),
            "image" => ContentBlock::Image(media(
                "image",
                self.data,
                self.mime_type,
                self.annotations,
                self.meta,
            )?),
            "audio" => ContentBlock::Audio(media(
                "audio",
                self.data,
                self.mime_type,
                self.annotations,
                self.meta,
            )?),
            "resource_link" => ContentBlock::ResourceLink(ResourceLink {
                uri: self.uri.ok_or_else(|| missing("resource_link", "uri"))?,
                name: self.name.ok_or_else(|| missing("resource_link", "name"))?,
                title: self.title,
                description: self.description,
                mime_type: self.mime_type,
                size: self.size,
                icons: self.icons,
                annotations: self.annotations,
                meta: self.meta,
            }),
            "resource" => ContentBlock::Resource(EmbeddedResource {
                resource: self
                    .resource
                    .ok_or_else(|| missing("resource", "resource"))?,
                annotations: self.annotations,
                meta: self.meta,
            }),
            other => return Err(E::custom(format_args!("unknown content type {other:?}"))),
        })
    }
}

impl SamplingRepr<'_> {
    fn into_sampling<E: serde::de::Error>(self) -> Result<SamplingContent, E> {
        Ok(match &*self.kind {
            "text" => SamplingContent::Text(TextContent {
                text: self.text.ok_or_else(|| missing("text", "text"))?,
                annotations: self.annotations,
                meta: self.meta,
            }),
            "image" => SamplingContent::Image(media(
                "image",
                self.data,
                self.mime_type,
                self.annotations,
                self.meta,
            )?),
            "audio" => SamplingContent::Audio(media(
                "audio",
                self.data,
                self.mime_type,
                self.annotations,
                self.meta,
            )?),
            "tool_use" => SamplingContent::ToolUse(ToolUseContent {
                id: self.id.ok_or_else(|| missing("tool_use", "id"))?,
                name: self.name.ok_or_else(|| missing("tool_use", "name"))?,
                input: self.input.ok_or_else(|| missing("tool_use", "input"))?,
                meta: self.meta,
            }),
            "tool_result" => SamplingContent::ToolResult(ToolResultContent {
                tool_use_id: self
                    .tool_use_id
                    .ok_or_else(|| missing("tool_result", "toolUseId"))?,
                content: self
                    .content
                    .ok_or_else(|| missing("tool_result", "content"))?,
                structured_content: self.structured_content,
                is_error: self.is_error,
                meta: self.meta,
            }),
            other => {
                return Err(E::custom(format_args!(
                    "content type {other:?} is not allowed in sampling messages"
                )));
            }
        })
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ContentRepr::deserialize(d)?.into_block()
    }
}

/// A model's request to call a tool, inside sampling (2025-11-25 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolUseContent {
    /// Identifies this tool use; the matching result names it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The tool's arguments.
    pub input: JsonObject,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ToolUseContent {
    /// A call of tool `name` with `input`, identified by `id`.
    pub fn new(id: impl Into<String>, name: impl Into<String>, input: JsonObject) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            input,
            meta: None,
        }
    }
}

/// The result of a tool use, inside sampling (2025-11-25 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolResultContent {
    /// The `id` of the tool use this answers.
    pub tool_use_id: String,
    /// The result's content.
    pub content: Vec<ContentBlock>,
    /// Structured result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// Whether the tool failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Metadata.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ToolResultContent {
    /// The result of tool use `tool_use_id`.
    pub fn new(tool_use_id: impl Into<String>, content: Vec<ContentBlock>) -> Self {
        Self {
            tool_use_id: tool_use_id.into(),
            content,
            structured_content: None,
            is_error: None,
            meta: None,
        }
    }
}

/// Content of a sampling message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SamplingContent {
    /// `"text"`.
    Text(TextContent),
    /// `"image"`.
    Image(MediaContent),
    /// `"audio"`.
    Audio(MediaContent),
    /// `"tool_use"`.
    ToolUse(ToolUseContent),
    /// `"tool_result"`.
    ToolResult(ToolResultContent),
}

impl SamplingContent {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextContent {
            text: text.into(),
            annotations: None,
            meta: None,
        })
    }

    /// The text, for text blocks.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(&t.text),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for SamplingContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SamplingRepr::deserialize(d)?.into_sampling()
    }
}

/// One sampling content block, or several (2025-11-25 allows arrays).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum OneOrMany<T> {
    /// A single block.
    One(T),
    /// An array of blocks.
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a content block or an array of them")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T> OneOrMany<T> {
    /// The blocks as a slice, however they were sent.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}
