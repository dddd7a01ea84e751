//! The `mcp-gateway` binary as an operator runs it: `check` names the line
//! of a mistake; `serve` prints its URL, answers through its upstreams,
//! reports ready to `probe`, reloads its file on SIGHUP (connected
//! clients hear the tools changed) and exits on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::process::Stdio;
use std::time::Duration;

use mcp_client::{Client, ClientOptions, HttpOptions, NoHandler, ServerNotification};
use mcp_core::Implementation;
use mcp_server::http::{StreamableHttp, serve};
use mcp_server::{Error, NoArgs, RequestContext, Router, Server, tool};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_stream::StreamExt;

const PATIENCE: Duration = Duration::from_secs(30);
const BINARY: &str = env!("CARGO_BIN_EXE_mcp-gateway");

/// A server whose one tool says `word`, on a free loopback port: its URL.
async fn upstream(word: &'static str) -> String {
    let router = Router::new("upstream", "1.0").with_tool(tool(
        "say",
        "Says a word",
        move |_ctx: RequestContext, _: NoArgs| async move { Ok::<_, Error>(word) },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let endpoint = StreamableHttp::new(
        Server::new(router),
        mcp_server::http::HttpOptions::default(),
    );
    tokio::spawn(serve(listener, "/mcp", endpoint, std::future::pending()));
    url
}

fn upstream_toml(name: &str, url: &str) -> String {
    format!("[[upstream]]\nname = \"{name}\"\nurl = \"{url}\"\n")
}

async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

/// The client's notifications, with tool list changes asked for (a
/// 2026-07-28 server announces them only to a subscription).
async fn listening(client: &Client) -> (mcp_client::Notifications, mcp_client::Subscription) {
    let notes = client.notifications();
    let filter =
        mcp_core::subscriptions::SubscriptionFilter::default().with_tools_list_changed(true);
    (notes, client.listen(filter).await.unwrap())
}

#[tokio::test]
async fn check_names_the_line_of_a_mistake() {
    let dir = std::env::temp_dir().join(format!("mcp-gateway-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n\n[[upstream]]\nname = \"a\"\nurl = \"http://h/mcp\"\n").unwrap();
    let out = tokio::process::Command::new(BINARY)
        .arg("check")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml: line 6: upstream \"a\" is defined twice"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_reloads_and_exits() {
    let (first, second) = (upstream("one").await, upstream("two").await);
    let dir = std::env::temp_dir().join(format!("mcp-gateway-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.toml");
    let listen = "[listen]\nbind = \"127.0.0.1:0\"\n\n";
    std::fs::write(&file, format!("{listen}{}", upstream_toml("first", &first))).unwrap();
    let mut child = tokio::process::Command::new(BINARY)
        .arg("serve")
        .arg(&file)
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(PATIENCE, stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );

    // Ready once its upstream is connected.
    let ready = url.replace("/mcp", "/readyz");
    tokio::time::timeout(PATIENCE, async {
        while !mcp_gateway::probe(Some(&ready)).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let status = tokio::process::Command::new(BINARY)
        .args(["probe", &ready])
        .status()
        .await
        .unwrap();
    assert!(status.success());

    let client = Client::connect_http(
        &url,
        ClientOptions::new(Implementation::new("test", "1")),
        HttpOptions::default(),
        NoHandler,
    )
    .await
    .unwrap();
    let (mut notes, _listening) = listening(&client).await;
    assert_eq!(tool_names(&client).await, ["say"]);
    let r = client.call_tool("say", ()).await.unwrap();
    assert_eq!(r.text().unwrap(), "one");

    // A second upstream, on SIGHUP.
    std::fs::write(
        &file,
        format!(
            "{listen}{}{}",
            upstream_toml("first", &first),
            upstream_toml("second", &second)
        ),
    )
    .unwrap();
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let wanted = ["first__say".to_owned(), "second__say".to_owned()];
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(ServerNotification::ToolListChanged) = notes.next().await
                && tool_names(&client).await == wanted
            {
                break;
            }
        }
    })
    .await
    .unwrap();
    let r = client.call_tool("second__say", ()).await.unwrap();
    assert_eq!(r.text().unwrap(), "two");

    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_serves_a_host_that_launches_commands() {
    let url = upstream("over stdio").await;
    let dir = std::env::temp_dir().join(format!("mcp-gateway-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("desktop.toml");
    std::fs::write(&file, upstream_toml("remote", &url)).unwrap();
    let client = Client::spawn(
        mcp_client::ChildProcess::new(BINARY)
            .arg("stdio")
            .arg(&file)
            .stderr(mcp_client::Stderr::Discard),
        ClientOptions::new(Implementation::new("host", "1")),
        NoHandler,
    )
    .await
    .unwrap();
    // The upstream connects in the background: its tool shows once it is up.
    let (mut notes, _listening) = listening(&client).await;
    tokio::time::timeout(PATIENCE, async {
        while tool_names(&client).await != ["say"] {
            let _ = notes.next().await;
        }
    })
    .await
    .unwrap();
    let r = client.call_tool("say", ()).await.unwrap();
    assert_eq!(r.text().unwrap(), "over stdio");
    client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
