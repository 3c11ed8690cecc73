//! User agent → Postmark's `Client`, `OS` and `Platform`.
//!
//! woothee does the general parse, but its data stopped in 2021: it misses mail clients
//! and webmail proxies, and spells several modern browsers differently from Postmark. So
//! the project's own table, `data/user-agents.toml` (readable, commented, and compiled in),
//! decides first: ordered substring rules name the client and the OS, and woothee answers
//! only where the table is silent. The table's header documents the naming scheme and what
//! a user agent cannot tell (Windows 11 vs 10, macOS after 10.15, iOS 26).
//!
//! Everything is compiled once at construction; a parse does substring searches over a
//! few dozen short strings, at most one woothee call, and allocates only its output.

use std::collections::HashMap;
use std::fmt;

use clickhook_core::event::Platform;
use clickhook_core::{ClientInfo, OsInfo};
use serde::Deserialize;

/// The table compiled into the binary.
const BUILTIN: &str = include_str!("../../../data/user-agents.toml");

/// Longer user agents are cut here (at a character boundary) before parsing, so that a
/// hostile header cannot make parsing expensive. Real ones stay well under 1 KiB.
pub const MAX_USER_AGENT_LEN: usize = 1024;

const WOOTHEE_UNKNOWN: &str = "UNKNOWN";

/// A compiled user-agent table. Cheap to share (`&self` everywhere), `Send + Sync`.
pub struct UserAgents {
    clients: Vec<ClientRule>,
    oses: Vec<OsRule>,
    companies: HashMap<String, String>,
    mobile_families: HashMap<String, String>,
    woothee_names: HashMap<String, String>,
    woothee: woothee::parser::Parser,
}

impl fmt::Debug for UserAgents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAgents")
            .field("client_rules", &self.clients.len())
            .field("os_rules", &self.oses.len())
            .field("companies", &self.companies.len())
            .finish_non_exhaustive()
    }
}

impl UserAgents {
    /// The table in `data/user-agents.toml`, compiled in.
    pub fn builtin() -> Self {
        Self::from_toml(BUILTIN).expect("the built-in user-agent table is valid (unit-tested)")
    }

