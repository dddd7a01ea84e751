//! Values built in Rust for every method, notification and result
//! serialize to JSON that validates against the `schema.json` of each
//! revision that has them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use mcp_core::capabilities::{
    ElicitationCapability, Icon, ListChangedCapability, ResourcesCapability, SamplingCapability,
};
use mcp_core::completion::{CompleteParams, CompleteResult, Reference};
use mcp_core::content::{Annotations, MediaContent, SamplingContent, ToolUseContent};
use mcp_core::elicitation::{
    ElicitAction, ElicitParams, ElicitResult, ElicitValue, ElicitationCompleteParams,
    ElicitationSchema, PrimitiveSchema, UrlElicitation,
};
use mcp_core::lifecycle::{DiscoverResult, InitializeParams, InitializeResult};
use mcp_core::logging::{LoggingLevel, LoggingMessageParams, SetLevelParams};
use mcp_core::method::{self, Method, Notification as NotificationMethod};
use mcp_core::mrtr::InputRequests;
use mcp_core::notifications::{CancelledParams, NotificationParams, ProgressParams};
use mcp_core::prompts::{
    GetPromptParams, GetPromptResult, ListPromptsResult, Prompt, PromptArgument, PromptMessage,
};
use mcp_core::resources::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceParams, ReadResourceResult,
    Resource, ResourceTemplate, ResourceUpdatedParams, ResourceUriParams,
};
use mcp_core::result::RequestParams;
use mcp_core::roots::{ListRootsResult, Root};
use mcp_core::sampling::{CreateMessageParams, CreateMessageResult, SamplingMessage, ToolChoice};
use mcp_core::subscriptions::{AcknowledgedParams, ListenParams, ListenResult, SubscriptionFilter};
use mcp_core::tasks::{TaskIdParams, TaskMetadata, TaskStatus, legacy};
use mcp_core::tools::{ListToolsResult, ToolAnnotations};
use mcp_core::{
    CacheScope, CallToolParams, CallToolResult, ClientCapabilities, ContentBlock, Era, ErrorObject,
    ErrorResponse, Implementation, InputRequest, InputRequiredResult, JsonObject, Message,
    Notification, PaginatedParams, ProtocolVersion, Request, RequestMeta, ResourceContents,
    Response, ResultType, Role, ServerCapabilities, Tool,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::support::fixtures;

/// One revision's schema and what we know about it.
struct Rev {
    version: ProtocolVersion,
    era: Era,
    schema: Value,
    defs_key: &'static str,
}

impl Rev {
    fn load(version: ProtocolVersion) -> Self {
        let path = fixtures()
            .join("schema")
            .join(version.as_str())
            .join("schema.json");
        let schema: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        let defs_key = if schema.get("$defs").is_some() {
            "$defs"
        } else {
            "definitions"
        };
        Self {
            era: version.era().unwrap(),
            version,
            schema,
            defs_key,
        }
    }

    fn at_least(&self, version: &str) -> bool {
        self.version.as_str() >= version
    }

    fn modern(&self) -> bool {
        self.era == Era::Modern
    }

    fn has(&self, def: &str) -> bool {
        self.schema[self.defs_key].get(def).is_some()
    }
}

/// Validates values against named definitions, remembering which were used.
struct Checker<'a> {
    rev: &'a Rev,
    validated: BTreeSet<String>,
    failures: Vec<String>,
}

