//! The test kit: real parts for tests to talk to. A webhook receiver that is a real HTTP
//! server, a MaxMind-format City database built from `data/test-geo.toml`, a whole node
//! in-process, and the real binary as a child process for crash tests.

pub mod mmdb;
pub mod node;
pub mod process;
pub mod python;
pub mod receiver;
pub mod redis;

/// An HTTP client for tests: no redirects followed (a 302 is what tests look at).
pub fn http_client() -> reqwest::Client {
    clickhook_dispatch::ensure_crypto_provider();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("test HTTP client")
}
