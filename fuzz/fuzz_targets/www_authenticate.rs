//! `cargo +nightly fuzz run www_authenticate --features libfuzzer`: see [`mcp_fuzz::www_authenticate`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_fuzz::www_authenticate(data));
