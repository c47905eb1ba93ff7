//! Names that fit a citizen's sex and country of origin.
//!
//! Danish-origin citizens get first names and surnames from Statistics Denmark's lists,
//! weighted by how many Danes carry them ([`crate::locale`]). Immigrants and
//! descendants get names of their country's naming culture: surnames from the `fake` crate's
//! locale where one fits (German, Dutch, French, Italian, English, Turkish, Portuguese: the
//! Latin-script ones, as Danish registers write names), otherwise from
//! `sandbox-data/names/foreign_surnames.csv` (which also has Latin transliterations of Arabic,
//! Persian and Chinese surnames, whose `fake` locales are in their own scripts); first names,
//! which must fit the citizen's sex and `fake` does not split by sex, from
//! `sandbox-data/names/foreign_first_names.csv`.

use crate::alias::AliasTable;
use crate::locale;
use crate::refdata::RefData;
use fake::locales::{DE_DE, Data, EN, FR_FR, IT_IT, NL_NL, PT_PT, TR_TR};

/// A weighted list of names.
#[derive(Debug)]
pub struct NameList {
    names: Vec<&'static str>,
    table: AliasTable,
}

impl NameList {
    fn new(names: Vec<&'static str>, weights: &[f64]) -> Self {
        Self {
            table: AliasTable::new(weights),
            names,
        }
    }

    /// A `fake` locale's list, sampled uniformly. Entries that are not plain Latin-script names
    /// are dropped: German's list opens with the identity card's specimen names, which nobody is
    /// called, and Turkish's has a stray combining accent.
    fn uniform(names: &'static [&'static str]) -> Self {
        let names: Vec<&'static str> = names
            .iter()
            .copied()
            .filter(|n| !["Mustermann", "Musterfrau"].contains(n) && is_latin_name(n))
            .collect();
        let weights = vec![1.0; names.len()];
        Self::new(names, &weights)
    }

    #[inline]
    pub fn sample(&self, u: f64) -> &'static str {
        self.names[self.table.sample(u)]
    }

    /// Whether the list has this name; the tests check generated names with it.
    #[cfg(test)]
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(&name)
    }
}

/// True for a name written in (precomposed) Latin script: letters, spaces, hyphens, apostrophes.
pub fn is_latin_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_alphabetic()
                || matches!(c, ' ' | '-' | '\'')
                || (('\u{c0}'..='\u{24f}').contains(&c) && c != '\u{d7}' && c != '\u{f7}')
                || ('\u{1e00}'..='\u{1eff}').contains(&c)
        })
}

/// The surname list `fake` has for a naming culture, if any.
fn fake_surnames(culture: &str) -> Option<&'static [&'static str]> {
    Some(match culture {
        "german" => DE_DE::NAME_LAST_NAME,
        "dutch" => NL_NL::NAME_LAST_NAME,
        "french" => FR_FR::NAME_LAST_NAME,
        "italian" => IT_IT::NAME_LAST_NAME,
        "english" => EN::NAME_LAST_NAME,
        "turkish" => TR_TR::NAME_LAST_NAME,
        "portuguese" => PT_PT::NAME_LAST_NAME,
        _ => return None,
    })
}

/// The names of one naming culture.
#[derive(Debug)]
pub struct Culture {
    pub name: String,
    /// Indexed by `male as usize`.
    pub first: [NameList; 2],
    /// Indexed by `male as usize`: cultures with gendered surnames have a female form.
    pub surnames: [NameList; 2],
}

/// All naming cultures; index 0 is Danish.
#[derive(Debug)]
pub struct NameTables {
    pub cultures: Vec<Culture>,
}

