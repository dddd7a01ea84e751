//! Method marker types: a method's name, params type and result type in
//! one place, so servers and clients dispatch and call by type.
//!
//! ```
//! use mcp_core::method::{self, Method};
//! assert_eq!(method::CallTool::NAME, "tools/call");
//! fn params_of<M: Method>(p: M::Params) -> M::Params { p }
//! let p = params_of::<method::CallTool>(mcp_core::CallToolParams::new("echo"));
//! assert_eq!(p.name, "echo");
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Who sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Client to server.
    ClientToServer,
    /// Server to client.
    ServerToClient,
    /// Either side.
    Both,
}

/// The eras a method exists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Eras {
    /// Legacy revisions only.
    Legacy,
    /// 2026-07-28 and later only.
    Modern,
    /// Both eras.
    Both,
}

impl Eras {
    /// Whether a method with these eras exists in `era`.
    pub fn contains(self, era: crate::Era) -> bool {
        matches!(
            (self, era),
            (Self::Both, _)
                | (Self::Legacy, crate::Era::Legacy)
                | (Self::Modern, crate::Era::Modern)
        )
    }
}

/// A request method.
pub trait Method {
    /// The wire name, e.g. `tools/call`.
    const NAME: &'static str;
    /// Who sends it.
    const DIRECTION: Direction;
    /// Where it exists.
    const ERAS: Eras;
    /// Its params.
    type Params: Serialize + DeserializeOwned + crate::meta::HasMeta + Send + Sync + 'static;
    /// Its result.
    type Result: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Decodes a result of this method from its JSON text.
    ///
    /// The same as `serde_json::from_str`, except for results that may be
    /// incomplete ([`Outcome`]), which read their `resultType` straight
    /// from `text` ([`Outcome::from_json`]) instead of copying it first, as
    /// their `Deserialize` impl must. Both accept and refuse the same texts;
    /// for a text that names an unknown `resultType` and is also malformed,
    /// the error names the `resultType` rather than the syntax error.
    ///
    /// # Errors
    /// When `text` is not this method's result.
    fn decode_result(text: &str) -> Result<Self::Result, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// A notification method.
pub trait Notification {
    /// The wire name, e.g. `notifications/progress`.
    const NAME: &'static str;
    /// Who sends it.
    const DIRECTION: Direction;
    /// Where it exists.
    const ERAS: Eras;
    /// Its params.
    type Params: Serialize + DeserializeOwned + Send + Sync + 'static;
}

/// Whether a method name is a request or a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A request.
    Request,
    /// A notification.
    Notification,
}

/// A row of [`ALL`]: what this crate knows about one method name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MethodInfo {
    /// The wire name.
    pub name: &'static str,
    /// Request or notification.
    pub kind: Kind,
    /// Who sends it.
    pub direction: Direction,
    /// Where it exists.
    pub eras: Eras,
}

/// Looks a method name up in [`ALL`] for `era`. (`tasks/get` and
/// `tasks/cancel` exist in both eras, with different shapes.)
pub fn lookup(name: &str, era: crate::Era) -> Option<&'static MethodInfo> {
    ALL.iter().find(|m| m.name == name && m.eras.contains(era))
}

