//! The real `clickhook` binary as a child process, for tests that kill it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Builds the binary once per test process (same profile as the tests) and returns its path.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root).args(["build", "-q", "-p", "clickhook", "--bin", "clickhook"]);
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        if profile == "release" {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the clickhook binary failed");
        let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
        let bin = target.join(profile).join("clickhook");
        assert!(bin.exists(), "no binary at {}", bin.display());
        bin
    })
    .clone()
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `clickhook serve`. Killed (SIGKILL) when dropped.
pub struct Process {
    child: Child,
    pub api: String,
    pub log: PathBuf,
}

impl Process {
    /// Starts `clickhook serve --config <config>` and waits until the API answers `/healthz`.
    /// `api_port` must be the config's `listen.api` port.
    pub fn spawn(config: &Path, api_port: u16, log: &Path) -> Self {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("clickhook starts");
        let p = Self { child, api: format!("http://127.0.0.1:{api_port}"), log: log.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok() {
                return p;
            }
            assert!(Instant::now() < deadline, "clickhook did not start; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the binary with `args` and returns (exit code, stdout, stderr).
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(binary()).args(args).envs(envs.iter().copied()).stdin(Stdio::null()).output().expect("clickhook runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
