//! The gateway between the official MCP SDKs: upstreams of three makes at
//! once (the demo server over stdio, a TypeScript SDK server over stdio and
//! a Python SDK server over Streamable HTTP), and clients of four (ours in
//! both eras, the TypeScript SDK's and the Python SDK's over the gateway's
//! HTTP endpoint), each listing the merged tools and calling one tool of
//! every upstream. The SDK scripts are in `tests/peers/`.
//!
//! `test.sh` installs Node with `@modelcontextprotocol/sdk` under
//! `.tools/npm` and a Python with `mcp` under `.tools/venv`, and points
//! `MCP_TEST_NODE`, `MCP_TEST_NODE_MODULES` and `MCP_TEST_PYTHON` at them.
//! Without those variables the tests here say so and pass without running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_client::{Client, HttpOptions};
use mcp_core::Era;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::{PATIENCE, offers, serve, stdio_upstream};
use crate::support::{Host, args, options};

/// The protocol version both SDKs speak at their newest.
const SDK_VERSION: &str = "2025-11-25";

/// The tool of each upstream called through the gateway, its arguments
/// and the text it answers with.
fn calls() -> [(&'static str, Value, &'static str); 3] {
    [
        ("demo__echo", json!({"message": "hello"}), "hello"),
        ("ts__shout", json!({"text": "hello"}), "HELLO!"),
        ("py__add", json!({"a": 2, "b": 3}), "5"),
    ]
}

/// Where the peers' runtimes are.
struct Runtimes {
    node: PathBuf,
    node_modules: PathBuf,
    python: PathBuf,
}

impl Runtimes {
    /// From the environment; `None` (with a note) when a variable is unset.
    fn find() -> Option<Self> {
        let var = |name: &str| {
            let value = std::env::var_os(name);
            if value.is_none() {
                eprintln!("skipped: {name} not set (test.sh sets it)");
            }
            value.map(PathBuf::from)
        };
        let runtimes = Self {
            node: var("MCP_TEST_NODE")?,
            node_modules: var("MCP_TEST_NODE_MODULES")?,
            python: var("MCP_TEST_PYTHON")?,
        };
        let sdk = runtimes
            .node_modules
            .join("@modelcontextprotocol/sdk/package.json");
        assert!(sdk.exists(), "{} is not there", sdk.display());
        Some(runtimes)
    }

    /// Node running `script`; the SDK found through `NODE_PATH`, which
    /// `require()` honours (the scripts are CommonJS for that reason).
    fn node(&self, script: &str) -> Command {
        let mut command = Command::new(&self.node);
        command
            .arg(script_path(script))
            .env("NODE_PATH", &self.node_modules);
        command
    }

    fn python(&self, script: &str) -> Command {
        let mut command = Command::new(&self.python);
        command.arg(script_path(script));
        command
    }
}

fn script_path(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(script)
}

/// Collects a child's stderr, so a failure can show what it said.
fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let said = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = Arc::clone(&said);
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    said
}

/// The Python SDK server (`py_server.py`), listening once it has printed
/// its URL; killed when dropped.
struct PyServer {
    url: String,
    stderr: Arc<Mutex<String>>,
    _child: Child,
    // Held so the server's stdout stays open for its whole life.
    _stdout: BufReader<ChildStdout>,
}

impl PyServer {
    async fn start(runtimes: &Runtimes) -> Self {
        let mut child = runtimes
            .python("py_server.py")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = collect_stderr(&mut child);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, stdout.read_line(&mut line)).await;
        let url = line.trim_end();
        if !url.starts_with("http://127.0.0.1:") {
            let _ = child.kill().await;
            panic!(
                "py_server.py did not start ({read:?}, first line {line:?}); stderr:\n{}",
                stderr.lock().unwrap()
            );
        }
        Self {
            url: url.to_owned(),
            stderr,
            _child: child,
            _stdout: stdout,
        }
    }
}

/// A TOML basic string holding `s` (paths, URLs: nothing Rust's and TOML's
/// escapes disagree on).
fn toml_str(s: impl AsRef<str>) -> String {
    format!("{:?}", s.as_ref())
}

