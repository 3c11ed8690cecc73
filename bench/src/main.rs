//! The benchmark harness: clickhook against nginx on the same machine, in one run.
//!
//! `cargo run --release -p clickhook-bench [-- --quick] [--backends embedded,redis] [--secs N]
//!  [--only redirect,dispatch,latency,growth] [--geo PATH] [--connections N]`
//!
//! Every figure is taken in this run next to its baseline, and reported as a ratio, because
//! the machines we run on are shared and noisy: a lone absolute number says little. The server
//! side (nginx's one worker, or clickhook) is pinned to CPU 0 and the load generator to CPU 1
//! when there are two or more CPUs. Loads:
//!
//! 1. **redirect**: wrk, 64 connections, every request a different tracked link (each a unique
//!    click that goes all the way to a webhook job), against nginx's `return 302`; then oha at
//!    a fixed rate of half nginx's maximum, for the tail latency.
//! 2. **dispatch**: Click events delivered per second to nginx's `return 200`, against wrk
//!    POSTing the same body straight to that nginx.
//! 3. **click to webhook**: oha at 1,000 clicks/s; the receiver records now − ReceivedAt.
//! 4. **memory and growth**: peak RSS of clickhook over load 1 (with the City database given by
//!    `--geo`, default data/GeoLite2-City.mmdb if present), and load 1's throughput with 10,000
//!    versus 1,000,000 tracked messages stored.
//!
//! Needs nginx, wrk and oha on PATH, and the release binary (`cargo build --release`).

mod node;
mod receiver;
mod tools;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clickhook_testkit::process::free_port;
use clickhook_testkit::redis::RedisServer;

use crate::node::{Node, NodeConfig};
use crate::receiver::{Receiver, quantile};
use crate::tools::{Nginx, RateResult, WrkResult};

struct Opts {
    quick: bool,
    /// Without oha the fixed-rate and click-to-webhook loads are reported as not run.
    have_oha: bool,
    secs: u64,
    backends: Vec<String>,
    geo: Option<PathBuf>,
    binary: PathBuf,
    work: PathBuf,
    server_cpu: String,
    load_cpu: String,
    growth_messages: usize,
    /// Loads to run (redirect, dispatch, latency, growth); all by default.
    only: Vec<String>,
    /// Connections of the closed-loop loads, the same for clickhook and its baseline.
    connections: usize,
}

fn opts() -> Result<Opts> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let quick = args.iter().any(|a| a == "--quick");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let geo = flag("--geo").map(PathBuf::from).or_else(|| Some(root.join("data/GeoLite2-City.mmdb")).filter(|p| p.exists()));
    let multi = tools::cpus() > 1;
    Ok(Opts {
        quick,
        have_oha: tools::require("oha", "").is_ok(),
        secs: flag("--secs").map_or(Ok(if quick { 5 } else { 20 }), |s| s.parse()).context("--secs")?,
        backends: flag("--backends").unwrap_or_else(|| "embedded,redis".into()).split(',').map(str::to_owned).collect(),
        geo,
        binary: root.join("target/release/clickhook"),
        work: root.join("target/bench"),
        server_cpu: "0".into(),
        load_cpu: if multi { "1".into() } else { "0".into() },
        growth_messages: if quick { 100_000 } else { 1_000_000 },
        connections: flag("--connections").map_or(Ok(64), |s| s.parse()).context("--connections")?,
        only: flag("--only").unwrap_or_else(|| "redirect,dispatch,latency,growth".into()).split(',').map(str::to_owned).collect(),
    })
}

fn write_lines(path: &std::path::Path, lines: impl IntoIterator<Item = String>) -> Result<()> {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
    std::fs::write(path, s)?;
    Ok(())
}

struct Report(Vec<String>);

impl Report {
    fn line(&mut self, s: String) {
        println!("{s}");
        self.0.push(s);
    }
}

fn wrk_line(what: &str, r: &WrkResult) -> String {
    format!("| {what} | {:.0} | {:.2} | {:.2} | {} |", r.requests_per_sec, r.p50_ms, r.p99_ms, r.non_2xx_3xx + r.errors)
}

fn rate_line(what: &str, r: &RateResult) -> String {
    format!("| {what} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} |", r.rate, r.achieved, r.p50_ms, r.p99_ms, r.p999_ms, r.errors)
}

