//! The bootstrap over confusion counts.
//!
//! Every rate metric depends only on a group's four confusion counts, so resampling a group's
//! rows with replacement is exactly drawing its counts from a multinomial with the observed
//! proportions. The engine resamples each intersection cell that way (a bootstrap stratified
//! by cell) and sums cells into groups, so one replicate costs a few binomial draws per cell
//! instead of a pass over the rows. Seeded, so reports are reproducible.

use crate::cells::Cells;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Binomial, Distribution};

/// A seeded source of replicates.
pub struct Resampler {
    rng: StdRng,
}

impl Resampler {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        Binomial::new(n, p).map_or(0, |b| b.sample(&mut self.rng))
    }

    /// One multinomial redraw of a cell's counts (weights are rounded to whole rows).
    pub fn resample(&mut self, c: &Cells) -> Cells {
        let n = c.n().round() as u64;
        let total = c.n();
        if n == 0 || total <= 0.0 {
            return Cells::default();
        }
        let mut left = n;
        let mut mass = 1.0;
        let mut draw = |share: f64, rng: &mut Self| {
            let p = if mass > 0.0 { (share / mass).min(1.0) } else { 0.0 };
            let k = rng.binomial(left, p);
            left -= k;
            mass -= share;
            k as f64
        };
        let tp = draw(c.tp / total, self);
        let fp = draw(c.fp / total, self);
        let tn = draw(c.tn / total, self);
        Cells {
            tp,
            fp,
            tn,
            fn_: left as f64,
        }
    }
}

/// The percentile interval of `values` at `confidence` (linear interpolation, as numpy's
/// default). `None` for no values.
pub fn percentile_interval(values: &mut [f64], confidence: f64) -> Option<[f64; 2]> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = p * (values.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
    };
    let alpha = 1.0 - confidence;
    Some([q(alpha / 2.0), q(1.0 - alpha / 2.0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_the_size_and_the_proportions() {
        let c = Cells {
            tp: 30.0,
            fp: 10.0,
            tn: 50.0,
            fn_: 10.0,
        };
        let mut r = Resampler::new(1);
        let mut tp = 0.0;
        for _ in 0..2000 {
            let x = r.resample(&c);
            assert_eq!(x.n(), 100.0);
            tp += x.tp;
        }
        assert!((tp / 2000.0 - 30.0).abs() < 0.5, "{}", tp / 2000.0);
        // Same seed, same replicates.
        assert_eq!(Resampler::new(9).resample(&c), Resampler::new(9).resample(&c));
    }

    #[test]
    fn percentiles_interpolate() {
        let mut v: Vec<f64> = (0..=100).map(f64::from).collect();
        let [lo, hi] = percentile_interval(&mut v, 0.9).unwrap();
        assert!((lo - 5.0).abs() < 1e-9 && (hi - 95.0).abs() < 1e-9, "{lo} {hi}");
        let [lo, _] = percentile_interval(&mut [1.0, 2.0], 0.5).unwrap();
        assert!((lo - 1.25).abs() < 1e-12);
        assert_eq!(percentile_interval(&mut [], 0.9), None);
    }
}
