//! Real Redis for tests: a standalone `redis-server`, or a 3-master/3-replica Redis Cluster,
//! started on free loopback ports in temporary directories and killed when dropped.
//!
//! This file uses std only: the store crate's own tests include it with
//! `#[path = "../../../tests/src/redis.rs"]` (the store cannot depend on this crate, which
//! depends on the store), so it must compile in both places.
//!
//! Every `redis-server` runs under a small `sh` watchdog whose stdin is a pipe from this
//! process. Closing the pipe (on drop, or when this process ends in any way, including a
//! panic, `exit` or `kill -9`) makes the watchdog `kill -9` exactly the server it started. So
//! servers kept in a `static` (which Rust never drops) still go away with the test binary.
//! Nothing here touches a Redis that it did not start.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Runs `redis-server "$@"` and kills it with SIGKILL when stdin reaches end of file.
/// Exits with the server's status once the server is gone, after removing `$CLEANUP_DIR`
/// (and its parent, when that is empty then) if set.
const WATCHDOG: &str = r#"
exec 3<&0
redis-server "$@" </dev/null &
r=$!
( read -r _ <&3; kill -9 "$r" 2>/dev/null ) &
w=$!
exec 3<&-
wait "$r"
s=$?
kill "$w" 2>/dev/null
if [ -n "$CLEANUP_DIR" ]; then
  rm -rf "$CLEANUP_DIR"
  rmdir "$(dirname "$CLEANUP_DIR")" 2>/dev/null
fi
exit "$s"
"#;

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Ports are taken from 20000..30000 (below Linux's ephemeral range), so that the cluster
/// bus port (port + 10000) is a fixed, also unused, number. The start differs per process
/// so that test binaries running at the same time rarely try the same ports.
fn next_port_candidate() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919) ^ (SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos() >> 10);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    20_000 + ((seed.wrapping_add(n.wrapping_mul(7))) % 10_000) as u16
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A port that is free now and, with `bus`, whose cluster bus port (+10000) is free too.
fn free_port(bus: bool) -> u16 {
    for _ in 0..10_000 {
        let p = next_port_candidate();
        if p == 6379 || (bus && p + 10_000 == 6379) {
            continue;
        }
        if port_is_free(p) && (!bus || port_is_free(p + 10_000)) {
            return p;
        }
    }
    panic!("no free loopback port for redis-server");
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let path = std::env::temp_dir().join(format!(
            "clickhook-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temp dir for redis-server");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `redis-server` process (under its watchdog).
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Proc {
    /// `cleanup`: a directory the watchdog removes once the server is gone (for servers
    /// that may outlive every Rust destructor, such as a cluster kept in a `static`).
    fn spawn(args: &[String], cleanup: Option<&Path>) -> std::io::Result<Proc> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(WATCHDOG).arg("redis-watchdog").args(args);
        match cleanup {
            Some(dir) => cmd.env("CLEANUP_DIR", dir),
            None => cmd.env_remove("CLEANUP_DIR"),
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Proc { child, stdin })
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Kills the server (SIGKILL, like a crash) and waits until it is gone.
    fn kill(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The watchdog did not finish: kill it (its own child then sees end of file too).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends one command in RESP and returns the raw reply bytes once a whole reply is in.
/// Enough for PING and the one-line or bulk replies used here.
fn command(port: u16, args: &[&str], timeout: Duration) -> std::io::Result<String> {
    command_as(port, None, args, timeout)
}

/// Like [`command`], after `AUTH password` on the same connection when a password is given
/// (the reply to AUTH is not returned; a wrong password shows as an error reply to `args`).
fn command_as(port: u16, password: Option<&str>, args: &[&str], timeout: Duration) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let encode = |args: &[&str]| {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        req
    };
    let mut req = password.map(|p| encode(&["AUTH", p])).unwrap_or_default();
    req.push_str(&encode(args));
    s.write_all(req.as_bytes())?;
    // where the reply to `args` starts, once the AUTH reply is all in
    let start = |buf: &[u8]| if password.is_some() { resp_end(buf, 0) } else { Some(0) };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if start(&buf).is_some_and(|at| resp_end(&buf, at).is_some()) {
            break;
        }
    }
    let at = start(&buf).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[at..]).into_owned())
}

fn reply_complete(buf: &[u8]) -> bool {
    resp_end(buf, 0).is_some()
}

