//! End to end over stdio: the example server as a child process.

use std::path::PathBuf;
use std::time::Duration;

use mcp_client::{ChildProcess, Client, Stderr};
use mcp_core::Era;
use serde_json::json;

use crate::support::{Host, options};

/// The example binary, built by `cargo test` next to this test binary.
pub(crate) fn example(name: &str) -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join(name)
}

async fn run(era: Era) {
    let server = ChildProcess::new(example("stdio_server"))
        .env("RUST_LOG", "debug")
        .stderr(Stderr::Capture)
        .grace(Duration::from_secs(5));
    let client = Client::spawn(server, options(era), Host::full())
        .await
        .unwrap();
    assert_eq!(client.server().era, era);
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"));
    let r = client
        .call_tool(
            "echo",
            json!({"message": "over stdio"})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.content[0].as_text(), Some("over stdio"));
    let r = client.call_tool("greet", Default::default()).await.unwrap();
    assert_eq!(r.content[0].as_text(), Some("Hello, Ada!"));
    // Logs went to stderr, never to the protocol stream.
    let stderr = client.child_stderr().await.unwrap();
    assert!(stderr.contains("demo server ready"), "{stderr}");
    // Closing sends EOF; the server exits by itself within the grace period
    // and is reaped (no zombie left behind).
    let pid = client.child_id().await.unwrap();
    client.close().await.unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "server process {pid} is gone"
    );
}

#[tokio::test]
async fn example_server_over_stdio_modern() {
    run(Era::Modern).await;
}

#[tokio::test]
async fn example_server_over_stdio_legacy() {
    run(Era::Legacy).await;
}
