//! `cargo fuzz run rewrite_text`: see clickhook_fuzz_targets::rewrite_text for what it feeds in and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clickhook_fuzz_targets::rewrite_text(data));
