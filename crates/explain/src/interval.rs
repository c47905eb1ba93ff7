//! The interval of a mean over a few repeats.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Mean, sample standard deviation and Student-t interval of `values` (repeats of one
/// quantity) at `confidence`. The interval is `None` with fewer than two values; with no spread
/// it is the mean itself, so a quantity that is exactly 0 in every repeat has `[0, 0]`.
pub fn mean_interval(values: &[f64], confidence: f64) -> (f64, f64, Option<[f64; 2]>) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0, None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    if sd == 0.0 {
        return (mean, 0.0, Some([mean, mean]));
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(0.5 + confidence / 2.0))
        .unwrap_or(f64::NAN);
    let half = t * sd / (n as f64).sqrt();
    (mean, sd, Some([mean - half, mean + half]))
}

/// Wilson score interval of the proportion `k / n` at `confidence` (`n > 0`): it stays inside
/// [0, 1] and is not degenerate at 0 or `n` successes, unlike the normal approximation.
pub fn wilson(k: f64, n: f64, confidence: f64) -> [f64; 2] {
    let z = Normal::standard().inverse_cdf(0.5 + confidence / 2.0);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / denom;
    // At 0 or n successes the bound is exactly 0 or 1; rounding would leave 1e-17.
    let lo = if k <= 0.0 { 0.0 } else { (centre - half).max(0.0) };
    let hi = if k >= n { 1.0 } else { (centre + half).min(1.0) };
    [lo, hi]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wilson_interval_matches_hand_computed_values() {
        // By hand (z = 1.959964): 5 of 10 gives centre 0.5, half-width 0.2634069; 0 of 20 gives
        // centre 0.0805626 and half-width 0.0805626, so (0, 0.1611252). statsmodels'
        // proportion_confint(k, n, 0.05, "wilson") agrees.
        let [lo, hi] = wilson(5.0, 10.0, 0.95);
        assert!(
            (lo - 0.236_593_1).abs() < 1e-6 && (hi - 0.763_406_9).abs() < 1e-6,
            "{lo} {hi}"
        );
        let [lo, hi] = wilson(0.0, 20.0, 0.95);
        assert!(lo == 0.0 && (hi - 0.161_125_2).abs() < 1e-6, "{lo} {hi}");
    }

    #[test]
    fn the_interval_uses_students_t() {
        // Five repeats: t(0.975, 4) = 2.776445 (any table).
        let (mean, sd, ci) = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(mean, 3.0);
        assert!((sd - 2.5f64.sqrt()).abs() < 1e-12);
        let [lo, hi] = ci.unwrap();
        let half = 2.776_445_105 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!(
            (lo - (3.0 - half)).abs() < 1e-6 && (hi - (3.0 + half)).abs() < 1e-6,
            "{lo} {hi}"
        );
        assert_eq!(mean_interval(&[0.0, 0.0, 0.0], 0.95).2, Some([0.0, 0.0]));
        assert_eq!(mean_interval(&[4.0], 0.95).2, None);
    }
}