    /// A table in the shape of `data/user-agents.toml`.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: TableFile = toml::from_str(text).map_err(|e| format!("user-agent table: {e}"))?;
        let clients = file
            .client
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                ClientRule::compile(spec).map_err(|e| format!("user-agent table: client rule #{}: {e}", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let oses = file
            .os
            .into_iter()
            .enumerate()
            .map(|(i, spec)| OsRule::compile(spec).map_err(|e| format!("user-agent table: os rule #{}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            clients,
            oses,
            companies: file.companies,
            mobile_families: file.mobile_families,
            woothee_names: file.woothee_names,
            woothee: woothee::parser::Parser::new(),
        })
    }

    /// Names the client, the OS and the platform of a user agent. Never fails: whatever
    /// cannot be named is "unknown" / `Platform::Unknown`.
    /// woothee's category of `ua` (`"crawler"`, `"pc"`, `"smartphone"`, `"mobilephone"`,
    /// `"appliance"`, `"misc"`), or `None` when woothee does not know it. The bot rules use
    /// it: woothee knows crawlers whose user agents say neither "bot" nor "spider".
    pub fn woothee_category(&self, ua: &str) -> Option<&'static str> {
        let ua = truncate(ua, MAX_USER_AGENT_LEN).trim();
        if ua.is_empty() {
            return None;
        }
        let found = self.woothee.parse(ua)?;
        ["crawler", "pc", "smartphone", "mobilephone", "appliance", "misc"].into_iter().find(|c| *c == found.category)
    }

    pub fn parse(&self, ua: &str) -> (ClientInfo, OsInfo, Platform) {
        let ua = truncate(ua, MAX_USER_AGENT_LEN).trim();
        if ua.is_empty() {
            return (ClientInfo::default(), OsInfo::default(), Platform::Unknown);
        }
        let mut woothee = LazyWoothee { parser: &self.woothee, ua, result: None };

        // The client: our rules, else woothee.
        let mut client = match self.clients.iter().find_map(|rule| rule.apply(ua)) {
            Some(found) => found,
            None => self.client_from_woothee(woothee.get()),
        };

        // Crawlers (woothee knows many) have no reader behind them, hence no OS or platform.
        // Only asked when no rule named the client: a rule means a known real client.
        let crawler = !client.from_rule && woothee.get().is_some_and(|w| w.category == "crawler");
        if crawler {
            client.ignore_os = true;
            client.platform = Some(Platform::Unknown);
        }

        // The OS: our rules, else woothee.
        let (os, os_platform) = if client.ignore_os {
            (OsInfo::default(), None)
        } else {
            match self.oses.iter().find_map(|rule| rule.apply(ua)) {
                Some((os, platform)) => (os, platform),
                None => (os_from_woothee(woothee.get()), None),
            }
        };

        let platform = client
            .platform
            .or(os_platform)
            .unwrap_or_else(|| woothee.get().map_or(Platform::Unknown, |w| platform_of_category(w.category)));

        let client = match client.family {
            None => ClientInfo::default(),
            Some(family) => {
                let family = match platform {
                    Platform::Mobile => self.mobile_families.get(&family).cloned().unwrap_or(family),
                    _ => family,
                };
                let company = client
                    .company
                    .or_else(|| self.companies.get(&family).cloned())
                    .unwrap_or_else(|| clickhook_core::event::UNKNOWN.to_owned());
                let name = match &client.version {
                    Some(version) => format!("{family} {version}"),
                    None => family.clone(),
                };
                ClientInfo { name, company, family }
            }
        };
        (client, os, platform)
    }

    fn client_from_woothee(&self, w: Option<&woothee::parser::WootheeResult<'_>>) -> FoundClient {
        let Some(w) = w.filter(|w| w.name != WOOTHEE_UNKNOWN && !w.name.is_empty()) else {
            return FoundClient::default();
        };
        let family = self.woothee_names.get(w.name).map_or(w.name, String::as_str).to_owned();
        // woothee puts a library's name in `version` for "HTTP Library" ("curl"): only a
        // version that starts with a digit is one.
        let version = Some(w.version).filter(|v| v.starts_with(|c: char| c.is_ascii_digit())).map(str::to_owned);
        // woothee's vendor is a fallback for families our table does not list.
        let company = if self.companies.contains_key(&family) || matches!(w.vendor, WOOTHEE_UNKNOWN | "OS vendor" | "")
        {
            None
        } else {
            Some(w.vendor.to_owned())
        };
        FoundClient { family: Some(family), version, company, ..FoundClient::default() }
    }
}

/// Parses with woothee at most once, and only if asked.
struct LazyWoothee<'p, 'a> {
    parser: &'p woothee::parser::Parser,
    ua: &'a str,
    result: Option<Option<woothee::parser::WootheeResult<'a>>>,
}

impl<'a> LazyWoothee<'_, 'a> {
    fn get(&mut self) -> Option<&woothee::parser::WootheeResult<'a>> {
        let (parser, ua) = (self.parser, self.ua);
        self.result.get_or_insert_with(|| parser.parse(ua)).as_ref()
    }
}

fn os_from_woothee(w: Option<&woothee::parser::WootheeResult<'_>>) -> OsInfo {
    let Some(w) = w.filter(|w| w.os != WOOTHEE_UNKNOWN && !w.os.is_empty()) else {
        return OsInfo::default();
    };
    let version = w.os_version.as_ref();
    let name = if version.starts_with(|c: char| c.is_ascii_digit()) && !w.os.ends_with(version) {
        format!("{} {version}", w.os)
    } else {
        w.os.to_owned()
    };
    OsInfo { name, company: clickhook_core::event::UNKNOWN.to_owned(), family: w.os.to_owned() }
}

