//! What the Messages and Stats APIs ask of the store, in plain data: the click fields a
//! search can filter on, how a value is normalised for matching, and the daily counters a
//! click adds to. No I/O: both backends and the API share these definitions, so a filter
//! means the same thing everywhere.
//!
//! Matching is exact after [`normalize`] (Unicode lower case, surrounding space trimmed):
//! `country=serbia` finds clicks whose `Geo.Country` is "Serbia". An empty value is "no
//! filter". Clicks with no value for a field (no tag, unknown city) are found by no filter
//! on that field.

use clickhook_core::ClickEvent;

/// A field of the Click event that `GET /messages/outbound/clicks` filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClickField {
    Recipient,
    Tag,
    ClientName,
    ClientCompany,
    ClientFamily,
    OsName,
    OsFamily,
    OsCompany,
    Platform,
    Country,
    Region,
    City,
    MessageStream,
}

impl ClickField {
    /// Every field, in the order the backends store facet values.
    pub const ALL: [ClickField; 13] = [
        Self::Recipient,
        Self::Tag,
        Self::ClientName,
        Self::ClientCompany,
        Self::ClientFamily,
        Self::OsName,
        Self::OsFamily,
        Self::OsCompany,
        Self::Platform,
        Self::Country,
        Self::Region,
        Self::City,
        Self::MessageStream,
    ];

    /// The query key in Postmark's spelling (snake case).
    pub fn name(self) -> &'static str {
        match self {
            Self::Recipient => "recipient",
            Self::Tag => "tag",
            Self::ClientName => "client_name",
            Self::ClientCompany => "client_company",
            Self::ClientFamily => "client_family",
            Self::OsName => "os_name",
            Self::OsFamily => "os_family",
            Self::OsCompany => "os_company",
            Self::Platform => "platform",
            Self::Country => "country",
            Self::Region => "region",
            Self::City => "city",
            Self::MessageStream => "messagestream",
        }
    }

    /// The field for a query key folded by the API (lower case, `_` removed), so that
    /// `client_name`, `clientName` and `ClientName` are one key.
    pub fn from_folded_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name().replace('_', "") == key)
    }

    /// The column of the embedded store's `clicks` table holding the normalised value.
    pub fn column(self) -> &'static str {
        match self {
            Self::Recipient => "f_recipient",
            Self::Tag => "f_tag",
            Self::ClientName => "f_client_name",
            Self::ClientCompany => "f_client_company",
            Self::ClientFamily => "f_client_family",
            Self::OsName => "f_os_name",
            Self::OsFamily => "f_os_family",
            Self::OsCompany => "f_os_company",
            Self::Platform => "f_platform",
            Self::Country => "f_country",
            Self::Region => "f_region",
            Self::City => "f_city",
            Self::MessageStream => "f_stream",
        }
    }

    /// The event's value for this field, as stored (not normalised).
    pub fn raw_value(self, e: &ClickEvent) -> Option<&str> {
        let v = match self {
            Self::Recipient => e.recipient.as_str(),
            Self::Tag => e.tag.as_str(),
            Self::ClientName => e.client.name.as_str(),
            Self::ClientCompany => e.client.company.as_str(),
            Self::ClientFamily => e.client.family.as_str(),
            Self::OsName => e.os.name.as_str(),
            Self::OsFamily => e.os.family.as_str(),
            Self::OsCompany => e.os.company.as_str(),
            Self::Platform => e.platform.as_str(),
            Self::Country => e.geo.country.as_deref()?,
            Self::Region => e.geo.region.as_deref()?,
            Self::City => e.geo.city.as_deref()?,
            Self::MessageStream => e.message_stream.as_str(),
        };
        Some(v)
    }
}

/// The form values are matched in: trimmed, Unicode lower case.
pub fn normalize(v: &str) -> String {
    v.trim().to_lowercase()
}

/// The normalised value of each field of [`ClickField::ALL`], `""` where the event has none.
pub fn facets(e: &ClickEvent) -> [String; 13] {
    ClickField::ALL.map(|f| f.raw_value(e).map(normalize).unwrap_or_default())
}

/// A search for clicks of one server: newest first, `count` from `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickSearch {
    pub server: String,
    /// Only this message's clicks.
    pub message_id: Option<String>,
    /// Every filter must match; values already [`normalize`]d and not empty; one per field.
    pub filters: Vec<(ClickField, String)>,
    pub count: usize,
    pub offset: usize,
}

impl ClickSearch {
    pub fn new(server: &str) -> Self {
        Self { server: server.into(), message_id: None, filters: Vec::new(), count: 100, offset: 0 }
    }

    /// Adds a filter; an empty value adds nothing, a second value for a field replaces the first.
    pub fn filter(mut self, field: ClickField, value: &str) -> Self {
        let v = normalize(value);
        self.filters.retain(|(f, _)| *f != field);
        if !v.is_empty() {
            self.filters.push((field, v));
            self.filters.sort();
        }
        self
    }

    /// Whether a click matches this search (used by tests and as the reference semantics).
    pub fn matches(&self, server: &str, e: &ClickEvent) -> bool {
        server == self.server
            && self.message_id.as_deref().is_none_or(|m| m == e.message_id)
            && self.filters.iter().all(|(f, v)| f.raw_value(e).is_some_and(|x| normalize(x) == *v))
    }
}