/// The female form of a surname given in its male form, for cultures whose surnames inflect
/// by sex. Returns the name unchanged where the culture does not inflect it.
pub fn feminine_surname(culture: &str, male: &'static str) -> &'static str {
    let swap = |from: &str, to: &str| male.strip_suffix(from).map(|stem| format!("{stem}{to}"));
    let female = match culture {
        "polish" => swap("ski", "ska")
            .or_else(|| swap("cki", "cka"))
            .or_else(|| swap("dzki", "dzka")),
        "russian" | "bulgarian" => ["ov", "ev", "in"]
            .iter()
            .find(|s| male.ends_with(*s))
            .map(|_| format!("{male}a")),
        "icelandic" => swap("son", "dóttir"),
        "lithuanian" => swap("as", "ienė")
            .or_else(|| swap("is", "ienė"))
            .or_else(|| swap("ys", "ienė"))
            .or_else(|| swap("us", "uvienė")),
        "latvian" => swap("is", "e").or_else(|| swap("š", "a")).or_else(|| swap("s", "a")),
        "greek" => swap("os", "ou").or_else(|| swap("is", "i")).or_else(|| swap("as", "a")),
        _ => None,
    };
    // Built once per process (inside `NameTables::get`), so leaking is bounded.
    female.map_or(male, |f| Box::leak(f.into_boxed_str()))
}

impl NameTables {
    /// The process-wide tables, built on first use.
    pub fn get() -> &'static NameTables {
        static TABLES: std::sync::OnceLock<NameTables> = std::sync::OnceLock::new();
        TABLES.get_or_init(|| NameTables::build(crate::refdata::get()))
    }

    fn build(d: &'static RefData) -> Self {
        let counts = |c: &[u32]| c.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
        let danish = Culture {
            name: "danish".into(),
            first: [
                NameList::new(
                    locale::FIRST_NAMES_FEMALE.to_vec(),
                    &counts(locale::FIRST_NAMES_FEMALE_COUNT),
                ),
                NameList::new(
                    locale::FIRST_NAMES_MALE.to_vec(),
                    &counts(locale::FIRST_NAMES_MALE_COUNT),
                ),
            ],
            surnames: [
                NameList::new(locale::SURNAMES.to_vec(), &counts(locale::SURNAMES_COUNT)),
                NameList::new(locale::SURNAMES.to_vec(), &counts(locale::SURNAMES_COUNT)),
            ],
        };
        let mut cultures = vec![danish];
        let mut names: Vec<&str> = d.countries.iter().map(|c| c.name_culture.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for culture in names.into_iter().filter(|c| *c != "danish") {
            let first = |male: bool| {
                let rows: Vec<_> = d
                    .foreign_first_names
                    .iter()
                    .filter(|n| n.culture == culture && n.male == Some(male))
                    .collect();
                assert!(
                    !rows.is_empty(),
                    "foreign_first_names.csv: no {culture} names for male={male}"
                );
                NameList::new(
                    rows.iter().map(|n| n.name.as_str()).collect(),
                    &rows.iter().map(|n| n.weight).collect::<Vec<_>>(),
                )
            };
            let surnames = match fake_surnames(culture) {
                Some(list) => [NameList::uniform(list), NameList::uniform(list)],
                None => {
                    let rows: Vec<_> = d.foreign_surnames.iter().filter(|n| n.culture == culture).collect();
                    assert!(!rows.is_empty(), "foreign_surnames.csv: no {culture} surnames");
                    let weights: Vec<f64> = rows.iter().map(|n| n.weight).collect();
                    let male: Vec<&'static str> = rows.iter().map(|n| n.name.as_str()).collect();
                    let female = male.iter().map(|n| feminine_surname(culture, n)).collect();
                    [NameList::new(female, &weights), NameList::new(male, &weights)]
                }
            };
            cultures.push(Culture {
                name: culture.to_owned(),
                first: [first(false), first(true)],
                surnames,
            });
        }
        Self { cultures }
    }

    pub fn culture_index(&self, name: &str) -> usize {
        self.cultures
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("no naming culture {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_names_are_recognised() {
        for ok in ["Jørgensen", "Özmen", "de Jong", "O'Brien", "Nguyễn", "Al-Hassan"] {
            assert!(is_latin_name(ok), "{ok}");
        }
        for bad in ["آل عواض", "王", "Özm\u{302}en", "", "A×B"] {
            assert!(!is_latin_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_name_in_every_list_is_latin_script() {
        for c in &NameTables::get().cultures {
            for list in c.first.iter().chain(&c.surnames) {
                for n in &list.names {
                    assert!(is_latin_name(n), "{}: {n:?}", c.name);
                }
            }
        }
    }

    #[test]
    fn female_surnames_inflect() {
        assert_eq!(feminine_surname("polish", "Kowalski"), "Kowalska");
        assert_eq!(feminine_surname("polish", "Nowak"), "Nowak");
        assert_eq!(feminine_surname("russian", "Ivanov"), "Ivanova");
        assert_eq!(feminine_surname("icelandic", "Jónsson"), "Jónsdóttir");
        assert_eq!(feminine_surname("greek", "Papadopoulos"), "Papadopoulou");
        assert_eq!(feminine_surname("somali", "Mohamed"), "Mohamed");
    }

    #[test]
    fn every_country_has_a_culture_with_names_for_both_sexes() {
        let t = NameTables::get();
        for c in &crate::refdata::get().countries {
            let culture = &t.cultures[t.culture_index(&c.name_culture)];
            for male in [false, true] {
                assert!(!culture.first[usize::from(male)].sample(0.5).is_empty());
                assert!(!culture.surnames[usize::from(male)].sample(0.5).is_empty());
            }
        }
    }
}