/// `bots`: bot verdicts on. Loads that click many links of one message from one address
/// within seconds turn them off: that pattern is exactly a scanner's burst.
async fn start_node(o: &Opts, name: &str, backend: &str, redis: &Option<RedisServer>, retry: &str, bots: bool) -> Result<Node> {
    let dir = o.work.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let store = match (backend, redis) {
        ("redis", Some(r)) => format!("backend = \"redis\"\nredis_url = \"{}\"", r.url()),
        _ => String::new(),
    };
    Node::start(NodeConfig { binary: &o.binary, dir: &dir, cpu_list: &o.server_cpu, store, geo: o.geo.clone(), retry_schedule: retry, bots }).await
}

/// Load 1 on one backend: throughput against nginx, then a fixed rate of half nginx's.
async fn redirect(o: &Opts, r: &mut Report, nginx: &Nginx, backend: &str) -> Result<()> {
    let redis = (backend == "redis").then(RedisServer::start);
    let node = start_node(o, &format!("redirect-{backend}"), backend, &redis, "[\"1m\"]", false).await?;
    node.add_webhook(&format!("http://127.0.0.1:{}/hook", nginx.ok_port)).await?;
    // enough distinct links for the closed loop and the fixed-rate run
    let per_msg = 100;
    let need = if o.quick { 150_000 } else { 600_000 };
    let t = Instant::now();
    let paths = node.track(0, need / per_msg, per_msg).await?;
    println!("  tracked {} links in {:.1} s", paths.len(), t.elapsed().as_secs_f64());
    let (closed, open) = paths.split_at(paths.len() * 2 / 3);
    let dir = o.work.join(format!("redirect-{backend}"));
    let paths_file = dir.join("paths.txt");
    write_lines(&paths_file, closed.iter().cloned())?;
    let script = tools::wrk_script(&dir, Some(&paths_file), None)?;
    let base = tools::wrk(&o.load_cpu, &format!("http://127.0.0.1:{}", nginx.redirect_port), &script, 1, o.connections, o.secs)?;
    let ch = tools::wrk(&o.load_cpu, &format!("http://127.0.0.1:{}", node.link_port), &script, 1, o.connections, o.secs)?;
    r.line(format!("\n### Load 1: redirect ({backend} store)\n"));
    r.line("| server | requests/s | p50 ms | p99 ms | errors |".into());
    r.line("|---|---|---|---|---|".into());
    r.line(wrk_line("nginx `return 302`", &base));
    r.line(wrk_line(&format!("clickhook ({backend})"), &ch));
    r.line(format!("\nthroughput ratio clickhook / nginx: **{:.2}** (target ≥ 0.6)\n", ch.requests_per_sec / base.requests_per_sec));
    if !o.have_oha {
        r.line("Fixed rate: not run (oha is not installed).\n".into());
        return Ok(());
    }
    let rate = (base.requests_per_sec / 2.0).floor();
    let urls_file = dir.join("urls.txt");
    write_lines(&urls_file, open.iter().map(|p| format!("http://127.0.0.1:{}{p}", node.link_port)))?;
    let secs = ((open.len() as f64 / rate).floor() as u64).clamp(1, o.secs);
    let fixed = tools::oha_rate(&o.load_cpu, &urls_file, rate, secs, 64)?;
    let ng_urls = dir.join("nginx-urls.txt");
    write_lines(&ng_urls, open.iter().map(|p| format!("http://127.0.0.1:{}{p}", nginx.redirect_port)))?;
    let ng_fixed = tools::oha_rate(&o.load_cpu, &ng_urls, rate, secs, 64)?;
    r.line(format!("Fixed rate, half of nginx's maximum, {secs} s (oha, latency corrected for coordinated omission):\n"));
    r.line("| server | target rate | achieved | p50 ms | p99 ms | p99.9 ms | errors |".into());
    r.line("|---|---|---|---|---|---|---|".into());
    r.line(rate_line("nginx", &ng_fixed));
    r.line(rate_line(&format!("clickhook ({backend})"), &fixed));
    r.line(format!("\np99 at half nginx's maximum: **{:.2} ms** (target ≤ 2 ms)\n", fixed.p99_ms));
    if let Some(mb) = tools::peak_rss_mb(node.proc.pid()) {
        let geo = o.geo.as_ref().map_or("no City database".to_owned(), |g| format!("City database {}", g.display()));
        r.line(format!("Peak RSS of clickhook over load 1 ({geo}): **{mb:.0} MB** (target ≤ 150 MB)\n"));
    }
    drop(node);
    drop(redis);
    Ok(())
}

