//! Replays the seed corpus and every input a fuzzer ever found failing
//! (`corpus/TARGET/` and `regressions/TARGET/`) through the harnesses, on
//! the stable toolchain, so that what was fixed stays fixed.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| harness(&input));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "{target}: no inputs to replay");
}

#[test]
fn envelope() {
    replay("envelope", mcp_fuzz::envelope);
}

#[test]
fn codec() {
    replay("codec", mcp_fuzz::codec);
}

#[test]
fn sse() {
    replay("sse", mcp_fuzz::sse);
}

#[test]
fn www_authenticate() {
    replay("www_authenticate", mcp_fuzz::www_authenticate);
}

#[test]
fn uri_template() {
    replay("uri_template", mcp_fuzz::uri_template);
}

#[test]
fn host_origin() {
    replay("host_origin", mcp_fuzz::host_origin);
}

#[test]
fn classification() {
    replay("classification", |data| {
        mcp_fuzz::classification(data);
    });
}
