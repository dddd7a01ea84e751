//! Server CPU per request under load from `wrk`, a C load generator much
//! cheaper per request than any server measured here, so the server
//! saturates first. The server runs pinned to one core and `wrk` to the
//! other (with `taskset`); the server's CPU is read from /proc.

#![allow(clippy::panic, reason = "a benchmark stops on output it cannot read")]

use std::process::{Command, Stdio};

use super::cpu_ns;
use super::http::ServerProcess;

/// Whether `wrk` and `taskset` are on the PATH.
pub(crate) fn available() -> bool {
    ["wrk", "taskset"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// The server with `env`, started on core 1 only.
pub(crate) fn pinned_server(env: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::start_with(Some(&["taskset", "-c", "1"]), env)
}

/// One `wrk` run of `seconds` on core 0 with `connections` keep-alive
/// connections, each request a POST of `body` with `headers`; returns the
/// requests completed and the server's CPU per request in microseconds.
pub(crate) fn run(
    server: &ServerProcess,
    connections: usize,
    seconds: u32,
    headers: &[(&str, &str)],
    body: &str,
) -> (u64, f64) {
    let mut script = String::from("wrk.method = \"POST\"\n");
    script.push_str(&format!("wrk.body = {}\n", lua_string(body)));
    for (name, value) in headers {
        script.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name),
            lua_string(value)
        ));
    }
    let path = std::env::temp_dir().join(format!("mcp-bench-{}.lua", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let before = cpu_ns(server.child.id()).unwrap();
    let output = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(&path)
        .arg(&server.url)
        .output()
        .unwrap();
    let after = cpu_ns(server.child.id()).unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "the server refused requests:\n{text}"
    );
    // "  123456 requests in 5.00s, 12.34MB read"
    let requests: u64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{text}"));
    let cpu_us = (after - before) as f64 / 1000.0;
    (requests, cpu_us / requests as f64)
}

fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
