//! `cargo fuzz run rewrite_html`: see clickhook_fuzz_targets::rewrite_html for what it feeds in and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clickhook_fuzz_targets::rewrite_html(data));
