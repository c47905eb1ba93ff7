//! Walker's alias method: O(1) sampling from a fixed discrete distribution with one uniform.

/// A discrete distribution over `0..len()` that samples in constant time.
#[derive(Debug, Clone)]
pub struct AliasTable {
    prob: Vec<f64>,
    alias: Vec<u32>,
}

impl AliasTable {
    /// Builds the table from non-negative weights (at least one must be positive).
    ///
    /// # Panics
    /// On empty, negative, non-finite or all-zero weights: tables are built from the embedded
    /// reference data and the model's own constants, so this is a programming error.
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        assert!(n > 0 && n < u32::MAX as usize, "alias table needs weights");
        assert!(
            weights.iter().all(|w| w.is_finite() && *w >= 0.0),
            "alias weights must be finite and non-negative"
        );
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "alias weights must not all be zero");
        let mut prob: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias = vec![0u32; n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| prob[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            alias[s] = l as u32;
            prob[l] -= 1.0 - prob[s];
            if prob[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            prob[i] = 1.0;
        }
        Self { prob, alias }
    }

    /// Samples an index from one uniform draw in (0, 1).
    #[inline]
    pub fn sample(&self, u: f64) -> usize {
        let x = u * self.prob.len() as f64;
        let i = (x as usize).min(self.prob.len() - 1);
        let frac = x - i as f64;
        if frac < self.prob[i] { i } else { self.alias[i] as usize }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_weights() {
        let w = [1.0, 0.0, 3.0, 6.0];
        let t = AliasTable::new(&w);
        let n = 400_000;
        let mut c = [0usize; 4];
        for i in 0..n {
            let u = (i as f64 + 0.5) / n as f64;
            c[t.sample(u)] += 1;
        }
        assert_eq!(c[1], 0);
        for (k, wk) in w.iter().enumerate() {
            let f = c[k] as f64 / n as f64;
            assert!((f - wk / 10.0).abs() < 1e-3, "{k}: {f}");
        }
    }
}