fn platform_of_category(category: &str) -> Platform {
    match category {
        "pc" => Platform::Desktop,
        "smartphone" | "mobilephone" => Platform::Mobile,
        _ => Platform::Unknown,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// ----------------------------------------------------------------------------------------
// The table file
// ----------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    #[serde(default)]
    companies: HashMap<String, String>,
    #[serde(default)]
    mobile_families: HashMap<String, String>,
    #[serde(default)]
    woothee_names: HashMap<String, String>,
    #[serde(default)]
    client: Vec<ClientSpec>,
    #[serde(default)]
    os: Vec<OsSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSpec {
    #[serde(rename = "match")]
    all: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    family: String,
    version_after: Option<String>,
    company: Option<String>,
    platform: Option<Platform>,
    #[serde(default)]
    ignore_os: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OsSpec {
    #[serde(rename = "match")]
    all: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    version_after: Option<String>,
    #[serde(default)]
    version_parts: usize,
    name: String,
    family: String,
    company: Option<String>,
    platform: Option<Platform>,
    #[serde(default)]
    versions: Vec<OsVersionSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OsVersionSpec {
    version: String,
    name: String,
    family: Option<String>,
}

// ----------------------------------------------------------------------------------------
// Compiled rules
// ----------------------------------------------------------------------------------------

/// The shared part of a rule: when it applies, and where its version is.
struct Matcher {
    all: Box<[Box<str>]>,
    unless: Box<[Box<str>]>,
    /// `None`: the rule reports no version.
    version_after: Option<Box<str>>,
    /// Keep this many version components; 0 keeps all.
    version_parts: usize,
}

impl Matcher {
    fn compile(
        all: Vec<String>,
        unless: Vec<String>,
        version_after: Option<String>,
        version_parts: usize,
    ) -> Result<Self, String> {
        if all.is_empty() {
            return Err("`match` is empty".into());
        }
        if all.iter().chain(&unless).any(String::is_empty) {
            return Err("`match` and `unless` may not hold empty strings".into());
        }
        let version_after = match version_after {
            None => Some(all[0].clone()),
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
        };
        Ok(Self {
            all: all.into_iter().map(String::into_boxed_str).collect(),
            unless: unless.into_iter().map(String::into_boxed_str).collect(),
            version_after: version_after.map(String::into_boxed_str),
            version_parts,
        })
    }

    /// Where the first `match` string occurs, if the rule applies.
    fn anchor(&self, ua: &str) -> Option<usize> {
        let at = ua.find(&*self.all[0])?;
        if self.all[1..].iter().all(|s| ua.contains(&**s)) && !self.unless.iter().any(|s| ua.contains(&**s)) {
            Some(at)
        } else {
            None
        }
    }

    /// The version after `version_after`, searched from `anchor`.
    fn version(&self, ua: &str, anchor: usize) -> Option<String> {
        let marker = self.version_after.as_deref()?;
        let rest = &ua[anchor..];
        let start = rest.find(marker)? + marker.len();
        let rest = &rest[start..];
        let len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(rest.len());
        let raw = rest[..len].trim_end_matches(['.', '_']);
        if !raw.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut out = String::with_capacity(raw.len());
        for (i, part) in raw.split(['.', '_']).enumerate() {
            if self.version_parts != 0 && i == self.version_parts {
                break;
            }
            if i > 0 {
                out.push('.');
            }
            out.push_str(part);
        }
        Some(out)
    }
}

struct ClientRule {
    matcher: Matcher,
    family: String,
    company: Option<String>,
    platform: Option<Platform>,
    ignore_os: bool,
}

/// A client as found by a rule or by woothee, before the platform is known.
#[derive(Default)]
struct FoundClient {
    family: Option<String>,
    version: Option<String>,
    company: Option<String>,
    platform: Option<Platform>,
    ignore_os: bool,
    from_rule: bool,
}

impl ClientRule {
    fn compile(spec: ClientSpec) -> Result<Self, String> {
        if spec.family.trim().is_empty() {
            return Err("`family` is empty".into());
        }
        Ok(Self {
            matcher: Matcher::compile(spec.all, spec.unless, spec.version_after, 0)?,
            family: spec.family,
            company: spec.company,
            platform: spec.platform,
            ignore_os: spec.ignore_os,
        })
    }

    fn apply(&self, ua: &str) -> Option<FoundClient> {
        let anchor = self.matcher.anchor(ua)?;
        Some(FoundClient {
            family: Some(self.family.clone()),
            version: self.matcher.version(ua, anchor),
            company: self.company.clone(),
            platform: self.platform,
            ignore_os: self.ignore_os,
            from_rule: true,
        })
    }
}

struct OsRule {
    matcher: Matcher,
    name: String,
    family: String,
    company: String,
    platform: Option<Platform>,
    /// Per-version (name, family override), keyed "major.minor" or "major".
    versions: HashMap<String, (String, Option<String>)>,
}

impl OsRule {
    fn compile(spec: OsSpec) -> Result<Self, String> {
        if spec.family.trim().is_empty() || spec.name.trim().is_empty() {
            return Err("`name` and `family` may not be empty".into());
        }
        let mut versions = HashMap::with_capacity(spec.versions.len());
        for v in spec.versions {
            if versions.insert(v.version.clone(), (v.name, v.family)).is_some() {
                return Err(format!("version {:?} is listed twice", v.version));
            }
        }
        Ok(Self {
            matcher: Matcher::compile(spec.all, spec.unless, spec.version_after, spec.version_parts)?,
            name: spec.name,
            family: spec.family,
            company: spec.company.unwrap_or_else(|| clickhook_core::event::UNKNOWN.to_owned()),
            platform: spec.platform,
            versions,
        })
    }

    fn apply(&self, ua: &str) -> Option<(OsInfo, Option<Platform>)> {
        let anchor = self.matcher.anchor(ua)?;
        let version = self.matcher.version(ua, anchor);
        let (name, family) = match &version {
            None if self.name.contains("{version}") => (self.family.clone(), self.family.clone()),
            None => (self.name.clone(), self.family.clone()),
            Some(version) => match self.named_version(version) {
                Some((name, family)) => (name.clone(), family.as_ref().unwrap_or(&self.family).clone()),
                None => (self.name.replace("{version}", version), self.family.clone()),
            },
        };
        Some((OsInfo { name, company: self.company.clone(), family }, self.platform))
    }

    fn named_version(&self, version: &str) -> Option<&(String, Option<String>)> {
        if self.versions.is_empty() {
            return None;
        }
        let mut parts = version.split('.');
        let major = parts.next()?;
        let major_minor = parts.next().map(|minor| format!("{major}.{minor}"));
        major_minor.and_then(|mm| self.versions.get(&mm)).or_else(|| self.versions.get(major))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(ua: &str) -> (ClientInfo, OsInfo, Platform) {
        use std::sync::OnceLock;
        static AGENTS: OnceLock<UserAgents> = OnceLock::new();
        AGENTS.get_or_init(UserAgents::builtin).parse(ua)
    }

    /// (user agent, client name, client company, client family, os name, os company,
    /// os family, platform)
    type Case =
        (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, Platform);

    const APPLE_OS: &str = "Apple Computer, Inc.";
    const MS_OS: &str = "Microsoft Corporation";
    const GOOGLE_OS: &str = "Google Inc.";
    const U: &str = "unknown";

    use Platform::{Desktop, Mobile, Unknown, WebMail};

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // Postmark's documented example, exactly.
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36",
            "Chrome 35.0.1916.153", "Google", "Chrome", "OS X 10.7 Lion", APPLE_OS, "OS X 10", Desktop,
        ),
        // Chrome, Windows (10 or 11: both say NT 10.0)
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
            "Chrome 138.0.0.0", "Google", "Chrome", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        // Chrome, macOS (frozen at 10_15_7)
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
            "Chrome 138.0.0.0", "Google", "Chrome", "macOS 10.15 Catalina", APPLE_OS, "macOS", Desktop,
        ),
        // Chrome, Android (reduced: "Android 10; K")
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile 138.0.0.0", "Google", "Chrome Mobile", "Android 10", GOOGLE_OS, "Android", Mobile,
        ),
        // Chrome, Android tablet (no "Mobile")
        (
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
            "Chrome Mobile 138.0.0.0", "Google", "Chrome Mobile", "Android 14", GOOGLE_OS, "Android", Mobile,
        ),
        // Chrome, Linux
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
            "Chrome 138.0.0.0", "Google", "Chrome", "Linux", "Linux Foundation", "Linux", Desktop,
        ),
        // ChromeOS
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
            "Chrome 138.0.0.0", "Google", "Chrome", "ChromeOS", GOOGLE_OS, "ChromeOS", Desktop,
        ),
        // Chrome, iOS
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/138.0.7204.156 Mobile/15E148 Safari/604.1",
            "Chrome Mobile iOS 138.0.7204.156", "Google", "Chrome Mobile iOS", "iOS 18.5", APPLE_OS, "iOS", Mobile,
        ),
        // Safari, macOS
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15",
            "Safari 18.5", "Apple Inc.", "Safari", "macOS 10.15 Catalina", APPLE_OS, "macOS", Desktop,
        ),
        // Safari, iPhone
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 18.5", "Apple Inc.", "Mobile Safari", "iOS 18.5", APPLE_OS, "iOS", Mobile,
        ),
        // Safari 26 on iOS 26: the OS part is frozen at 18_6
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1",
            "Mobile Safari 26.0", "Apple Inc.", "Mobile Safari", "iOS 18.6", APPLE_OS, "iOS", Mobile,
        ),
        // Safari, iPad
        (
            "Mozilla/5.0 (iPad; CPU OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17.5", "Apple Inc.", "Mobile Safari", "iPadOS 17.5", APPLE_OS, "iPadOS", Mobile,
        ),
        // Edge, Windows
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36 Edg/138.0.3351.83",
            "Edge 138.0.3351.83", "Microsoft", "Edge", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        // Edge, Android
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36 EdgA/138.0.3351.77",
            "Edge Mobile 138.0.3351.77", "Microsoft", "Edge Mobile", "Android 10", GOOGLE_OS, "Android", Mobile,
        ),
        // Edge, iOS
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 EdgiOS/138.3351.77 Mobile/15E148 Safari/605.1.15",
            "Edge Mobile 138.3351.77", "Microsoft", "Edge Mobile", "iOS 18.5", APPLE_OS, "iOS", Mobile,
        ),
        // Legacy Edge (EdgeHTML)
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
            "Edge 18.19045", "Microsoft", "Edge", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        // Firefox, Windows
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Firefox 140.0", "Mozilla", "Firefox", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        // Firefox, macOS (dots, frozen at 10.15)
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Firefox 140.0", "Mozilla", "Firefox", "macOS 10.15 Catalina", APPLE_OS, "macOS", Desktop,
        ),
        // Firefox, Ubuntu
        (
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Firefox 140.0", "Mozilla", "Firefox", "Linux", "Linux Foundation", "Linux", Desktop,
        ),
        // Firefox, Android
        (
            "Mozilla/5.0 (Android 15; Mobile; rv:140.0) Gecko/140.0 Firefox/140.0",
            "Firefox Mobile 140.0", "Mozilla", "Firefox Mobile", "Android 15", GOOGLE_OS, "Android", Mobile,
        ),
        // Firefox, iOS
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/140.0 Mobile/15E148 Safari/605.1.15",
            "Firefox iOS 140.0", "Mozilla", "Firefox iOS", "iOS 18.5", APPLE_OS, "iOS", Mobile,
        ),
        // Samsung Internet
        (
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36",
            "Samsung Internet 28.0", "Samsung", "Samsung Internet", "Android 14", GOOGLE_OS, "Android", Mobile,
        ),
        // Opera, Windows
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36 OPR/121.0.0.0",
            "Opera 121.0.0.0", "Opera Software", "Opera", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        // Opera, Android
        (
            "Mozilla/5.0 (Linux; Android 13; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36 OPR/90.0.4810.1",
            "Opera Mobile 90.0.4810.1", "Opera Software", "Opera Mobile", "Android 13", GOOGLE_OS, "Android", Mobile,
        ),
        // Android System WebView (an in-app browser that does not name itself)
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/127.0.6533.103 Mobile Safari/537.36",
            "Chrome Mobile WebView 127.0.6533.103", "Google", "Chrome Mobile WebView", "Android 14", GOOGLE_OS, "Android", Mobile,
        ),
        // Google app, iOS
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/376.0.779468110 Mobile/15E148 Safari/604.1",
            "Google App 376.0.779468110", "Google", "Google App", "iOS 18.5", APPLE_OS, "iOS", Mobile,
        ),
        // Gmail's own requests on iOS
        (
            "com.google.Gmail/6.0.250505 iSL/3.4 iPhone/17.7.1 hw/iPhone14_5 (gzip)",
            "Gmail 6.0.250505", "Google", "Gmail", "iOS 17.7", APPLE_OS, "iOS", Mobile,
        ),
        // Gmail's image proxy: a webmail fetch, its "Windows XP" is not the reader's
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            "Gmail", "Google", "Gmail", U, U, U, WebMail,
        ),
        // Yahoo's proxy
        (
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
            "Yahoo Mail", "Yahoo", "Yahoo Mail", U, U, U, WebMail,
        ),
        // Outlook, iOS app
        (
            "Outlook-iOS/709.2226530.prod.iphone (3.24.1)",
            "Outlook 3.24.1", "Microsoft", "Outlook", "iOS", APPLE_OS, "iOS", Mobile,
        ),
        // Outlook, Android app
        (
            "Outlook-Android/2.0",
            "Outlook 2.0", "Microsoft", "Outlook", "Android", GOOGLE_OS, "Android", Mobile,
        ),
        // Outlook for Windows
        (
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.15225; Pro)",
            "Outlook 16.0.15225", "Microsoft", "Outlook", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        // Outlook's Word-rendered view (woothee: "Internet Explorer 7.0")
        (
            "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; .NET4.0E; Microsoft Outlook 16.0.5423; ms-office; MSOffice 16)",
            "Outlook 16.0.5423", "Microsoft", "Outlook", "Windows 10", MS_OS, "Windows", Desktop,
        ),
        (
            "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
            "Outlook 16", "Microsoft", "Outlook", U, U, U, Unknown,
        ),
        // Internet Explorer 11, Windows 7
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
            "IE 11.0", "Microsoft", "IE", "Windows 7", MS_OS, "Windows", Desktop,
        ),
        // Vivaldi (woothee only), Windows 8.1
        (
            "Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36 Vivaldi/5.6.2867.62",
            "Vivaldi 5.6.2867.62", "Vivaldi Technologies", "Vivaldi", "Windows 8.1", MS_OS, "Windows", Desktop,
        ),
        // macOS Big Sur as it reports itself to software built for 10.15
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_16) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Safari/605.1.15",
            "Safari 14.0", "Apple Inc.", "Safari", "macOS 11 Big Sur", APPLE_OS, "macOS", Desktop,
        ),
        // A bot: named, but no OS and no platform
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.7204.183 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot", "Google", "Googlebot", U, U, U, Unknown,
        ),
        // curl (woothee: "HTTP Library" with version "curl")
        ("curl/8.5.0", "curl 8.5.0", U, "curl", U, U, U, Unknown),
        // Nothing at all
        ("", U, U, U, U, U, U, Unknown),
        ("   ", U, U, U, U, U, U, Unknown),
        // Garbage
        ("\u{1F600} not a browser", U, U, U, U, U, U, Unknown),
    ];

    #[test]
    fn woothee_names_crawlers_that_say_neither_bot_nor_spider() {
        let agents = UserAgents::builtin();
        let slurp = "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)";
        assert_eq!(agents.woothee_category(slurp), Some("crawler"));
        // ...which the bot rules' own user-agent list would let pass as a person:
        assert_eq!(clickhook_bots::user_agent_reason(Some(slurp), None), None);
        assert_eq!(clickhook_bots::user_agent_reason(Some(slurp), agents.woothee_category(slurp)), Some(clickhook_bots::Reason::Crawler));
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        assert_eq!(agents.woothee_category(chrome), Some("pc"));
        assert_eq!(agents.woothee_category(""), None);
    }

    #[test]
    fn real_user_agents_are_named_exactly() {
        let mut failures = Vec::new();
        for &(ua, cname, ccompany, cfamily, oname, ocompany, ofamily, platform) in CASES {
            let want = (
                ClientInfo { name: cname.into(), company: ccompany.into(), family: cfamily.into() },
                OsInfo { name: oname.into(), company: ocompany.into(), family: ofamily.into() },
                platform,
            );
            let got = parse(ua);
            if got != want {
                failures.push(format!("{ua:?}\n   got  {got:?}\n   want {want:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} user agents misnamed:\n{}",
            failures.len(),
            CASES.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn postmark_example_serializes_like_the_example_payload() {
        let (client, os, platform) = parse(clickhook_core::ClickEvent::example().user_agent.as_str());
        let example = clickhook_core::ClickEvent::example();
        assert_eq!(client, example.client);
        assert_eq!(os, example.os);
        assert_eq!(platform, example.platform);
    }

    #[test]
    fn macos_versions_follow_the_documented_scheme() {
        let mac = |v: &str| {
            parse(&format!("Mozilla/5.0 (Macintosh; Intel Mac OS X {v}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15")).1
        };
        let cases = [
            ("10_6_8", "OS X 10.6 Snow Leopard", "OS X 10"),
            ("10_11_6", "OS X 10.11 El Capitan", "OS X 10"),
            ("10_12_6", "macOS 10.12 Sierra", "macOS"),
            ("10_14", "macOS 10.14 Mojave", "macOS"),
            ("11_7_10", "macOS 11 Big Sur", "macOS"),
            ("12_7", "macOS 12 Monterey", "macOS"),
            ("13_6", "macOS 13 Ventura", "macOS"),
            ("14_5", "macOS 14 Sonoma", "macOS"),
            ("15_0", "macOS 15 Sequoia", "macOS"),
            ("26_0", "macOS 26 Tahoe", "macOS"),
            ("27_1", "macOS 27.1", "macOS"),
        ];
        for (v, name, family) in cases {
            let os = mac(v);
            assert_eq!((os.name.as_str(), os.family.as_str(), os.company.as_str()), (name, family, APPLE_OS), "{v}");
        }
    }

    #[test]
    fn windows_versions() {
        for (nt, name) in [
            ("10.0", "Windows 10"),
            ("6.3", "Windows 8.1"),
            ("6.2", "Windows 8"),
            ("6.1", "Windows 7"),
            ("6.0", "Windows Vista"),
            ("5.1", "Windows XP"),
        ] {
            let (_, os, platform) =
                parse(&format!("Mozilla/5.0 (Windows NT {nt}; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0"));
            assert_eq!((os.name.as_str(), os.family.as_str(), platform), (name, "Windows", Desktop), "NT {nt}");
        }
    }

    #[test]
    fn overlong_user_agents_are_cut_not_rejected() {
        let long = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0 {}",
            "é".repeat(10_000)
        );
        let (client, os, _) = parse(&long);
        assert_eq!(client.name, "Firefox 140.0");
        assert_eq!(os.name, "Windows 10");
        assert_eq!(truncate("ééé", 3), "é");
    }

    #[test]
    fn tables_load_from_toml_and_errors_are_explained() {
        let table = r#"
            [companies]
            "Thing" = "Thing Corp"
            [[client]]
            match = ["Thing/"]
            family = "Thing"
            [[os]]
            match = ["ThingOS "]
            version_parts = 1
            name = "ThingOS {version}"
            family = "ThingOS"
            platform = "Mobile"
        "#;
        let agents = UserAgents::from_toml(table).unwrap();
        let (client, os, platform) = agents.parse("Thing/1.2.3 (ThingOS 7_1)");
        assert_eq!(
            client,
            ClientInfo { name: "Thing 1.2.3".into(), company: "Thing Corp".into(), family: "Thing".into() }
        );
        assert_eq!(os, OsInfo { name: "ThingOS 7".into(), company: U.into(), family: "ThingOS".into() });
        assert_eq!(platform, Mobile);

        let err = UserAgents::from_toml("[[client]]\nmatch = []\nfamily = \"X\"").unwrap_err();
        assert!(err.contains("client rule #1"), "{err}");
        let err =
            UserAgents::from_toml("[[client]]\nmatch = [\"X\"]\nfamily = \"X\"\nplatfrom = \"Mobile\"").unwrap_err();
        assert!(err.contains("platfrom"), "{err}");
        let err =
            UserAgents::from_toml("[[client]]\nmatch = [\"X\"]\nfamily = \"X\"\nplatform = \"Tablet\"").unwrap_err();
        assert!(err.contains("Tablet"), "{err}");
    }

    #[test]
    fn builtin_table_compiles() {
        let agents = UserAgents::builtin();
        assert!(agents.clients.len() > 20 && agents.oses.len() > 10, "{agents:?}");
    }
}
