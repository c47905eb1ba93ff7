//! Age bands for group metrics: age is a protected ground in Danish and EU law, and a
//! continuous column cannot be a group. Bands are ten years wide from 18 (`18-29` first,
//! as few are younger in the cases) up to `90+`.

use arrow::array::{DictionaryArray, StringArray, UInt8Array};
use arrow::datatypes::Int8Type;
use std::sync::Arc;

/// Band labels, youngest first.
pub const BANDS: [&str; 9] = [
    "0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+",
];

fn band(age: u8) -> i8 {
    match age {
        0..=17 => 0,
        18..=29 => 1,
        90.. => 8,
        a => (a / 10) as i8 - 1,
    }
}

/// The band of every age, dictionary-encoded over [`BANDS`].
pub fn bands(age: &UInt8Array) -> DictionaryArray<Int8Type> {
    let keys: arrow::array::Int8Array = age.values().iter().map(|&a| Some(band(a))).collect();
    DictionaryArray::try_new(keys, Arc::new(StringArray::from(BANDS.to_vec()))).expect("keys index BANDS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges() {
        for (age, label) in [
            (17, "0-17"),
            (18, "18-29"),
            (29, "18-29"),
            (30, "30-39"),
            (66, "60-69"),
            (89, "80-89"),
            (90, "90+"),
            (110, "90+"),
        ] {
            assert_eq!(BANDS[band(age) as usize], label, "{age}");
        }
    }
}
