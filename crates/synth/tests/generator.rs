//! Behaviour of the generator as a library: determinism, fidelity, CPR validity and
//! uniqueness, bias knobs, twins and splits.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Float64Type};
use rayon::prelude::*;
use std::collections::HashSet;
use synth::{Counterfactual, DatasetSpec, FidelityCounts, Generator, Split, SynthError};

mod support;
use support::{bools, generate, spec, strings, u8s};

fn is_non_western(o: &str) -> bool {
    o.ends_with("non_western")
}

#[test]
fn rows_depend_only_on_spec_and_index() {
    // A short dataset is a prefix of a longer one, batch by batch.
    let short = generate(spec("unemployment-risk", 1000, 9, &[]));
    let long = Generator::new(spec("unemployment-risk", 70_000, 9, &[])).unwrap();
    assert_eq!(short.columns(), long.batch(0).slice(0, 1000).columns());
    // A different seed gives different people.
    let other = generate(spec("unemployment-risk", 1000, 10, &[]));
    let same = strings(&short, "cpr")
        .iter()
        .zip(strings(&other, "cpr"))
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(same < 10, "{same} identical CPR numbers across seeds");
}

#[test]
fn population_matches_reference_statistics_at_one_million() {
    let g = Generator::new(spec("population", 1_000_000, 2026, &[])).unwrap();
    let counts = (0..g.num_batches())
        .into_par_iter()
        .map(|b| {
            let mut c = FidelityCounts::default();
            c.add(&g.batch(b));
            c
        })
        .collect::<Vec<_>>();
    let mut total = FidelityCounts::default();
    for c in counts {
        if total.municipality.is_empty() {
            total = c;
        } else {
            total.rows += c.rows;
            for (a, b) in total.municipality.iter_mut().zip(&c.municipality) {
                *a += b;
            }
            for (a, b) in total.region.iter_mut().zip(&c.region) {
                *a += b;
            }
            for (a, b) in total.age_sex.iter_mut().zip(&c.age_sex) {
                *a += b;
            }
            for (a, b) in total.origin.iter_mut().zip(&c.origin) {
                *a += b;
            }
        }
    }
    let report = total.report();
    assert_eq!(report.rows, 1_000_000);
    for s in &report.sections {
        assert!(
            s.pass,
            "{}: max diff {} > {}\n{report}",
            s.name, s.max_abs_diff, s.tolerance
        );
    }
}

#[test]
fn origin_varies_with_geography_and_age() {
    let b = generate(spec("population", 400_000, 5, &[]));
    let muni = strings(&b, "municipality");
    let origin = strings(&b, "origin");
    let age = u8s(&b, "age");
    let share = |pred: &dyn Fn(usize) -> bool| {
        let idx: Vec<usize> = (0..b.num_rows()).filter(|&i| pred(i)).collect();
        idx.iter().filter(|&&i| origin[i] != "danish").count() as f64 / idx.len() as f64
    };
    let ishoj = share(&|i| muni[i] == "Ishøj");
    let rebild = share(&|i| muni[i] == "Rebild");
    assert!(ishoj > 4.0 * rebild, "Ishøj {ishoj} vs Rebild {rebild}");
    assert!((0.38..0.50).contains(&ishoj), "Ishøj {ishoj}");
    let desc = |lo: u8, hi: u8| {
        let idx: Vec<usize> = (0..b.num_rows()).filter(|&i| (lo..=hi).contains(&age[i])).collect();
        idx.iter().filter(|&&i| origin[i].starts_with("descendant")).count() as f64 / idx.len() as f64
    };
    assert!(
        desc(0, 9) > 10.0 * desc(60, 110),
        "descendants: children {} vs 60+ {}",
        desc(0, 9),
        desc(60, 110)
    );
}

/// Checks every CPR number of a dataset against its row and returns them.
#[test]
fn capacity_limits_are_stated_and_enforced() {
    for (scenario, exact_at_least) in [
        ("population", 100_000_000),
        ("unemployment-risk", 50_000_000),
        ("rehabilitation-need", 35_000_000),
    ] {
        let g = Generator::new(spec(scenario, 1, 1, &[])).unwrap();
        let (exact, max) = (g.exact_capacity(), g.max_capacity());
        assert!(exact >= exact_at_least, "{scenario}: exact capacity {exact}");
        assert!(max >= 50_000_000 && max >= exact, "{scenario}: capacity {max}");
        assert_eq!(g.schema().metadata()["sandkasse.age_distribution"], "exact");
        // The last citizen that fits is fine; one more is a clear error.
        let full = Generator::new(spec(scenario, max, 1, &[])).unwrap();
        assert_ne!(full.schema().metadata()["sandkasse.age_distribution"], "exact");
        match Generator::new(spec(scenario, max + 1, 1, &[])) {
            Err(SynthError::TooManyRows { limit, .. }) => assert_eq!(limit, max),
            other => panic!("{scenario}: expected TooManyRows, got {other:?}"),
        }
        let mut with_twins = spec(scenario, max / 2 + 1, 1, &[]);
        with_twins.counterfactual = Some(Counterfactual::Sex);
        assert!(matches!(
            Generator::new(with_twins),
            Err(SynthError::TooManyRows { .. })
        ));
        let mut split = spec(scenario, max / 2 + 1, 1, &[]);
        split.split = Split::Test;
        assert!(matches!(Generator::new(split), Err(SynthError::TooManyRows { .. })));
    }
}

