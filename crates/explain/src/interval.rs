//! The interval of a mean over a few repeats.

use statrs::distribution::{ContinuousCDF, StudentsT};

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

#[cfg(test)]
mod tests {
    use super::*;

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
