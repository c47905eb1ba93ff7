//! Criteria fixed before the run get pass, fail or inconclusive, with the numbers.

use fairness::{
    Accumulator, Batch, Col, Config, GroupCol, MissingGroups, Outcome, RateMetric, Report, evaluate_criteria,
    parse_criteria,
};

/// Group a selects `sel_a` of its `n` rows, group b `sel_b` (labels alternate).
fn report(n: usize, sel_a: f64, sel_b: f64) -> Report {
    let (mut y, mut pred, mut codes) = (Vec::new(), Vec::new(), Vec::new());
    for (g, sel) in [(0u32, sel_a), (1, sel_b)] {
        let k = (sel * n as f64).round() as usize;
        for i in 0..n {
            y.push(u8::from(i % 2 == 0));
            // Selected rows spread evenly over positives and negatives.
            pred.push(u8::from(i < k));
            codes.push(g);
        }
    }
    let dict = vec!["a".to_owned(), "b".to_owned()];
    let mut acc = Accumulator::new(&["origin"], false, false, MissingGroups::Error);
    acc.add(&Batch {
        label: Col { name: "y", values: &y },
        label_true: None,
        prediction: Col {
            name: "pred",
            values: &pred,
        },
        score: None,
        weight: None,
        groups: vec![GroupCol {
            name: "origin",
            codes: &codes,
            valid: None,
            dictionary: &dict,
        }],
    })
    .unwrap();
    Report::build(&acc, &Config::default())
}

const FOUR_FIFTHS: &str = r#"
[[criterion]]
name = "four-fifths rule on origin"
attribute = "origin"
metric = "disparate_impact"
against = "reference"
op = ">="
threshold = 0.8

[[criterion]]
attribute = "origin"
metric = "demographic_parity_difference"
op = "<="
threshold = 0.1
"#;

