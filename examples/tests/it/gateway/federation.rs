//! Federation across eras: three upstreams (the demo server over stdio, and
//! one in-process HTTP server reached as a 2026-07-28 server and as a
//! legacy one), clients of both eras; elicitation, sampling, roots,
//! progress, cancellation and resources through the gateway.

use std::sync::{Arc, Mutex};

use mcp_client::{CallOptions, Client, HttpOptions};
use mcp_core::{CallToolParams, Era};
use mcp_server::Server;
use serde_json::json;

use super::{PATIENCE, http_upstream, offers, serve, stdio_upstream};
use crate::support::{Host, args, options, serve_http, test_router};

const LEGACY: &str = "2025-11-25";

async fn client(url: &str, era: Era, host: &Host) -> Client {
    Client::connect_http(url, options(era), HttpOptions::default(), host.clone())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_of_many_in_both_eras() {
    let (router, mut signals) = test_router();
    let (upstream_url, _server) = serve_http(Server::new(router)).await;
    let config = format!(
        "{}{}{}",
        stdio_upstream("local"),
        http_upstream("modern", &upstream_url, &[]),
        http_upstream("legacy", &upstream_url, &[LEGACY]),
    );
    let (gateway, url) = serve(&config).await;
    offers(&gateway, &["local__echo", "modern__echo", "legacy__echo"]).await;
    let status = gateway.status();
    assert_eq!(
        status
            .iter()
            .map(|s| s.protocol_version.clone().unwrap())
            .collect::<Vec<_>>(),
        ["2026-07-28", "2026-07-28", LEGACY].map(str::to_owned),
        "{status:?}"
    );

    for era in [Era::Modern, Era::Legacy] {
        let host = Host::full();
        let client = client(&url, era, &host).await;
        let tools = client.list_all_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        for upstream in ["local", "modern", "legacy"] {
            assert!(
                names.contains(&format!("{upstream}__echo").as_str()),
                "{names:?}"
            );
            let said = format!("{era:?} via {upstream}");
            let r = client
                .call_tool(&format!("{upstream}__echo"), args(json!({"message": said})))
                .await
                .unwrap();
            assert_eq!(r.text().unwrap(), said, "{r:?}");
        }
        // The tool asks for input on the far side, in either era: a
        // request to a legacy client, an input-required result (and the
        // call made again) for a 2026-07-28 one.
        for upstream in ["local", "modern", "legacy"] {
            let r = client
                .call_tool(&format!("{upstream}__greet"), args(json!({})))
                .await
                .unwrap();
            assert_eq!(
                r.text().unwrap(),
                "Hello, Ada!",
                "{era:?} client, {upstream} upstream: {r:?}"
            );
            let r = client
                .call_tool(
                    &format!("{upstream}__summarize"),
                    args(json!({"text": "long"})),
                )
                .await
                .unwrap();
            assert_eq!(r.text().unwrap(), "a summary", "{r:?}");
            let r = client
                .call_tool(&format!("{upstream}__show_roots"), args(json!({})))
                .await
                .unwrap();
            assert_eq!(r.text().unwrap(), "file:///projects/demo", "{r:?}");
        }
        {
            let asked = host.asked.lock().unwrap();
            assert_eq!(asked.elicit.len(), 3, "{era:?}: {:?}", asked.elicit);
            assert!(asked.sample == 3 && asked.roots == 3, "{era:?}");
        }

        // Progress from each upstream reaches the caller.
        for upstream in ["local", "modern", "legacy"] {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&seen);
            let options =
                CallOptions::default().on_progress(move |p| log.lock().unwrap().push(p.progress));
            let params = CallToolParams::new(format!("{upstream}__count"))
                .with_arguments(args(json!({"to": 3})));
            let r = client.call_tool_with(params, options).await.unwrap();
            assert_eq!(r.text().unwrap(), "counted to 3");
            assert_eq!(
                *seen.lock().unwrap(),
                [1.0, 2.0, 3.0],
                "{era:?} via {upstream}"
            );
        }

        // Log messages of an upstream reach the call they were sent in.
        client
            .set_log_level(mcp_core::logging::LoggingLevel::Debug)
            .await
            .unwrap();
        let mut notes = client.notifications();
        for upstream in ["local", "modern", "legacy"] {
            let r = client
                .call_tool(&format!("{upstream}__log"), args(json!({})))
                .await;
            // The demo server over stdio has no `log` tool.
            if upstream == "local" {
                assert!(r.is_err());
                continue;
            }
            assert_eq!(r.unwrap().text().unwrap(), "logged");
            let mut levels = Vec::new();
            while levels.len() < 3 {
                let note =
                    tokio::time::timeout(PATIENCE, tokio_stream::StreamExt::next(&mut notes))
                        .await
                        .unwrap();
                if let Some(mcp_client::ServerNotification::Log(log)) = note {
                    levels.push(log.data["level"].as_str().unwrap().to_owned());
                }
            }
            assert_eq!(levels, ["Debug", "Info", "Error"], "{era:?} via {upstream}");
        }

        // Resources: URIs carry their upstream's name, and read back.
        let resources = client.list_all_resources().await.unwrap();
        let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
        assert!(uris.contains(&"local+memo://readme"), "{uris:?}");
        let read = client.read_resource("legacy+memo://readme").await.unwrap();
        let json = serde_json::to_value(&read.contents[0]).unwrap();
        assert_eq!(json["uri"], "legacy+memo://readme", "{json}");
        let prompts = client.list_all_prompts().await.unwrap();
        assert!(
            prompts.iter().any(|p| p.name == "modern__review_code"),
            "{prompts:?}"
        );
        let code = [("code".to_owned(), "fn main() {}".to_owned())].into();
        let prompt = client
            .get_prompt("legacy__review_code", code)
            .await
            .unwrap();
        assert!(format!("{prompt:?}").contains("fn main() {}"), "{prompt:?}");

        // A cancelled call is cancelled upstream too: a legacy client
        // cancels with a notification, a 2026-07-28 client by closing its
        // response stream; the gateway cancels upstream the same two ways.
        for upstream in ["modern", "legacy"] {
            let name = format!("{upstream}__block");
            let call = client.call_tool(&name, args(json!({})));
            let started = async {
                assert_eq!(signals.recv().await, Some("started"));
            };
            tokio::select! {
                _ = call => panic!("block returned"),
                () = started => {}
            }
            // The call's future is dropped: the client cancels, and the
            // gateway's upstream call is dropped, which cancels upstream.
            let dropped = tokio::time::timeout(PATIENCE, signals.recv())
                .await
                .unwrap_or_else(|_| panic!("{era:?} via {upstream}: not cancelled"));
            assert_eq!(dropped, Some("dropped"), "{era:?} via {upstream}");
        }
        let _ = client.close().await;
    }
}
