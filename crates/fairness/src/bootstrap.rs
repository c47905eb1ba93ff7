//! The bootstrap over confusion counts.
//!
//! Every rate metric depends only on a group's four confusion counts, so resampling a group's
//! rows with replacement is exactly drawing its counts from a multinomial with the observed
//! proportions. One replicate therefore costs a few binomial draws per intersection cell
//! instead of a pass over the rows. Two schemes (see [`Scheme`]): resampling within each
//! intersection cell, or resampling all rows at once. Seeded, so reports are reproducible.

use crate::cells::Cells;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};

/// How rows are resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Rows are resampled within each intersection cell, so every group keeps its size: the
    /// intervals answer "how much would this group's rates vary", as when group sizes are
    /// fixed by design (a synthetic population, a stratified sample).
    #[default]
    Stratified,
    /// All rows are resampled together, so group sizes vary too: the ordinary bootstrap of
    /// a random sample. A group that happens to be empty in a replicate contributes nothing
    /// to that replicate's interval of its rates.
    Rows,
}

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

impl Resampler {
    /// One multinomial redraw of all rows at once: the counts of every (cell, outcome)
    /// category drawn jointly, with the total fixed.
    pub fn resample_all(&mut self, cells: &[Cells]) -> Vec<Cells> {
        let weights: Vec<f64> = cells.iter().flat_map(|c| [c.tp, c.fp, c.tn, c.fn_]).collect();
        self.multinomial(&weights)
            .chunks(4)
            .map(|k| Cells {
                tp: k[0],
                fp: k[1],
                tn: k[2],
                fn_: k[3],
            })
            .collect()
    }

    /// Counts of a multinomial over categories with the given weights; the total is the
    /// weights' sum rounded to whole rows.
    pub fn multinomial(&mut self, weights: &[f64]) -> Vec<f64> {
        let total: f64 = weights.iter().sum();
        let mut left = total.round() as u64;
        let mut mass = 1.0;
        weights
            .iter()
            .map(|&w| {
                if total <= 0.0 || left == 0 {
                    return 0.0;
                }
                let share = w / total;
                let p = if mass > 0.0 { (share / mass).min(1.0) } else { 1.0 };
                let k = self.binomial(left, p);
                left -= k;
                mass -= share;
                k as f64
            })
            .collect()
    }

    /// A standard normal draw.
    pub fn standard_normal(&mut self) -> f64 {
        rand_distr::StandardNormal.sample(&mut self.rng)
    }

    /// One replicate of every cell under `scheme`.
    pub fn replicate(&mut self, cells: &[Cells], scheme: Scheme) -> Vec<Cells> {
        match scheme {
            Scheme::Stratified => cells.iter().map(|c| self.resample(c)).collect(),
            Scheme::Rows => self.resample_all(cells),
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
    fn resampling_all_rows_keeps_the_total_but_moves_rows_between_cells() {
        let cells = [
            Cells {
                tp: 30.0,
                fp: 10.0,
                tn: 50.0,
                fn_: 10.0,
            },
            Cells {
                tp: 5.0,
                fp: 5.0,
                tn: 5.0,
                fn_: 5.0,
            },
        ];
        let mut r = Resampler::new(3);
        let (mut second, mut sizes) = (0.0, std::collections::BTreeSet::new());
        for _ in 0..4000 {
            let x = r.resample_all(&cells);
            assert_eq!(x.iter().map(Cells::n).sum::<f64>(), 120.0);
            second += x[1].n();
            sizes.insert(x[1].n() as u64);
        }
        // The second cell's size varies around its share of the rows, 20 of 120.
        assert!((second / 4000.0 - 20.0).abs() < 0.3, "{}", second / 4000.0);
        assert!(sizes.len() > 10, "{sizes:?}");
        // Within-cell resampling never changes a cell's size.
        let strat = r.replicate(&cells, Scheme::Stratified);
        assert_eq!((strat[0].n(), strat[1].n()), (100.0, 20.0));
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