#[test]
fn clear_cases_pass_and_fail_and_borderline_is_inconclusive() {
    let c = parse_criteria(FOUR_FIFTHS).unwrap();
    // Equal selection: disparate impact 1, difference 0.
    let v = evaluate_criteria(&c, &report(2000, 0.4, 0.4));
    assert_eq!(v[0].verdict, Outcome::Pass, "{}", v[0].explanation);
    assert_eq!(v[1].verdict, Outcome::Pass, "{}", v[1].explanation);
    // b selected half as often: impact 0.5, difference 0.2.
    let v = evaluate_criteria(&c, &report(2000, 0.4, 0.2));
    assert_eq!(v[0].verdict, Outcome::Fail, "{}", v[0].explanation);
    assert!((v[0].value.unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(v[0].group.as_deref(), Some("b"));
    assert_eq!(v[1].verdict, Outcome::Fail);
    // Impact 0.8 exactly on 100 rows a group: the interval straddles the threshold.
    let v = evaluate_criteria(&c, &report(100, 0.5, 0.4));
    assert_eq!(v[0].verdict, Outcome::Inconclusive, "{}", v[0].explanation);
    let [lo, hi] = v[0].interval.unwrap();
    assert!(lo < 0.8 && hi > 0.8);
    assert!(v[0].explanation.contains("straddles"));
}

#[test]
fn without_a_bootstrap_the_point_estimate_decides_and_says_so() {
    let c = parse_criteria(FOUR_FIFTHS).unwrap();
    let r = {
        let mut r = report(100, 0.5, 0.45);
        // Rebuild without bootstrap by evaluating a report whose intervals are absent.
        for a in &mut r.attributes {
            for d in &mut a.combined.disparate_impact {
                d.ratio_interval = None;
            }
        }
        r
    };
    let v = evaluate_criteria(&c, &r);
    assert_eq!(v[0].verdict, Outcome::Pass);
    assert!(v[0].explanation.contains("point estimate only"));
}

#[test]
fn json_criteria_and_unknown_attributes() {
    let json = r#"[{"attribute": "sex", "metric": "equalized_odds_difference", "op": "<=", "threshold": 0.1}]"#;
    let c = parse_criteria(json).unwrap();
    let v = evaluate_criteria(&c, &report(100, 0.5, 0.5));
    assert_eq!(v[0].verdict, Outcome::Inconclusive);
    assert!(v[0].explanation.contains("\"sex\""));
}

#[test]
fn bad_criteria_are_rejected_with_a_reason() {
    for (text, expected) in [
        (
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"happiness\"\nop = \">=\"\nthreshold = 1",
            "unknown metric \"happiness\"",
        ),
        (
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"disparate_impact\"\nop = \">=\"\nthreshold = 0.8",
            "against = \"reference\"",
        ),
        (
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"accuracy_ratio\"\nop = \"=>\"\nthreshold = 0.8",
            "not valid TOML",
        ),
        (
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"accuracy_ratio\"\nop = \">=\"\nthreshold = 0.8\ncolour = 1",
            "colour",
        ),
        ("{\"criterion\": [{\"attribute\": 1}]}", "not valid JSON"),
    ] {
        let e = parse_criteria(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text}: {e}");
    }
}

#[test]
fn differences_from_the_reference_are_tested_and_corrected() {
    let r = report(2000, 0.4, 0.2);
    let a = r.attribute("origin").unwrap();
    let sel = a.disparity(RateMetric::SelectionRate).unwrap();
    assert_eq!(sel.to_reference.len(), 1);
    let c = &sel.to_reference[0];
    assert_eq!(c.test, Some(fairness::Test::TwoProportionZ));
    // 800/2000 against 400/2000: z = 13.49, p far below 1e-30.
    assert!(c.p_value.unwrap() < 1e-30);
    // Every test of the attribute is corrected together (Holm): adjusted >= raw.
    for d in &a.disparities {
        for c in &d.to_reference {
            if let (Some(p), Some(adj)) = (c.p_value, c.p_adjusted) {
                assert!(adj >= p && adj <= 1.0);
            }
        }
    }
    // Equal rates: nothing to see.
    let r = report(2000, 0.3, 0.3);
    let c = &r
        .attribute("origin")
        .unwrap()
        .disparity(RateMetric::SelectionRate)
        .unwrap()
        .to_reference[0];
    assert!(c.p_value.unwrap() > 0.99);
    // Tiny groups use Fisher's exact test.
    let r = report(6, 0.5, 0.0);
    let a = r.attribute("origin").unwrap();
    assert!(a.groups.iter().all(|g| g.small));
    let r = Report::build(
        &{
            let mut acc = Accumulator::new(&["origin"], false, false, MissingGroups::Error);
            let dict = vec!["a".to_owned(), "b".to_owned()];
            let codes = [0u32, 0, 0, 0, 1, 1, 1, 1];
            acc.add(&Batch {
                label: Col {
                    name: "y",
                    values: &[1, 1, 0, 0, 1, 1, 0, 0],
                },
                label_true: None,
                prediction: Col {
                    name: "p",
                    values: &[1, 1, 1, 0, 1, 0, 0, 0],
                },
                score: None,
                weight: None,
                groups: vec![GroupCol {
                    name: "origin",
                    codes: &codes,
                    valid: None,
                    dictionary: &dict,
                }],
            })
            .unwrap();
            acc
        },
        &Config {
            min_group_size: 1.0,
            bootstrap: 0,
            ..Config::default()
        },
    );
    let c = &r
        .attribute("origin")
        .unwrap()
        .disparity(RateMetric::SelectionRate)
        .unwrap()
        .to_reference[0];
    assert_eq!(c.test, Some(fairness::Test::FisherExact));
    // 1/4 against 3/4 (scipy.stats.fisher_exact([[1, 3], [3, 1]]) = 0.4857).
    assert!((c.p_value.unwrap() - 0.485_714_285_714_285_6).abs() < 1e-9);
}
