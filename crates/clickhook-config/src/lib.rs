//! clickhook's configuration.
//!
//! Three layers, later ones winning: the defaults file `config/clickhook.toml` embedded in
//! the binary (it doubles as the documentation of every key), the operator's file, and
//! `CLICKHOOK__SECTION__KEY` environment variables. [`load`] reads and [`Config::validate`]
//! checks everything before any port is bound, so that a bad value stops the process at
//! start with a message that names the key, the value and the allowed range.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clickhook_bots::{BotRules, ScannerNetworks};

use clickhook_core::{Keyring, RetentionDays, RetryPolicy, RetrySchedule, SigningKey};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The embedded defaults file.
pub const DEFAULTS: &str = include_str!("../../../config/clickhook.toml");
/// Where `serve` and `check-config` look when `--config` is not given.
pub const DEFAULT_PATH: &str = "config/clickhook.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub tracking: Tracking,
    pub listen: Listen,
    pub store: Store,
    pub geoip: GeoIp,
    pub proxy: Proxy,
    pub webhooks: Webhooks,
    pub bots: Bots,
    pub stats: Stats,
    pub privacy: Privacy,
    pub log: Log,
    #[serde(default)]
    pub servers: Vec<ServerCfg>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracking {
    pub retention_days: i64,
    pub link_base_url: String,
    #[serde(default)]
    pub signing_keys: Vec<KeyCfg>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCfg {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for KeyCfg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCfg").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub redirect: SocketAddr,
    pub api: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Embedded,
    Redis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub backend: Backend,
    pub path: PathBuf,
    pub append_timeout: String,
    pub redis_url: String,
    #[serde(default)]
    pub redis_cluster: Vec<String>,
    pub redis_key_prefix: String,
    /// PEM file of the CA that `rediss://` servers' certificates chain to; "" = system roots.
    #[serde(default)]
    pub redis_ca_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIp {
    pub city_database: PathBuf,
    pub reload_interval: String,
    /// A MaxMind ASN database for the bot rules' ASN match; "" = none.
    #[serde(default)]
    pub asn_database: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    #[serde(default)]
    pub trusted: Vec<IpNet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    pub retry_schedule: Vec<String>,
    pub retry_jitter: f64,
    pub retry_after_max: String,
    pub request_timeout: String,
    pub connect_timeout: String,
    pub allow_private_targets: bool,
    pub concurrency: u32,
    pub per_webhook_concurrency: u32,
    pub breaker_failures: u32,
    pub breaker_cooldown: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScannerClicks {
    None,
    Webhook,
}

/// How a click with the `suspected` verdict is treated for the uniqueness mark and sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuspectedAs {
    Human,
    Scanner,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bots {
    pub enabled: bool,
    pub settle_seconds: u32,
    pub scanner_clicks: ScannerClicks,
    pub suspected: SuspectedAs,
    pub label: bool,
    pub early_after_send_seconds: u32,
    pub burst_links: u32,
    pub burst_window: String,
    pub networks_file: PathBuf,
}

/// The default of `bots.networks_file`; when this path is missing, the built-in copy is used.
pub const DEFAULT_NETWORKS_FILE: &str = "data/scanner-networks.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    pub anonymize_ip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCfg {
    pub name: String,
    pub token: String,
}

impl std::fmt::Debug for ServerCfg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCfg").field("name", &self.name).field("token", &"<redacted>").finish()
    }
}

/// A configuration error: what `check-config` and `serve` print before exiting with 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Loads the embedded defaults, then `path` (which must exist when `required`), then env.
pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
    if required && !path.exists() {
        return Err(ConfigError(format!("config file {} does not exist", path.display())));
    }
    let mut fig = Figment::from(Toml::string(DEFAULTS));
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        // Parse first so that syntax errors name the file and line.
        toml::from_str::<toml::Table>(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        fig = fig.merge(Toml::string(&text));
    }
    from_figment(fig.merge(Env::prefixed("CLICKHOOK__").split("__")))
}

/// Loads the defaults with `overrides` (TOML text) on top: for tests and embedding.
pub fn from_toml(overrides: &str) -> Result<Config, ConfigError> {
    from_toml_layers(&[overrides])
}

