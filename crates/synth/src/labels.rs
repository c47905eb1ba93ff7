//! What people read for a category's value, in Danish and English.
//!
//! The data keeps its values as they are (`danish`, `F`): they are keys in files, reports and
//! criteria. Reports show each known value by its label in the reader's language instead; a
//! value this table does not know is shown as it is. Each enum's table is an exhaustive `match`,
//! so a new category value does not compile until it has both labels.

use crate::model::{Education, Household, Origin};

impl Origin {
    /// `(Danish, English)`, in Statistics Denmark's wording.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Origin::Danish => ("dansk oprindelse", "Danish origin"),
            Origin::ImmigrantWestern => ("indvandrer, vestlig", "immigrant, Western"),
            Origin::ImmigrantNonWestern => ("indvandrer, ikke-vestlig", "immigrant, non-Western"),
            Origin::DescendantWestern => ("efterkommer, vestlig", "descendant, Western"),
            Origin::DescendantNonWestern => ("efterkommer, ikke-vestlig", "descendant, non-Western"),
        }
    }
}

impl Education {
    /// `(Danish, English)`.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Education::InSchool => ("i grundskole", "in school"),
            Education::Basic => ("grundskole", "basic school"),
            Education::UpperSecondary => ("gymnasial", "upper secondary"),
            Education::Vocational => ("erhvervsfaglig", "vocational"),
            Education::ShortCycle => ("kort videregående", "short-cycle higher"),
            Education::Bachelor => ("mellemlang videregående / bachelor", "medium-cycle higher / bachelor"),
            Education::MasterPhd => ("lang videregående / ph.d.", "long-cycle higher / PhD"),
        }
    }
}

impl Household {
    /// `(Danish, English)`.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Household::Single => ("enlig", "single"),
            Household::CoupleNoChildren => ("par uden børn", "couple without children"),
            Household::CoupleWithChildren => ("par med børn", "couple with children"),
            Household::SingleParent => ("enlig forsørger", "single parent"),
            Household::ChildAtHome => ("hjemmeboende barn", "child living at home"),
            Household::Other => ("anden husstand", "other household"),
        }
    }
}

/// The labels of `value` in `column`, if the column is a category this crate knows.
pub fn value_names(column: &str, value: &str) -> Option<(&'static str, &'static str)> {
    match column {
        "sex" => match value {
            "F" => Some(("kvinde", "female")),
            "M" => Some(("mand", "male")),
            _ => None,
        },
        "origin" => Origin::from_label(value).map(Origin::names),
        "education" => Education::from_label(value).map(Education::names),
        "household_type" => Household::from_label(value).map(Household::names),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_of_every_labelled_category_has_two_distinct_labels() {
        for (column, values) in [
            ("origin", Origin::LABELS),
            ("education", Education::LABELS),
            ("household_type", Household::LABELS),
            ("sex", &["F", "M"][..]),
        ] {
            for v in values {
                let (da, en) = value_names(column, v).unwrap_or_else(|| panic!("{column}={v}"));
                assert!(!da.is_empty() && !en.is_empty(), "{column}={v}");
            }
        }
        assert_eq!(value_names("origin", "martian"), None);
        assert_eq!(value_names("municipality", "Aarhus"), None);
    }
}