impl Checker<'_> {
    fn check(&mut self, def: &str, value: &Value) {
        if !self.rev.has(def) {
            self.failures
                .push(format!("{}: no definition {def}", self.rev.version));
            return;
        }
        let mut root = self.rev.schema.clone();
        root["$ref"] = Value::String(format!("#/{}/{def}", self.rev.defs_key));
        let validator = jsonschema::validator_for(&root).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            self.failures.push(format!(
                "{} {def}: {}\n    value: {value}",
                self.rev.version,
                errors.join("; ")
            ));
        }
        self.validated.insert(def.to_owned());
    }

    fn request<M: Method>(&mut self, def: &str, params: &M::Params) {
        let message = Message::from(Request::typed::<M>(7, params).unwrap());
        self.check(def, &to_value(&message));
        self.check("JSONRPCMessage", &to_value(&message));
    }

    fn notification<N: NotificationMethod>(&mut self, def: &str, params: &N::Params) {
        let message = Message::from(Notification::typed::<N>(params).unwrap());
        self.check(def, &to_value(&message));
        self.check("JSONRPCMessage", &to_value(&message));
    }

    fn result<T: Serialize>(&mut self, def: &str, result: &T) {
        self.check(def, &to_value(result));
        let message = Message::from(Response::typed("r-1", result).unwrap());
        self.check("JSONRPCMessage", &to_value(&message));
    }

    fn error(&mut self, def: &str, error: ErrorObject) {
        let message = Message::from(ErrorResponse::new(Some(7.into()), error));
        self.check(def, &to_value(&message));
        self.check("JSONRPCMessage", &to_value(&message));
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(map) => map,
        _ => unreachable!("not an object"),
    }
}

/// `_meta` as each era wants it on a request.
fn request_meta(rev: &Rev) -> Option<RequestMeta> {
    if rev.modern() {
        let mut caps = ClientCapabilities::default();
        caps.elicitation = Some(ElicitationCapability::default());
        let mut meta = RequestMeta::modern(rev.version.clone(), caps);
        meta.client_info = Some(Implementation::new("test-client", "1.0.0").into());
        meta.log_level = Some(LoggingLevel::Info);
        meta.progress_token = Some("tok-1".into());
        meta.other.insert(
            "traceparent".into(),
            json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        Some(meta)
    } else {
        Some(RequestMeta::for_progress(42))
    }
}

fn result_type(rev: &Rev) -> Option<ResultType> {
    rev.modern().then_some(ResultType::Complete)
}

fn cache(rev: &Rev) -> (Option<u64>, Option<CacheScope>) {
    if rev.modern() {
        (Some(60_000), Some(CacheScope::Public))
    } else {
        (None, None)
    }
}

fn content(rev: &Rev) -> Vec<ContentBlock> {
    let mut blocks = vec![
        ContentBlock::Text({
            let ContentBlock::Text(mut t) = ContentBlock::text("hello") else {
                unreachable!()
            };
            t.annotations = Some(
                Annotations::default()
                    .with_audience(vec![Role::User])
                    .with_priority(0.5),
            );
            t
        }),
        ContentBlock::image("aGVsbG8=", "image/png"),
        ContentBlock::resource(
            ResourceContents::text("file:///a.txt", "a").with_mime_type("text/plain"),
        ),
        ContentBlock::resource(ResourceContents::blob("file:///b.bin", "AAEC")),
    ];
    if rev.at_least("2025-03-26") {
        blocks.push(ContentBlock::audio("UklGRg==", "audio/wav"));
    }
    if rev.at_least("2025-06-18") {
        blocks.push(
            ContentBlock::resource_link("file:///c.md", "c").with_mime_type_link("text/markdown"),
        );
    }
    blocks
}

trait LinkExt {
    fn with_mime_type_link(self, m: &str) -> Self;
}

impl LinkExt for ContentBlock {
    fn with_mime_type_link(self, m: &str) -> Self {
        match self {
            Self::ResourceLink(l) => Self::ResourceLink(l.with_mime_type(m).with_size(12_u64)),
            other => other,
        }
    }
}

fn tool(rev: &Rev) -> Tool {
    let mut t = Tool::new(
        "get_weather",
        object(json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})),
    )
    .with_description("Weather for a city");
    if rev.at_least("2025-03-26") {
        t = t.with_annotations(
            ToolAnnotations::default()
                .with_read_only_hint(true)
                .with_open_world_hint(true),
        );
    }
    if rev.at_least("2025-06-18") {
        t = t.with_title("Weather").with_output_schema(object(
            json!({"type": "object", "properties": {"temp": {"type": "number"}}}),
        ));
    }
    if rev.at_least("2025-11-25") {
        t = t.with_icons(vec![
            Icon::new("https://example.com/i.png").with_sizes(vec!["48x48".to_owned()]),
        ]);
    }
    t
}

