//! Tests that check generated data against the crate's own tables (CPR rules, calendar,
//! name lists), and the counterfactual test that checks its twins' CPR numbers: moved here
//! from `tests/generator.rs` because those tables are not public.

use crate::cpr::parse_fictitious;
use crate::{Counterfactual, Generator};
#[path = "../tests/support/mod.rs"]
mod support;
use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Date32Type, Float64Type};
use std::collections::HashSet;
use support::{bools, generate, spec, strings, u8s};

fn check_cprs(b: &RecordBatch, reference_age: bool) -> Vec<String> {
    let cprs = strings(b, "cpr");
    let sex = strings(b, "sex");
    let birth = b.column_by_name("birth_date").unwrap().as_primitive::<Date32Type>();
    let age = u8s(b, "age");
    let reference = crate::date::days_from_civil(2026, 1, 1);
    for i in 0..b.num_rows() {
        let facts = parse_fictitious(&cprs[i]).unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(facts.birth, birth.value(i), "row {i}: {}", cprs[i]);
        assert_eq!(facts.male, sex[i] == "M", "row {i}: {}", cprs[i]);
        if reference_age {
            assert_eq!(
                crate::date::age_on(facts.birth, reference),
                i32::from(age[i]),
                "row {i}"
            );
        }
    }
    cprs
}

#[test]
fn cpr_numbers_are_fictitious_consistent_and_unique() {
    for scenario in [
        "population",
        "unemployment-risk",
        "rehabilitation-need",
        "eldercare-visitation",
    ] {
        let b = generate(spec(scenario, 1_000_000, 77, &[]));
        let cprs = check_cprs(&b, true);
        let unique: HashSet<&String> = cprs.iter().collect();
        assert_eq!(unique.len(), cprs.len(), "{scenario}: duplicate CPR numbers");
    }
}

#[test]
fn fifty_million_citizens_keep_valid_distinct_cpr_numbers() {
    // Uniqueness holds by construction (a bijection onto slots). Check the far end of a 50M
    // dataset of the scenario whose cohorts are fullest: beyond its exact capacity the largest
    // cohorts are capped, and every number must still be valid and distinct.
    let g = Generator::new(spec("rehabilitation-need", 50_000_000, 3, &[])).unwrap();
    assert!(g.exact_capacity() < 50_000_000);
    let last = g.num_batches() - 1;
    let tail = concat_batches(&g.schema(), &[g.batch(last - 2), g.batch(last - 1), g.batch(last)]).unwrap();
    let cprs = check_cprs(&tail, true);
    assert_eq!(cprs.iter().collect::<HashSet<_>>().len(), cprs.len());
    assert!(u8s(&tail, "age").iter().all(|a| *a >= 65));
}

#[test]
fn names_fit_sex_and_origin() {
    let b = generate(spec("population", 100_000, 17, &[]));
    let first = strings(&b, "first_name");
    let sex = strings(&b, "sex");
    let origin = strings(&b, "origin");
    let female: HashSet<&str> = crate::locale::FIRST_NAMES_FEMALE.iter().copied().collect();
    let male: HashSet<&str> = crate::locale::FIRST_NAMES_MALE.iter().copied().collect();
    let danish: Vec<usize> = (0..b.num_rows()).filter(|&i| origin[i] == "danish").collect();
    for &i in &danish {
        let list = if sex[i] == "M" { &male } else { &female };
        assert!(list.contains(first[i].as_str()), "row {i}: {} {}", sex[i], first[i]);
    }
    // Immigrants' first names come from their country's naming culture (a few carry a
    // Danish name), in the form for their sex.
    let country = strings(&b, "country_of_origin");
    let tables = crate::names::NameTables::get();
    let refdata = crate::refdata::get();
    let immigrants: Vec<usize> = (0..b.num_rows())
        .filter(|&i| origin[i].starts_with("immigrant"))
        .collect();
    let fitting = immigrants
        .iter()
        .filter(|&&i| {
            let c = refdata.countries.iter().find(|c| c.code == country[i]).unwrap();
            let culture = &tables.cultures[tables.culture_index(&c.name_culture)];
            culture.first[usize::from(sex[i] == "M")].contains(&first[i])
        })
        .count();
    assert!(
        fitting as f64 > 0.95 * immigrants.len() as f64,
        "{fitting} of {}",
        immigrants.len()
    );
    // Names are written in Latin script, as in Danish registers.
    let last = strings(&b, "last_name");
    for (f, l) in first.iter().zip(&last) {
        assert!(
            crate::names::is_latin_name(f) && crate::names::is_latin_name(l),
            "{f} {l}"
        );
        assert!(!l.starts_with("Muster"), "{l}");
    }
    // Anne is the most common Danish woman's name: about 1.5 % of Danish-origin women.
    let women: Vec<usize> = danish.iter().copied().filter(|&i| sex[i] == "F").collect();
    let annes = women.iter().filter(|&&i| first[i] == "Anne").count() as f64 / women.len() as f64;
    assert!((0.012..0.024).contains(&annes), "share of Anne {annes}");
}

#[test]
fn counterfactual_twins_change_only_the_attribute_and_its_descendants() {
    let mut s = spec("unemployment-risk", 20_000, 31, &["none"]);
    s.counterfactual = Some(Counterfactual::Sex);
    let b = generate(s);
    assert_eq!(b.num_rows(), 40_000);
    let twin = bools(&b, "is_twin");
    let sex = strings(&b, "sex");
    let birth = b.column_by_name("birth_date").unwrap().as_primitive::<Date32Type>();
    let origin = strings(&b, "origin");
    let muni = strings(&b, "municipality");
    let ids = b
        .column_by_name("twin_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt64Type>();
    let mut p_changed = 0;
    let p = b.column_by_name("p_true").unwrap().as_primitive::<Float64Type>();
    for i in (0..b.num_rows()).step_by(2) {
        assert!(!twin[i] && twin[i + 1]);
        assert_eq!(ids.value(i), ids.value(i + 1));
        assert_ne!(sex[i], sex[i + 1]);
        assert_eq!(birth.value(i), birth.value(i + 1));
        assert_eq!(origin[i], origin[i + 1]);
        assert_eq!(muni[i], muni[i + 1]);
        if p.value(i) != p.value(i + 1) {
            p_changed += 1;
        }
    }
    // Sex reaches the outcome only through its descendants (education, sector, ...), so some
    // but not all twins differ in p_true.
    assert!(p_changed > 0 && p_changed < 10_000, "{p_changed}");
    let cprs = check_cprs(&b, true);
    assert_eq!(
        cprs.iter().collect::<HashSet<_>>().len(),
        cprs.len(),
        "twins have CPR numbers of their own"
    );

    let mut s = spec("rehabilitation-need", 20_000, 31, &["none"]);
    s.counterfactual = Some(Counterfactual::Origin);
    let b = generate(s);
    let origin = strings(&b, "origin");
    let sex = strings(&b, "sex");
    for i in (0..b.num_rows()).step_by(2) {
        assert_eq!(sex[i], sex[i + 1]);
        assert_ne!(origin[i] == "danish", origin[i + 1] == "danish", "row {i}");
    }
}
