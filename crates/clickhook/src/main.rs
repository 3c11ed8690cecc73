//! The `clickhook` binary: everything is in [`clickhook::cli`].

fn main() -> std::process::ExitCode {
    clickhook::cli::main()
}