/// Load 2: deliveries per second once a backlog of due Click events exists.
async fn dispatch(o: &Opts, r: &mut Report, nginx: &Nginx) -> Result<()> {
    // The webhook points at a port where nothing listens yet: every first attempt fails and
    // is due again a second later, by when nginx answers there. The backlog then drains.
    let port = free_port();
    let node = start_node(o, "dispatch", "embedded", &None, "[\"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\"]", false).await?;
    let hook = node.add_webhook(&format!("http://127.0.0.1:{port}/hook")).await?;
    let n = if o.quick { 5_000 } else { 20_000 };
    let paths = node.track(0, n / 100, 100).await?;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    futures_util::future::join_all(paths.chunks(paths.len().div_ceil(32)).map(|chunk| {
        let http = http.clone();
        let base = format!("http://127.0.0.1:{}", node.link_port);
        async move {
            for p in chunk {
                let _ = http.get(format!("{base}{p}")).send().await;
            }
        }
    }))
    .await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while node.clicks().await? < paths.len() as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = o.work.join("dispatch");
    let second = Nginx::start(&dir.join("nginx"), &o.load_cpu, free_port(), port)?;
    let start = Instant::now();
    loop {
        let delivered = node.deliveries(hook, "delivered").await?;
        if delivered >= paths.len() as u64 || start.elapsed() > Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let delivered = node.deliveries(hook, "delivered").await?;
    drop(second);
    let body = dir.join("click.json");
    std::fs::write(&body, clickhook_core_example())?;
    let script = tools::wrk_script(&dir, None, Some(&body))?;
    let base = tools::wrk(&o.load_cpu, &format!("http://127.0.0.1:{}/hook", nginx.ok_port), &script, 1, o.connections, o.secs)?;
    let rate = delivered as f64 / secs;
    r.line("\n### Load 2: dispatch (embedded store)\n".into());
    r.line(format!("clickhook delivered {delivered} due Click events to nginx `return 200` in {secs:.1} s: **{rate:.0} events/s**; wrk POSTing the same body to that nginx: {:.0} requests/s.", base.requests_per_sec));
    r.line(format!("\ndispatch ratio: **{:.2}** (target ≥ 0.5)\n", rate / base.requests_per_sec));
    Ok(())
}

fn clickhook_core_example() -> &'static str {
    r#"{"RecordType":"Click","MessageStream":"outbound","ClickLocation":"HTML","Client":{"Name":"Chrome 35.0.1916.153","Company":"Google","Family":"Chrome"},"OS":{"Name":"OS X 10.7 Lion","Company":"Apple Computer, Inc.","Family":"OS X 10"},"Platform":"Desktop","UserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36","OriginalLink":"https://example.com","Geo":{"CountryISOCode":"RS","Country":"Serbia","RegionISOCode":"VO","Region":"Autonomna Pokrajina Vojvodina","City":"Novi Sad","Zip":"21000","Coords":"45.2517,19.8369","IP":"8.8.8.8"},"MessageID":"00000000-0000-0000-0000-000000000000","Metadata":{"a_key":"a_value","b_key":"b_value"},"ReceivedAt":"2017-10-25T15:21:11.9065619Z","Tag":"welcome-email","Recipient":"john@example.com"}"#
}

/// Load 3: 1,000 clicks/s; time from the link host's receipt to the receiver.
async fn click_to_webhook(o: &Opts, r: &mut Report) -> Result<()> {
    if !o.have_oha {
        r.line("\n### Load 3: click to webhook: not run (oha is not installed)\n".into());
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let rx = Receiver::start(listener).await;
    let node = start_node(o, "latency", "embedded", &None, "[\"1s\"]", true).await?;
    node.add_webhook(&format!("http://127.0.0.1:{port}/hook")).await?;
    let secs: u64 = if o.quick { 15 } else { 60 };
    // One link per message, sent ten minutes before: ordinary clicks, which bot verdicts
    // (on here) decide at once, without holding them for the settle window.
    let paths = node.track(0, secs as usize * 1000 + 100, 1).await?;
    let dir = o.work.join("latency");
    let urls = dir.join("urls.txt");
    write_lines(&urls, paths.iter().map(|p| format!("http://127.0.0.1:{}{p}", node.link_port)))?;
    let load = tools::oha_rate(&o.load_cpu, &urls, 1000.0, secs, 16)?;
    // oha picks each request's URL at random from the list, so some links are clicked twice
    // and only unique clicks make webhooks. Wait until every unique click's webhook is in (up
    // to a minute), so that late ones count in the percentiles instead of being left out.
    let waited = Instant::now();
    let mut unique = node.unique_clicks().await?;
    while (rx.count() as u64) < unique && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        unique = node.unique_clicks().await?;
    }
    let mut lat = rx.take();
    r.line("\n### Load 3: click to webhook at 1,000 clicks/s (embedded store)\n".into());
    r.line(format!(
        "{} clicks in {secs} s (achieved {:.0}/s, redirect p99 {:.2} ms), {unique} of them unique; {} webhooks received: p50 **{:.1} ms**, p99 **{:.1} ms**, max {:.1} ms (target p99 ≤ 100 ms)\n",
        (load.achieved * secs as f64) as u64,
        load.achieved,
        load.p99_ms,
        lat.len(),
        quantile(&mut lat, 0.5),
        quantile(&mut lat, 0.99),
        quantile(&mut lat, 1.0)
    ));
    Ok(())
}

