//! Danish name lists built from Statistics Denmark's name counts, and (in tests) `DA_DK`, a
//! Danish locale for the `fake` crate made from them.
//!
//! `fake` ships no Danish locale. `DA_DK` plugs into its `Data` trait, so any `fake` faker
//! (`FirstName(DA_DK)`, `Name(DA_DK)`, …) produces Danish names; the tests check the lists that
//! way. `fake` samples its lists uniformly; the generator itself samples the same lists weighted
//! by their DST counts (see [`crate::names`]).

// `FIRST_NAMES_ALL` feeds only the test-only `DA_DK` locale.
#[cfg_attr(not(test), allow(dead_code))]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/da_dk_names.rs"));
}

pub use generated::{
    FIRST_NAMES_FEMALE, FIRST_NAMES_FEMALE_COUNT, FIRST_NAMES_MALE, FIRST_NAMES_MALE_COUNT, SURNAMES, SURNAMES_COUNT,
};

/// The Danish locale for `fake`. Only the tests build it: nothing outside the crate used it, and
/// the generator samples the lists itself, weighted.
#[cfg(test)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct DA_DK;

#[cfg(test)]
impl fake::locales::Data for DA_DK {
    const NAME_FIRST_NAME: &'static [&'static str] = generated::FIRST_NAMES_ALL;
    const NAME_LAST_NAME: &'static [&'static str] = generated::SURNAMES;
    const NAME_TITLE: &'static [&'static str] = &["hr.", "fru", "frk.", "dr.", "prof."];
    const NAME_TPL: &'static str = "{FirstName} {LastName}";
    const NAME_WITH_TITLE_TPL: &'static str = "{Title} {FirstName} {LastName}";
    const ADDRESS_COUNTRY: &'static [&'static str] = &["Danmark"];
    const ADDRESS_COUNTRY_CODE: &'static [&'static str] = &["DK"];
}

#[cfg(test)]
mod tests {
    use super::*;
    use fake::Fake;
    use fake::faker::name::raw::{FirstName, LastName};

    #[test]
    fn fake_fakers_speak_danish() {
        let mut rng = crate::rng::SplitMix::new(1);
        for _ in 0..100 {
            let first: String = FirstName(DA_DK).fake_with_rng(&mut rng);
            let last: String = LastName(DA_DK).fake_with_rng(&mut rng);
            assert!(generated::FIRST_NAMES_ALL.contains(&first.as_str()), "{first}");
            assert!(SURNAMES.contains(&last.as_str()), "{last}");
        }
        assert_eq!(FIRST_NAMES_MALE.len(), 500);
        assert_eq!(FIRST_NAMES_FEMALE[0], "Anne");
        assert_eq!(SURNAMES[0], "Nielsen");
    }
}
