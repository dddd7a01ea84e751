//! `cargo +nightly fuzz run codec --features libfuzzer`: see [`mcp_fuzz::codec`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_fuzz::codec(data));
