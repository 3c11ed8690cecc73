//! The `clickhook` binary: everything is in [`clickhook::cli`].

/// mimalloc instead of glibc's malloc: the link host allocates on every request, and
/// glibc's allocator was ~8% of its CPU profile under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    clickhook::cli::main()
}
