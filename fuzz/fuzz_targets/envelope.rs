//! `cargo +nightly fuzz run envelope --features libfuzzer`: see [`mcp_fuzz::envelope`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_fuzz::envelope(data));
