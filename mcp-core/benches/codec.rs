//! Decoding and encoding a `tools/call` request and its result, side by
//! side with `serde_json` on plain structs of the same shape.
//!
//! Run with `cargo bench -p mcp-core --bench codec`. Criterion prints each
//! pair; the closing table prints the ratio of each pair, measured by
//! alternating the two in short batches in the same run, so machine noise
//! hits both sides alike.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use mcp_core::jsonrpc::OutgoingResponse;
use mcp_core::{CallToolParams, CallToolResult, Message, Outcome, RequestId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const REQUEST: &[u8] = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}},"io.modelcontextprotocol/clientInfo":{"name":"bench-client","version":"1.0.0"},"progressToken":"p-42"},"name":"search_documents","arguments":{"query":"quarterly revenue by region","limit":20,"include_archived":false}}}"#;

const RESPONSE: &[u8] = br#"{"jsonrpc":"2.0","id":42,"result":{"resultType":"complete","content":[{"type":"text","text":"Found 3 documents: Q1 revenue report (EMEA), Q2 revenue report (APAC), Q3 revenue summary (global)."}],"structuredContent":{"count":3,"ids":["doc-1","doc-2","doc-3"]},"isError":false}}"#;

// The plain structs: what a hand-rolled client would deserialize into.

#[derive(Deserialize, Serialize)]
struct PlainRequest {
    jsonrpc: String,
    id: u64,
    method: String,
    params: PlainParams,
}

#[derive(Deserialize, Serialize)]
struct PlainParams {
    #[serde(rename = "_meta")]
    meta: PlainMeta,
    name: String,
    arguments: Map<String, Value>,
}

#[derive(Deserialize, Serialize)]
struct PlainMeta {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion")]
    protocol_version: String,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities")]
    client_capabilities: Map<String, Value>,
    #[serde(rename = "io.modelcontextprotocol/clientInfo")]
    client_info: PlainImplementation,
    #[serde(rename = "progressToken")]
    progress_token: String,
}

#[derive(Deserialize, Serialize)]
struct PlainImplementation {
    name: String,
    version: String,
}

#[derive(Deserialize, Serialize)]
struct PlainResponse {
    jsonrpc: String,
    id: u64,
    result: PlainResult,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlainResult {
    result_type: String,
    content: Vec<PlainContent>,
    structured_content: Value,
    is_error: bool,
}

#[derive(Deserialize, Serialize)]
struct PlainContent {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

fn sdk_decode_request() -> CallToolParams {
    let Message::Request(request) = Message::from_slice(black_box(REQUEST)).unwrap() else {
        unreachable!()
    };
    request.params::<CallToolParams>().unwrap()
}

fn plain_decode_request() -> PlainRequest {
    serde_json::from_slice(black_box(REQUEST)).unwrap()
}

fn sdk_decode_result() -> Outcome<CallToolResult> {
    let Message::Response(response) = Message::from_slice(black_box(RESPONSE)).unwrap() else {
        unreachable!()
    };
    response.outcome().unwrap()
}

fn plain_decode_result() -> PlainResponse {
    serde_json::from_slice(black_box(RESPONSE)).unwrap()
}

fn sdk_encode_result(id: &RequestId, result: &CallToolResult) -> Vec<u8> {
    serde_json::to_vec(&OutgoingResponse { id, result }).unwrap()
}

fn plain_encode_result(response: &PlainResponse) -> Vec<u8> {
    serde_json::to_vec(response).unwrap()
}

fn fixtures() -> (RequestId, CallToolResult, PlainResponse) {
    let Outcome::Complete(result) = sdk_decode_result() else {
        unreachable!()
    };
    (RequestId::Number(42), result, plain_decode_result())
}

fn bench(c: &mut Criterion) {
    let (id, result, plain) = fixtures();
    let mut g = c.benchmark_group("decode tools/call request");
    g.bench_function("mcp-core", |b| b.iter(sdk_decode_request));
    g.bench_function("plain serde_json", |b| b.iter(plain_decode_request));
    g.finish();
    let mut g = c.benchmark_group("decode tools/call result");
    g.bench_function("mcp-core", |b| b.iter(sdk_decode_result));
    g.bench_function("plain serde_json", |b| b.iter(plain_decode_result));
    g.finish();
    let mut g = c.benchmark_group("encode tools/call result");
    g.bench_function("mcp-core", |b| {
        b.iter(|| sdk_encode_result(black_box(&id), black_box(&result)));
    });
    g.bench_function("plain serde_json", |b| {
        b.iter(|| plain_encode_result(black_box(&plain)));
    });
    g.finish();
}

criterion_group!(benches, bench);

/// Median over rounds of (time of `ours` / time of `baseline`), each round
/// timing one batch of each back to back.
fn ratio(mut ours: impl FnMut(), mut baseline: impl FnMut()) -> f64 {
    const BATCH: u32 = 2_000;
    const ROUNDS: usize = 31;
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..BATCH {
            f();
        }
        start.elapsed()
    };
    for _ in 0..3 {
        time(&mut ours);
        time(&mut baseline);
    }
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let a = time(&mut ours);
            let b = time(&mut baseline).max(Duration::from_nanos(1));
            a.as_secs_f64() / b.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ROUNDS / 2]
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test` runs this binary too, without `--bench`: criterion then
    // only checks each benchmark once, and the ratios are skipped.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }

    let (id, result, plain) = fixtures();
    let rows: BTreeMap<&str, f64> = BTreeMap::from([
        (
            "1 decode tools/call request",
            ratio(
                || drop(black_box(sdk_decode_request())),
                || drop(black_box(plain_decode_request())),
            ),
        ),
        (
            "2 decode tools/call result",
            ratio(
                || drop(black_box(sdk_decode_result())),
                || drop(black_box(plain_decode_result())),
            ),
        ),
        (
            "3 encode tools/call result",
            ratio(
                || drop(black_box(sdk_encode_result(&id, &result))),
                || drop(black_box(plain_encode_result(&plain))),
            ),
        ),
    ]);
    println!(
        "\nmcp-core time / plain serde_json time (median of 31 interleaved rounds; 1.00 = parity):"
    );
    for (name, r) in rows {
        println!("  {:<32} {r:.2}x", &name[2..]);
    }
}