#[test]
fn label_bias_lowers_the_groups_recorded_rate_by_the_rate() {
    let biased = generate(spec(
        "unemployment-risk",
        400_000,
        11,
        &[
            "none",
            "label_rate=0.2",
            "label_group=origin:non_western",
            "label_direction=down",
        ],
    ));
    let origin = strings(&biased, "origin");
    let truth = bools(&biased, "outcome_true");
    let recorded = bools(&biased, "outcome_recorded");
    let rate = |v: &[bool], group: bool| {
        let idx: Vec<usize> = (0..v.len()).filter(|&i| is_non_western(&origin[i]) == group).collect();
        idx.iter().filter(|&&i| v[i]).count() as f64 / idx.len() as f64
    };
    let (t, r) = (rate(&truth, true), rate(&recorded, true));
    assert!(
        (r - 0.8 * t).abs() < 0.006,
        "group: true {t}, recorded {r}, expected {}",
        0.8 * t
    );
    assert_eq!(rate(&truth, false), rate(&recorded, false), "others untouched");

    let clean = generate(spec("unemployment-risk", 400_000, 11, &["none"]));
    assert_eq!(bools(&clean, "outcome_true"), bools(&clean, "outcome_recorded"));
    // The truth does not depend on the label knob.
    assert_eq!(bools(&clean, "outcome_true"), truth);
}

#[test]
fn label_bias_up_raises_the_groups_recorded_rate() {
    let b = generate(spec(
        "rehabilitation-need",
        300_000,
        4,
        &["none", "label_rate=0.3", "label_direction=up", "label_group=sex:F"],
    ));
    let sex = strings(&b, "sex");
    let truth = bools(&b, "outcome_true");
    let rec = bools(&b, "outcome_recorded");
    let women: Vec<usize> = (0..b.num_rows()).filter(|&i| sex[i] == "F").collect();
    let t = women.iter().filter(|&&i| truth[i]).count() as f64 / women.len() as f64;
    let r = women.iter().filter(|&&i| rec[i]).count() as f64 / women.len() as f64;
    let expected = t + 0.3 * (1.0 - t);
    assert!(
        (r - expected).abs() < 0.006,
        "true {t} recorded {r} expected {expected}"
    );
}

#[test]
fn representation_bias_undersamples_the_group() {
    let share = |bias: &[&str]| {
        let b = generate(spec("population", 300_000, 8, bias));
        let o = strings(&b, "origin");
        o.iter().filter(|x| is_non_western(x)).count() as f64 / o.len() as f64
    };
    let base = share(&["none"]);
    let half = share(&[
        "none",
        "representation_factor=0.5",
        "representation_group=origin:non_western",
    ]);
    let expected = 0.5 * base / (1.0 - base + 0.5 * base);
    assert!(
        (half - expected).abs() < 0.003,
        "base {base} half {half} expected {expected}"
    );
}

#[test]
fn measurement_bias_adds_noise_to_the_group_only() {
    let clean = generate(spec("rehabilitation-need", 200_000, 21, &["none"]));
    let noisy = generate(spec(
        "rehabilitation-need",
        200_000,
        21,
        &[
            "none",
            "measurement_sd=10",
            "measurement_feature=functional_score",
            "measurement_group=origin:non_danish",
        ],
    ));
    let origin = strings(&clean, "origin");
    let a = clean
        .column_by_name("functional_score")
        .unwrap()
        .as_primitive::<Float32Type>();
    let b = noisy
        .column_by_name("functional_score")
        .unwrap()
        .as_primitive::<Float32Type>();
    let (mut n, mut ss) = (0usize, 0.0f64);
    for (i, origin) in origin.iter().enumerate().take(clean.num_rows()) {
        let d = f64::from(b.value(i) - a.value(i));
        if *origin == "danish" {
            assert_eq!(d, 0.0, "row {i}: Danish-origin row changed");
        } else if (20.0..80.0).contains(&a.value(i)) {
            // Away from the 0-100 clamps the added noise is the knob's.
            n += 1;
            ss += d * d;
        }
    }
    let sd = (ss / n as f64).sqrt();
    assert!((sd - 10.0).abs() < 0.6, "noise sd {sd} over {n} rows");
    // The truth is unaffected by how the feature is measured.
    let p = |b: &RecordBatch| {
        b.column_by_name("p_true")
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .to_vec()
    };
    assert_eq!(p(&clean), p(&noisy));
}

