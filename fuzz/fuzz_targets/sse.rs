//! `cargo +nightly fuzz run sse --features libfuzzer`: see [`mcp_fuzz::sse`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_fuzz::sse(data));
