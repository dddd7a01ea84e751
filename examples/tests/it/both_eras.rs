//! Every client-to-server method, and the server's requests for input,
//! in both eras, over an in-memory duplex.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_core::Stream;
use mcp_client::{CallOptions, Error, ServerNotification};
use mcp_core::completion::Reference;
use mcp_core::subscriptions::SubscriptionFilter;
use mcp_core::{CallToolParams, ContentBlock, Era, ErrorCode, JsonObject};
use serde_json::json;

use crate::support::{Host, Wire, args, connect};

/// Runs `$body` once per era and transport, as four tests.
macro_rules! both_eras {
    ($($name:ident($era:ident, $wire:ident) $body:block)*) => {$(
        mod $name {
            use super::*;
            async fn run($era: Era, $wire: Wire) $body
            #[tokio::test]
            async fn modern() { run(Era::Modern, Wire::Duplex).await }
            #[tokio::test]
            async fn legacy() { run(Era::Legacy, Wire::Duplex).await }
            #[tokio::test]
            async fn http_modern() { run(Era::Modern, Wire::Http).await }
            #[tokio::test]
            async fn http_legacy() { run(Era::Legacy, Wire::Http).await }
        }
    )*};
}

fn text(content: &[ContentBlock]) -> String {
    content
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect::<Vec<_>>()
        .join("")
}

/// Next notification, or panic after a while (a missing notification is a
/// failure, not a hang).
async fn next_notification(
    stream: &mut (impl Stream<Item = ServerNotification> + Unpin),
) -> ServerNotification {
    let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx));
    tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .expect("a notification")
        .expect("the stream is open")
}