/// Names of the daily counters (`metric` in [`StatRow`]).
pub mod metric {
    /// Every click inside retention, repeats included.
    pub const CLICKS: &str = "clicks";
    /// Unique clicks (the first of a recipient on a link of a message).
    pub const UNIQUE: &str = "unique";
    pub const BROWSER: &str = "browser:";
    pub const PLATFORM: &str = "platform:";
    pub const LOCATION: &str = "location:";
}

/// The counters a click adds one to, besides [`metric::UNIQUE`], which the store adds
/// when it finds the click unique. Breakdowns count every click, repeats included, as
/// `Clicks` does.
pub fn stat_metrics(e: &ClickEvent) -> Vec<String> {
    vec![
        metric::CLICKS.to_owned(),
        format!("{}{}", metric::BROWSER, e.client.family),
        format!("{}{}", metric::PLATFORM, e.platform.as_str()),
        format!("{}{}", metric::LOCATION, e.click_location.as_str()),
    ]
}

/// The tag stats are kept under once a server has [`MAX_STAT_TAGS_PER_DAY`] tags on a day.
pub const OVERFLOW_TAG: &str = "\u{1}other";

/// Distinct tags counted apart per server and day (and, on Redis, per shard). Senders that
/// put a unique tag on every message would otherwise make the counters as large as the
/// messages; later tags of that day are counted together under [`OVERFLOW_TAG`], so totals
/// stay exact and only a filter on such a tag misses that day.
pub const MAX_STAT_TAGS_PER_DAY: usize = 1000;

/// What a click adds to the daily counters, computed when it is processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatKeys {
    /// The click's day in the configured time zone, `YYYY-MM-DD`.
    pub day: String,
    pub stream: String,
    pub tag: String,
    pub metrics: Vec<String>,
}

/// A query of the daily counters of one server. Days are `YYYY-MM-DD`, both ends inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsQuery {
    pub server: String,
    pub from_day: Option<String>,
    pub to_day: Option<String>,
    pub tag: Option<String>,
    pub stream: Option<String>,
}

/// One counter of one day, summed over the tags and streams the query let through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatRow {
    pub day: String,
    pub metric: String,
    pub count: u64,
}

/// Sums rows by (day, metric), in day order.
pub fn sum_stat_rows(rows: impl IntoIterator<Item = StatRow>) -> Vec<StatRow> {
    let mut m: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for r in rows {
        *m.entry((r.day, r.metric)).or_default() += r.count;
    }
    m.into_iter().map(|((day, metric), count)| StatRow { day, metric, count }).collect()
}

/// `YYYY-MM-DD` as a number `YYYYMMDD` (for Redis scores), or `None` if it is not a date.
pub fn day_number(day: &str) -> Option<i64> {
    let b = day.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits: String = day.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_keys_find_fields() {
        assert_eq!(ClickField::from_folded_key("clientname"), Some(ClickField::ClientName));
        assert_eq!(ClickField::from_folded_key("messagestream"), Some(ClickField::MessageStream));
        assert_eq!(ClickField::from_folded_key("osfamily"), Some(ClickField::OsFamily));
        assert_eq!(ClickField::from_folded_key("count"), None);
        for f in ClickField::ALL {
            assert_eq!(ClickField::from_folded_key(&f.name().replace('_', "")), Some(f));
        }
    }

    #[test]
    fn facets_follow_the_event() {
        let e = ClickEvent::example();
        let f = facets(&e);
        assert_eq!(f[0], "john@example.com");
        assert_eq!(f[4], "chrome");
        assert_eq!(f[8], "desktop");
        assert_eq!(f[9], "serbia");
        assert_eq!(f[11], "novi sad");
        let mut e2 = e.clone();
        e2.geo = Default::default();
        assert_eq!(facets(&e2)[11], "");
    }

    #[test]
    fn search_semantics() {
        let e = ClickEvent::example();
        let q = ClickSearch::new("s").filter(ClickField::Country, " SERBIA ").filter(ClickField::Tag, "");
        assert_eq!(q.filters, vec![(ClickField::Country, "serbia".into())]);
        assert!(q.matches("s", &e));
        assert!(!q.matches("other", &e));
        assert!(!q.clone().filter(ClickField::City, "Belgrade").matches("s", &e));
        let mut no_geo = e.clone();
        no_geo.geo = Default::default();
        assert!(!q.matches("s", &no_geo));
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_number("2026-12-02"), Some(20261202));
        assert_eq!(day_number("2026-1-02"), None);
        assert_eq!(day_number("2026-12-0x"), None);
    }

    #[test]
    fn rows_sum_by_day_and_metric() {
        let r = |d: &str, m: &str, c| StatRow { day: d.into(), metric: m.into(), count: c };
        let s = sum_stat_rows([r("2026-12-02", "clicks", 2), r("2026-12-01", "clicks", 1), r("2026-12-02", "clicks", 3)]);
        assert_eq!(s, vec![r("2026-12-01", "clicks", 1), r("2026-12-02", "clicks", 5)]);
    }
}