fn server_caps(rev: &Rev) -> ServerCapabilities {
    let mut caps = ServerCapabilities::default();
    caps.tools = Some(ListChangedCapability::new(true));
    caps.prompts = Some(ListChangedCapability::new(false));
    caps.resources = Some(ResourcesCapability::new(true, true));
    caps.logging = Some(JsonObject::new());
    if rev.at_least("2025-03-26") {
        caps.completions = Some(JsonObject::new());
    }
    if rev.modern() {
        caps.extensions = Some(BTreeMap::from([(
            "io.modelcontextprotocol/tasks".to_owned(),
            JsonObject::new(),
        )]));
    }
    caps
}

fn client_caps(rev: &Rev) -> ClientCapabilities {
    let mut caps = ClientCapabilities::default();
    caps.roots = Some(Default::default());
    caps.sampling = Some(SamplingCapability::default());
    if rev.at_least("2025-06-18") {
        caps.elicitation = Some(ElicitationCapability::default());
    }
    caps
}

fn sampling_params(rev: &Rev) -> CreateMessageParams {
    let mut p = CreateMessageParams::new(vec![SamplingMessage::user_text("What is 2+2?")], 100)
        .with_system_prompt("Be brief")
        .with_temperature(0.2);
    if rev.at_least("2025-11-25") {
        p = p
            .with_tools(vec![tool(rev)])
            .with_tool_choice(ToolChoice::default());
    }
    p
}

fn sampling_result(rev: &Rev) -> CreateMessageResult {
    if rev.at_least("2025-11-25") {
        let mut input = JsonObject::new();
        input.insert("city".into(), json!("Paris"));
        let mut r = CreateMessageResult::new(
            SamplingContent::ToolUse(
                serde_json::from_value::<ToolUseContent>(
                    json!({"id": "c1", "name": "get_weather", "input": input}),
                )
                .unwrap(),
            ),
            "model-x",
        );
        r.stop_reason = Some("toolUse".into());
        r
    } else {
        CreateMessageResult::new(SamplingContent::text("4"), "model-x").with_stop_reason("endTurn")
    }
}

fn elicit_form() -> ElicitParams {
    ElicitParams::form(
        "Your details",
        ElicitationSchema::new()
            .field(
                "name",
                PrimitiveSchema::string().with_description("Full name"),
                true,
            )
            .field("age", PrimitiveSchema::number(), false)
            .field("subscribe", PrimitiveSchema::boolean(), false)
            .field(
                "color",
                PrimitiveSchema::one_of_values(["red", "green"]),
                false,
            ),
    )
}

fn elicit_result() -> ElicitResult {
    ElicitResult::accept(BTreeMap::from([
        ("name".to_owned(), ElicitValue::String("Ada".into())),
        ("age".to_owned(), ElicitValue::Number(36.into())),
        ("subscribe".to_owned(), ElicitValue::Bool(true)),
    ]))
}