/// Where the RESP value starting at `at` ends, if it is all in `buf`.
fn resp_end(buf: &[u8], at: usize) -> Option<usize> {
    let rest = buf.get(at..)?;
    let line = rest.windows(2).position(|w| w == b"\r\n")?;
    let after_line = at + line + 2;
    let n = || std::str::from_utf8(&rest[1..line]).ok()?.parse::<i64>().ok();
    match rest.first()? {
        b'$' => {
            let len = n()?;
            if len < 0 {
                return Some(after_line);
            }
            let end = after_line + len as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' => {
            let mut end = after_line;
            for _ in 0..n()?.max(0) {
                end = resp_end(buf, end)?;
            }
            Some(end)
        }
        _ => Some(after_line),
    }
}

fn answers_ping(port: u16, password: Option<&str>) -> bool {
    command_as(port, password, &["PING"], Duration::from_millis(500)).is_ok_and(|r| r.starts_with("+PONG"))
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn server_args(port: u16, dir: &Path, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--logfile".into(),
        dir.join("redis.log").display().to_string(),
        "--daemonize".into(),
        "no".into(),
    ];
    args.extend_from_slice(extra);
    args
}

/// Fails the test with a clear message when the Redis binaries are not installed.
fn require_binaries() {
    for bin in ["redis-server", "redis-cli"] {
        let found = Command::new(bin).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        assert!(found, "`{bin}` is not on PATH: these tests start real Redis servers (Debian: apt-get install redis-server)");
    }
}

/// Spawns a server and waits until it answers PING. `None` when it exited first (most
/// likely the port was taken in the meantime).
fn spawn_ready(port: u16, dir: &Path, extra: &[String], cleanup: bool) -> Option<Proc> {
    spawn_ready_as(port, dir, extra, cleanup, &Access::Plain { password: None })
}

/// How a test server is reached, and so how [`spawn_ready_as`] sees that it is up.
#[derive(Clone, Debug)]
enum Access {
    /// Plain RESP on `port`, after `AUTH password` when set (`--requirepass`).
    Plain { password: Option<String> },
    /// TLS only on `port` (`--port 0 --tls-port port`) with these certificates; this std-only
    /// launcher cannot speak TLS, so "up" is: the port accepts TCP and the server's own log
    /// says it is ready.
    Tls(TlsFiles),
}

/// [`spawn_ready`] for a server reached as `access` says.
fn spawn_ready_as(port: u16, dir: &Path, extra: &[String], cleanup: bool, access: &Access) -> Option<Proc> {
    let args = match access {
        Access::Plain { password } => {
            let mut extra = extra.to_vec();
            if let Some(pw) = password {
                extra.extend(["--requirepass".to_owned(), pw.clone()]);
            }
            server_args(port, dir, &extra)
        }
        Access::Tls(files) => {
            let mut args = server_args(0, dir, extra);
            args.extend([
                "--tls-port".to_owned(),
                port.to_string(),
                "--tls-cert-file".to_owned(),
                files.server_cert.display().to_string(),
                "--tls-key-file".to_owned(),
                files.server_key.display().to_string(),
                "--tls-ca-cert-file".to_owned(),
                files.ca_cert.display().to_string(),
                "--tls-auth-clients".to_owned(),
                "no".to_owned(),
            ]);
            args
        }
    };
    let mut p = Proc::spawn(&args, cleanup.then_some(dir)).expect("spawn redis-server (is it installed?)");
    let deadline = Instant::now() + START_TIMEOUT;
    // The directory is this server's own, so a server that answers with it is ours (and
    // not one that won a race for the port).
    let name = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()).display().to_string();
    let log_path = dir.join("redis.log");
    while Instant::now() < deadline {
        match access {
            Access::Plain { password } => {
                let pw = password.as_deref();
                if answers_ping(port, pw) {
                    let ours = command_as(port, pw, &["CONFIG", "GET", "dir"], Duration::from_secs(1)).is_ok_and(|r| r.contains(&name));
                    return if ours { Some(p) } else { None };
                }
            }
            Access::Tls(_) => {
                // Our server logs "Ready" only once it listens on the port (and exits when it
                // cannot bind it), so ready-and-running means the port is ours.
                let ready = std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("Ready to accept connections"));
                if ready && !p.exited() && TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_millis(500)).is_ok() {
                    return Some(p);
                }
            }
        }
        if p.exited() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    panic!("redis-server on port {port} was not ready within {START_TIMEOUT:?}; its log:\n{log}");
}

