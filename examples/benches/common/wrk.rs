//! Server CPU per request under load from `wrk`, a C load generator much
//! cheaper per request than any server measured here, so the server
//! saturates first. The server runs pinned to one core and `wrk` to the
//! other (with `taskset`); the server's CPU is read from /proc.

#![allow(clippy::panic, reason = "a benchmark stops on output it cannot read")]

use std::process::{Command, Stdio};

use super::cpu_ns;
use super::http::ServerProcess;

/// In a body given to [`run_watching`], replaced by a number counting the
/// requests of the run. A legacy session refuses a request whose id it is
/// still answering: with one fixed id, that happens as soon as the server
/// answers later than at once (a gateway does).
pub(crate) const REQUEST_ID: &str = "{request-id}";

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
    let (requests, cpu) = run_watching(server, &[server], connections, seconds, headers, body);
    (requests, cpu[0])
}

/// Moves every thread of `server` to `core` (`taskset -a -p`), so one
/// process can be measured alone on a core, then beside another.
pub(crate) fn pin(server: &ServerProcess, core: u32) {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &core.to_string(),
            &server.child.id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "taskset could not move the server");
}

/// [`run`] against `server`, reading the CPU of each of `watched`
/// (`server` itself, the servers behind it): the requests completed and
/// each watched process's CPU per request in microseconds.
pub(crate) fn run_watching(
    server: &ServerProcess,
    watched: &[&ServerProcess],
    connections: usize,
    seconds: u32,
    headers: &[(&str, &str)],
    body: &str,
) -> (u64, Vec<f64>) {
    let mut script = String::from("wrk.method = \"POST\"\n");
    match body.split_once(REQUEST_ID) {
        // Numbered: a request built for each call (dearer for wrk).
        Some((head, tail)) => script.push_str(&format!(
            "local head, tail, n = {}, {}, 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, head .. n .. tail)\nend\n",
            lua_string(head),
            lua_string(tail)
        )),
        None => script.push_str(&format!("wrk.body = {}\n", lua_string(body))),
    }
    for (name, value) in headers {
        script.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name),
            lua_string(value)
        ));
    }
    let path = std::env::temp_dir().join(format!("mcp-bench-{}.lua", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let cpu = || -> Vec<u64> {
        watched
            .iter()
            .map(|w| cpu_ns(w.child.id()).unwrap())
            .collect()
    };
    let before = cpu();
    let output = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(&path)
        .arg(&server.url)
        .output()
        .unwrap();
    let after = cpu();
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
    let per_request = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) as f64 / 1000.0 / requests as f64)
        .collect();
    (requests, per_request)
}

fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
