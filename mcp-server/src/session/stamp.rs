//! Era-specific members of results: a modern result says it is complete,
//! names the server and, when cacheable, how long it may be cached; a
//! legacy result carries none of that.

use std::sync::Arc;

use mcp_core::completion::CompleteResult;
use mcp_core::lifecycle::DiscoverResult;
use mcp_core::prompts::{GetPromptResult, ListPromptsResult};
use mcp_core::resources::{ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult};
use mcp_core::tools::ListToolsResult;
use mcp_core::{CacheScope, CallToolResult, EmptyResult, Implementation, ResultMeta, ResultType};

/// How to stamp results of a modern request.
#[derive(Debug, Clone)]
pub(crate) struct Modern<'a> {
    /// Put into `_meta`; `None` when the encoder adds it (see
    /// `Dispatcher::finish`).
    pub(crate) server_info: Option<&'a Arc<Implementation>>,
    pub(crate) ttl_ms: u64,
    pub(crate) cache_scope: CacheScope,
}

pub(crate) trait Stamp {
    /// Adds what 2026-07-28 requires; `None` strips it for legacy.
    fn stamp(&mut self, modern: Option<&Modern<'_>>);

    /// Whether the result has a `_meta` of its own.
    fn has_meta(&self) -> bool;
}

fn server_meta(meta: &mut Option<ResultMeta>, info: Option<&Arc<Implementation>>) {
    if let Some(info) = info {
        meta.get_or_insert_with(ResultMeta::default).server_info = Some(Arc::clone(info));
    }
}

macro_rules! stamp {
    (cacheable: $($ty:ty),*) => {$(
        impl Stamp for $ty {
            fn stamp(&mut self, modern: Option<&Modern<'_>>) {
                match modern {
                    Some(m) => {
                        self.result_type = Some(ResultType::Complete);
                        self.ttl_ms.get_or_insert(m.ttl_ms);
                        self.cache_scope.get_or_insert(m.cache_scope);
                        server_meta(&mut self.meta, m.server_info);
                    }
                    None => {
                        self.result_type = None;
                        self.ttl_ms = None;
                        self.cache_scope = None;
                    }
                }
            }

            fn has_meta(&self) -> bool {
                self.meta.is_some()
            }
        }
    )*};
    (plain: $($ty:ty),*) => {$(
        impl Stamp for $ty {
            fn stamp(&mut self, modern: Option<&Modern<'_>>) {
                match modern {
                    Some(m) => {
                        self.result_type = Some(ResultType::Complete);
                        server_meta(&mut self.meta, m.server_info);
                    }
                    None => self.result_type = None,
                }
            }

            fn has_meta(&self) -> bool {
                self.meta.is_some()
            }
        }
    )*};
}

stamp!(cacheable: ListToolsResult, ListResourcesResult, ListResourceTemplatesResult, ReadResourceResult, ListPromptsResult, DiscoverResult);
stamp!(plain: CallToolResult, GetPromptResult, CompleteResult, EmptyResult);