fn build(rev: &Rev, c: &mut Checker<'_>) {
    let meta = request_meta(rev);
    let rt = result_type(rev);
    let (ttl, scope) = cache(rev);

    // Lifecycle.
    if rev.modern() {
        c.request::<method::Discover>(
            "DiscoverRequest",
            &RequestParams::new(meta.clone().unwrap()),
        );
        let mut d = DiscoverResult::new(
            vec![ProtocolVersion::V2026_07_28, ProtocolVersion::V2025_11_25],
            server_caps(rev),
            3_600_000,
            CacheScope::Public,
        );
        d.instructions = Some("Use get_weather.".into());
        let mut rm = mcp_core::ResultMeta::default();
        rm.server_info = Some(std::sync::Arc::new(Implementation::new(
            "test-server",
            "1.0.0",
        )));
        d.meta = Some(rm);
        c.result("DiscoverResult", &d);
    } else {
        let mut p = InitializeParams::new(
            rev.version.clone(),
            client_caps(rev),
            Implementation::new("test-client", "1.0.0"),
        );
        p.meta = meta.clone();
        c.request::<method::Initialize>("InitializeRequest", &p);
        c.result(
            "InitializeResult",
            &InitializeResult::new(
                rev.version.clone(),
                server_caps(rev),
                Implementation::new("test-server", "1.0.0"),
            )
            .with_instructions("hi"),
        );
        c.notification::<method::Initialized>(
            "InitializedNotification",
            &NotificationParams::default(),
        );
        c.request::<method::Ping>("PingRequest", &RequestParams::default());
        c.result("EmptyResult", &mcp_core::EmptyResult::legacy());
    }

    // Tools.
    let page = PaginatedParams::after("cursor-1");
    let page = match &meta {
        Some(m) => page.with_meta(m.clone()),
        None => page,
    };
    c.request::<method::ListTools>("ListToolsRequest", &page);
    let mut lt = ListToolsResult::new(vec![tool(rev)]);
    (lt.next_cursor, lt.ttl_ms, lt.cache_scope, lt.result_type) =
        (Some("next".into()), ttl, scope, rt.clone());
    c.result("ListToolsResult", &lt);
    let mut call =
        CallToolParams::new("get_weather").with_arguments(object(json!({"city": "Paris"})));
    call.meta = meta.clone();
    if rev.at_least("2025-11-25") && !rev.modern() {
        call.task = Some(TaskMetadata::new(60_000));
    }
    c.request::<method::CallTool>("CallToolRequest", &call);
    let mut result = CallToolResult::success(content(rev));
    if rev.at_least("2025-06-18") {
        result = result.with_structured_content(json!({"temp": 21.5}));
    }
    result.result_type = rt.clone();
    c.result("CallToolResult", &result);
    c.result("CallToolResult", &{
        let mut r = CallToolResult::error(vec![ContentBlock::text("city not found")]);
        r.result_type = rt.clone();
        r
    });

    // Resources.
    c.request::<method::ListResources>("ListResourcesRequest", &page);
    let mut lr = ListResourcesResult::default();
    lr.resources = vec![
        Resource::new("file:///a.txt", "a")
            .with_mime_type("text/plain")
            .with_size(1_u64)
            .with_description("A"),
    ];
    (lr.ttl_ms, lr.cache_scope, lr.result_type) = (ttl, scope, rt.clone());
    c.result("ListResourcesResult", &lr);
    c.request::<method::ListResourceTemplates>("ListResourceTemplatesRequest", &page);
    let mut lrt = ListResourceTemplatesResult::default();
    lrt.resource_templates =
        vec![ResourceTemplate::new("file:///{path}", "files").with_mime_type("text/plain")];
    (lrt.ttl_ms, lrt.cache_scope, lrt.result_type) = (ttl, scope, rt.clone());
    c.result("ListResourceTemplatesResult", &lrt);
    let mut read = ReadResourceParams::new("file:///a.txt");
    read.meta = meta.clone();
    c.request::<method::ReadResource>("ReadResourceRequest", &read);
    let mut rr = ReadResourceResult::new(vec![ResourceContents::text("file:///a.txt", "a")]);
    (rr.ttl_ms, rr.cache_scope, rr.result_type) = (ttl, scope, rt.clone());
    c.result("ReadResourceResult", &rr);
    let mut updated = ResourceUpdatedParams::new("file:///a.txt");
    if rev.modern() {
        updated.meta = NotificationParams::for_subscription("listen-1".into()).meta;
    }
    c.notification::<method::ResourceUpdated>("ResourceUpdatedNotification", &updated);
    c.notification::<method::ResourceListChanged>(
        "ResourceListChangedNotification",
        &NotificationParams::default(),
    );
    if !rev.modern() {
        c.request::<method::Subscribe>(
            "SubscribeRequest",
            &ResourceUriParams::new("file:///a.txt"),
        );
        c.request::<method::Unsubscribe>(
            "UnsubscribeRequest",
            &ResourceUriParams::new("file:///a.txt"),
        );
    }

    // Prompts.
    c.request::<method::ListPrompts>("ListPromptsRequest", &page);
    let mut lp = ListPromptsResult::default();
    lp.prompts = vec![
        Prompt::new("review")
            .with_description("Review code")
            .with_arguments(vec![PromptArgument::new("code").with_required(true)]),
    ];
    (lp.ttl_ms, lp.cache_scope, lp.result_type) = (ttl, scope, rt.clone());
    c.result("ListPromptsResult", &lp);
    let mut gp = GetPromptParams::new("review").with_arguments(BTreeMap::from([(
        "code".to_owned(),
        "fn main() {}".to_owned(),
    )]));
    gp.meta = meta.clone();
    c.request::<method::GetPrompt>("GetPromptRequest", &gp);
    let mut gpr = GetPromptResult::new(vec![PromptMessage::new(
        Role::User,
        ContentBlock::text("Review this"),
    )]);
    gpr.result_type = rt.clone();
    c.result("GetPromptResult", &gpr);
    c.notification::<method::PromptListChanged>(
        "PromptListChangedNotification",
        &NotificationParams::default(),
    );
    c.notification::<method::ToolListChanged>(
        "ToolListChangedNotification",
        &NotificationParams::default(),
    );

    // Completion.
    let mut cp = CompleteParams::new(
        Reference::Prompt {
            name: "review".into(),
            title: None,
        },
        "code",
        "fn",
    );
    cp.meta = meta.clone();
    c.request::<method::Complete>("CompleteRequest", &cp);
    let mut cp = CompleteParams::new(
        Reference::Resource {
            uri: "file:///{path}".into(),
        },
        "path",
        "a",
    );
    cp.meta = meta.clone();
    c.request::<method::Complete>("CompleteRequest", &cp);
    let mut cr = CompleteResult::new((0..150).map(|i| format!("v{i}")).collect());
    cr.result_type = rt;
    c.result("CompleteResult", &cr);

    // Logging, progress, cancellation.
    c.notification::<method::LoggingMessage>(
        "LoggingMessageNotification",
        &LoggingMessageParams::new(LoggingLevel::Warning, json!({"msg": "careful"}))
            .with_logger("db"),
    );
    let mut progress = ProgressParams::new("tok-1".into(), 0.5).with_total(1.0);
    if rev.at_least("2025-03-26") {
        progress = progress.with_message("halfway");
    }
    c.notification::<method::Progress>("ProgressNotification", &progress);
    c.notification::<method::Cancelled>(
        "CancelledNotification",
        &CancelledParams::new(3.into()).with_reason("user"),
    );
    if !rev.modern() {
        c.request::<method::SetLevel>("SetLevelRequest", &SetLevelParams::new(LoggingLevel::Debug));
    }

    // Sampling, elicitation, roots: server→client requests (legacy) or
    // input requests (modern).
    if rev.modern() {
        c.check(
            "CreateMessageRequest",
            &to_value(&InputRequest::CreateMessage(sampling_params(rev))),
        );
        c.check(
            "ElicitRequest",
            &to_value(&InputRequest::Elicit(elicit_form())),
        );
        c.check(
            "ElicitRequest",
            &to_value(&InputRequest::Elicit(ElicitParams::url(
                "Log in",
                "https://example.com/login",
            ))),
        );
        c.check(
            "ListRootsRequest",
            &to_value(&InputRequest::ListRoots(RequestParams::default())),
        );
        let requests: InputRequests = BTreeMap::from([
            (
                "sample".to_owned(),
                InputRequest::CreateMessage(sampling_params(rev)),
            ),
            ("ask".to_owned(), InputRequest::Elicit(elicit_form())),
            (
                "roots".to_owned(),
                InputRequest::ListRoots(RequestParams::default()),
            ),
        ]);
        c.result(
            "InputRequiredResult",
            &InputRequiredResult::new(requests).with_request_state("opaque-state"),
        );
        let mut retry = CallToolParams::new("get_weather");
        retry.meta = meta.clone();
        retry.request_state = Some("opaque-state".into());
        retry.input_responses = Some(BTreeMap::from([
            (
                "sample".to_owned(),
                mcp_core::InputResponse::CreateMessage(sampling_result(rev)),
            ),
            (
                "ask".to_owned(),
                mcp_core::InputResponse::Elicit(elicit_result()),
            ),
            (
                "roots".to_owned(),
                mcp_core::InputResponse::ListRoots(ListRootsResult::new(vec![
                    Root::new("file:///home").with_name("home"),
                ])),
            ),
        ]));
        c.request::<method::CallTool>("CallToolRequest", &retry);
        c.check(
            "InputResponses",
            &to_value(retry.input_responses.as_ref().unwrap()),
        );
    } else {
        c.request::<method::CreateMessage>("CreateMessageRequest", &sampling_params(rev));
        c.request::<method::ListRoots>("ListRootsRequest", &RequestParams::default());
        c.notification::<method::RootsListChanged>(
            "RootsListChangedNotification",
            &NotificationParams::default(),
        );
        if rev.at_least("2025-06-18") {
            c.request::<method::Elicit>("ElicitRequest", &elicit_form());
        }
        if rev.at_least("2025-11-25") {
            let url = UrlElicitation::new("Log in", "https://example.com/login")
                .with_elicitation_id("e-1");
            c.request::<method::Elicit>("ElicitRequest", &ElicitParams::Url(url.clone()));
            c.notification::<method::ElicitationComplete>(
                "ElicitationCompleteNotification",
                &ElicitationCompleteParams::new("e-1"),
            );
            c.error(
                "URLElicitationRequiredError",
                ErrorObject::url_elicitation_required(&[url]),
            );
        }
    }
    // Answers to those: JSON-RPC results on legacy, input responses
    // (never a JSON-RPC result) on modern.
    let roots = ListRootsResult::new(vec![Root::new("file:///home").with_name("home")]);
    if rev.modern() {
        c.check("CreateMessageResult", &to_value(&sampling_result(rev)));
        c.check("ListRootsResult", &to_value(&roots));
        c.check("ElicitResult", &to_value(&elicit_result()));
        c.check(
            "ElicitResult",
            &to_value(&ElicitResult::new(ElicitAction::Decline)),
        );
    } else {
        c.result("CreateMessageResult", &sampling_result(rev));
        c.result("ListRootsResult", &roots);
        if rev.at_least("2025-06-18") {
            c.result("ElicitResult", &elicit_result());
            c.result("ElicitResult", &ElicitResult::new(ElicitAction::Decline));
        }
    }

    // Subscriptions (modern) and errors.
    if rev.modern() {
        let filter = SubscriptionFilter::default()
            .with_tools_list_changed(true)
            .with_resource_subscriptions(vec!["file:///a.txt".to_owned()]);
        let mut listen = ListenParams::new(filter.clone());
        listen.meta = meta;
        c.request::<method::Listen>("SubscriptionsListenRequest", &listen);
        c.notification::<method::SubscriptionsAcknowledged>(
            "SubscriptionsAcknowledgedNotification",
            &AcknowledgedParams::new(7.into(), filter),
        );
        c.result("SubscriptionsListenResult", &ListenResult::new(7.into()));
        c.error(
            "UnsupportedProtocolVersionError",
            ErrorObject::unsupported_protocol_version("1900-01-01", ["2026-07-28", "2025-11-25"]),
        );
        let mut need = ClientCapabilities::default();
        need.elicitation = Some(ElicitationCapability::default());
        c.error(
            "MissingRequiredClientCapabilityError",
            ErrorObject::missing_client_capability("needs elicitation", &need),
        );
        c.error(
            "HeaderMismatchError",
            ErrorObject::header_mismatch("Mcp-Name 'a' != body 'b'"),
        );
        c.check(
            "Error",
            &to_value(&ErrorObject::resource_not_found("file:///nope")),
        );
    }

    // Legacy tasks (2025-11-25).
    if rev.at_least("2025-11-25") && !rev.modern() {
        let mut task = legacy::Task::new(
            "t-1",
            TaskStatus::Working,
            "2025-11-25T10:00:00Z",
            "2025-11-25T10:00:01Z",
        );
        task.ttl = Some(60_000);
        task.poll_interval = Some(1000);
        c.request::<method::LegacyGetTask>("GetTaskRequest", &TaskIdParams::new("t-1"));
        c.result("GetTaskResult", &task);
        c.request::<method::LegacyGetTaskPayload>(
            "GetTaskPayloadRequest",
            &TaskIdParams::new("t-1"),
        );
        c.result(
            "GetTaskPayloadResult",
            &object(to_value(&CallToolResult::success(vec![
                ContentBlock::text("done"),
            ]))),
        );
        c.request::<method::LegacyListTasks>("ListTasksRequest", &PaginatedParams::default());
        c.result(
            "ListTasksResult",
            &legacy::ListTasksResult::new(vec![task.clone()]),
        );
        c.request::<method::LegacyCancelTask>("CancelTaskRequest", &TaskIdParams::new("t-1"));
        let mut cancelled = task.clone();
        cancelled.status = TaskStatus::Cancelled;
        cancelled.ttl = None;
        c.result("CancelTaskResult", &cancelled);
        c.result(
            "CreateTaskResult",
            &legacy::CreateTaskResult::new(task.clone()),
        );
        c.notification::<method::TaskStatus>("TaskStatusNotification", &task);
    }
    let _ = MediaContent::new("", "");
}