#[test]
fn proxy_strength_controls_how_much_municipality_says_about_origin() {
    let ratio = |k: &str| {
        let b = generate(spec(
            "population",
            400_000,
            13,
            &["none", &format!("proxy_strength={k}")],
        ));
        let muni = strings(&b, "municipality");
        let origin = strings(&b, "origin");
        let share = |m: &str| {
            let idx: Vec<usize> = (0..b.num_rows()).filter(|&i| muni[i] == m).collect();
            idx.iter().filter(|&&i| origin[i] != "danish").count() as f64 / idx.len() as f64
        };
        share("Ishøj") / share("Rebild")
    };
    let (none, real, strong) = (ratio("0"), ratio("1"), ratio("2"));
    assert!((0.7..1.4).contains(&none), "k=0: {none}");
    assert!(real > 4.0, "k=1: {real}");
    assert!(strong > real, "k=2: {strong} vs k=1: {real}");
}

#[test]
fn train_and_test_are_disjoint_and_deterministic() {
    let mk = |split| {
        let mut s = spec("unemployment-risk", 50_000, 5, &[]);
        s.split = split;
        generate(s)
    };
    let train = mk(Split::Train);
    let test = mk(Split::Test);
    let a: HashSet<String> = strings(&train, "cpr").into_iter().collect();
    let b: HashSet<String> = strings(&test, "cpr").into_iter().collect();
    assert_eq!(a.len(), 50_000);
    assert!(a.is_disjoint(&b));
    assert_eq!(train, mk(Split::Train));
    // Train and test together are the first 100,000 citizens of the unsplit dataset.
    let mut s = spec("unemployment-risk", 100_000, 5, &[]);
    s.split = Split::All;
    let everyone: HashSet<String> = strings(&generate(s), "cpr").into_iter().collect();
    assert_eq!(everyone, a.union(&b).cloned().collect());
}

#[test]
fn scenario_features_are_plausible() {
    let b = generate(spec("unemployment-risk", 200_000, 3, &["none"]));
    let age = u8s(&b, "age");
    assert!(age.iter().all(|a| (18..=66).contains(a)));
    assert!(strings(&b, "employment_status").iter().all(|s| s == "unemployed"));
    let months = u8s(&b, "months_employed_3y");
    assert!(months.iter().all(|m| *m <= 36));
    let y = bools(&b, "outcome_true");
    let rate = y.iter().filter(|x| **x).count() as f64 / y.len() as f64;
    assert!((0.12..0.40).contains(&rate), "long-term unemployment rate {rate}");
    // The true probability is calibrated: outcomes occur as often as p_true says.
    let p = b.column_by_name("p_true").unwrap().as_primitive::<Float64Type>();
    let mean_p = p.values().iter().sum::<f64>() / p.len() as f64;
    assert!((mean_p - rate).abs() < 0.005, "mean p {mean_p} vs rate {rate}");

    let r = generate(spec("rehabilitation-need", 100_000, 3, &["none"]));
    assert!(u8s(&r, "age").iter().all(|a| *a >= 65));
    let score = r
        .column_by_name("functional_score")
        .unwrap()
        .as_primitive::<Float32Type>();
    assert!(score.values().iter().all(|s| (0.0..=100.0).contains(s)));
    assert_eq!(r.column_by_name("functional_score").unwrap().null_count(), 0);

    let p = generate(spec("population", 200_000, 3, &[]));
    let emp = strings(&p, "employment_status");
    let age = u8s(&p, "age");
    let adults: Vec<usize> = (0..p.num_rows()).filter(|&i| (25..=64).contains(&age[i])).collect();
    let employed = adults.iter().filter(|&&i| emp[i] == "employed").count() as f64 / adults.len() as f64;
    assert!((0.70..0.84).contains(&employed), "employment rate 25-64: {employed}");
    let income = p
        .column_by_name("income_dkk")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int32Type>();
    let mut inc: Vec<i32> = adults
        .iter()
        .filter(|&&i| emp[i] == "employed")
        .map(|&i| income.value(i))
        .collect();
    inc.sort_unstable();
    let median = inc[inc.len() / 2];
    assert!((300_000..550_000).contains(&median), "median employed income {median}");
}

/// The data dictionary lists every category of every categorical column, in the order of the
/// generated data's dictionaries: manifests are checked against these lists, so they must be
/// the values the data can hold.
#[test]
fn the_dictionary_lists_the_categories_the_data_holds() {
    for scenario in [
        "population",
        "unemployment-risk",
        "rehabilitation-need",
        "eldercare-visitation",
    ] {
        let docs = synth::scenario_columns(scenario).expect("scenario");
        let generator = Generator::new(DatasetSpec::new(scenario, 50, 3).expect("spec")).expect("generator");
        let batch = generator.batch(0);
        let mut categorical = 0;
        for doc in &docs {
            let column = batch.column_by_name(doc.name).expect("generated column");
            if !doc.is_categorical() {
                assert!(
                    doc.values.is_empty(),
                    "{scenario}.{}: values on a non-categorical column",
                    doc.name
                );
                continue;
            }
            categorical += 1;
            let dictionary = column.as_any_dictionary().values().as_string::<i32>().clone();
            let generated: Vec<&str> = dictionary.iter().map(|v| v.unwrap_or_default()).collect();
            assert_eq!(doc.values, generated, "{scenario}.{}", doc.name);
            assert!(!doc.values.is_empty(), "{scenario}.{}", doc.name);
        }
        assert!(categorical >= 8, "{scenario}: {categorical} categorical columns");
    }
}
