//! Timestamps as canonical RFC 3339 UTC text.
//!
//! Every time is stored as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (fixed width, microseconds, UTC), so the text sorts in
//! time order on both backends and filters can compare strings; and the audit hash covers exactly these bytes.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A point in time in canonical RFC 3339 UTC form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(String);

/// Fixed-width RFC 3339 UTC text; described as such so that clients parse it as a time.
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "A time in UTC, RFC 3339 with microseconds: 2026-01-31T12:00:00.000000Z.",
        })
    }
}

/// Why a string is not an accepted timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 UTC timestamp like 2026-01-31T12:00:00Z: {0:?}")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The current time, truncated as stored, so a value read back compares equal to the one written.
    pub fn now() -> Self {
        Self::of(jiff::Timestamp::now())
    }

    /// The time `d` before now: expiry compares stored times with such a cut-off, which
    /// works on both backends because the text sorts in time order.
    pub fn ago(d: std::time::Duration) -> Self {
        let then = SystemTime::now().checked_sub(d).unwrap_or(UNIX_EPOCH);
        Self::of(jiff::Timestamp::try_from(then).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    }

    #[cfg(test)]
    fn from_unix_micros(secs: i64, micros: u32) -> Self {
        let t = jiff::Timestamp::from_second(secs)
            .and_then(|t| t.checked_add(jiff::SignedDuration::from_micros(i64::from(micros))))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        Self::of(t)
    }

    /// The canonical text of an instant, truncated to microseconds. The calendar is jiff's.
    fn of(t: jiff::Timestamp) -> Self {
        let dt = jiff::tz::Offset::UTC.to_datetime(t);
        Self(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.subsec_nanosecond() / 1000
        ))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` and normalises it to microseconds.
    ///
    /// The shape is checked here (offsets other than `Z` are refused rather than converted: the
    /// service only ever speaks UTC); whether the date exists (no 31 February, 29 February only
    /// in leap years) is jiff's to say.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError(s.chars().take(60).collect());
        let b = s.as_bytes();
        if b.len() < 20 || b.len() > 30 || !b.ends_with(b"Z") {
            return Err(bad());
        }
        let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|p| p.iter().all(u8::is_ascii_digit));
        let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if seps.iter().any(|&(i, c)| b[i] != c) || ![0..4, 5..7, 8..10, 11..13, 14..16, 17..19].into_iter().all(digits)
        {
            return Err(bad());
        }
        match &b[19..b.len() - 1] {
            [] => {}
            [b'.', frac @ ..] if (1..=9).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit) => {}
            _ => return Err(bad()),
        }
        let t: jiff::Timestamp = s.parse().map_err(|_| bad())?;
        Ok(Self::of(t))
    }

    /// The RFC 3339 text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;
    fn try_from(s: String) -> Result<Self, TimestampError> {
        Self::parse(&s)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            Timestamp::from_unix_micros(0, 0).as_str(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::from_unix_micros(951_782_400, 5).as_str(),
            "2000-02-29T00:00:00.000005Z"
        );
        assert_eq!(
            Timestamp::from_unix_micros(1_767_225_599, 999_999).as_str(),
            "2025-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn ago_is_before_now_by_the_duration() {
        let hour = std::time::Duration::from_secs(3600);
        let (before, now) = (Timestamp::ago(hour), Timestamp::now());
        assert!(before < now);
        let secs = |t: &Timestamp| {
            let b = t.as_str().as_bytes();
            let n = |i: usize| u64::from(b[i] - b'0') * 10 + u64::from(b[i + 1] - b'0');
            n(11) * 3600 + n(14) * 60 + n(17)
        };
        // Within the same day or across midnight, the clock reads an hour earlier.
        let apart = (secs(&now) + 86_400 - secs(&before)) % 86_400;
        assert!((3600..=3601).contains(&apart), "{before} .. {now}");
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            Timestamp::parse("2026-01-31T12:00:00Z").unwrap().as_str(),
            "2026-01-31T12:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::parse("2026-01-31T12:00:00.5Z").unwrap().as_str(),
            "2026-01-31T12:00:00.500000Z"
        );
        assert_eq!(
            Timestamp::parse("2026-01-31T12:00:00.123456789Z").unwrap().as_str(),
            "2026-01-31T12:00:00.123456Z"
        );
        for bad in [
            "",
            "2026-01-31",
            "2026-01-31T12:00:00+01:00",
            "2026-13-01T00:00:00Z",
            "2026-01-31T12:00:00.Z",
            // Dates that do not exist.
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-31T24:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Timestamp::parse("2028-02-29T00:00:00Z").unwrap().as_str(),
            "2028-02-29T00:00:00.000000Z"
        );
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(now.as_str()).unwrap(), now);
    }
}
