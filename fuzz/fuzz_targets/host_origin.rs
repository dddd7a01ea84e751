//! `cargo +nightly fuzz run host_origin --features libfuzzer`: see [`mcp_fuzz::host_origin`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_fuzz::host_origin(data));
