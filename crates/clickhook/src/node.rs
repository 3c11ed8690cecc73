//! One clickhook process: any subset of the redirect, api and dispatch roles.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use clickhook_config::{Backend, Config, Settings};
use clickhook_core::{Keyring, SigningKey, timefmt};
use clickhook_enrich::{Enricher, GeoDb, UserAgents};
use clickhook_store::Store;
use clickhook_store::embedded::EmbeddedStore;
use clickhook_store::redis::{RedisOptions, RedisStore};
use rand::RngCore as _;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Which roles this process runs (`--roles redirect,api,dispatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub redirect: bool,
    pub api: bool,
    pub dispatch: bool,
}

impl Roles {
    pub const ALL: Roles = Roles { redirect: true, api: true, dispatch: true };

    pub fn parse(s: &str) -> Result<Self, String> {
        let mut r = Roles { redirect: false, api: false, dispatch: false };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "redirect" => r.redirect = true,
                "api" => r.api = true,
                "dispatch" => r.dispatch = true,
                other => return Err(format!("unknown role {other:?}: use redirect, api, dispatch")),
            }
        }
        if r == (Roles { redirect: false, api: false, dispatch: false }) {
            return Err("--roles names no role: use any of redirect, api, dispatch".into());
        }
        Ok(r)
    }
}

/// Listeners bound before the node starts; `None` binds the configured address.
#[derive(Debug, Default)]
pub struct Listeners {
    pub redirect: Option<TcpListener>,
    pub api: Option<TcpListener>,
}

/// A running node. Dropping it does not stop it; call [`Node::shutdown`].
pub struct Node {
    pub redirect_addr: Option<std::net::SocketAddr>,
    pub api_addr: Option<std::net::SocketAddr>,
    pub store: Arc<dyn Store>,
    /// The API token of the generated "default" server, when this start created it.
    pub created_default_token: Option<String>,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    background: Option<Background>,
}

/// The runtime of the dispatch role's work (click processing, delivery, purges), apart from
/// the one that serves redirects and the API, with its threads at lower CPU priority
/// ([`clickhook_store::thread_priority`]): under a flood of clicks the link host keeps the
/// CPU and the processor works off the durable backlog afterwards.
struct Background(Option<tokio::runtime::Runtime>);

impl Background {
    fn start() -> anyhow::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("clickhook-background")
            // Store reads are bounded by the store itself; this caps the rest.
            .max_blocking_threads(64)
            .on_thread_start(|| clickhook_store::thread_priority::lower_current_thread(clickhook_store::thread_priority::BACKGROUND_NICE))
            .enable_all()
            .build()
            .context("starting the background runtime")?;
        Ok(Self(Some(rt)))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.0.as_ref().map(|r| r.handle().clone()).expect("the background runtime runs until the node is dropped")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Dropping a runtime may block, which is not allowed on an async thread.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn random_secret() -> Vec<u8> {
    let mut b = vec![0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

/// Opens the configured store. Redis must answer at start (later outages are survived).
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match cfg.store.backend {
        Backend::Embedded => {
            let store = EmbeddedStore::open(&cfg.store.path)
                .with_context(|| format!("opening the embedded store in {}", cfg.store.path.display()))?;
            Ok(Arc::new(store))
        }
        Backend::Redis => {
            let ca_pem = match cfg.store.redis_ca_file.as_str() {
                "" => None,
                path => Some(std::fs::read(path).with_context(|| format!("reading store.redis_ca_file {path}"))?),
            };
            let opts = RedisOptions { prefix: cfg.store.redis_key_prefix.clone(), ca_pem, ..RedisOptions::default() };
            if cfg.store.redis_cluster.is_empty() {
                let store = RedisStore::connect_standalone_with(&cfg.store.redis_url, opts).await.context("connecting to Redis (store.redis_url)")?;
                Ok(Arc::new(store))
            } else {
                let store = RedisStore::connect_cluster_with(&cfg.store.redis_cluster, opts)
                    .await
                    .context("connecting to the Redis Cluster (store.redis_cluster)")?;
                Ok(Arc::new(store))
            }
        }
    }
}

/// The signing keys: from config, or the one generated on first start and kept in the store.
async fn keyring(settings: &Settings, store: &dyn Store) -> anyhow::Result<Keyring> {
    if let Some(k) = &settings.keyring {
        return Ok(k.clone());
    }
    let init = base64::engine::general_purpose::STANDARD.encode(random_secret());
    let (secret, created) = store.get_or_init_meta("signing_key:auto", &init).await?;
    if created {
        tracing::info!("generated a link signing key and stored it (set tracking.signing_keys to manage keys yourself)");
    }
    let key = SigningKey::from_base64("auto", &secret).map_err(anyhow::Error::msg)?;
    Keyring::new(vec![key]).map_err(anyhow::Error::msg)
}

/// API servers: from config, or a "default" server whose token is generated once.
async fn servers(cfg: &Config, store: &dyn Store) -> anyhow::Result<(Vec<(String, String)>, Option<String>)> {
    if !cfg.servers.is_empty() {
        return Ok((cfg.servers.iter().map(|s| (s.name.clone(), s.token.clone())).collect(), None));
    }
    let init = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_secret());
    let (token, created) = store.get_or_init_meta("server_token:default", &init).await?;
    Ok((vec![("default".into(), token.clone())], created.then_some(token)))
}

impl Node {
    /// Starts the roles on the given (or configured) listeners. Config must be validated.
    pub async fn start(cfg: Config, settings: Settings, roles: Roles, listeners: Listeners) -> anyhow::Result<Node> {
        let metrics = crate::ops::metrics_handle();
        for w in &settings.warnings {
            tracing::warn!("{w}");
        }
        // Every backend measured the same way (clickhook_store_*).
        let store = clickhook_store::instrumented::Instrumented::wrap(open_store(&cfg).await?);
        let health = clickhook_api::ops::Health::default();
        let keyring = keyring(&settings, store.as_ref()).await?;
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut node = Node {
            redirect_addr: None,
            api_addr: None,
            store: store.clone(),
            created_default_token: None,
            cancel: cancel.clone(),
            tasks: JoinSet::new(),
            background: None,
        };
        if let Some(h) = metrics.clone() {
            tasks.spawn(crate::ops::run_upkeep(h, cancel.clone()));
        }

        if roles.redirect {
            let listener = match listeners.redirect {
                Some(l) => l,
                None => TcpListener::bind(cfg.listen.redirect).await.with_context(|| format!("binding listen.redirect = {}", cfg.listen.redirect))?,
            };
            node.redirect_addr = Some(listener.local_addr()?);
            let spool_dir = cfg.store.path.join("spool");
            let spool = Arc::new(
                clickhook_linkhost::spool::Spool::open(&spool_dir).with_context(|| format!("opening the hit spool in {}", spool_dir.display()))?,
            );
            if spool.pending() > 0 {
                tracing::info!(hits = spool.pending(), "spooled hits from an earlier run will be replayed");
            }
            let (c, s) = (cancel.clone(), store.clone());
            tasks.spawn(spool.clone().run_replayer(s, Duration::from_secs(1), c));
            let probe = spool.clone();
            health.set_spool(move || clickhook_api::ops::SpoolHealth { store_down: probe.store_down(), pending_hits: probe.pending() });
            let host = Arc::new(clickhook_linkhost::LinkHost {
                keyring: keyring.clone(),
                store: store.clone(),
                trusted_proxies: cfg.proxy.trusted.clone(),
                retention: settings.retention,
                path_prefix: settings.link_path_prefix.clone(),
                store_timeout: settings.append_timeout,
                spool: Some(spool),
                anonymize_ip: cfg.privacy.anonymize_ip,
            });
            let c = cancel.clone();
            tasks.spawn(async move {
                if let Err(e) = clickhook_linkhost::run(listener, host, c.cancelled_owned()).await {
                    tracing::error!(error = %e, "link host stopped");
                }
            });
        }
        if roles.api {
            let listener = match listeners.api {
                Some(l) => l,
                None => TcpListener::bind(cfg.listen.api).await.with_context(|| format!("binding listen.api = {}", cfg.listen.api))?,
            };
            node.api_addr = Some(listener.local_addr()?);
            let (servers, created) = servers(&cfg, store.as_ref()).await?;
            node.created_default_token = created;
            let render = metrics.clone().map(|h| Arc::new(move || h.render()) as clickhook_api::MetricsRender);
            let state = clickhook_api::ApiState {
                store: store.clone(),
                keyring: keyring.clone(),
                link_base_url: settings.link_base_url.clone(),
                retention: settings.retention,
                servers: clickhook_api::ApiState::server_table(servers),
                allow_private_targets: cfg.webhooks.allow_private_targets,
                metrics: render,
                health: health.clone(),
            };
            let (c, s, h) = (cancel.clone(), store.clone(), health.clone());
            tasks.spawn(crate::ops::run_queue_stats(s, h, crate::ops::REFRESH, c));
            let c = cancel.clone();
            tasks.spawn(async move {
                if let Err(e) = clickhook_api::run(listener, state, c.cancelled_owned()).await {
                    tracing::error!(error = %e, "API listener stopped");
                }
            });
        }
        if roles.dispatch {
            let background = Background::start()?;
            let bg = background.handle();
            node.background = Some(background);
            let geo = Arc::new(GeoDb::open(PathBuf::from(&cfg.geoip.city_database)));
            if let Some(every) = settings.geo_reload_interval {
                // The watcher reloads the same GeoDb the processor's Enricher looks up in.
                tasks.spawn_on(clickhook_enrich::geo_watch::watch(geo.clone(), every, cancel.clone()), &bg);
            }
            let bots = cfg.bots.enabled.then(|| {
                let asn = match cfg.geoip.asn_database.as_str() {
                    "" => clickhook_enrich::AsnDb::disabled(),
                    path => clickhook_enrich::AsnDb::open(std::path::Path::new(path)),
                };
                let classifier = clickhook_bots::Classifier::new(settings.bot_rules, (*settings.scanner_networks).clone());
                let policy = clickhook_clicks::BotPolicy {
                    scanner_webhooks: cfg.bots.scanner_clicks == clickhook_config::ScannerClicks::Webhook,
                    suspected_as_human: cfg.bots.suspected == clickhook_config::SuspectedAs::Human,
                    label: cfg.bots.label,
                };
                clickhook_clicks::Bots::new(classifier, policy, Arc::new(asn))
            });
            let processor = Arc::new(clickhook_clicks::ClickProcessor {
                store: store.clone(),
                enricher: Arc::new(Enricher::new(geo, UserAgents::builtin())),
                retention: settings.retention,
                timezone: settings.stats_timezone.clone(),
                bots,
            });
            let enricher = processor.enricher.clone();
            health.set_geo(move || enricher.geo.is_loaded());
            let c = cancel.clone();
            tasks.spawn_on(async move { processor.run(c).await }, &bg);
            let dispatcher = Arc::new(clickhook_dispatch::Dispatcher::new(
                store.clone(),
                clickhook_dispatch::DispatchSettings {
                    retry: settings.retry.clone(),
                    request_timeout: settings.request_timeout,
                    connect_timeout: settings.connect_timeout,
                    allow_private_targets: cfg.webhooks.allow_private_targets,
                    concurrency: cfg.webhooks.concurrency as usize,
                    per_webhook_concurrency: cfg.webhooks.per_webhook_concurrency as usize,
                    breaker_failures: cfg.webhooks.breaker_failures,
                    breaker_cooldown: settings.breaker_cooldown,
                },
            ));
            let c = cancel.clone();
            let grace = settings.request_timeout + Duration::from_secs(1);
            tasks.spawn_on(async move { dispatcher.run(c, grace).await }, &bg);
            // Retention: drop what has expired, now and every hour.
            let (c, s) = (cancel.clone(), store.clone());
            let purge = async move {
                loop {
                    match s.purge_expired(timefmt::unix_ms(time::OffsetDateTime::now_utc())).await {
                        Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired records"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "purging expired records failed"),
                    }
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                        () = c.cancelled() => return,
                    }
                }
            };
            tasks.spawn_on(purge, &bg);
        }
        node.tasks = tasks;
        Ok(node)
    }

    /// Stops taking work, lets in-flight requests and attempts finish, and returns.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
        drop(self.background.take());
    }
}