both_eras! {
    handshake(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let server = pair.client.server();
        assert_eq!(server.era, era);
        let expected = match era { Era::Modern => "2026-07-28", _ => "2025-11-25" };
        assert_eq!(server.protocol_version, expected);
        assert_eq!(server.implementation.as_ref().unwrap().name, "mcp-rs-demo");
        assert!(server.capabilities.tools.is_some() && server.capabilities.prompts.is_some());
        assert!(server.instructions.as_deref().unwrap().contains("note-taking"));
        // Dropping the client closes the connection; the server returns.
        drop(pair.client);
        if wire == Wire::Duplex {
            tokio::time::timeout(Duration::from_secs(5), pair.server).await.unwrap().unwrap().unwrap();
        }
    }

    tools(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        let tools = c.list_all_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["add", "ask_wrapped", "block", "count", "echo", "greet", "log", "panic", "save_note", "show_roots", "summarize"]);
        let echo = tools.iter().find(|t| t.name == "echo").unwrap();
        assert_eq!(echo.input_schema["properties"]["message"]["type"], "string");
        let add = tools.iter().find(|t| t.name == "add").unwrap();
        assert_eq!(add.output_schema.as_ref().unwrap()["properties"]["sum"]["type"], "number");

        let r = c.call_tool("echo", args(json!({"message": "hello"}))).await.unwrap();
        assert_eq!(r.content[0].as_text(), Some("hello"));
        assert_eq!(r.is_error, None);
        let r = c.call_tool("add", args(json!({"a": 2, "b": 40}))).await.unwrap();
        assert_eq!(r.structured_content, Some(json!({"sum": 42.0})));
        // Bad arguments: a tool error the model can see, not a protocol error.
        let r = c.call_tool("add", args(json!({"a": "two"}))).await.unwrap();
        assert_eq!(r.is_error, Some(true));
        assert!(text(&r.content).contains("Invalid arguments for tool add"), "{:?}", r.content);
        // Unknown tool: a protocol error naming it.
        let Err(Error::Remote(e)) = c.call_tool("nope", JsonObject::new()).await else { panic!() };
        assert_eq!((e.code(), e.message()), (ErrorCode::INVALID_PARAMS, "Unknown tool: nope"));
        // The tool's own failure.
        let r = c.call_tool("save_note", args(json!({"name": "bad name!", "text": "x"}))).await.unwrap();
        assert_eq!(r.is_error, Some(true));
    }

    tool_shapes(era, wire) {
        use mcp_server::{Json, tool};
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        struct Division { a: f64, b: f64 }
        #[derive(serde::Serialize, schemars::JsonSchema)]
        struct Quotient { q: f64 }
        let pair = connect(wire, era, Host::full()).await;
        // No context, a plain value.
        pair.router.add_tool(tool("sum", "Adds", |args: Division| async move {
            format!("{}", args.a + args.b)
        }));
        // No context, a Result whose String error is for the model.
        pair.router.add_tool(tool("divide", "Divides", |args: Division| async move {
            if args.b == 0.0 {
                return Err(format!("cannot divide {} by zero", args.a));
            }
            Ok(Json(Quotient { q: args.a / args.b }))
        }));
        // An I/O error through `?`: an internal error, its text kept on the server.
        pair.router.add_tool(tool("read", "Reads a missing file", |_: mcp_server::NoArgs| async move {
            std::fs::read_to_string("/nonexistent/secret/path")
        }));
        let c = &pair.client;
        let r = c.call_tool("sum", args(json!({"a": 1, "b": 2}))).await.unwrap();
        assert_eq!(text(&r.content), "3");
        let tools = c.list_tools(None).await.unwrap().tools;
        let divide = tools.iter().find(|t| t.name == "divide").unwrap();
        assert_eq!(divide.output_schema.as_ref().unwrap()["properties"]["q"]["type"], "number");
        let r = c.call_tool("divide", args(json!({"a": 1, "b": 4}))).await.unwrap();
        assert_eq!(r.structured_content, Some(json!({"q": 0.25})));
        let r = c.call_tool("divide", args(json!({"a": 1, "b": 0}))).await.unwrap();
        assert_eq!(r.is_error, Some(true));
        assert_eq!(text(&r.content), "cannot divide 1 by zero");
        let Err(Error::Remote(e)) = c.call_tool("read", JsonObject::new()).await else { panic!() };
        assert_eq!((e.code(), e.message()), (ErrorCode::INTERNAL_ERROR, "internal error"));
        assert!(c.call_tool("sum", args(json!({"a": 0, "b": 0}))).await.is_ok());
    }

    pagination(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        // Page size 100 by default; build a router with more tools.
        for i in 0..250 {
            pair.router.add_tool(mcp_server::tool(format!("t{i:03}"), "filler", |_: mcp_server::RequestContext, _: mcp_server::NoArgs| async {
                Ok::<_, mcp_server::Error>("x")
            }));
        }
        let first = pair.client.list_tools(None).await.unwrap();
        assert_eq!(first.tools.len(), 100);
        assert!(first.next_cursor.is_some());
        let all = pair.client.list_all_tools().await.unwrap();
        assert_eq!(all.len(), 261);
        let mut sorted: Vec<_> = all.iter().map(|t| t.name.clone()).collect();
        sorted.sort();
        assert_eq!(sorted, all.iter().map(|t| t.name.clone()).collect::<Vec<_>>(), "deterministic order");
        let Err(Error::Remote(e)) = pair.client.list_tools(Some("%%%".into())).await else { panic!() };
        assert_eq!((e.code(), e.message()), (ErrorCode::INVALID_PARAMS, "Invalid cursor"));
    }

    resources(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        let resources = c.list_all_resources().await.unwrap();
        assert_eq!(resources[0].uri, "memo://readme");
        let templates = c.list_all_resource_templates().await.unwrap();
        assert_eq!(templates[0].uri_template, "memo://notes/{name}");
        let read = c.read_resource("memo://readme").await.unwrap();
        assert!(matches!(&read.contents[0], mcp_core::ResourceContents::Text(t) if t.text.contains("demo MCP server")));
        let read = c.read_resource("memo://notes/welcome").await.unwrap();
        assert_eq!(read.contents[0].uri(), "memo://notes/welcome");
        let Err(Error::Remote(e)) = c.read_resource("memo://notes/missing").await else { panic!() };
        let expected = match era { Era::Modern => ErrorCode::INVALID_PARAMS, _ => ErrorCode::RESOURCE_NOT_FOUND };
        assert_eq!(e.code(), expected);
        assert_eq!(e.data().unwrap()["uri"], "memo://notes/missing");
        let done = c.complete(Reference::Resource { uri: "memo://notes/{name}".into() }, "name", "wel").await.unwrap();
        assert_eq!(done.completion.values, ["welcome"]);
    }

    a_read_carries_the_mime_type_its_listing_gave(era, wire) {
        use mcp_core::ResourceContents;
        use mcp_core::resources::Resource;
        let pair = connect(wire, era, Host::full()).await;
        pair.router.add_resource(mcp_server::resource(
            Resource::new("memo://typed", "typed").with_mime_type("text/markdown"),
            |_ctx, uri| async move {
                Ok(vec![
                    ResourceContents::text(uri, "# untyped"),
                    // Another URI's contents, and a type the handler chose: kept.
                    ResourceContents::text("memo://other", "x"),
                ])
            },
        ));
        let read = pair.client.read_resource("memo://typed").await.unwrap();
        let mime = |i: usize| match &read.contents[i] {
            ResourceContents::Text(t) => t.mime_type.clone(),
            _ => panic!("not text"),
        };
        assert_eq!(mime(0).as_deref(), Some("text/markdown"));
        assert_eq!(mime(1), None);
    }

    prompts(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        let prompts = c.list_all_prompts().await.unwrap();
        let args = prompts[0].arguments.as_ref().unwrap();
        assert_eq!((args[0].name.as_str(), args[0].required), ("code", Some(true)));
        assert_eq!((args[1].name.as_str(), args[1].required), ("language", Some(false)));
        let got = c.get_prompt("review_code", [("code".to_owned(), "fn main() {}".to_owned())].into()).await.unwrap();
        assert!(got.messages[0].content.as_text().unwrap().contains("fn main() {}"));
        let Err(Error::Remote(e)) = c.get_prompt("review_code", Default::default()).await else { panic!() };
        assert_eq!(e.code(), ErrorCode::INVALID_PARAMS);
        assert!(e.message().contains("code"), "{}", e.message());
        let done = c.complete(Reference::Prompt { name: "review_code".into(), title: None }, "language", "r").await.unwrap();
        assert_eq!(done.completion.values, ["rust"]);
    }

    input_from_the_host(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        let r = c.call_tool("greet", JsonObject::new()).await.unwrap();
        assert_eq!(text(&r.content), "Hello, Ada!");
        let r = c.call_tool("summarize", args(json!({"text": "long"}))).await.unwrap();
        assert_eq!(text(&r.content), "a summary");
        let r = c.call_tool("show_roots", JsonObject::new()).await.unwrap();
        assert_eq!(text(&r.content), "file:///projects/demo");
        let asked = pair.host.asked.lock().unwrap();
        assert_eq!((asked.elicit.len(), asked.sample, asked.roots), (1, 1, 1));
        assert_eq!(asked.elicit[0], "What is your name?");
    }

    input_the_host_cannot_give(era, wire) {
        let pair = connect(wire, era, Host::default()).await;
        let Err(Error::Remote(e)) = pair.client.call_tool("greet", JsonObject::new()).await else { panic!() };
        match era {
            Era::Modern => {
                assert_eq!(e.code(), ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
                assert!(e.data().unwrap()["requiredCapabilities"]["elicitation"].is_object());
            }
            _ => assert_eq!(e.code(), ErrorCode::INVALID_REQUEST),
        }
        // The connection keeps working.
        assert!(pair.client.call_tool("echo", args(json!({"message": "still here"}))).await.is_ok());
    }

    progress(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let options = CallOptions::default().on_progress(move |p| sink.lock().unwrap().push((p.progress, p.total)));
        let params = CallToolParams::new("count").with_arguments(args(json!({"to": 5})));
        let r = pair.client.call_tool_with(params, options).await.unwrap();
        assert_eq!(text(&r.content), "counted to 5");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, (1..=5).map(|i| (f64::from(i), Some(5.0))).collect::<Vec<_>>());
    }

    cancellation_drops_the_handler(era, wire) {
        let mut pair = connect(wire, era, Host::full()).await;
        let call = pair.client.call_tool("block", JsonObject::new());
        tokio::select! {
            _ = call => panic!("block never returns"),
            signal = pair.signals.recv() => assert_eq!(signal, Some("started")),
        }
        // The call's future was dropped by `select!`: the server must drop
        // the handler.
        assert_eq!(pair.signals.recv().await, Some("dropped"));
        assert!(pair.client.call_tool("echo", args(json!({"message": "ok"}))).await.is_ok());
    }

    timeouts(era, wire) {
        let mut pair = connect(wire, era, Host::full()).await;
        let params = CallToolParams::new("block");
        let options = CallOptions::default().timeout(Duration::from_millis(100));
        let Err(Error::Timeout { method }) = pair.client.call_tool_with(params, options).await else { panic!() };
        assert_eq!(method, "tools/call");
        assert_eq!(pair.signals.recv().await, Some("started"));
        assert_eq!(pair.signals.recv().await, Some("dropped"));
    }

    concurrent_calls(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        // A slow call does not hold up fast ones.
        let slow = c.call_tool("count", args(json!({"to": 3, "delay_ms": 100})));
        let fast = async {
            for i in 0..20 {
                let r = c.call_tool("echo", args(json!({"message": format!("m{i}")}))).await.unwrap();
                assert_eq!(text(&r.content), format!("m{i}"));
            }
        };
        let (slow, ()) = tokio::join!(slow, fast);
        assert_eq!(text(&slow.unwrap().content), "counted to 3");
    }

    list_changes_and_resource_updates(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        let mut events = c.notifications();
        let _subscription = match era {
            Era::Modern => {
                let filter = SubscriptionFilter::default()
                    .with_tools_list_changed(true)
                    .with_resources_list_changed(true)
                    .with_resource_subscriptions(vec!["memo://notes/welcome".to_owned()]);
                let sub = c.listen(filter).await.unwrap();
                assert_eq!(sub.honoured().tools_list_changed, Some(true));
                assert_eq!(sub.honoured().resource_subscriptions.as_deref(), Some(&["memo://notes/welcome".to_owned()][..]));
                Some(sub)
            }
            _ => {
                c.subscribe_resource("memo://notes/welcome").await.unwrap();
                None
            }
        };
        pair.router.remove_tool("block");
        assert!(matches!(next_notification(&mut events).await, ServerNotification::ToolListChanged));
        assert!(!c.list_all_tools().await.unwrap().iter().any(|t| t.name == "block"));
        // Updating a note: the resource list changes (a new note) and the
        // note's subscribers hear about the update.
        c.call_tool("save_note", args(json!({"name": "welcome", "text": "changed"}))).await.unwrap();
        let event = next_notification(&mut events).await;
        assert!(matches!(&event, ServerNotification::ResourceUpdated { uri } if uri == "memo://notes/welcome"), "{event:?}");
        if era == Era::Legacy {
            c.unsubscribe_resource("memo://notes/welcome").await.unwrap();
            // Subscribing to an unknown resource is refused.
            let Err(Error::Remote(e)) = c.subscribe_resource("memo://nowhere").await else { panic!() };
            assert_eq!(e.code(), ErrorCode::RESOURCE_NOT_FOUND);
        }
    }

    logging(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        let mut events = c.notifications();
        // Nothing is sent until the client asks.
        c.call_tool("log", JsonObject::new()).await.unwrap();
        c.set_log_level(mcp_core::logging::LoggingLevel::Info).await.unwrap();
        c.call_tool("log", JsonObject::new()).await.unwrap();
        let mut levels = Vec::new();
        for _ in 0..2 {
            if let ServerNotification::Log(m) = next_notification(&mut events).await {
                levels.push(m.level);
            }
        }
        use mcp_core::logging::LoggingLevel;
        assert_eq!(levels, [LoggingLevel::Info, LoggingLevel::Error]);
    }

    era_specific_methods(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let c = &pair.client;
        match era {
            Era::Legacy => {
                c.ping().await.unwrap();
                assert!(matches!(c.listen(SubscriptionFilter::default()).await, Err(Error::NotInEra { .. })));
            }
            _ => {
                assert!(matches!(c.ping().await, Err(Error::NotInEra { .. })));
                assert!(matches!(c.subscribe_resource("memo://readme").await, Err(Error::NotInEra { .. })));
            }
        }
    }

    a_panicking_handler_does_not_end_the_connection(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let Err(Error::Remote(e)) = pair.client.call_tool("panic", JsonObject::new()).await else { panic!() };
        assert_eq!(e.code(), ErrorCode::INTERNAL_ERROR, "{}", e.message());
        let r = pair.client.call_tool("echo", args(json!({"message": "alive"}))).await.unwrap();
        assert_eq!(text(&r.content), "alive");
    }

    input_requests_survive_error_wrapping(era, wire) {
        let pair = connect(wire, era, Host::full()).await;
        let r = pair.client.call_tool("ask_wrapped", JsonObject::new()).await.unwrap();
        assert_eq!(text(&r.content), "Accept");
    }

    a_busy_server_says_so_and_keeps_reading(era, wire) {
        let mut options = mcp_server::ServerOptions::default();
        options.max_in_flight = 1;
        // The client would wait out the 503's Retry-After and try again.
        let mut http = mcp_client::HttpOptions::default();
        http.max_retry_after = std::time::Duration::ZERO;
        let mut pair = crate::support::connect_with_http(wire, era, Host::full(), options, http).await;
        let c = pair.client.clone();
        let blocked = tokio::spawn(async move { c.call_tool("block", JsonObject::new()).await });
        assert_eq!(pair.signals.recv().await, Some("started"));
        let Err(Error::Remote(e)) = pair.client.call_tool("echo", args(json!({"message": "x"}))).await else { panic!() };
        assert!(e.message().contains("busy"), "{}", e.message());
        // The reader still reads: cancelling the blocked call frees the slot.
        blocked.abort();
        assert_eq!(pair.signals.recv().await, Some("dropped"));
        let mut ok = false;
        for _ in 0..50 {
            if pair.client.call_tool("echo", args(json!({"message": "x"}))).await.is_ok() {
                ok = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(ok, "the slot came back");
    }

    calls_fail_fast_once_the_server_is_gone(era, wire) {
        if wire == Wire::Http {
            // No connection to lose: each HTTP request stands alone.
            return;
        }
        let pair = connect(wire, era, Host::full()).await;
        pair.server.abort();
        let _ = pair.server.await;
        let options = CallOptions::default().timeout(Duration::from_secs(3600));
        let params = CallToolParams::new("echo").with_arguments(args(json!({"message": "x"})));
        let outcome = tokio::time::timeout(Duration::from_secs(10), pair.client.call_tool_with(params, options)).await;
        assert!(matches!(outcome, Ok(Err(Error::Closed))), "{outcome:?}");
    }
}
