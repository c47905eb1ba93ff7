//! Civil dates as days since 1970-01-01 (Arrow's `Date32`), without a calendar dependency.
//! The algorithms are Howard Hinnant's `days_from_civil` / `civil_from_days`.

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i32;
    era * 146_097 + doe - 719_468
}

/// The `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whole years of age on `on` for someone born on `born` (both as day counts); the tests check
/// generated ages with it.
#[cfg(test)]
pub fn age_on(born: i32, on: i32) -> i32 {
    let (by, bm, bd) = civil_from_days(born);
    let (y, m, d) = civil_from_days(on);
    let mut age = y - by;
    if (m, d) < (bm, bd) {
        age -= 1;
    }
    age
}

/// The same calendar day `years` earlier; 29 February falls back to 28 February.
pub fn years_before(day: i32, years: i32) -> i32 {
    let (y, m, d) = civil_from_days(day);
    let y2 = y - years;
    let d2 = if m == 2 && d == 29 && !is_leap(y2) { 28 } else { d };
    days_from_civil(y2, m, d2)
}

pub fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for z in (-60_000..40_000).step_by(7) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn age_counts_birthdays() {
        let on = days_from_civil(2026, 1, 1);
        assert_eq!(age_on(days_from_civil(2000, 1, 1), on), 26);
        assert_eq!(age_on(days_from_civil(2000, 1, 2), on), 25);
        assert_eq!(
            years_before(days_from_civil(2024, 2, 29), 1),
            days_from_civil(2023, 2, 28)
        );
    }
}
