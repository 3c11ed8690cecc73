//! Timestamps as Postmark writes them.
//!
//! Postmark's payloads carry RFC 3339 UTC times with seven fractional digits
//! (`2017-10-25T15:21:11.9065619Z`, .NET's tick precision). Receivers parse them with
//! whatever their language offers, so clickhook writes exactly that shape.

use time::{OffsetDateTime, UtcOffset, format_description::BorrowedFormatItem, macros::format_description};

const POSTMARK: &[BorrowedFormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z"
);

/// `2017-10-25T15:21:11.9065619Z` for any instant (converted to UTC first).
pub fn postmark(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(POSTMARK)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.0000000Z".to_owned())
}

/// Parses an RFC 3339 timestamp as senders write them (`2026-11-29T10:00:00Z`,
/// `2026-11-29T10:00:00.123+01:00`).
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Unix time in milliseconds, the unit every store keeps.
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`unix_ms`]; out-of-range values clamp to the epoch.
pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_fractional_digits() {
        let t = parse_rfc3339("2017-10-25T15:21:11.9065619Z").unwrap();
        assert_eq!(postmark(t), "2017-10-25T15:21:11.9065619Z");
        let t = parse_rfc3339("2026-11-29T10:00:00+01:00").unwrap();
        assert_eq!(postmark(t), "2026-11-29T09:00:00.0000000Z");
    }

    #[test]
    fn unix_ms_round_trip() {
        let t = parse_rfc3339("2026-11-29T10:00:00.123Z").unwrap();
        assert_eq!(from_unix_ms(unix_ms(t)), t);
    }
}
