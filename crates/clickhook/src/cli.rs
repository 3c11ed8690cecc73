//! The `clickhook` command line. Exit codes: 0 ok, 1 runtime error, 2 bad usage or bad
//! config. It lives in the library so that the test kit builds the very same program.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use crate::{Listeners, Node, Roles};
use clickhook_config::{Config, LogFormat};

#[derive(Parser)]
#[command(name = "clickhook", version, about = "Postmark-compatible tracked-link redirector and Click webhook dispatcher")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (every role by default).
    Serve {
        /// Config file; when not given, config/clickhook.toml if it exists, else the defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Roles to run, any of: redirect, api, dispatch (comma-separated).
        #[arg(long, default_value = "redirect,api,dispatch")]
        roles: String,
    },
    /// Validate a config and print the effective configuration (secrets masked).
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// POST the documented example Click payload to URL and print the response.
    SendTestWebhook {
        /// The receiver's URL.
        url: String,
        /// Basic auth user name.
        #[arg(long)]
        user: Option<String>,
        /// Basic auth password.
        #[arg(long)]
        password: Option<String>,
        /// An extra header, "Name: Value"; may be repeated.
        #[arg(long = "header")]
        headers: Vec<String>,
        /// Time limit of the request.
        #[arg(long, default_value = "15s", value_parser = humantime_duration)]
        timeout: Duration,
    },
}

fn humantime_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration ({e}); write e.g. 500ms, 15s"))
}

fn load(path: Option<PathBuf>) -> Result<(Config, clickhook_config::Settings), String> {
    let (path, required) = match path {
        Some(p) => (p, true),
        None => (PathBuf::from(clickhook_config::DEFAULT_PATH), false),
    };
    let cfg = clickhook_config::load(&path, required).map_err(|e| e.to_string())?;
    let settings = cfg.validate().map_err(|e| e.to_string())?;
    Ok((cfg, settings))
}

fn init_logs(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log.level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the command line; returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match load(config) {
            Ok((cfg, settings)) => {
                for w in &settings.warnings {
                    eprintln!("clickhook: warning: {w}");
                }
                print!("{}", cfg.to_redacted_toml());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("clickhook: bad config: {e}");
                ExitCode::from(2)
            }
        },
        Command::SendTestWebhook { url, user, password, headers, timeout } => {
            let mut parsed = Vec::new();
            for h in headers {
                match h.split_once(':') {
                    Some((n, v)) if !n.trim().is_empty() => parsed.push((n.trim().to_owned(), v.trim().to_owned())),
                    _ => {
                        eprintln!("clickhook: --header {h:?}: write it as \"Name: Value\"");
                        return ExitCode::from(2);
                    }
                }
            }
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            let (report, ok) = rt.block_on(crate::test_webhook::send(crate::test_webhook::TestWebhook {
                url,
                user,
                password,
                headers: parsed,
                timeout,
            }));
            print!("{report}");
            if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Command::Serve { config, roles } => {
            let roles = match Roles::parse(&roles) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("clickhook: {e}");
                    return ExitCode::from(2);
                }
            };
            let (cfg, settings) = match load(config) {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("clickhook: bad config: {e}");
                    return ExitCode::from(2);
                }
            };
            init_logs(&cfg);
            // With JSON logs, stderr carries only JSON lines: the error is in the log line.
            let plain_stderr = cfg.log.format == LogFormat::Text;
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            rt.block_on(async move {
                let node = match Node::start(cfg, settings, roles, Listeners::default()).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!("cannot start: {e:#}");
                        if plain_stderr {
                            eprintln!("clickhook: cannot start: {e:#}");
                        }
                        return ExitCode::from(1);
                    }
                };
                if let Some(token) = &node.created_default_token {
                    println!("Created API server \"default\". Its X-Postmark-Server-Token (shown once, kept in the store):\n{token}");
                }
                tracing::info!(redirect = ?node.redirect_addr, api = ?node.api_addr, backend = node.store.backend(), "clickhook is running");
                shutdown_signal().await;
                tracing::info!("shutting down");
                node.shutdown().await;
                ExitCode::SUCCESS
            })
        }
    }
}
