//! Intervals of the score metrics cover the population value at about the nominal rate.
//!
//! The population: a true probability p ~ U(0, 1), the outcome y ~ Bernoulli(p), and a
//! miscalibrated score p² (too low everywhere but at the ends). The population's average
//! precision and calibration error are estimated once from four million rows, which is
//! exact enough beside the spread of 1,000-row samples.

use fairness::ScoreStats;

mod common;
use common::Rng;

fn sample(seed: u64, n: usize) -> ScoreStats {
    let mut rng = Rng(seed);
    let mut s = ScoreStats::default();
    for _ in 0..n {
        let p = rng.uniform();
        let y = rng.uniform() < p;
        s.add(p * p, y, 1.0);
    }
    s
}

#[test]
fn average_precision_and_calibration_error_intervals_cover_about_95_percent() {
    let population = sample(1, 4_000_000);
    let ap = population.average_precision().value.unwrap();
    let ece = population.ece().value.unwrap();
    // Analytically: E[p - p²] = 1/6 overall; binning by score loses little of it.
    assert!((ece - 1.0 / 6.0).abs() < 0.01, "population ECE {ece}");
    let trials = 400;
    let (mut ap_covered, mut ece_covered) = (0, 0);
    for t in 0..trials {
        let s = sample(1000 + t, 1000);
        let [lo, hi] = s.average_precision_interval(1.959_963_985).unwrap();
        ap_covered += usize::from(lo <= ap && ap <= hi);
        let [lo, hi] = s.ece_bootstrap_interval(1000, t, 0.95).unwrap();
        ece_covered += usize::from(lo <= ece && ece <= hi);
    }
    for (name, covered) in [
        ("average precision (logit)", ap_covered),
        ("ECE (bootstrap)", ece_covered),
    ] {
        let rate = covered as f64 / trials as f64;
        eprintln!("{name}: {rate}");
        assert!((0.92..=0.98).contains(&rate), "{name}: coverage {rate}");
    }
}

#[test]
fn score_intervals_by_hand() {
    // Scores 0.9 (positive), 0.8 (negative), 0.7 (positive), 0.1 (negative):
    // AP = 1/2 · 1 + 1/2 · 2/3 = 5/6, two positives.
    let mut s = ScoreStats::default();
    for (x, y) in [(0.9, true), (0.8, false), (0.7, true), (0.1, false)] {
        s.add(x, y, 1.0);
    }
    let ap: f64 = 5.0 / 6.0;
    assert!((s.average_precision().value.unwrap() - ap).abs() < 1e-15);
    let eta = (ap / (1.0 - ap)).ln();
    let tau = 1.0 / (2.0 * ap * (1.0 - ap)).sqrt();
    let expit = |x: f64| 1.0 / (1.0 + (-x).exp());
    let [lo, hi] = s.average_precision_interval(1.96).unwrap();
    assert!((lo - expit(eta - 1.96 * tau)).abs() < 1e-15, "{lo}");
    assert!((hi - expit(eta + 1.96 * tau)).abs() < 1e-15, "{hi}");
    assert!(lo < ap && ap < hi);
    // A perfect ranking has AP 1 and no spread to speak of on the logit scale.
    let mut perfect = ScoreStats::default();
    perfect.add(0.9, true, 1.0);
    perfect.add(0.2, false, 1.0);
    assert_eq!(perfect.average_precision_interval(1.96), Some([1.0, 1.0]));
    // No positives: no AP, no interval.
    let mut none = ScoreStats::default();
    none.add(0.3, false, 1.0);
    assert_eq!(none.average_precision_interval(1.96), None);
}

#[test]
fn the_calibration_bootstrap_is_seeded_and_brackets_the_estimate() {
    let s = sample(5, 2000);
    let ece = s.ece().value.unwrap();
    let a = s.ece_bootstrap_interval(500, 9, 0.95).unwrap();
    assert_eq!(Some(a), s.ece_bootstrap_interval(500, 9, 0.95));
    assert_ne!(Some(a), s.ece_bootstrap_interval(500, 10, 0.95));
    assert!(a[0] < ece && ece < a[1], "{a:?} {ece}");
    // A perfectly calibrated, deterministic score (every row's score is its label) has
    // calibration error 0 in every resample.
    let mut exact = ScoreStats::default();
    for k in 0..100 {
        exact.add(f64::from(u8::from(k % 3 == 0)), k % 3 == 0, 1.0);
    }
    assert_eq!(exact.ece_bootstrap_interval(200, 1, 0.95), Some([0.0, 0.0]));
    assert_eq!(ScoreStats::default().ece_bootstrap_interval(200, 1, 0.95), None);
}
