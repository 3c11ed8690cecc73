//! `cargo fuzz run token_parse`: see clickhook_fuzz_targets::token_parse for what it feeds in and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clickhook_fuzz_targets::token_parse(data));