/// Runs an SDK client script against `url`, making the calls of
/// [`calls`]; the JSON line it prints.
async fn sdk_client(mut command: Command, url: &str, what: &str) -> Value {
    let calls: serde_json::Map<String, Value> = calls()
        .into_iter()
        .map(|(name, arguments, _)| (name.to_owned(), arguments))
        .collect();
    let child = command
        .arg(url)
        .arg(Value::Object(calls).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the {what} client did not finish"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the {what} client failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    serde_json::from_str(stdout.trim_end())
        .unwrap_or_else(|e| panic!("the {what} client printed {stdout:?} ({e}); stderr:\n{stderr}"))
}

/// Checks what an SDK client saw: the merged list and each upstream's
/// answer, in the 2025-11-25 shape (`content`, and the Python tool's
/// `structuredContent` passed through).
fn check_sdk_client(what: &str, seen: &Value) {
    assert_eq!(seen["protocolVersion"], SDK_VERSION, "{what}: {seen}");
    let tools: Vec<&str> = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for (name, _, answer) in calls() {
        assert!(tools.contains(&name), "{what}: {tools:?}");
        let result = &seen["results"][name];
        assert_eq!(result["content"][0]["type"], "text", "{what}: {result}");
        assert_eq!(result["content"][0]["text"], answer, "{what}: {result}");
        assert_ne!(result["isError"], true, "{what}: {result}");
    }
    assert_eq!(
        seen["results"]["py__add"]["structuredContent"],
        json!({"result": 5}),
        "{what}: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_as_upstreams_and_clients() {
    let Some(runtimes) = Runtimes::find() else {
        return;
    };
    let py = PyServer::start(&runtimes).await;
    let config = format!(
        "{demo}\n\
         [[upstream]]\n\
         name = \"ts\"\n\
         command = {node}\n\
         args = [{script}]\n\
         env = {{ NODE_PATH = {modules} }}\n\
         \n\
         [[upstream]]\n\
         name = \"py\"\n\
         url = {url}\n",
        demo = stdio_upstream("demo"),
        node = toml_str(runtimes.node.to_str().unwrap()),
        script = toml_str(script_path("ts_server.cjs").to_str().unwrap()),
        modules = toml_str(runtimes.node_modules.to_str().unwrap()),
        url = toml_str(&py.url),
    );
    let (gateway, url) = serve(&config).await;
    let names = calls().map(|(name, _, _)| name);
    offers(&gateway, &names).await;
    // Each upstream on the newest version it speaks: ours on 2026-07-28,
    // both SDKs' on 2025-11-25.
    let versions: Vec<(String, Option<String>)> = gateway
        .status()
        .into_iter()
        .map(|s| (s.name, s.protocol_version))
        .collect();
    assert_eq!(
        versions,
        [
            ("demo", "2026-07-28"),
            ("ts", SDK_VERSION),
            ("py", SDK_VERSION)
        ]
        .map(|(n, v)| (n.to_owned(), Some(v.to_owned()))),
        "python server stderr:\n{}",
        py.stderr.lock().unwrap()
    );

    for era in [Era::Modern, Era::Legacy] {
        let client = Client::connect_http(&url, options(era), HttpOptions::default(), Host::full())
            .await
            .unwrap();
        let tools = client.list_all_tools().await.unwrap();
        let listed: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        for (name, arguments, answer) in calls() {
            assert!(listed.contains(&name), "{era:?}: {listed:?}");
            let r = client.call_tool(name, args(arguments)).await.unwrap();
            assert_eq!(r.text().unwrap(), answer, "{era:?}, {name}: {r:?}");
            assert_ne!(r.is_error, Some(true), "{era:?}, {name}: {r:?}");
        }
        let r = client
            .call_tool("py__add", args(json!({"a": 2, "b": 3})))
            .await
            .unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": 5})), "{r:?}");
        let _ = client.close().await;
    }

    let seen = sdk_client(runtimes.node("ts_client.cjs"), &url, "TypeScript").await;
    check_sdk_client("TypeScript", &seen);
    let seen = sdk_client(runtimes.python("py_client.py"), &url, "Python").await;
    check_sdk_client("Python", &seen);

    // Every call reached its upstream over its first connection and was
    // answered; none failed or was refused.
    for s in gateway.status() {
        assert!(
            s.connected && s.connects == 1 && s.failed == 0 && s.refused == 0,
            "{s:?}"
        );
    }
}

/// The client's default `server/discover` probe timeout (`ClientOptions`),
/// which the gateway keeps.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A stateful Python SDK server refuses the gateway's `server/discover`
/// probe at once (HTTP 400, a JSON-RPC error whose id is the string
/// `"server-error"`, not the request's): that refusal must end the probe,
/// so the gateway falls back to `initialize` right away instead of waiting
/// out the probe timeout. Half that timeout is the bound: the refusal takes
/// milliseconds, so anything near the full timeout means it went unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_server_refusal_ends_the_probe() {
    let Some(runtimes) = Runtimes::find() else {
        return;
    };
    let py = PyServer::start(&runtimes).await;
    let config = format!("[[upstream]]\nname = \"py\"\nurl = {}\n", toml_str(&py.url));
    let started = Instant::now();
    let (gateway, _url) = serve(&config).await;
    // One upstream: its tool keeps its own name.
    offers(&gateway, &["add"]).await;
    let took = started.elapsed();
    assert!(
        took < PROBE_TIMEOUT / 2,
        "the gateway took {took:?} to reach the Python SDK server: the server's \
         HTTP 400 answer to server/discover did not end the probe; {:?}",
        gateway.status()
    );
    assert_eq!(
        gateway.status()[0].protocol_version.as_deref(),
        Some(SDK_VERSION)
    );
}
