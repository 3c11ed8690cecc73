//! The `clickhook` program, built by `cargo test` with the tests' own features, for the
//! tests that run it as a child process (and kill it).

fn main() -> std::process::ExitCode {
    clickhook::cli::main()
}
