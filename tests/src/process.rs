//! The real `clickhook` binary as a child process, for tests that kill it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `clickhook-under-test` binary of this package (the `clickhook` command line built
/// from the same library): cargo builds it before it runs the integration tests, next to
/// their executables.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("tests run from target/<profile>/deps");
    let bin = dir.join(format!("clickhook-under-test{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "no test binary at {}: run the tests with cargo test", bin.display());
    bin
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
        Self::spawn_roles(config, "redirect,api,dispatch", api_port, log)
    }

    /// Starts `clickhook serve --config <config> --roles <roles>` and waits until
    /// `wait_port` (one of its listeners) accepts connections.
    pub fn spawn_roles(config: &Path, roles: &str, wait_port: u16, log: &Path) -> Self {
        let api_port = wait_port;
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(binary())
            .args(["serve", "--roles", roles, "--config"])
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