/// Names of the definitions that describe one method or notification.
fn method_defs(rev: &Rev) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, def) in rev.schema[rev.defs_key].as_object().unwrap() {
        if name.starts_with("Client") || name.starts_with("Server") {
            continue; // unions and aliases
        }
        if let Some(method) = def
            .pointer("/properties/method/const")
            .and_then(Value::as_str)
        {
            out.insert(name.clone(), method.to_owned());
        }
    }
    out
}

fn run(version: ProtocolVersion) {
    let rev = Rev::load(version);
    let mut checker = Checker {
        rev: &rev,
        validated: BTreeSet::new(),
        failures: Vec::new(),
    };
    build(&rev, &mut checker);
    for (def, method) in method_defs(&rev) {
        if !checker.validated.contains(&def) {
            checker.failures.push(format!(
                "{}: nothing validated against {def} ({method})",
                rev.version
            ));
        }
    }
    assert!(
        checker.failures.is_empty(),
        "{} failures:\n{}",
        checker.failures.len(),
        checker.failures.join("\n")
    );
}

#[test]
fn modern_2026_07_28_validates() {
    run(ProtocolVersion::V2026_07_28);
}

#[test]
fn legacy_2025_11_25_validates() {
    run(ProtocolVersion::V2025_11_25);
}

