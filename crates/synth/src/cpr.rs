//! Synthetic CPR numbers that can never belong to a real person.
//!
//! A CPR number is `DDMMYY-SSSS`. The seventh digit together with `YY` gives the century, the
//! tenth digit is odd for men and even for women. CPR-kontoret's rule for replacement numbers
//! ("erstatningspersonnumre") adds 6 to the first digit of the day, giving days 61–91: no real
//! person's number has such a day, so every number made here is fictitious by construction.
//! The modulus-11 check is not applied: it does not hold for all numbers issued since 2007.

use crate::date::{civil_from_days, days_from_civil};

/// Serials per seventh digit and sex: two free digits (100) times five parity-correct last digits.
pub const SERIALS_PER_CENTURY_DIGIT: u32 = 500;

/// The seventh digits that encode birth year `year`, in ascending order; empty outside 1858–2057.
pub fn century_digits(year: i32) -> &'static [u8] {
    match year {
        1858..=1899 => &[5, 6, 7, 8],
        1900..=1936 => &[0, 1, 2, 3],
        1937..=1999 => &[0, 1, 2, 3, 4, 9],
        2000..=2036 => &[4, 5, 6, 7, 8, 9],
        2037..=2057 => &[5, 6, 7, 8],
        _ => &[],
    }
}

/// How many distinct numbers exist for one birth date and one sex.
pub fn serial_capacity(year: i32) -> u32 {
    century_digits(year).len() as u32 * SERIALS_PER_CENTURY_DIGIT
}

/// The full birth year encoded by `yy` and seventh digit `d7` (CPR-kontoret's table).
pub fn decode_year(yy: u32, d7: u32) -> i32 {
    let yy = yy as i32;
    match d7 {
        0..=3 => 1900 + yy,
        4 | 9 => {
            if yy <= 36 {
                2000 + yy
            } else {
                1900 + yy
            }
        }
        _ => {
            if yy <= 57 {
                2000 + yy
            } else {
                1800 + yy
            }
        }
    }
}

/// Writes the fictitious CPR number for birth date `birth` (days since 1970), sex and serial
/// index (`0..serial_capacity(year)`) as `DDMMYY-SSSS` into `out`.
pub fn format_into(birth: i32, male: bool, serial_index: u32, out: &mut [u8; 11]) {
    let (y, m, d) = civil_from_days(birth);
    let digits = century_digits(y);
    let d7 = u32::from(digits[(serial_index / SERIALS_PER_CENTURY_DIGIT) as usize]);
    let rest = serial_index % SERIALS_PER_CENTURY_DIGIT;
    let d89 = rest / 5;
    let d10 = 2 * (rest % 5) + u32::from(male);
    let dd = d + 60;
    let yy = (y.rem_euclid(100)) as u32;
    let two = |v: u32| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    out[0..2].copy_from_slice(&two(dd));
    out[2..4].copy_from_slice(&two(m));
    out[4..6].copy_from_slice(&two(yy));
    out[6] = b'-';
    out[7] = b'0' + d7 as u8;
    out[8..10].copy_from_slice(&two(d89));
    out[10] = b'0' + d10 as u8;
}

/// What a parsed fictitious CPR number says about its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CprFacts {
    /// Birth date, days since 1970-01-01.
    pub birth: i32,
    /// The sex it encodes (odd last digit: male).
    pub male: bool,
}

/// Why a string is not a fictitious CPR number of the kind the generator makes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CprError {
    /// Not `DDMMYY-SSSS`.
    #[error("CPR number {0:?} is not of the form DDMMYY-SSSS")]
    Shape(String),
    /// The day is not a replacement day (61-91), so it could be a real person's number.
    #[error("CPR number {0:?} has day {1}, not 61-91: it could belong to a real person")]
    NotFictitious(String, u32),
    /// The date does not exist (e.g. 31 February).
    #[error("CPR number {0:?} encodes no valid calendar date")]
    BadDate(String),
}

/// Parses a fictitious CPR number and returns the birth date and sex it encodes.
pub fn parse_fictitious(s: &str) -> Result<CprFacts, CprError> {
    let b = s.as_bytes();
    let digit_positions = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10];
    if b.len() != 11 || b[6] != b'-' || digit_positions.iter().any(|&i| !b[i].is_ascii_digit()) {
        return Err(CprError::Shape(s.to_owned()));
    }
    let n = |i: usize| u32::from(b[i] - b'0');
    let dd = n(0) * 10 + n(1);
    let mm = n(2) * 10 + n(3);
    let yy = n(4) * 10 + n(5);
    if !(61..=91).contains(&dd) {
        return Err(CprError::NotFictitious(s.to_owned(), dd));
    }
    let year = decode_year(yy, n(7));
    let day = dd - 60;
    if !(1..=12).contains(&mm) {
        return Err(CprError::BadDate(s.to_owned()));
    }
    let birth = days_from_civil(year, mm, day);
    if civil_from_days(birth) != (year, mm, day) {
        return Err(CprError::BadDate(s.to_owned()));
    }
    Ok(CprFacts {
        birth,
        male: n(10) % 2 == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_serial_index_round_trips_for_every_century_band() {
        for (y, m, d) in [
            (1890, 2, 28),
            (1936, 12, 31),
            (1937, 1, 1),
            (1999, 7, 4),
            (2000, 2, 29),
            (2036, 3, 3),
            (2040, 1, 9),
        ] {
            let birth = days_from_civil(y, m, d);
            let cap = serial_capacity(y);
            let mut seen = std::collections::HashSet::new();
            for male in [false, true] {
                for i in 0..cap {
                    let mut out = [0u8; 11];
                    format_into(birth, male, i, &mut out);
                    let s = std::str::from_utf8(&out).unwrap().to_owned();
                    let facts = parse_fictitious(&s).unwrap();
                    assert_eq!(facts, CprFacts { birth, male }, "{s}");
                    assert!(seen.insert(s));
                }
            }
            assert_eq!(seen.len() as u32, 2 * cap);
        }
    }

    #[test]
    fn known_example_and_rejections() {
        let mut out = [0u8; 11];
        format_into(days_from_civil(1985, 5, 17), false, 0, &mut out);
        assert_eq!(&out, b"770585-0000");
        assert!(matches!(
            parse_fictitious("170585-0000"),
            Err(CprError::NotFictitious(_, 17))
        ));
        assert!(matches!(parse_fictitious("910285-0000"), Err(CprError::BadDate(_))));
        assert!(matches!(parse_fictitious("77058-50000"), Err(CprError::Shape(_))));
    }
}