/// The defaults with each of `layers` (TOML text) merged on top, later ones winning.
pub fn from_toml_layers(layers: &[&str]) -> Result<Config, ConfigError> {
    let mut fig = Figment::from(Toml::string(DEFAULTS));
    for layer in layers {
        fig = fig.merge(Toml::string(layer));
    }
    from_figment(fig)
}

fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
    fig.extract::<Config>().map_err(|e| {
        let msgs: Vec<String> = e.into_iter().map(|e| describe(&e)).collect();
        ConfigError(msgs.join("; "))
    })
}

fn describe(e: &figment::Error) -> String {
    let key = e.path.join(".");
    if key.is_empty() { e.kind.to_string() } else { format!("{key}: {}", e.kind) }
}

/// Everything validated and parsed into the types the service uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub retention: RetentionDays,
    pub link_base_url: String,
    /// The path of `link_base_url` without the trailing slash ("" or e.g. "/t"): the link
    /// host serves tokens below it.
    pub link_path_prefix: String,
    /// `None` when the config holds no keys: the store then provides a generated one.
    pub keyring: Option<Keyring>,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub breaker_cooldown: Duration,
    pub append_timeout: Duration,
    /// How often the geo database file is checked for a replacement; `None`: never.
    pub geo_reload_interval: Option<Duration>,
    /// The zone of the Stats API's days.
    pub stats_timezone: jiff::tz::TimeZone,
    /// The bot rules' thresholds, checked, with `settle_seconds` in them.
    pub bot_rules: BotRules,
    /// The scanner network list, from `bots.networks_file` (or the built-in copy).
    pub scanner_networks: Arc<ScannerNetworks>,
    /// Things worth a warning at start that do not stop it (e.g. the built-in scanner list
    /// used because the default file is missing).
    pub warnings: Vec<String>,
}

fn duration(key: &str, s: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(s.trim())
        .map_err(|e| ConfigError(format!("{key} = {s:?}: not a duration ({e}); write e.g. \"500ms\", \"15s\", \"10m\", \"1h\"")))
}

