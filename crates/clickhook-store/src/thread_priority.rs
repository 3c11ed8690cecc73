//! CPU priority for background threads.
//!
//! One process does two kinds of work: answering redirects, which a person is waiting for,
//! and everything after (click processing, SQLite settles, webhook delivery), which can
//! wait a little. When the CPU is short, redirects should win; the backlog they leave is
//! durable (the hit journal or the store) and is worked off when the flood passes. On Linux
//! every thread has its own nice value, so background threads lower theirs; the link host's
//! threads keep the process's.

/// How much background threads lower their priority (nice steps). At nice +10 the kernel
/// gives a busy background thread about a tenth of the CPU a busy redirect thread gets.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority by `steps` nice steps (capped at 19). Best effort:
/// where this is not possible, the thread keeps its priority and this says so at debug level.
pub fn lower_current_thread(steps: i32) {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(Some(tid), (now + steps).min(19)) {
            tracing::debug!(error = %e, "cannot lower a background thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = steps;
}

/// The calling thread's nice value (0 where threads have none of their own).
pub fn current_thread_nice() -> i32 {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_only_the_calling_thread() {
        let before = current_thread_nice();
        let lowered = std::thread::spawn(|| {
            lower_current_thread(BACKGROUND_NICE);
            current_thread_nice()
        })
        .join()
        .unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(lowered, (before + BACKGROUND_NICE).min(19));
        }
        assert_eq!(
            current_thread_nice(),
            before,
            "other threads keep their priority"
        );
    }
}
