//! Regression and multi-class metrics against fairlearn's MetricFrame with scikit-learn's metric functions (and
//! scipy's Kolmogorov–Smirnov statistic): `tools/fairness-fixtures/make_task_fixtures.py` wrote the fixtures.
//! Every group, intersection and the whole population agree to 1e-12, fed in three chunks merged out of order;
//! a single-row group and one whose outcome never varies are in the data, and a region with no rows at all
//! (which fairlearn never sees) is reported as empty.

use fairness::tasks::{TaskConfig, multiclass::MulticlassReport, regression::RegressionReport};
use fairness::{
    Col, GroupCol, MissingGroups, MulticlassAccumulator, MulticlassBatch, RegressionAccumulator, RegressionBatch,
    encode_groups,
};
use serde_json::Value as Json;
use std::path::Path;

const TOL: f64 = 1e-12;

fn load(name: &str) -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Each attribute's codes and dictionary, the dictionary carrying the fixture's values that have no rows.
fn groups(f: &Json) -> Vec<(String, Vec<u32>, Vec<String>)> {
    ["sex", "region"]
        .iter()
        .map(|&name| {
            let values: Vec<&str> = f["groups"][name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let (codes, _, mut dict) = encode_groups(values.into_iter().map(Some));
            for extra in f["empty_groups"][name].as_array().into_iter().flatten() {
                dict.push(extra.as_str().unwrap().to_owned());
            }
            (name.to_owned(), codes, dict)
        })
        .collect()
}

fn cols<'a>(g: &'a [(String, Vec<u32>, Vec<String>)], lo: usize, hi: usize) -> Vec<GroupCol<'a>> {
    g.iter()
        .map(|(name, codes, dict)| GroupCol {
            name,
            codes: &codes[lo..hi],
            valid: None,
            dictionary: dict,
        })
        .collect()
}

/// Three chunks: the last first, then the first, then the middle.
fn chunks(n: usize) -> [(usize, usize); 3] {
    [(2 * n / 3, n), (0, n / 3), (n / 3, 2 * n / 3)]
}

fn close(what: &str, ours: &Json, reference: &Json) {
    match (ours["value"].as_f64(), reference.as_f64()) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= TOL * b.abs().max(1.0),
            "{what}: ours {a}, reference {b}"
        ),
        (None, None) => assert!(ours["null_reason"].is_string(), "{what}: null without a reason"),
        (a, b) => panic!("{what}: ours {a:?} ({}), reference {b:?}", ours["null_reason"]),
    }
}

