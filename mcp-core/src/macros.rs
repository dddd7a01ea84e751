//! Small declarative helpers for the protocol types.

/// `with_*` builder setters for `Option` fields: `with_title(v)` sets
/// `self.title = Some(v.into())`.
macro_rules! setters {
    ($ty:ty { $($(#[$doc:meta])* $setter:ident => $field:ident: $fty:ty),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $setter(mut self, value: impl Into<$fty>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}

/// A `_meta` object with well-known keys typed and every other key kept.
///
/// Written out instead of `#[serde(flatten)]`, which would buffer the whole
/// object before decoding it.
macro_rules! meta_object {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $( $(#[$fattr:meta])* $field:ident: $fty:ty = $key:path ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fattr])* pub $field: Option<$fty>, )*
            /// Every other key, kept as sent (for example `traceparent`).
            pub other: $crate::JsonObject,
        }

        impl $name {
            /// True when no key is set.
            pub fn is_empty(&self) -> bool {
                $( self.$field.is_none() && )* self.other.is_empty()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $( if let Some(v) = &self.$field { map.serialize_entry($key, v)?; } )*
                for (k, v) in &self.other {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a _meta object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::meta::MetaKey<'de>>()? {
                            match key.as_str() {
                                $( $key => out.$field = Some(<$fty as $crate::meta::MetaField>::next(&mut map)?), )*
                                _ => {
                                    let value = map.next_value()?;
                                    out.other.insert(key.into_string(), value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}

/// A cacheable result (2026-07-28 `ttlMs` / `cacheScope`) holding a list
/// of items, optionally paginated: the shape shared by the list results and
/// `resources/read`.
macro_rules! cacheable_result {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(#[$fattr:meta])* $items:ident: Vec<$item:ty>,
            $( paginated: $paginated:ident, )?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            $(#[$fattr])*
            pub $items: Vec<$item>,
            $(
                /// The cursor of the next page, if any.
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $paginated: Option<$crate::result::Cursor>,
            )?
            /// How long the result may be cached, in ms (2026-07-28).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ttl_ms: Option<u64>,
            /// Who may cache it (2026-07-28).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cache_scope: Option<$crate::result::CacheScope>,
            /// `"complete"` on 2026-07-28; absent on legacy revisions.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub result_type: Option<$crate::result::ResultType>,
            /// Result metadata.
            #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<$crate::meta::ResultMeta>,
        }

        impl $name {
            /// A result holding `items`.
            pub fn new($items: Vec<$item>) -> Self {
                Self {
                    $items,
                    ..Self::default()
                }
            }

            /// Marks the result complete and cacheable for `ttl_ms` by
            /// `scope`, as 2026-07-28 requires.
            #[must_use]
            pub fn with_cache(mut self, ttl_ms: u64, scope: $crate::result::CacheScope) -> Self {
                self.ttl_ms = Some(ttl_ms);
                self.cache_scope = Some(scope);
                self.result_type = Some($crate::result::ResultType::Complete);
                self
            }
        }
    };
}
