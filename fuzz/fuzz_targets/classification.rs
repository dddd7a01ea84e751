//! `cargo +nightly fuzz run classification --features libfuzzer`: see [`mcp_fuzz::classification`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mcp_fuzz::classification(data);
});
