//! Bootstrap intervals cover the true value at about the nominal rate.

use fairness::bootstrap::Scheme;
use fairness::input::{Batch, Col, GroupCol};
use fairness::{Accumulator, Config, MissingGroups, Report};

/// SplitMix64, enough for simulated data.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

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
        let [lo, hi] = a.metrics["selection_rate"].bootstrap_interval.unwrap();
        sel_a += usize::from(lo <= 0.40 && 0.40 <= hi);
        let [lo, hi] = a.metrics["selection_rate"].interval.unwrap();
        wilson_a += usize::from(lo <= 0.40 && 0.40 <= hi);
        let d = attr.disparity("true_positive_rate").unwrap();
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
            .disparity("selection_rate")
            .unwrap()
            .intervals
            .difference_between_groups
    };
    assert_ne!(ci(&a), ci(&b));
}
