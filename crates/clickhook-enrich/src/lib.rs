//! What a click says about who clicked: where (GeoIP2 City) and with what (user agent).
//!
//! Postmark's Click webhook carries `Geo`, `Client`, `OS` and `Platform`, and receivers
//! written for Postmark key reports on those exact strings ("Chrome", "OS X 10.7 Lion",
//! "Desktop"). This crate produces them.
//!
//! Why it is built the way it is:
//!
//! * **Enrichment never fails a click.** A missing, unreadable or corrupt geo database, an
//!   address it does not cover, an empty or absurd user agent: each gives the documented
//!   "don't know" value (`Geo` `{}`, "unknown", `Platform::Unknown`), never an error. The
//!   redirect is what the reader is waiting for; the webhook can carry less.
//! * **The geo database is hot-reloadable** ([`GeoDb::reload`]): GeoLite2 is refreshed
//!   weekly, and swapping an `Arc` is cheaper and safer than restarting a redirect server.
//!   [`geo_watch::watch`] notices a replaced file and reloads it.
//! * **User-agent naming is data, not code** (`data/user-agents.toml`): the parts that go
//!   stale (new browsers, mail apps, marketing names of OS releases) are edited in a
//!   commented table; woothee, whose data stopped in 2021, only fills the gaps.
//! * **Everything is prepared up front.** Lookups and parses run on the click path, so the
//!   reader and the rules are built once and shared by reference.

pub mod agent;
pub mod asn;
pub mod geo;
pub mod geo_watch;

use std::net::IpAddr;
use std::sync::Arc;

use clickhook_core::event::Platform;
use clickhook_core::{ClientInfo, Geo, OsInfo};

pub use agent::UserAgents;
pub use asn::AsnDb;
pub use geo::GeoDb;

/// The geo database and the user-agent table, together.
#[derive(Debug)]
pub struct Enricher {
    /// Shared, so that [`geo_watch::watch`] can reload the very database lookups use.
    pub geo: Arc<GeoDb>,
    pub agents: UserAgents,
}

/// Everything enrichment adds to a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrichment {
    pub geo: Geo,
    pub client: ClientInfo,
    pub os: OsInfo,
    pub platform: Platform,
}

impl Enricher {
    pub fn new(geo: impl Into<Arc<GeoDb>>, agents: UserAgents) -> Self {
        Self { geo: geo.into(), agents }
    }

    /// Geo lookups disabled, built-in user-agent table.
    pub fn without_geo() -> Self {
        Self::new(GeoDb::disabled(), UserAgents::builtin())
    }

    /// Looks up `ip` and names `user_agent`. Never fails.
    pub fn enrich(&self, ip: IpAddr, user_agent: &str) -> Enrichment {
        let geo = self.geo.lookup(ip);
        let (client, os, platform) = self.agents.parse(user_agent);
        Enrichment { geo, client, os, platform }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrich_without_geo_names_the_agent_and_leaves_geo_empty() {
        let enricher = Enricher::without_geo();
        let example = clickhook_core::ClickEvent::example();
        let e = enricher.enrich("8.8.8.8".parse().unwrap(), &example.user_agent);
        assert!(e.geo.is_empty());
        assert_eq!((e.client, e.os, e.platform), (example.client, example.os, example.platform));
    }
}