macro_rules! methods {
    (
        requests { $( $(#[$rdoc:meta])* $req:ident = $rname:literal, $rdir:ident, $reras:ident: $params:ty => $result:ty $(, decode = $decode:path)?; )* }
        notifications { $( $(#[$ndoc:meta])* $note:ident = $nname:literal, $ndir:ident, $neras:ident: $nparams:ty; )* }
    ) => {
        $(
            $(#[$rdoc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            #[non_exhaustive]
            pub struct $req;
            impl Method for $req {
                const NAME: &'static str = $rname;
                const DIRECTION: Direction = Direction::$rdir;
                const ERAS: Eras = Eras::$reras;
                type Params = $params;
                type Result = $result;
                $(
                    fn decode_result(text: &str) -> Result<Self::Result, serde_json::Error> {
                        $decode(text)
                    }
                )?
            }
        )*
        $(
            $(#[$ndoc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            #[non_exhaustive]
            pub struct $note;
            impl Notification for $note {
                const NAME: &'static str = $nname;
                const DIRECTION: Direction = Direction::$ndir;
                const ERAS: Eras = Eras::$neras;
                type Params = $nparams;
            }
        )*

        /// Every method and notification of every supported revision.
        pub const ALL: &[MethodInfo] = &[
            $( MethodInfo { name: $rname, kind: Kind::Request, direction: Direction::$rdir, eras: Eras::$reras }, )*
            $( MethodInfo { name: $nname, kind: Kind::Notification, direction: Direction::$ndir, eras: Eras::$neras }, )*
        ];
    };
}

use crate::completion::{CompleteParams, CompleteResult};
use crate::elicitation::{ElicitParams, ElicitResult, ElicitationCompleteParams};
use crate::lifecycle::{DiscoverResult, InitializeParams, InitializeResult};
use crate::logging::{LoggingMessageParams, SetLevelParams};
use crate::mrtr::Outcome;
use crate::notifications::{CancelledParams, NotificationParams, ProgressParams};
use crate::prompts::{GetPromptParams, GetPromptResult, ListPromptsResult};
use crate::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult,
    ResourceUpdatedParams, ResourceUriParams,
};
use crate::result::{EmptyResult, PaginatedParams, RequestParams};
use crate::roots::ListRootsResult;
use crate::sampling::{CreateMessageParams, CreateMessageResult};
use crate::subscriptions::{AcknowledgedParams, ListenParams, ListenResult};
use crate::tasks::{TaskIdParams, ext, legacy};
use crate::tools::{CallToolParams, CallToolResult, ListToolsResult};

methods! {
    requests {
        /// `server/discover`: versions and capabilities (2026-07-28).
        Discover = "server/discover", ClientToServer, Modern: RequestParams => DiscoverResult;
        /// `initialize`: the legacy handshake.
        Initialize = "initialize", ClientToServer, Legacy: InitializeParams => InitializeResult;
        /// `ping` (legacy; either side).
        Ping = "ping", Both, Legacy: RequestParams => EmptyResult;
        /// `tools/list`.
        ListTools = "tools/list", ClientToServer, Both: PaginatedParams => ListToolsResult;
        /// `tools/call`; may need input first (2026-07-28).
        CallTool = "tools/call", ClientToServer, Both: CallToolParams => Outcome<CallToolResult>, decode = Outcome::from_json;
        /// `resources/list`.
        ListResources = "resources/list", ClientToServer, Both: PaginatedParams => ListResourcesResult;
        /// `resources/templates/list`.
        ListResourceTemplates = "resources/templates/list", ClientToServer, Both: PaginatedParams => ListResourceTemplatesResult;
        /// `resources/read`; may need input first (2026-07-28).
        ReadResource = "resources/read", ClientToServer, Both: ReadResourceParams => Outcome<ReadResourceResult>, decode = Outcome::from_json;
        /// `resources/subscribe` (legacy).
        Subscribe = "resources/subscribe", ClientToServer, Legacy: ResourceUriParams => EmptyResult;
        /// `resources/unsubscribe` (legacy).
        Unsubscribe = "resources/unsubscribe", ClientToServer, Legacy: ResourceUriParams => EmptyResult;
        /// `prompts/list`.
        ListPrompts = "prompts/list", ClientToServer, Both: PaginatedParams => ListPromptsResult;
        /// `prompts/get`; may need input first (2026-07-28).
        GetPrompt = "prompts/get", ClientToServer, Both: GetPromptParams => Outcome<GetPromptResult>, decode = Outcome::from_json;
        /// `completion/complete`.
        Complete = "completion/complete", ClientToServer, Both: CompleteParams => CompleteResult;
        /// `logging/setLevel` (legacy).
        SetLevel = "logging/setLevel", ClientToServer, Legacy: SetLevelParams => EmptyResult;
        /// `subscriptions/listen` (2026-07-28).
        Listen = "subscriptions/listen", ClientToServer, Modern: ListenParams => ListenResult;
        /// `sampling/createMessage` (a legacy server→client request; an input
        /// request in 2026-07-28).
        CreateMessage = "sampling/createMessage", ServerToClient, Legacy: CreateMessageParams => CreateMessageResult;
        /// `elicitation/create` (legacy server→client request; an input request in 2026-07-28).
        Elicit = "elicitation/create", ServerToClient, Legacy: ElicitParams => ElicitResult;
        /// `roots/list` (legacy server→client request; an input request in 2026-07-28).
        ListRoots = "roots/list", ServerToClient, Legacy: RequestParams => ListRootsResult;
        /// `tasks/get` of the tasks extension (2026-07-28).
        GetTask = "tasks/get", ClientToServer, Modern: TaskIdParams => ext::GetTaskResult;
        /// `tasks/update` of the tasks extension (2026-07-28).
        UpdateTask = "tasks/update", ClientToServer, Modern: ext::UpdateTaskParams => EmptyResult;
        /// `tasks/cancel` of the tasks extension (2026-07-28).
        CancelTask = "tasks/cancel", ClientToServer, Modern: TaskIdParams => EmptyResult;
        /// `tasks/get` (2025-11-25; either side).
        LegacyGetTask = "tasks/get", Both, Legacy: TaskIdParams => legacy::GetTaskResult;
        /// `tasks/result` (2025-11-25; either side).
        LegacyGetTaskPayload = "tasks/result", Both, Legacy: TaskIdParams => legacy::GetTaskPayloadResult;
        /// `tasks/list` (2025-11-25; either side).
        LegacyListTasks = "tasks/list", Both, Legacy: PaginatedParams => legacy::ListTasksResult;
        /// `tasks/cancel` (2025-11-25; either side).
        LegacyCancelTask = "tasks/cancel", Both, Legacy: TaskIdParams => legacy::CancelTaskResult;
    }
    notifications {
        /// `notifications/initialized` (legacy).
        Initialized = "notifications/initialized", ClientToServer, Legacy: NotificationParams;
        /// `notifications/cancelled`.
        Cancelled = "notifications/cancelled", Both, Both: CancelledParams;
        /// `notifications/progress`.
        Progress = "notifications/progress", Both, Both: ProgressParams;
        /// `notifications/roots/list_changed` (legacy).
        RootsListChanged = "notifications/roots/list_changed", ClientToServer, Legacy: NotificationParams;
        /// `notifications/message`.
        LoggingMessage = "notifications/message", ServerToClient, Both: LoggingMessageParams;
        /// `notifications/tools/list_changed`.
        ToolListChanged = "notifications/tools/list_changed", ServerToClient, Both: NotificationParams;
        /// `notifications/prompts/list_changed`.
        PromptListChanged = "notifications/prompts/list_changed", ServerToClient, Both: NotificationParams;
        /// `notifications/resources/list_changed`.
        ResourceListChanged = "notifications/resources/list_changed", ServerToClient, Both: NotificationParams;
        /// `notifications/resources/updated`.
        ResourceUpdated = "notifications/resources/updated", ServerToClient, Both: ResourceUpdatedParams;
        /// `notifications/subscriptions/acknowledged` (2026-07-28).
        SubscriptionsAcknowledged = "notifications/subscriptions/acknowledged", ServerToClient, Modern: AcknowledgedParams;
        /// `notifications/elicitation/complete` (2025-11-25).
        ElicitationComplete = "notifications/elicitation/complete", ServerToClient, Legacy: ElicitationCompleteParams;
        /// `notifications/tasks/status` (2025-11-25; either side).
        TaskStatus = "notifications/tasks/status", Both, Legacy: legacy::TaskStatusParams;
        /// `notifications/tasks` of the tasks extension (2026-07-28).
        TaskUpdated = "notifications/tasks", ServerToClient, Modern: ext::TaskNotificationParams;
    }
}