/// Every metric of every group the reference has, and nothing the reference lacks but empty groups.
fn compare_attributes(report: &Json, f: &Json, metric: impl Fn(&Json, &str) -> Json) -> usize {
    let mut compared = 0;
    let mut attrs: Vec<&Json> = report["attributes"].as_array().unwrap().iter().collect();
    attrs.push(&report["intersection"]);
    for attr in attrs {
        let name = attr["attribute"].as_str().unwrap();
        let reference = f["fairlearn"][name].as_object().unwrap_or_else(|| panic!("no {name}"));
        for g in attr["groups"].as_array().unwrap() {
            let group = g["group"].as_str().unwrap();
            match reference.get(group) {
                Some(values) => {
                    for (m, v) in values.as_object().unwrap() {
                        close(&format!("{name}={group} {m}"), &metric(&g["metrics"], m), v);
                        compared += 1;
                    }
                }
                None => {
                    assert_eq!(g["count"], 0, "{name}={group} has rows but no reference values");
                    for (m, v) in g["metrics"].as_object().unwrap() {
                        if let Some(v) = v.get("null_reason") {
                            assert_eq!(v, "empty group", "{name}={group} {m}");
                        }
                    }
                }
            }
        }
        // fairlearn lists every combination of the attributes' values, an empty one with undefined values;
        // we list the intersections that have rows.
        let ours: Vec<&str> = attr["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["group"].as_str().unwrap())
            .collect();
        for (group, values) in reference {
            if !ours.contains(&group.as_str()) {
                assert!(
                    values.as_object().unwrap().values().all(Json::is_null),
                    "{name}={group}: fairlearn has rows we do not"
                );
            }
        }
        let with_rows = reference
            .values()
            .filter(|v| v.as_object().unwrap().values().any(|x| !x.is_null()))
            .count();
        assert_eq!(
            attr["groups"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["count"] != 0)
                .count(),
            with_rows,
            "{name}: the groups with rows are fairlearn's groups with values"
        );
    }
    for (m, v) in f["fairlearn"]["overall"].as_object().unwrap() {
        close(&format!("overall {m}"), &metric(&report["overall"], m), v);
        compared += 1;
    }
    compared
}

#[test]
fn regression_metrics_agree_with_fairlearn_and_scipy() {
    let f = load("tasks_regression");
    let num = |k: &str| -> Vec<f64> { f[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    let (y, p) = (num("y_true"), num("y_pred"));
    let g = groups(&f);
    let names: Vec<&str> = g.iter().map(|g| g.0.as_str()).collect();
    let mut total = RegressionAccumulator::new(&names, MissingGroups::Error);
    for (lo, hi) in chunks(y.len()) {
        let mut part = RegressionAccumulator::new(&names, MissingGroups::Error);
        part.add(&RegressionBatch {
            outcome: Col {
                name: "hours",
                values: &y[lo..hi],
            },
            prediction: Col {
                name: "predicted",
                values: &p[lo..hi],
            },
            groups: cols(&g, lo, hi),
        })
        .unwrap();
        total.merge(&part).unwrap();
    }
    let report: RegressionReport = total.report(&TaskConfig::default());
    let r = serde_json::to_value(&report).unwrap();
    let n = compare_attributes(&r, &f, |m, name| m[name].clone());
    assert_eq!(n, 120, "values compared: 6 metrics × (2 + 6 + 11 groups + overall)");
    // The distance to the reference group's predictions, per group, against scipy.
    let mut attrs: Vec<&Json> = r["attributes"].as_array().unwrap().iter().collect();
    attrs.push(&r["intersection"]);
    for attr in attrs {
        let name = attr["attribute"].as_str().unwrap();
        assert_eq!(attr["reference"], f["reference"][name], "{name}: the largest group");
        for g in attr["groups"].as_array().unwrap().iter().filter(|g| g["count"] != 0) {
            let group = g["group"].as_str().unwrap();
            close(
                &format!("{name}={group} ks_to_reference"),
                &g["metrics"]["ks_to_reference"],
                &f["ks_to_reference"][name][group],
            );
        }
    }
    // The single-row region and the one whose outcome never varies have no R², with the reason.
    let region = &r["attributes"][1]["groups"];
    for lone in ["Bornholm", "Nordjylland"] {
        let g = region.as_array().unwrap().iter().find(|g| g["group"] == lone).unwrap();
        assert_eq!(
            g["metrics"]["r2"]["null_reason"],
            "the outcome does not vary in the group"
        );
        assert_eq!(g["small"], true);
    }
}

#[test]
fn multiclass_metrics_agree_with_fairlearn_and_scikit_learn() {
    let f = load("tasks_multiclass");
    let ints = |k: &str| -> Vec<u32> {
        f[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    let (y, p) = (ints("y_true"), ints("y_pred"));
    let classes: Vec<&str> = f["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let g = groups(&f);
    let names: Vec<&str> = g.iter().map(|g| g.0.as_str()).collect();
    let mut total = MulticlassAccumulator::new(&classes, &names, MissingGroups::Error).unwrap();
    for (lo, hi) in chunks(y.len()) {
        let mut part = MulticlassAccumulator::new(&classes, &names, MissingGroups::Error).unwrap();
        part.add(&MulticlassBatch {
            outcome: Col {
                name: "level",
                values: &y[lo..hi],
            },
            prediction: Col {
                name: "predicted",
                values: &p[lo..hi],
            },
            groups: cols(&g, lo, hi),
        })
        .unwrap();
        total.merge(&part).unwrap();
    }
    let report: MulticlassReport = total.report(&TaskConfig::default());
    let r = serde_json::to_value(&report).unwrap();
    let n = compare_attributes(&r, &f, |m, name| match name.split_once('[') {
        Some((metric, class)) => {
            let class = class.trim_end_matches(']');
            let k = classes.iter().position(|c| *c == class).unwrap();
            m["classes"][k][metric].clone()
        }
        None => m[name].clone(),
    });
    assert_eq!(n, 400, "values compared: 20 metrics × (2 + 6 + 11 groups + overall)");
}
