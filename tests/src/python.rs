//! Independent checkers written in Python, run from tests. Their packages are installed on
//! first use into `target/pydeps` (not the system), so `cargo test` needs nothing set up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A `python3` command with `standardwebhooks` importable.
pub fn with_standardwebhooks() -> Command {
    static DEPS: OnceLock<PathBuf> = OnceLock::new();
    let deps = DEPS.get_or_init(|| {
        let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root().join("target"));
        let deps = target.join("pydeps");
        let probe = Command::new("python3").args(["-c", "import standardwebhooks"]).env("PYTHONPATH", &deps).status();
        if !probe.map(|s| s.success()).unwrap_or(false) {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
                .arg(&deps)
                .arg("standardwebhooks==1.1.0")
                .status()
                .expect("python3 runs");
            assert!(status.success(), "installing standardwebhooks failed");
        }
        deps
    });
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", deps);
    cmd
}

/// Runs `tests/python/verify_signature.py` on `input` (JSON); returns (exit code, output).
pub fn verify_signatures(input: &serde_json::Value) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.json");
    std::fs::write(&file, serde_json::to_vec(input).unwrap()).unwrap();
    let out = with_standardwebhooks().arg(root().join("tests/python/verify_signature.py")).arg(&file).output().expect("python3 runs");
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
