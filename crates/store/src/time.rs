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

/// Why a string is not an accepted timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 UTC timestamp like 2026-01-31T12:00:00Z: {0:?}")]
pub struct TimestampError(pub String);

impl Timestamp {
    pub fn now() -> Self {
        Self::at(SystemTime::now())
    }

    /// The time `d` before now: expiry compares stored times with such a cut-off, which
    /// works on both backends because the text sorts in time order.
    pub fn ago(d: std::time::Duration) -> Self {
        Self::at(SystemTime::now().checked_sub(d).unwrap_or(UNIX_EPOCH))
    }

    fn at(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::from_unix_micros(d.as_secs() as i64, d.subsec_micros())
    }

    fn from_unix_micros(secs: i64, micros: u32) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Self(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ))
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` and normalises it to microseconds.
    ///
    /// Offsets other than `Z` are refused rather than converted: the service only ever speaks UTC.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let bad = || TimestampError(s.chars().take(60).collect());
        let b = s.as_bytes();
        if b.len() < 20 || !b.ends_with(b"Z") {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0, |a, c| a * 10 + u32::from(c - b'0')))
        };
        let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if seps.iter().any(|&(i, c)| b[i] != c) {
            return Err(bad());
        }
        let (y, mo, d, h, mi, se) = match (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19)) {
            (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) => (y, mo, d, h, mi, se),
            _ => return Err(bad()),
        };
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return Err(bad());
        }
        let frac = &b[19..b.len() - 1];
        let micros = match frac {
            [] => 0,
            [b'.', digits @ ..] if (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) => {
                let mut padded = [b'0'; 6];
                for (p, c) in padded.iter_mut().zip(digits) {
                    *p = *c;
                }
                padded.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'))
            }
            _ => return Err(bad()),
        };
        Ok(Self(format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}.{micros:06}Z"
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(now.as_str()).unwrap(), now);
    }
}