#[test]
fn legacy_2025_06_18_validates() {
    run(ProtocolVersion::V2025_06_18);
}

#[test]
fn legacy_2025_03_26_validates() {
    run(ProtocolVersion::V2025_03_26);
}

#[test]
fn legacy_2024_11_05_validates() {
    run(ProtocolVersion::V2024_11_05);
}

/// The checker is not vacuous: a value missing a required member fails.
#[test]
fn checker_rejects_invalid_values() {
    let rev = Rev::load(ProtocolVersion::V2026_07_28);
    let mut checker = Checker {
        rev: &rev,
        validated: BTreeSet::new(),
        failures: Vec::new(),
    };
    // A modern request without `_meta` is not a valid CallToolRequest.
    checker.request::<method::CallTool>("CallToolRequest", &CallToolParams::new("x"));
    // A result without `resultType` is not a valid 2026 CallToolResult.
    checker.result("CallToolResult", &CallToolResult::success(vec![]));
    let failed = |def: &str| {
        checker
            .failures
            .iter()
            .any(|f| f.starts_with(&format!("2026-07-28 {def}:")))
    };
    assert!(
        failed("CallToolRequest") && failed("CallToolResult"),
        "{:?}",
        checker.failures
    );
}

/// The same holds for the draft-07 schemas of the older revisions.
#[test]
fn legacy_checker_rejects_invalid_values() {
    let rev = Rev::load(ProtocolVersion::V2025_06_18);
    let mut checker = Checker {
        rev: &rev,
        validated: BTreeSet::new(),
        failures: Vec::new(),
    };
    checker.check(
        "InitializeRequest",
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
    );
    checker.check("CallToolResult", &json!({"content": [{"type": "text"}]}));
    assert_eq!(checker.failures.len(), 2, "{:?}", checker.failures);
}