impl Config {
    /// Checks every range and parses every string-typed value.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let retention = RetentionDays::new(self.tracking.retention_days).map_err(ConfigError)?;
        let base = self.tracking.link_base_url.trim_end_matches('/');
        let parsed = url::Url::parse(base)
            .map_err(|e| ConfigError(format!("tracking.link_base_url = {base:?}: not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() || parsed.fragment().is_some() || parsed.host().is_none() {
            return Err(ConfigError(format!(
                "tracking.link_base_url = {base:?}: must be an http or https URL with a host and no query or fragment"
            )));
        }
        let keyring = if self.tracking.signing_keys.is_empty() {
            None
        } else {
            let keys = self
                .tracking
                .signing_keys
                .iter()
                .map(|k| SigningKey::from_base64(k.id.clone(), &k.secret))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError(format!("tracking.signing_keys: {e}")))?;
            Some(Keyring::new(keys).map_err(|e| ConfigError(format!("tracking.signing_keys: {e}")))?)
        };
        let delays = self
            .webhooks
            .retry_schedule
            .iter()
            .map(|s| duration("webhooks.retry_schedule", s))
            .collect::<Result<Vec<_>, _>>()?;
        let retry_schedule = RetrySchedule::new(delays).map_err(ConfigError)?;
        let request_timeout = duration("webhooks.request_timeout", &self.webhooks.request_timeout)?;
        if !(Duration::from_millis(100)..=Duration::from_secs(300)).contains(&request_timeout) {
            return Err(ConfigError(format!(
                "webhooks.request_timeout = {:?}: must be 100ms..=5m",
                self.webhooks.request_timeout
            )));
        }
        if !(1..=10_000).contains(&self.webhooks.concurrency) {
            return Err(ConfigError(format!("webhooks.concurrency = {}: must be 1..=10000", self.webhooks.concurrency)));
        }
        if !(1..=self.webhooks.concurrency).contains(&self.webhooks.per_webhook_concurrency) {
            return Err(ConfigError(format!(
                "webhooks.per_webhook_concurrency = {}: must be 1..={} (webhooks.concurrency)",
                self.webhooks.per_webhook_concurrency, self.webhooks.concurrency
            )));
        }
        if !(0.0..=0.5).contains(&self.webhooks.retry_jitter) {
            return Err(ConfigError(format!("webhooks.retry_jitter = {}: must be 0.0..=0.5", self.webhooks.retry_jitter)));
        }
        let retry_after_max = duration("webhooks.retry_after_max", &self.webhooks.retry_after_max)?;
        if retry_after_max > Duration::from_secs(86_400) {
            return Err(ConfigError(format!("webhooks.retry_after_max = {:?}: must be 0s..=1d", self.webhooks.retry_after_max)));
        }
        let connect_timeout = duration("webhooks.connect_timeout", &self.webhooks.connect_timeout)?;
        if !(Duration::from_millis(100)..=Duration::from_secs(300)).contains(&connect_timeout) {
            return Err(ConfigError(format!("webhooks.connect_timeout = {:?}: must be 100ms..=5m", self.webhooks.connect_timeout)));
        }
        // The connect is part of the attempt: it never gets longer than the whole attempt.
        let connect_timeout = connect_timeout.min(request_timeout);
        if !(1..=1000).contains(&self.webhooks.breaker_failures) {
            return Err(ConfigError(format!("webhooks.breaker_failures = {}: must be 1..=1000", self.webhooks.breaker_failures)));
        }
        let breaker_cooldown = duration("webhooks.breaker_cooldown", &self.webhooks.breaker_cooldown)?;
        if breaker_cooldown < Duration::from_millis(10) || breaker_cooldown > Duration::from_secs(86_400) {
            return Err(ConfigError(format!("webhooks.breaker_cooldown = {:?}: must be 10ms..=1d", self.webhooks.breaker_cooldown)));
        }
        let stats_timezone = jiff::tz::TimeZone::get(self.stats.timezone.trim()).map_err(|_| {
            ConfigError(format!(
                "stats.timezone = {:?}: not a time zone; use an IANA name such as \"Europe/Berlin\", or \"UTC\"",
                self.stats.timezone
            ))
        })?;
        let (bot_rules, scanner_networks, warnings) = self.bots_settings()?;
        for (i, s) in self.servers.iter().enumerate() {
            if s.name.trim().is_empty() || s.name.len() > 64 {
                return Err(ConfigError(format!("servers[{i}].name = {:?}: must be 1 to 64 characters", s.name)));
            }
            if s.token.len() < 16 {
                return Err(ConfigError(format!("servers[{i}].token: must be at least 16 characters")));
            }
            if self.servers[..i].iter().any(|o| o.name == s.name) {
                return Err(ConfigError(format!("servers[{i}].name = {:?}: used twice", s.name)));
            }
            if self.servers[..i].iter().any(|o| o.token == s.token) {
                return Err(ConfigError(format!("servers[{i}].token: the same token is used by two servers")));
            }
        }
        let append_timeout = duration("store.append_timeout", &self.store.append_timeout)?;
        if !(Duration::from_millis(1)..=Duration::from_secs(10)).contains(&append_timeout) {
            return Err(ConfigError(format!("store.append_timeout = {:?}: must be 1ms..=10s", self.store.append_timeout)));
        }
        let geo_reload_interval = duration("geoip.reload_interval", &self.geoip.reload_interval)?;
        if !geo_reload_interval.is_zero() && !(Duration::from_millis(100)..=Duration::from_secs(86_400)).contains(&geo_reload_interval) {
            return Err(ConfigError(format!("geoip.reload_interval = {:?}: must be 0s (off) or 100ms..=1d", self.geoip.reload_interval)));
        }
        let geo_reload_interval = (!geo_reload_interval.is_zero()).then_some(geo_reload_interval);
        let prefix = &self.store.redis_key_prefix;
        if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(ConfigError(format!("store.redis_key_prefix = {prefix:?}: must be 1 to 32 characters of A-Z a-z 0-9 - _ .")));
        }
        let ca = &self.store.redis_ca_file;
        if !ca.is_empty() && !Path::new(ca).is_file() {
            return Err(ConfigError(format!("store.redis_ca_file = {ca:?}: no such file")));
        }
        if self.store.backend == Backend::Redis {
            let urls: Vec<(&str, &str)> = if self.store.redis_cluster.is_empty() {
                vec![("store.redis_url", self.store.redis_url.as_str())]
            } else {
                self.store.redis_cluster.iter().map(|u| ("store.redis_cluster", u.as_str())).collect()
            };
            for (key, u) in urls {
                let ok = url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "redis" | "rediss") && p.host().is_some());
                if !ok {
                    return Err(ConfigError(format!("{key} = {u:?}: must be a redis:// or rediss:// URL with a host")));
                }
            }
        }
        Ok(Settings {
            retention,
            link_base_url: base.to_owned(),
            link_path_prefix: parsed.path().trim_end_matches('/').to_owned(),
            keyring,
            retry: RetryPolicy { schedule: retry_schedule, jitter: self.webhooks.retry_jitter, retry_after_max },
            request_timeout,
            connect_timeout,
            breaker_cooldown,
            append_timeout,
            geo_reload_interval,
            stats_timezone,
            bot_rules,
            scanner_networks,
            warnings,
        })
    }

    /// `[bots]`: the thresholds as [`BotRules`] and the scanner network list, read and parsed
    /// here so that a bad file stops the start (and `check-config`) naming the entry.
    fn bots_settings(&self) -> Result<(BotRules, Arc<ScannerNetworks>, Vec<String>), ConfigError> {
        let b = &self.bots;
        // Held hits keep their 15 s store lease; the window stays well below it.
        if b.settle_seconds > 10 {
            return Err(ConfigError(format!("bots.settle_seconds = {}: must be 0..=10", b.settle_seconds)));
        }
        if b.early_after_send_seconds > 3_600 {
            return Err(ConfigError(format!("bots.early_after_send_seconds = {}: must be 0..=3600", b.early_after_send_seconds)));
        }
        if !(2..=50).contains(&b.burst_links) {
            return Err(ConfigError(format!("bots.burst_links = {}: must be 2..=50", b.burst_links)));
        }
        let window = duration("bots.burst_window", &b.burst_window)?;
        if !(Duration::from_millis(200)..=Duration::from_secs(60)).contains(&window) {
            return Err(ConfigError(format!("bots.burst_window = {:?}: must be 200ms..=60s", b.burst_window)));
        }
        let rules = BotRules::new(BotRules {
            early_after_send_secs: b.early_after_send_seconds,
            burst_distinct_links: b.burst_links,
            burst_window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            settle_ms: u64::from(b.settle_seconds) * 1_000,
            ..BotRules::default()
        })
        .map_err(|e| ConfigError(e.to_string()))?;
        let mut warnings = Vec::new();
        let path = &b.networks_file;
        let networks = match std::fs::read_to_string(path) {
            Ok(text) => ScannerNetworks::parse(&text)
                .map_err(|e| ConfigError(format!("bots.networks_file = {:?}: {e}", path.display().to_string())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path == Path::new(DEFAULT_NETWORKS_FILE) => {
                warnings.push(format!(
                    "bots.networks_file = {:?} not found (relative to {}); using the built-in copy of the scanner network list",
                    path.display().to_string(),
                    std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "the working directory".into())
                ));
                ScannerNetworks::builtin()
            }
            Err(e) => return Err(ConfigError(format!("bots.networks_file = {:?}: cannot read ({e})", path.display().to_string()))),
        };
        Ok((rules, Arc::new(networks), warnings))
    }

    /// The effective configuration as TOML, with secrets masked: what `check-config` prints.
    pub fn to_redacted_toml(&self) -> String {
        let mut c = self.clone();
        for k in &mut c.tracking.signing_keys {
            k.secret = "<redacted>".into();
        }
        for s in &mut c.servers {
            s.token = "<redacted>".into();
        }
        c.store.redis_url = redact_url_password(&c.store.redis_url);
        for u in &mut c.store.redis_cluster {
            *u = redact_url_password(u);
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot print config: {e}\n"))
    }
}

/// A URL with its password (`redis://:secret@host`) replaced by `<redacted>`.
fn redact_url_password(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut p) if p.password().is_some() => {
            let _ = p.set_password(Some("<redacted>"));
            p.to_string()
        }
        _ => u.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let c = from_toml("").unwrap();
        let s = c.validate().unwrap();
        assert_eq!(s.retention.days(), 45);
        assert_eq!(c.listen.redirect.to_string(), "127.0.0.1:8080");
        assert_eq!(c.listen.api.to_string(), "127.0.0.1:8081");
        assert_eq!(s.retry.schedule, RetrySchedule::postmark());
        assert_eq!(s.retry.jitter, 0.2);
        assert_eq!(s.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.request_timeout, Duration::from_secs(15));
        assert!(c.servers.is_empty(), "no built-in well-known token");
        assert!(s.keyring.is_none());
        assert_eq!(s.link_path_prefix, "");
        assert_eq!(s.geo_reload_interval, Some(Duration::from_secs(10)));
        let s = from_toml("[geoip]\nreload_interval = \"0s\"").unwrap().validate().unwrap();
        assert_eq!(s.geo_reload_interval, None, "0s turns reloading off");
        let s = from_toml("[tracking]\nlink_base_url = \"https://click.example.com/t/\"").unwrap().validate().unwrap();
        assert_eq!((s.link_base_url.as_str(), s.link_path_prefix.as_str()), ("https://click.example.com/t", "/t"));
    }

    #[test]
    fn retention_out_of_range_names_key_and_range() {
        let e = from_toml("[tracking]\nretention_days = 400").unwrap().validate().unwrap_err();
        assert_eq!(e.0, "tracking.retention_days = 400: must be 7..=365");
        let e = from_toml("[tracking]\nretention_days = 3").unwrap().validate().unwrap_err();
        assert!(e.0.contains("must be 7..=365"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors_that_name_the_key() {
        let e = from_toml("[tracking]\nretention_dayz = 4").unwrap_err();
        assert!(e.0.contains("retention_dayz"), "{e}");
        let e = from_toml("[tracking]\nretention_days = \"many\"").unwrap_err();
        assert!(e.0.contains("tracking.retention_days"), "{e}");
        let e = from_toml("[listen]\napi = \"nowhere\"").unwrap_err();
        assert!(e.0.contains("listen.api"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        let bad = [
            ("[webhooks]\nretry_schedule = [\"soon\"]", "webhooks.retry_schedule"),
            ("[webhooks]\nrequest_timeout = \"1h\"", "webhooks.request_timeout"),
            ("[webhooks]\nretry_jitter = 0.9", "webhooks.retry_jitter"),
            ("[webhooks]\nconnect_timeout = \"30m\"", "webhooks.connect_timeout"),
            ("[webhooks]\nper_webhook_concurrency = 100", "webhooks.per_webhook_concurrency"),
            ("[webhooks]\nbreaker_failures = 0", "webhooks.breaker_failures"),
            ("[tracking]\nlink_base_url = \"ftp://x\"", "tracking.link_base_url"),
            ("[tracking]\nsigning_keys = [{ id = \"k1\", secret = \"c2hvcnQ=\" }]", "tracking.signing_keys"),
            ("[[servers]]\nname = \"a\"\ntoken = \"short\"", "servers[0].token"),
            ("[store]\nbackend = \"redis\"\nredis_url = \"http://x\"", "store.redis_url"),
            ("[geoip]\nreload_interval = \"10ms\"", "geoip.reload_interval = \"10ms\": must be 0s (off) or 100ms..=1d"),
            ("[geoip]\nreload_interval = \"2d\"", "geoip.reload_interval"),
            ("[geoip]\nreload_interval = \"often\"", "geoip.reload_interval"),
            ("[store]\nbackend = \"redis\"\nredis_cluster = [\"redis://a:1\", \"nope\"]", "store.redis_cluster"),
            ("[bots]\nsettle_seconds = 11", "bots.settle_seconds = 11: must be 0..=10"),
            ("[bots]\nburst_links = 1", "bots.burst_links = 1: must be 2..=50"),
            ("[bots]\nburst_window = \"100ms\"", "bots.burst_window = \"100ms\": must be 200ms..=60s"),
            ("[bots]\nearly_after_send_seconds = 4000", "bots.early_after_send_seconds = 4000: must be 0..=3600"),
            ("[bots]\nnetworks_file = \"/nonexistent/scanners.toml\"", "bots.networks_file = \"/nonexistent/scanners.toml\": cannot read"),
        ];
        let e = from_toml("[store]\nredis_ca_file = \"/nonexistent/ca.pem\"").unwrap().validate().unwrap_err();
        assert_eq!(e.0, "store.redis_ca_file = \"/nonexistent/ca.pem\": no such file");
        for (toml, key) in bad {
            let e = from_toml(toml).unwrap().validate().unwrap_err();
            assert!(e.0.contains(key), "{toml}: {e}");
        }
    }

    #[test]
    fn file_layer_and_missing_required_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[tracking]\nretention_days = 90\n").unwrap();
        assert_eq!(load(&p, true).unwrap().tracking.retention_days, 90);
        assert!(load(&dir.path().join("nope.toml"), true).unwrap_err().0.contains("does not exist"));
        assert_eq!(load(&dir.path().join("nope.toml"), false).unwrap().tracking.retention_days, 45);
        std::fs::write(&p, "[tracking\n").unwrap();
        assert!(load(&p, true).unwrap_err().0.contains("c.toml"));
    }

    #[test]
    fn redis_ca_file_defaults_to_system_roots_and_an_existing_file_is_accepted() {
        let c = from_toml("").unwrap();
        assert_eq!(c.store.redis_ca_file, "");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let c = from_toml(&format!("[store]\nbackend = \"redis\"\nredis_url = \"rediss://r.example:6380\"\nredis_ca_file = {:?}", ca.display().to_string())).unwrap();
        c.validate().unwrap();
        assert_eq!(c.store.redis_ca_file, ca.display().to_string());
    }

    #[test]
    fn bots_defaults_and_the_scanner_list() {
        let c = from_toml("").unwrap();
        assert_eq!((c.bots.settle_seconds, c.bots.scanner_clicks, c.bots.suspected, c.bots.label), (2, ScannerClicks::None, SuspectedAs::Human, false));
        assert!(!c.privacy.anonymize_ip);
        assert_eq!(c.geoip.asn_database, "");
        assert_eq!(c.bots.networks_file, Path::new(DEFAULT_NETWORKS_FILE));
        let s = c.validate().unwrap();
        assert_eq!(s.bot_rules.settle_ms, 2_000);
        assert_eq!((s.bot_rules.early_after_send_secs, s.bot_rules.burst_distinct_links, s.bot_rules.burst_window_ms), (60, 3, 5_000));
        assert!(!s.scanner_networks.entries().is_empty());
        // The shipped file, named explicitly, loads; a malformed one names the entry.
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/scanner-networks.toml");
        let s = from_toml(&format!("[bots]\nnetworks_file = {:?}", shipped.display().to_string())).unwrap().validate().unwrap();
        assert!(s.warnings.is_empty());
        assert_eq!(s.scanner_networks.entries().len(), ScannerNetworks::builtin().entries().len());
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("scanners.toml");
        std::fs::write(&bad, "[[network]]\nname = \"x\"\nvendor = \"v\"\ncertainty = \"certain\"\nsource = \"s\"\ncidrs = [\"10.0.0.0/33\"]\n").unwrap();
        let e = from_toml(&format!("[bots]\nnetworks_file = {:?}", bad.display().to_string())).unwrap().validate().unwrap_err();
        assert!(e.0.starts_with("bots.networks_file = ") && e.0.contains("entry 1 (\"x\")") && e.0.contains("10.0.0.0/33"), "{e}");
    }

    #[test]
    fn redacted_output_hides_secrets() {
        let c = from_toml("[[servers]]\nname = \"a\"\ntoken = \"super-secret-token-123\"").unwrap();
        let out = c.to_redacted_toml();
        assert!(!out.contains("super-secret-token-123"));
        let c = from_toml("[store]\nredis_url = \"rediss://:s3cret-pass@r.example:6380\"\nredis_cluster = [\"redis://u:s3cret-pass@a:1\"]").unwrap();
        let out = c.to_redacted_toml();
        assert!(!out.contains("s3cret-pass"), "{out}");
        assert!(out.contains("r.example:6380"), "{out}");
        assert!(out.contains("retention_days = 45"));
    }
}
