//! `cargo fuzz run api_json`: see clickhook_fuzz_targets::api_json for what it feeds in and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clickhook_fuzz_targets::api_json(data));
