//! Bootstrap intervals cover the true value at about the nominal rate.

use fairness::{Accumulator, Batch, Col, Config, GroupCol, MetricName, MissingGroups, RateMetric, Report, Scheme};

mod common;
use common::Rng;

/// Two groups with known selection and true-positive probabilities.
fn simulate(seed: u64, n: usize, scheme: Scheme) -> Report {
    let mut rng = Rng(seed);
    let (mut y, mut pred, mut codes) = (Vec::new(), Vec::new(), Vec::new());
    for g in 0..2u32 {
        // Group 0: base rate 0.4, P(pred | y=1) 0.7, P(pred | y=0) 0.2.
        // Group 1: base rate 0.5, P(pred | y=1) 0.55, P(pred | y=0) 0.25.
        let (base, tpr, fpr) = if g == 0 { (0.4, 0.7, 0.2) } else { (0.5, 0.55, 0.25) };
        for _ in 0..n {
            let label = rng.uniform() < base;
            let p = if label { tpr } else { fpr };
            y.push(u8::from(label));
            pred.push(u8::from(rng.uniform() < p));
            codes.push(g);
        }
    }
    let dict = vec!["a".to_owned(), "b".to_owned()];
    let mut acc = Accumulator::new(&["g"], false, false, MissingGroups::Error);
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
            name: "g",
            codes: &codes,
            valid: None,
            dictionary: &dict,
        }],
    })
    .unwrap();
    Report::build(
        &acc,
        &Config {
            bootstrap: 1000,
            seed: seed ^ 0xabc,
            bootstrap_scheme: scheme,
            ..Config::default()
        },
    )
}

#[test]
fn ninety_five_percent_intervals_cover_about_95_percent_of_the_time() {
    coverage(Scheme::Stratified);
}

#[test]
fn the_row_bootstrap_covers_about_95_percent_of_the_time_too() {
    coverage(Scheme::Rows);
}

fn coverage(scheme: Scheme) {
    let trials = 400;
    // True values: selection rates a = 0.4*0.7 + 0.6*0.2 = 0.40, b = 0.5*0.55 + 0.5*0.25 = 0.40;
    // TPR gap 0.15; equal opportunity ratio 0.55 / 0.7.
    let (mut sel_a, mut tpr_gap, mut tpr_ratio, mut wilson_a) = (0, 0, 0, 0);
    for t in 0..trials {
        let r = simulate(1000 + t, 500, scheme);
        let attr = r.attribute("g").unwrap();
        let a = attr.group("a").unwrap();
        let [lo, hi] = a.metrics[&MetricName::SelectionRate].bootstrap_interval.unwrap();
        sel_a += usize::from(lo <= 0.40 && 0.40 <= hi);
        let [lo, hi] = a.metrics[&MetricName::SelectionRate].interval.unwrap();
        wilson_a += usize::from(lo <= 0.40 && 0.40 <= hi);
        let d = attr.disparity(RateMetric::TruePositiveRate).unwrap();
        let [lo, hi] = d.intervals.difference_between_groups.unwrap();
        tpr_gap += usize::from(lo <= 0.15 && 0.15 <= hi);
        let [lo, hi] = d.intervals.ratio_between_groups.unwrap();
        tpr_ratio += usize::from(lo <= 0.55 / 0.7 && 0.55 / 0.7 <= hi);
    }
    for (name, covered) in [
        ("selection rate (bootstrap)", sel_a),
        ("selection rate (Wilson)", wilson_a),
        ("TPR difference", tpr_gap),
        ("TPR ratio", tpr_ratio),
    ] {
        let rate = covered as f64 / trials as f64;
        eprintln!("{scheme:?} {name}: {rate}");
        assert!((0.92..=0.98).contains(&rate), "{scheme:?} {name}: coverage {rate}");
    }
}

#[test]
fn the_bootstrap_is_deterministic_and_seeded() {
    for scheme in [Scheme::Stratified, Scheme::Rows] {
        let a = serde_json::to_string(&simulate(7, 300, scheme)).unwrap();
        let b = serde_json::to_string(&simulate(7, 300, scheme)).unwrap();
        assert_eq!(a, b);
    }
    // The schemes give different replicates, so different intervals.
    let a = simulate(7, 300, Scheme::Stratified);
    let b = simulate(7, 300, Scheme::Rows);
    let ci = |r: &Report| {
        r.attribute("g")
            .unwrap()
            .disparity(RateMetric::SelectionRate)
            .unwrap()
            .intervals
            .difference_between_groups
    };
    assert_ne!(ci(&a), ci(&b));
}

/// One batch of `n` rows over two attributes, with each attribute's dictionary in the order
/// given, so different batches meet the values in different orders.
fn accumulate(seed: u64, n: usize, sexes: &[&str], regions: &[&str]) -> Accumulator {
    let mut rng = Rng(seed);
    let (mut y, mut pred, mut score, mut s, mut r) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let p = rng.uniform();
        y.push(u8::from(rng.uniform() < p));
        pred.push(u8::from(p > 0.5));
        score.push(p);
        s.push((rng.uniform() * sexes.len() as f64) as u32);
        r.push((rng.uniform() * regions.len() as f64) as u32);
    }
    let sexes: Vec<String> = sexes.iter().map(|v| (*v).to_owned()).collect();
    let regions: Vec<String> = regions.iter().map(|v| (*v).to_owned()).collect();
    let mut acc = Accumulator::new(&["sex", "region"], true, false, MissingGroups::Error);
    acc.add(&Batch {
        label: Col { name: "y", values: &y },
        label_true: None,
        prediction: Col {
            name: "pred",
            values: &pred,
        },
        score: Some(Col {
            name: "p",
            values: &score,
        }),
        weight: None,
        groups: vec![
            GroupCol {
                name: "sex",
                codes: &s,
                valid: None,
                dictionary: &sexes,
            },
            GroupCol {
                name: "region",
                codes: &r,
                valid: None,
                dictionary: &regions,
            },
        ],
    })
    .unwrap();
    acc
}

#[test]
fn the_report_does_not_depend_on_the_order_batches_were_merged_in() {
    let a = accumulate(1, 3000, &["m", "f"], &["syd", "nord", "midt"]);
    let b = accumulate(2, 3000, &["f", "m"], &["midt", "syd", "nord"]);
    let config = Config {
        bootstrap: 200,
        seed: 9,
        ..Config::default()
    };
    let mut ab = a.clone();
    ab.merge(&b).unwrap();
    let mut ba = b.clone();
    ba.merge(&a).unwrap();
    let (ab, ba) = (Report::build(&ab, &config), Report::build(&ba, &config));
    let json = |r: &Report| serde_json::to_value(r).unwrap();
    // Score sums may differ in the last bit with the order of addition; everything the
    // bootstrap draws and every count-based figure is identical.
    close(&json(&ab), &json(&ba), "");
    let j = json(&ab);
    let values: Vec<serde_json::Value> = j["attributes"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["values"].clone())
        .collect();
    assert_eq!(values, [serde_json::json!(["f"]), serde_json::json!(["m"])]);
}

/// Equal JSON, numbers to 1e-12 relative.
fn close(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{path}: {x} != {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                close(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{path}");
            for (k, v) in x {
                close(v, &y[k], &format!("{path}/{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}