/// Load 4b: load 1's throughput with few versus many tracked messages stored.
async fn growth(o: &Opts, r: &mut Report, nginx: &Nginx) -> Result<()> {
    let node = start_node(o, "growth", "embedded", &None, "[\"1m\"]", false).await?;
    node.add_webhook(&format!("http://127.0.0.1:{}/hook", nginx.ok_port)).await?;
    let dir = o.work.join("growth");
    let measure = |paths: Vec<String>, name: &str| -> Result<WrkResult> {
        let f = dir.join(format!("{name}.txt"));
        write_lines(&f, paths)?;
        let script = tools::wrk_script(&dir, Some(&f), None)?;
        tools::wrk(&o.load_cpu, &format!("http://127.0.0.1:{}", node.link_port), &script, 1, o.connections, o.secs)
    };
    let probe = if o.quick { 100_000 } else { 400_000 };
    let _ = node.track(0, 10_000, 1).await?;
    let small = measure(node.track(10_000, probe / 100, 100).await?, "small")?;
    let t = Instant::now();
    let _ = node.track(20_000, o.growth_messages, 1).await?;
    println!("  tracked {} more messages in {:.0} s", o.growth_messages, t.elapsed().as_secs_f64());
    let big = measure(node.track(20_000 + o.growth_messages, probe / 100, 100).await?, "big")?;
    r.line("\n### Load 4: growth (embedded store)\n".into());
    r.line("| messages stored | requests/s | p99 ms |".into());
    r.line("|---|---|---|".into());
    r.line(format!("| ~{} | {:.0} | {:.2} |", 10_000 + probe / 100, small.requests_per_sec, small.p99_ms));
    r.line(format!("| ~{} | {:.0} | {:.2} |", 10_000 + o.growth_messages + 2 * probe / 100, big.requests_per_sec, big.p99_ms));
    r.line(format!("\nratio large / small: **{:.2}** (target ≥ 0.9)\n", big.requests_per_sec / small.requests_per_sec));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = opts()?;
    // reqwest is built without a default TLS provider in this workspace; the test kit's client
    // installs the one clickhook uses.
    drop(clickhook_testkit::http_client());
    tools::require("nginx", "apt-get install nginx-light (or nginx)")?;
    tools::require("wrk", "apt-get install wrk")?;
    if !o.have_oha {
        println!("oha is not installed (cargo install oha --locked): the fixed-rate and click-to-webhook loads will not run");
    }
    anyhow::ensure!(o.binary.exists(), "{} is missing: run cargo build --release -p clickhook first", o.binary.display());
    std::fs::create_dir_all(&o.work)?;
    let mut r = Report(Vec::new());
    r.line(format!(
        "## Run of {} ({} CPUs; server on CPU {}, load on CPU {}; {} s per closed-loop load{})\n",
        time::OffsetDateTime::now_utc().date(),
        tools::cpus(),
        o.server_cpu,
        o.load_cpu,
        o.secs,
        if o.quick { ", quick" } else { "" }
    ));
    let nginx = Nginx::start(&o.work.join("nginx"), &o.server_cpu, free_port(), free_port())?;
    let run = |name: &str| o.only.iter().any(|x| x == name);
    if run("redirect") {
        for b in o.backends.clone() {
            redirect(&o, &mut r, &nginx, &b).await.with_context(|| format!("redirect load on {b}"))?;
        }
    }
    if run("dispatch") {
        dispatch(&o, &mut r, &nginx).await.context("dispatch load")?;
    }
    if run("latency") {
        click_to_webhook(&o, &mut r).await.context("click-to-webhook load")?;
    }
    if run("growth") {
        growth(&o, &mut r, &nginx).await.context("growth load")?;
    }
    let out = o.work.join("report.md");
    std::fs::write(&out, r.0.join("\n"))?;
    println!("\nreport written to {}", out.display());
    Ok(())
}