/// A test CA and a server certificate it signed for `IP:127.0.0.1` (and `DNS:localhost`),
/// made with the `openssl` command line tool.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl TlsFiles {
    /// Writes `ca.crt`, `ca.key`, `server.crt` and `server.key` into `dir`.
    pub fn generate(dir: &Path) -> TlsFiles {
        let f = TlsFiles {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        let csr = dir.join("server.csr");
        let ext = dir.join("server.ext");
        std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
            .expect("write the openssl extensions file");
        let s = |p: &Path| p.display().to_string();
        let steps: [Vec<String>; 3] = [
            // CA: a self-signed v3 certificate (req -x509 marks it CA:TRUE)
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=clickhook test CA", "-keyout", &s(&f.ca_key), "-out", &s(&f.ca_cert)]
                .map(String::from)
                .to_vec(),
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", &s(&f.server_key), "-out", &s(&csr)].map(String::from).to_vec(),
            [
                "x509", "-req", "-in", &s(&csr), "-CA", &s(&f.ca_cert), "-CAkey", &s(&f.ca_key), "-CAcreateserial", "-days", "2", "-extfile", &s(&ext), "-out",
                &s(&f.server_cert),
            ]
            .map(String::from)
            .to_vec(),
        ];
        for args in steps {
            let out = Command::new("openssl").args(&args).stdin(Stdio::null()).output().expect("run openssl (is it installed?)");
            assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        f
    }

    /// The CA certificate in PEM, what a client must trust.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).expect("read the test CA certificate")
    }
}

