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

/// Runs `command` (an example server that binds a free port and prints
/// its URL first): the process, killed when dropped, and the URL.
pub(crate) async fn serve_example(
    mut command: tokio::process::Command,
) -> (tokio::process::Child, String) {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let url = lines.next_line().await.unwrap().unwrap();
    (child, url)
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
    let r = client.call_tool("greet", ()).await.unwrap();
    assert_eq!(r.text().as_deref(), Some("Hello, Ada!"));
    // Arguments from any serializable type; structured results typed.
    #[derive(serde::Serialize)]
    struct Add {
        a: f64,
        b: f64,
    }
    #[derive(serde::Deserialize)]
    struct Sum {
        sum: f64,
    }
    let r = client
        .call_tool("add", Add { a: 2.0, b: 3.5 })
        .await
        .unwrap();
    assert_eq!(r.structured::<Sum>().unwrap().unwrap().sum, 5.5);
    // A tool that fails is a result, with what went wrong as its text.
    let r = client.call_tool("add", json!({"a": "two"})).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(r.text().is_some_and(|t| !t.is_empty()), "{r:?}");
    // Arguments that are not an object never leave the client.
    let e = client.call_tool("add", 5).await.unwrap_err();
    assert!(
        matches!(
            e,
            mcp_client::Error::Transport(mcp_core::Error::Encode { .. })
        ),
        "{e:?}"
    );
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

/// With every level of logging on, stdout still carries protocol messages
/// only: the examples' logging setup writes to stderr.
#[test]
fn logging_at_every_level_never_reaches_stdout() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(example("stdio_server"))
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}"#,
        // Malformed: logged (at debug), and answered with a parse error.
        "{not json",
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"bye"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
    ];
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut answered = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let message: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried a line that is not JSON ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        answered.push(message["id"].clone());
        if message["id"] == 3 {
            break;
        }
    }
    assert_eq!(answered, [json!(1), json!(2), json!(null), json!(3)]);
    // EOF: the server exits, and its logs are all on stderr.
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("INFO"), "{stderr}");
    assert!(stderr.contains("DEBUG"), "{stderr}");
}

/// A client may send many requests before reading any answer. Requests
/// that need no waiting are answered, however many arrive at once: the
/// in-flight cap is for requests that wait, not for a backlog of replies.
#[test]
fn a_pipelined_burst_of_quick_requests_is_answered_without_busy_refusals() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    const BURST: usize = 3000;
    let mut child = Command::new(example("stdio_server"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut burst = String::from(
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
"#,
    );
    for id in 1..=BURST {
        burst.push_str(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"m{id}"}}}}}}"#
        ));
        burst.push('\n');
    }
    // Written all at once from another thread while this one reads, so
    // neither side's pipe buffer stalls the other.
    let writer = std::thread::spawn(move || {
        stdin.write_all(burst.as_bytes()).unwrap();
        stdin
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut errors = Vec::new();
    let mut line = String::new();
    for _ in 0..=BURST {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early"
        );
        let message: serde_json::Value = serde_json::from_str(&line).unwrap();
        if message.get("error").is_some() {
            errors.push(line.clone());
        }
    }
    assert!(
        errors.is_empty(),
        "{} refused, first: {}",
        errors.len(),
        errors[0]
    );
    drop(writer.join().unwrap());
    assert!(child.wait().unwrap().success());
}
