//! The outside programs a run measures against or with: nginx (the baseline server), wrk
//! (closed-loop throughput), oha (fixed-rate latency), taskset (pinning) and /proc (memory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub fn require(program: &str, hint: &str) -> Result<()> {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output()?.status.success();
    if !found {
        bail!("{program} is not installed: {hint}");
    }
    Ok(())
}

/// CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `taskset -c <cpus>` in front of a command when the machine has more than one CPU, so
/// that the load generator and the server do not take turns on one core.
pub fn pinned(cpu_list: &str, program: &str) -> Command {
    if cpus() > 1 && Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.args(["-c", cpu_list, program]);
        c
    } else {
        Command::new(program)
    }
}

/// A child process killed when dropped.
pub struct Running {
    pub child: Child,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    /// SIGTERM first, so that nginx's master takes its workers with it (a SIGKILLed master
    /// leaves them running); SIGKILL after 3 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for_port(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not listen on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// nginx with one worker (pinned like the server under test) answering `return 302` on one
/// port and `return 200` on another: the baselines of the redirect and dispatch loads.
pub struct Nginx {
    _proc: Running,
    pub redirect_port: u16,
    pub ok_port: u16,
}

impl Nginx {
    pub fn start(dir: &Path, cpu_list: &str, redirect_port: u16, ok_port: u16) -> Result<Nginx> {
        std::fs::create_dir_all(dir.join("logs"))?;
        let conf = format!(
            r#"
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{redirect_port};
        location / {{ return 302 https://example.com/landing; }}
    }}
    server {{
        listen 127.0.0.1:{ok_port};
        client_body_buffer_size 64k;
        location / {{ return 200 "ok"; }}
    }}
}}
"#,
            dir = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf)?;
        let child = pinned(cpu_list, "nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let proc = Running { child };
        wait_for_port(redirect_port, "nginx")?;
        wait_for_port(ok_port, "nginx")?;
        Ok(Nginx { _proc: proc, redirect_port, ok_port })
    }
}

/// What a wrk run measured.
#[derive(Debug, Clone, Default)]
pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx_3xx: u64,
    pub errors: u64,
}

/// The Lua script wrk runs: each thread walks its own slice of the paths in `file`, one path
/// per request, so no two requests of a run ask for the same link (until the list wraps).
/// With `body`, every request is a POST of that file's contents.
pub fn wrk_script(dir: &Path, paths_file: Option<&Path>, body_file: Option<&Path>) -> Result<PathBuf> {
    let mut lua = String::from("local paths = {}\nlocal body = nil\nlocal n, i = 0, 0\n");
    lua.push_str("local counter = 0\nsetup = function(thread) thread:set('id', counter); counter = counter + 1 end\n");
    lua.push_str("init = function(args)\n");
    if let Some(p) = paths_file {
        lua.push_str(&format!("  for line in io.lines('{}') do paths[#paths + 1] = line end\n", p.display()));
        // `id` is set per thread by `setup`; each thread starts in its own sixteenth.
        lua.push_str("  n = #paths\n  i = (id or 0) * math.floor(n / 16)\n");
    }
    if let Some(b) = body_file {
        lua.push_str(&format!("  local f = io.open('{}', 'rb'); body = f:read('*a'); f:close()\n", b.display()));
    }
    lua.push_str("end\n");
    lua.push_str("request = function()\n");
    if paths_file.is_some() {
        lua.push_str("  i = i + 1\n  if i > n then i = 1 end\n  local path = paths[i]\n");
    } else {
        lua.push_str("  local path = '/'\n");
    }
    if body_file.is_some() {
        lua.push_str("  return wrk.format('POST', path, {['Content-Type'] = 'application/json'}, body)\n");
    } else {
        lua.push_str("  return wrk.format('GET', path)\n");
    }
    lua.push_str("end\n");
    let path = dir.join(format!("wrk-{}.lua", std::process::id() as u64 * 1000 + lua.len() as u64));
    std::fs::write(&path, lua)?;
    Ok(path)
}

/// Runs wrk (closed loop: `connections` connections, each sends the next request when the
/// last answer came) for `secs`.
pub fn wrk(cpu_list: &str, url: &str, script: &Path, threads: usize, connections: usize, secs: u64) -> Result<WrkResult> {
    let out = pinned(cpu_list, "wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{secs}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's output:\n{text}"))
}

fn ms(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, mult) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().ok().map(|x| x * mult)
}

pub fn parse_wrk(text: &str) -> Result<WrkResult> {
    let mut r = WrkResult::default();
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            r.requests_per_sec = v.trim().parse()?;
        } else if let Some(v) = l.strip_prefix("50%") {
            r.p50_ms = ms(v).unwrap_or_default();
        } else if let Some(v) = l.strip_prefix("99%") {
            r.p99_ms = ms(v).unwrap_or_default();
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx_3xx = v.trim().parse().unwrap_or_default();
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            r.errors = v.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum();
        }
    }
    if r.requests_per_sec == 0.0 {
        bail!("no Requests/sec line");
    }
    Ok(r)
}

/// What an oha run at a fixed rate measured.
#[derive(Debug, Clone, Default)]
pub struct RateResult {
    pub rate: f64,
    pub achieved: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub errors: u64,
}

/// oha at a fixed request rate (open loop, latency measured from when each request was due,
/// so a stall is counted against every request it delays), over the URLs in `urls_file`.
pub fn oha_rate(cpu_list: &str, urls_file: &Path, rate: f64, secs: u64, connections: usize) -> Result<RateResult> {
    let out = pinned(cpu_list, "oha")
        .args(["--no-tui", "--output-format", "json", "--latency-correction"])
        .args(["-q", &format!("{rate:.0}"), "-z", &format!("{secs}s"), "-c", &connections.to_string()])
        .args(["--redirect", "0", "--urls-from-file"])
        .arg(urls_file)
        .output()
        .context("running oha")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("oha's output is not JSON: {text} {}", String::from_utf8_lossy(&out.stderr)))?;
    let pct = |k: &str| v["latencyPercentiles"][k].as_f64().unwrap_or_default() * 1000.0;
    let errors = v["errorDistribution"].as_object().map_or(0, |m| m.values().filter_map(serde_json::Value::as_u64).sum());
    Ok(RateResult { rate, achieved: v["summary"]["requestsPerSec"].as_f64().unwrap_or_default(), p50_ms: pct("p50"), p99_ms: pct("p99"), p999_ms: pct("p99.9"), errors })
}

/// Peak resident memory (VmHWM) of a process, in MB.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 10s test @ http://127.0.0.1:1/\n  1 threads and 64 connections\n  Latency Distribution\n     50%  512.00us\n     75%  1.20ms\n     90%  2.00ms\n     99%    3.51ms\n  200000 requests in 10.00s, 20.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 5\nRequests/sec:  20000.50\nTransfer/sec:      2.00MB\n";
        let r = parse_wrk(text).unwrap();
        assert_eq!(r.requests_per_sec, 20000.5);
        assert!((r.p50_ms - 0.512).abs() < 1e-9);
        assert!((r.p99_ms - 3.51).abs() < 1e-9);
        assert_eq!((r.non_2xx_3xx, r.errors), (5, 3));
        assert!(parse_wrk("nothing").is_err());
    }
}