/// A standalone `redis-server` on 127.0.0.1, without persistence, in its own temp dir.
pub struct RedisServer {
    pub port: u16,
    extra: Vec<String>,
    access: Access,
    proc: Option<Proc>,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Like [`RedisServer::start`] with more `redis-server` arguments (they come after the
    /// defaults, so `&["--appendonly", "yes"]` turns on the append-only file).
    pub fn start_with(extra: &[&str]) -> RedisServer {
        Self::start_as(extra, |_| Access::Plain { password: None })
    }

    /// A server that requires `password` (`--requirepass`); [`RedisServer::url`] carries it.
    pub fn start_with_password(password: &str) -> RedisServer {
        Self::start_as(&[], |_| Access::Plain { password: Some(password.to_owned()) })
    }

    /// A server that speaks TLS only (`--port 0 --tls-port`, clients need no certificate),
    /// with a certificate for 127.0.0.1 signed by a CA made for it: see
    /// [`RedisServer::tls_files`] and [`RedisServer::tls_url`].
    pub fn start_tls() -> RedisServer {
        Self::start_as(&[], |dir| {
            let certs = dir.join("certs");
            std::fs::create_dir_all(&certs).expect("create the certificate dir");
            Access::Tls(TlsFiles::generate(&certs))
        })
    }

    fn start_as(extra: &[&str], access: impl FnOnce(&Path) -> Access) -> RedisServer {
        require_binaries();
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let dir = TempDir::new("redis");
        let access = access(&dir.0);
        for _ in 0..20 {
            let port = free_port(false);
            if let Some(proc) = spawn_ready_as(port, &dir.0, &extra, false, &access) {
                return RedisServer { port, extra, access, proc: Some(proc), dir };
            }
        }
        panic!("could not start redis-server after 20 tries");
    }

    fn password(&self) -> Option<&str> {
        match &self.access {
            Access::Plain { password } => password.as_deref(),
            Access::Tls(_) => None,
        }
    }

    /// `INFO <section>` as text (e.g. "memory", "stats", "commandstats"). Empty for a TLS
    /// server (this launcher does not speak TLS).
    pub fn info(&self, section: &str) -> String {
        command_as(self.port, self.password(), &["INFO", section], Duration::from_secs(5)).unwrap_or_default()
    }

    /// `redis://127.0.0.1:port/`, with `:password@` for a server started with one.
    pub fn url(&self) -> String {
        match self.password() {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// `rediss://127.0.0.1:port/`: the URL of a server started with [`RedisServer::start_tls`].
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }

    /// The certificates of a server started with [`RedisServer::start_tls`].
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        match &self.access {
            Access::Tls(f) => Some(f),
            Access::Plain { .. } => None,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// Kills the server (SIGKILL) for outage tests; the port and directory are kept.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn start_again(&mut self) {
        self.stop();
        let p = spawn_ready_as(self.port, &self.dir.0, &self.extra, false, &self.access)
            .unwrap_or_else(|| panic!("redis-server could not start again on port {}", self.port));
        self.proc = Some(p);
    }

    pub fn is_running(&self) -> bool {
        self.proc.is_some()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of 3 masters and 3 replicas on loopback ports.
pub struct RedisCluster {
    ports: Vec<u16>,
    procs: Vec<Option<Proc>>,
    dir: TempDir,
}

impl RedisCluster {
    pub const NODES: usize = 6;

    /// Starts 6 nodes, joins them with `redis-cli --cluster create`, and waits until every
    /// node says `cluster_state:ok` with all 16384 slots assigned.
    pub fn start() -> RedisCluster {
        require_binaries();
        for attempt in 0..5 {
            match Self::try_start() {
                Ok(c) => return c,
                Err(e) if attempt < 4 => eprintln!("redis cluster start failed ({e}); trying other ports"),
                Err(e) => panic!("could not start a redis cluster: {e}"),
            }
        }
        unreachable!()
    }

    fn try_start() -> Result<RedisCluster, String> {
        let dir = TempDir::new("redis-cluster");
        let mut ports = Vec::new();
        let mut procs = Vec::new();
        for _ in 0..Self::NODES {
            let port = loop {
                let p = free_port(true);
                if !ports.contains(&p) {
                    break p;
                }
            };
            let node_dir = dir.0.join(port.to_string());
            std::fs::create_dir_all(&node_dir).map_err(|e| e.to_string())?;
            let extra: Vec<String> = vec![
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                format!("nodes-{port}.conf"),
                "--cluster-node-timeout".into(),
                "2000".into(),
                // Redis 7 waits 5 s before a diskless full sync (to serve several replicas at
                // once); a replica that never synced cannot take over, so sync at once.
                "--repl-diskless-sync-delay".into(),
                "0".into(),
            ];
            let proc = spawn_ready(port, &node_dir, &extra, true).ok_or_else(|| format!("node on port {port} exited at start"))?;
            ports.push(port);
            procs.push(Some(proc));
        }
        let cluster = RedisCluster { ports, procs, dir };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for p in &cluster.ports {
            create.arg(format!("127.0.0.1:{p}"));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        cluster.wait_ok(Duration::from_secs(30));
        cluster.wait_replicas_synced(Duration::from_secs(30));
        Ok(cluster)
    }

    /// Waits until every running replica has a live link to its master (so it may fail over).
    pub fn wait_replicas_synced(&self, timeout: Duration) {
        wait_until("every replica in sync with its master", timeout, || {
            self.running_ports().into_iter().all(|p| {
                command(p, &["INFO", "replication"], Duration::from_secs(1))
                    .is_ok_and(|info| info.contains("role:master") || info.contains("master_link_status:up"))
            })
        });
    }

    /// Waits until every running node reports a healthy cluster with every slot served, and
    /// sees every slot owned by a running node (so, after [`RedisCluster::kill_master`], until
    /// the failover is over; right after a kill the cluster still looks healthy).
    pub fn wait_ok(&self, timeout: Duration) {
        let running = self.running_ports();
        wait_until("a healthy cluster on every node", timeout, || {
            running.iter().all(|p| {
                let healthy = command(*p, &["CLUSTER", "INFO"], Duration::from_secs(1)).is_ok_and(|info| {
                    info.contains("cluster_state:ok") && info.contains("cluster_slots_assigned:16384") && info.contains("cluster_slots_ok:16384")
                });
                healthy
                    && command(*p, &["CLUSTER", "NODES"], Duration::from_secs(1)).is_ok_and(|nodes| {
                        // `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> [slots...]`
                        nodes.lines().filter(|l| l.split_whitespace().count() > 8).all(|l| {
                            let f: Vec<&str> = l.split_whitespace().collect();
                            let port = f[1].split('@').next().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok());
                            !f[2].contains("fail") && port.is_some_and(|p| running.contains(&p))
                        })
                    })
            })
        });
    }

    fn running_ports(&self) -> Vec<u16> {
        self.ports.iter().zip(&self.procs).filter(|(_, p)| p.is_some()).map(|(port, _)| *port).collect()
    }

    /// Every node's URL (masters and replicas).
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect()
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Ports of the running nodes that are masters now.
    pub fn masters(&self) -> Vec<u16> {
        self.running_ports()
            .into_iter()
            .filter(|p| command(*p, &["ROLE"], Duration::from_secs(1)).is_ok_and(|r| r.contains("master")))
            .collect()
    }

    /// Kills (SIGKILL) the `i`-th of the current masters, for failover tests; returns its
    /// port. Its replica takes over after the node timeout (2 s); see [`RedisCluster::wait_ok`].
    pub fn kill_master(&mut self, i: usize) -> u16 {
        let port = self.masters()[i];
        let idx = self.ports.iter().position(|p| *p == port).unwrap();
        if let Some(mut p) = self.procs[idx].take() {
            p.kill();
        }
        port
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for p in self.procs.iter_mut() {
            if let Some(mut p) = p.take() {
                p.kill();
            }
        }
    }
}
