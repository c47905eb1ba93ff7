//! The engine against independent references: fixtures computed by fairlearn and AIF360
//! (`tools/fairness-fixtures/make_fixtures.py`). Values agree to 1e-12 where the definitions
//! agree; where this engine deliberately differs (null instead of 0 for an undefined rate),
//! the test asserts the difference.

use fairness::{
    Accumulator, Batch, Col, Config, GroupCol, MetricName, MissingGroups, NullReason, RateMetric, Report, encode_groups,
};
use serde_json::Value as Json;
use std::path::Path;

const TOL: f64 = 1e-12;

struct Fixture {
    json: Json,
    y: Vec<u8>,
    pred: Vec<u8>,
    score: Vec<f64>,
    groups: Vec<(String, Vec<u32>, Vec<String>)>,
}

fn load(name: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"));
    let json: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ints = |k: &str| {
        json[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect::<Vec<_>>()
    };
    let y = ints("y_true");
    let pred = ints("y_pred");
    let score = json["y_score"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Attribute order as in the fixture's intersection keys (e.g. "sex&age_band&region").
    let mut names: Vec<String> = json["groups"].as_object().unwrap().keys().cloned().collect();
    if let Some(longest) = json["fairlearn"]
        .as_object()
        .unwrap()
        .keys()
        .max_by_key(|k| k.matches('&').count())
    {
        let order: Vec<&str> = longest.split('&').collect();
        names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
    }
    let groups = names
        .into_iter()
        .map(|n| {
            let vals: Vec<&str> = json["groups"][&n]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let (codes, _, dict) = encode_groups(vals.into_iter().map(Some));
            (n, codes, dict)
        })
        .collect();
    Fixture {
        json,
        y,
        pred,
        score,
        groups,
    }
}

fn report(f: &Fixture, chunks: usize) -> Report {
    let names: Vec<&str> = f.groups.iter().map(|g| g.0.as_str()).collect();
    let mut total = Accumulator::new(&names, true, false, MissingGroups::Error);
    let n = f.y.len();
    let step = n.div_ceil(chunks);
    // Accumulate chunk by chunk into separate accumulators and merge: must equal one pass.
    for start in (0..n).step_by(step) {
        let end = (start + step).min(n);
        let mut acc = Accumulator::new(&names, true, false, MissingGroups::Error);
        let groups: Vec<GroupCol> = f
            .groups
            .iter()
            .map(|(name, codes, dict)| GroupCol {
                name,
                codes: &codes[start..end],
                valid: None,
                dictionary: dict,
            })
            .collect();
        acc.add(&Batch {
            label: Col {
                name: "y_true",
                values: &f.y[start..end],
            },
            label_true: None,
            prediction: Col {
                name: "y_pred",
                values: &f.pred[start..end],
            },
            score: Some(Col {
                name: "y_score",
                values: &f.score[start..end],
            }),
            weight: None,
            groups,
        })
        .unwrap();
        total.merge(&acc).unwrap();
    }
    let config = Config {
        min_group_size: 0.0,
        ..Config::default()
    };
    Report::build(&total, &config)
}

static CHECKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn close(ours: Option<f64>, theirs: &Json, what: &str) {
    CHECKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: reference is {theirs}"));
    let o = ours.unwrap_or_else(|| panic!("{what}: ours is null, reference {t}"));
    assert!(
        (o - t).abs() <= TOL * t.abs().max(1.0),
        "{what}: ours {o}, reference {t}"
    );
}

/// Our name for fairlearn's metric key.
fn ours(key: &str) -> MetricName {
    let name = match key {
        "recall" => "true_positive_rate",
        k => k,
    };
    MetricName::from_name(name).unwrap_or_else(|| panic!("the reference names a metric we do not have: {key}"))
}

/// Metrics where fairlearn/scikit-learn report 0 (or a one-class fallback) for an undefined value.
fn undefined_in_ours(group: &fairness::GroupReport, key: &str) -> bool {
    group.metrics.get(&ours(key)).is_some_and(|m| m.value.value.is_none())
}

fn check_fixture(name: &str) {
    let before = CHECKED.load(std::sync::atomic::Ordering::Relaxed);
    let f = load(name);
    let rep = report(&f, 3);
    let mut deliberate = 0;
    for (attr, fl) in f.json["fairlearn"].as_object().unwrap() {
        let a = rep
            .attribute(attr)
            .unwrap_or_else(|| panic!("{name}: no attribute {attr}"));
        for (metric, v) in fl["overall"].as_object().unwrap() {
            if v.is_null() {
                continue;
            }
            if undefined_in_ours(&rep.overall, metric) {
                deliberate += 1;
                continue;
            }
            close(rep.overall.value(ours(metric)), v, &format!("{name} overall {metric}"));
        }
        for (group, metrics) in fl["by_group"].as_object().unwrap() {
            let g = a
                .group(group)
                .unwrap_or_else(|| panic!("{name} {attr}: no group {group}"));
            if metrics["count"].is_null() {
                // fairlearn lists empty intersections with null metrics; so do we.
                assert!(g.empty && g.count == 0.0, "{name} {attr} {group} should be empty");
                continue;
            }
            for (metric, v) in metrics.as_object().unwrap() {
                let what = format!("{name} {attr}={group} {metric}");
                if undefined_in_ours(g, metric) {
                    // Deliberate difference: fairlearn/scikit-learn give 0 (or a one-class
                    // fallback, or NaN), we give null with a reason.
                    assert!(g.metrics[&ours(metric)].value.null_reason.is_some(), "{what}");
                    if let Some(t) = v.as_f64() {
                        assert!(
                            matches!(
                                metric.as_str(),
                                "true_positive_rate"
                                    | "false_positive_rate"
                                    | "true_negative_rate"
                                    | "false_negative_rate"
                                    | "precision"
                                    | "recall"
                                    | "f1"
                                    | "balanced_accuracy"
                                    | "average_precision"
                            ),
                            "{what}: unexpected difference ({t})"
                        );
                    }
                    deliberate += 1;
                    continue;
                }
                if v.is_null() {
                    panic!("{what}: reference null, ours {:?}", g.value(ours(metric)));
                }
                close(g.value(ours(metric)), v, &what);
            }
        }
        // Disparities between groups and to overall, for the rate metrics both define.
        for (section, diff, between) in [
            ("difference_between_groups", true, true),
            ("ratio_between_groups", false, true),
            ("difference_to_overall", true, false),
            ("ratio_to_overall", false, false),
        ] {
            for (metric, v) in fl[section].as_object().unwrap() {
                let d = RateMetric::from_name(metric)
                    .and_then(|m| a.disparity(m))
                    .unwrap_or_else(|| panic!("no disparity {metric}"));
                let ours_v = match (diff, between) {
                    (true, true) => d.difference_between_groups,
                    (false, true) => d.ratio_between_groups,
                    (true, false) => d.difference_to_overall,
                    (false, false) => d.ratio_to_overall,
                };
                let what = format!("{name} {attr} {section} {metric}");
                if !d.excluded.is_empty() {
                    // fairlearn compares a 0 it substituted for an undefined rate; we leave the
                    // group out, so the numbers may differ by design.
                    deliberate += 1;
                    continue;
                }
                if v.is_null() {
                    assert!(
                        ours_v.value.is_none(),
                        "{what}: reference null, ours {:?}",
                        ours_v.value
                    );
                    continue;
                }
                close(ours_v.value, v, &what);
            }
        }
        let tpr = a.disparity(RateMetric::TruePositiveRate).unwrap();
        let fpr = a.disparity(RateMetric::FalsePositiveRate).unwrap();
        let sel = a.disparity(RateMetric::SelectionRate).unwrap();
        let comparable = |d: &fairness::Disparity| d.excluded.is_empty();
        for (key, ours_v, ok) in [
            (
                "demographic_parity_difference",
                (sel.difference_between_groups, sel.difference_to_overall),
                comparable(sel),
            ),
            (
                "demographic_parity_ratio",
                (sel.ratio_between_groups, sel.ratio_to_overall),
                comparable(sel),
            ),
            (
                "equal_opportunity_difference",
                (tpr.difference_between_groups, tpr.difference_to_overall),
                comparable(tpr),
            ),
            (
                "equal_opportunity_ratio",
                (tpr.ratio_between_groups, tpr.ratio_to_overall),
                comparable(tpr),
            ),
        ] {
            if !ok {
                deliberate += 1;
                continue;
            }
            for (k, o) in [("between_groups", ours_v.0), ("to_overall", ours_v.1)] {
                let v = &fl[key][k];
                if v.is_null() {
                    assert!(o.value.is_none(), "{name} {attr} {key} {k}");
                } else {
                    close(o.value, v, &format!("{name} {attr} {key} {k}"));
                }
            }
        }
        if comparable(tpr) && comparable(fpr) {
            let v = &fl["equalized_odds_difference"]["between_groups"];
            if !v.is_null() {
                close(
                    a.combined.equalized_odds_difference.value,
                    v,
                    &format!("{name} {attr} equalized odds difference"),
                );
            }
            let v = &fl["equalized_odds_ratio"]["between_groups"];
            if !v.is_null() {
                close(
                    a.combined.equalized_odds_ratio.value,
                    v,
                    &format!("{name} {attr} equalized odds ratio"),
                );
            }
        }
    }
    // AIF360, per single attribute.
    for (attr, ai) in f.json["aif360"].as_object().unwrap() {
        let a = rep.attribute(attr).unwrap();
        let privileged = ai["privileged"].as_str().unwrap();
        assert_eq!(
            a.reference.as_deref(),
            Some(privileged),
            "{name} {attr}: the largest group is the reference"
        );
        for (group, m) in ai["by_unprivileged"].as_object().unwrap() {
            let what = format!("{name} {attr}={group}");
            let di = a.combined.disparate_impact.iter().find(|c| c.group == *group).unwrap();
            match m["disparate_impact"].as_f64() {
                Some(t) => close(di.ratio.value, &Json::from(t), &format!("{what} disparate impact")),
                None => assert!(di.ratio.value.is_none(), "{what}: disparate impact should be null"),
            }
            let sel_ref = a
                .disparity(RateMetric::SelectionRate)
                .unwrap()
                .to_reference
                .iter()
                .find(|c| c.group == *group)
                .unwrap();
            close(
                sel_ref.difference.value,
                &m["statistical_parity_difference"],
                &format!("{what} statistical parity difference"),
            );
            let aod = a
                .combined
                .average_odds_difference
                .iter()
                .find(|c| c.group == *group)
                .unwrap();
            match m["average_odds_difference"].as_f64() {
                Some(t) => close(
                    aod.difference.value,
                    &Json::from(t),
                    &format!("{what} average odds difference"),
                ),
                None => assert!(
                    aod.difference.value.is_none(),
                    "{what}: average odds difference should be null"
                ),
            }
            let eod = a
                .disparity(RateMetric::TruePositiveRate)
                .unwrap()
                .to_reference
                .iter()
                .find(|c| c.group == *group);
            match m["equal_opportunity_difference"].as_f64() {
                Some(t) => close(
                    eod.unwrap().difference.value,
                    &Json::from(t),
                    &format!("{what} equal opportunity difference"),
                ),
                None => assert!(eod.is_none(), "{what}: undefined TPR is excluded, not compared"),
            }
        }
        close(
            rep.generalized_entropy_alpha2,
            &ai["generalized_entropy_index_alpha2"],
            &format!("{name} GE(2)"),
        );
        close(rep.theil, &ai["theil_index"], &format!("{name} Theil"));
        close(
            a.between_group_theil,
            &ai["between_group_theil_index"],
            &format!("{name} {attr} between-group Theil"),
        );
        close(
            a.between_group_generalized_entropy_alpha2,
            &ai["between_group_generalized_entropy_index_alpha2"],
            &format!("{name} {attr} between-group GE(2)"),
        );
    }
    let checked = CHECKED.load(std::sync::atomic::Ordering::Relaxed) - before;
    eprintln!("{name}: {checked} values agree, {deliberate} deliberate differences (null instead of 0)");
    assert!(checked >= 40, "{name}: only {checked} values compared");
}

#[test]
fn binary_two_groups() {
    check_fixture("binary_two_groups");
}

#[test]
fn multi_valued() {
    check_fixture("multi_valued");
}

#[test]
fn intersectional_with_an_empty_cell() {
    check_fixture("intersectional");
    let f = load("intersectional");
    let rep = report(&f, 1);
    let full = rep.attribute("sex&age_band&region").unwrap();
    assert_eq!(full.groups.len(), 2 * 3 * 3, "every combination is listed");
    assert!(
        full.groups
            .iter()
            .any(|g| g.empty && g.metrics[&MetricName::SelectionRate].value.value.is_none())
    );
}

#[test]
fn a_group_with_no_positives_gets_null_not_zero() {
    check_fixture("no_positives_group");
    let f = load("no_positives_group");
    let rep = report(&f, 2);
    let c = rep.attribute("group").unwrap().group("c").unwrap();
    let tpr = &c.metrics[&MetricName::TruePositiveRate].value;
    assert_eq!(tpr.value, None);
    assert_eq!(tpr.null_reason.map(NullReason::as_str), Some("no actual positives"));
    // fairlearn reports 0 for it, which would fake a maximal equal-opportunity gap.
    assert_eq!(
        f.json["fairlearn"]["group"]["by_group"]["c"]["true_positive_rate"].as_f64(),
        Some(0.0)
    );
    let d = rep
        .attribute("group")
        .unwrap()
        .disparity(RateMetric::TruePositiveRate)
        .unwrap();
    assert!(
        d.excluded
            .iter()
            .any(|e| e.group == "c" && e.reason == "no actual positives")
    );
    let theirs = f.json["fairlearn"]["group"]["difference_between_groups"]["true_positive_rate"]
        .as_f64()
        .unwrap();
    assert!(
        d.difference_between_groups.value.unwrap() < theirs,
        "ours excludes c; fairlearn's gap includes its fake 0"
    );
}

#[test]
fn all_zero_predictions() {
    check_fixture("all_zero_predictions");
}

#[test]
fn all_one_predictions() {
    check_fixture("all_one_predictions");
}

#[test]
fn hand_small_and_by_hand() {
    check_fixture("hand_small");
    let f = load("hand_small");
    let rep = report(&f, 4);
    // Group a: y 1 1 1 0 0 0, pred 1 1 0 1 0 0 -> tp 2, fn 1, fp 1, tn 2.
    let a = rep.attribute("group").unwrap().group("a").unwrap();
    assert_eq!(
        a.stats.cells,
        fairness::Cells {
            tp: 2.0,
            fp: 1.0,
            tn: 2.0,
            fn_: 1.0
        }
    );
    assert_eq!(a.value(MetricName::SelectionRate), Some(0.5));
    assert_eq!(a.value(MetricName::TruePositiveRate), Some(2.0 / 3.0));
}

#[test]
fn the_threshold_sweep_at_one_half_equals_deciding_at_one_half() {
    let mut f = load("binary_two_groups");
    f.pred = f.score.iter().map(|&s| u8::from(s >= 0.5)).collect();
    let rep = report(&f, 2);
    for g in &rep.attribute("sex").unwrap().groups {
        let at_half = g.threshold_sweep.iter().find(|p| p.threshold == 0.5).unwrap();
        assert_eq!(
            at_half.selection_rate,
            g.value(MetricName::SelectionRate),
            "{}",
            g.group
        );
        assert_eq!(
            at_half.true_positive_rate,
            g.value(MetricName::TruePositiveRate),
            "{}",
            g.group
        );
        assert_eq!(
            at_half.false_positive_rate,
            g.value(MetricName::FalsePositiveRate),
            "{}",
            g.group
        );
        assert_eq!(g.threshold_sweep.len(), 19);
        // The ROC curve runs from (0, 0) to (1, 1).
        assert_eq!(g.roc_curve.first().map(|p| (p.0, p.1)), Some((0.0, 0.0)));
        assert_eq!(g.roc_curve.last().map(|p| (p.0, p.1)), Some((1.0, 1.0)));
    }
}
