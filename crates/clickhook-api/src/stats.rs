//! The Stats API's clicks, as Postmark has them:
//!
//! - `GET /stats/outbound/clicks`: `{"Days": [{"Date", "Clicks", "Unique"}], "Clicks", "Unique"}`
//! - `GET /stats/outbound/clicks/browserfamilies`: counts by `Client.Family`
//! - `GET /stats/outbound/clicks/platforms`: counts by `Platform` (Desktop, Mobile, WebMail, Unknown)
//! - `GET /stats/outbound/clicks/location`: counts by `ClickLocation` (HTML, Text)
//!
//! Query: `tag`, `fromdate`, `todate` (`YYYY-MM-DD`, inclusive, in `stats.timezone`) and
//! `messagestream`. Without dates, every day kept. `Days` lists the days that had clicks, in
//! order; the totals sum them. Counts include repeat clicks (`Unique` counts only the first
//! click of a recipient on a link); the breakdowns count every click. The counters are kept
//! forever, also after the clicks themselves are removed.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use clickhook_store::search::{self, metric};
use clickhook_store::{StatRow, StatsQuery};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::{ApiState, Server, query_pairs};

fn parse_day(key: &str, v: &str) -> Result<String, ApiError> {
    let v = v.trim();
    // Postmark also accepts a time after the date; the day is what counts.
    let day = v.get(..10).unwrap_or(v);
    day.parse::<jiff::civil::Date>()
        .map(|d| d.to_string())
        .map_err(|_| ApiError::invalid(format!("{key} {v:?} is not a date such as 2026-12-01")))
}

fn parse_query(server: &Server, q: Option<&str>) -> Result<StatsQuery, ApiError> {
    let mut query = StatsQuery { server: server.name.clone(), ..Default::default() };
    for (k, v) in query_pairs(q) {
        match k.as_str() {
            "fromdate" if !v.is_empty() => query.from_day = Some(parse_day("fromdate", &v)?),
            "todate" if !v.is_empty() => query.to_day = Some(parse_day("todate", &v)?),
            "tag" if !v.is_empty() => query.tag = Some(search::normalize(&v)),
            "messagestream" if !v.is_empty() => query.stream = Some(search::normalize(&v)),
            _ => {}
        }
    }
    if let (Some(from), Some(to)) = (&query.from_day, &query.to_day)
        && from > to
    {
        return Err(ApiError::invalid(format!("fromdate {from} is after todate {to}")));
    }
    Ok(query)
}

/// Days and totals of the metrics that start with `prefix`, keyed by the rest of the name
/// (or by `rename` for whole names).
fn breakdown(rows: &[StatRow], pick: impl Fn(&str) -> Option<String>) -> Value {
    let mut days: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows {
        let Some(key) = pick(&r.metric) else { continue };
        if r.count == 0 {
            continue;
        }
        days.entry(&r.day).or_default().insert(key.clone(), json!(r.count));
        *totals.entry(key).or_default() += r.count;
    }
    let mut out = Map::new();
    out.insert(
        "Days".into(),
        Value::Array(
            days.into_iter()
                .map(|(day, counts)| {
                    let mut m = Map::new();
                    m.insert("Date".into(), json!(day));
                    m.extend(counts);
                    Value::Object(m)
                })
                .collect(),
        ),
    );
    out.extend(totals.into_iter().map(|(k, v)| (k, json!(v))));
    Value::Object(out)
}

async fn rows(state: &ApiState, server: &Server, q: Option<&str>) -> Result<Vec<StatRow>, ApiError> {
    let query = parse_query(server, q)?;
    Ok(state.store.click_stats(&query).await?)
}

pub async fn clicks(State(state): State<ApiState>, server: Server, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let rows = rows(&state, &server, q.as_deref()).await?;
    let mut v = breakdown(&rows, |m| match m {
        metric::CLICKS => Some("Clicks".into()),
        metric::UNIQUE => Some("Unique".into()),
        _ => None,
    });
    // Postmark always has both totals, and both counts on every day.
    for day in v["Days"].as_array_mut().into_iter().flatten() {
        for k in ["Clicks", "Unique"] {
            day.as_object_mut().map(|d| d.entry(k).or_insert(json!(0)));
        }
    }
    for k in ["Clicks", "Unique"] {
        v.as_object_mut().map(|d| d.entry(k).or_insert(json!(0)));
    }
    Ok(Json(v))
}

pub async fn browser_families(State(state): State<ApiState>, server: Server, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let rows = rows(&state, &server, q.as_deref()).await?;
    Ok(Json(breakdown(&rows, |m| m.strip_prefix(metric::BROWSER).map(str::to_owned))))
}

pub async fn platforms(State(state): State<ApiState>, server: Server, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let rows = rows(&state, &server, q.as_deref()).await?;
    Ok(Json(breakdown(&rows, |m| m.strip_prefix(metric::PLATFORM).map(str::to_owned))))
}

pub async fn location(State(state): State<ApiState>, server: Server, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let rows = rows(&state, &server, q.as_deref()).await?;
    Ok(Json(breakdown(&rows, |m| m.strip_prefix(metric::LOCATION).map(str::to_owned))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(day: &str, metric: &str, count: u64) -> StatRow {
        StatRow { day: day.into(), metric: metric.into(), count }
    }

    #[test]
    fn breakdowns_have_days_and_totals() {
        let rows = [r("2026-12-01", "browser:Chrome", 2), r("2026-12-01", "clicks", 3), r("2026-12-02", "browser:Chrome", 1), r("2026-12-02", "browser:Firefox", 4)];
        let v = breakdown(&rows, |m| m.strip_prefix("browser:").map(str::to_owned));
        assert_eq!(
            v,
            json!({"Days": [{"Date": "2026-12-01", "Chrome": 2}, {"Date": "2026-12-02", "Chrome": 1, "Firefox": 4}], "Chrome": 3, "Firefox": 4})
        );
    }

    #[test]
    fn dates_are_checked() {
        let s = Server { name: "s".into() };
        let q = parse_query(&s, Some("fromdate=2026-12-01&ToDate=2026-12-31T00:00:00&Tag=Welcome&messageStream=Outbound")).unwrap();
        assert_eq!(q.from_day.as_deref(), Some("2026-12-01"));
        assert_eq!(q.to_day.as_deref(), Some("2026-12-31"));
        assert_eq!((q.tag.as_deref(), q.stream.as_deref()), (Some("welcome"), Some("outbound")));
        assert!(parse_query(&s, Some("fromdate=2026-13-01")).is_err());
        assert!(parse_query(&s, Some("fromdate=2026-12-02&todate=2026-12-01")).is_err());
    }
}
