//! Counter-based randomness.
//!
//! Every random number in a dataset is a pure function of `(seed, scenario, row, variable, k)`.
//! There is no sequential generator state to share between threads, so a row's values do not
//! depend on which thread produced it, how the rows were split into batches or shards, or which
//! other rows exist. Each variable of the causal model draws from its own stream
//! ([`Var`]), which is what lets a counterfactual twin change one variable while every other
//! draw stays exactly the same ("common random numbers").

/// SplitMix64's finaliser: a bijective 64-bit mixer with full avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes a string to a 64-bit key (FNV-1a, then mixed). Used to derive per-scenario keys.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// Identifies one random variable of the causal model. The numeric value is part of the
/// data's definition: changing it changes every dataset, so add new variables at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Var {
    Origin = 1,
    Country,
    Municipality,
    FirstName,
    LastName,
    Education,
    Chronic,
    Employment,
    Income,
    Household,
    Children,
    Hospital,
    HospitalDays,
    /// Unobserved latent traits of the scenario outcome (e.g. motivation, network).
    Latent,
    Outcome,
    LabelBias,
    MeasurementNoise,
    ScenarioA,
    ScenarioB,
    ScenarioC,
    ScenarioD,
    ScenarioE,
    ScenarioF,
    ScenarioG,
    ScenarioH,
}

/// The random source of one row: a key from which every variable's draws are derived.
#[derive(Debug, Clone, Copy)]
pub struct RowRng {
    key: u64,
}

impl RowRng {
    /// The row key for global row index `row` of a dataset keyed by `dataset_key`.
    #[inline]
    pub fn new(dataset_key: u64, row: u64) -> Self {
        Self {
            key: mix64(dataset_key ^ mix64(row.wrapping_add(0x9e37_79b9_7f4a_7c15))),
        }
    }

    /// The `k`-th raw 64-bit draw of variable `var`.
    #[inline]
    pub fn bits(&self, var: Var, k: u32) -> u64 {
        mix64(self.key ^ (((var as u64) << 32) | u64::from(k)).wrapping_mul(0xd6e8_feb8_6659_fd93))
    }

    /// The `k`-th raw draw of stream `stream`: a [`Var`]'s number, or a scenario module's own
    /// stream (numbers from 2³¹ up, so they never meet a [`Var`]).
    #[inline]
    pub fn bits_stream(&self, stream: u32, k: u32) -> u64 {
        mix64(self.key ^ ((u64::from(stream) << 32) | u64::from(k)).wrapping_mul(0xd6e8_feb8_6659_fd93))
    }

    /// [`RowRng::uniform`] of a stream by number.
    #[inline]
    pub fn uniform_stream(&self, stream: u32, k: u32) -> f64 {
        ((self.bits_stream(stream, k) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// [`RowRng::normal`] of a stream by number.
    #[inline]
    pub fn normal_stream(&self, stream: u32, k: u32) -> f64 {
        inv_norm_cdf(self.uniform_stream(stream, k))
    }

    /// A uniform draw in the open interval (0, 1): never exactly 0 or 1, so it is safe to pass
    /// to a logarithm or an inverse CDF.
    #[inline]
    pub fn uniform(&self, var: Var, k: u32) -> f64 {
        ((self.bits(var, k) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (inverse-CDF method, so one uniform per normal).
    #[inline]
    pub fn normal(&self, var: Var, k: u32) -> f64 {
        inv_norm_cdf(self.uniform(var, k))
    }

    /// A Poisson draw with mean `lambda` (inversion; `lambda` is small in this model).
    #[inline]
    pub fn poisson(&self, var: Var, k: u32, lambda: f64) -> u32 {
        poisson_inv(self.uniform(var, k), lambda)
    }

    /// True with probability `p`.
    #[inline]
    pub fn bernoulli(&self, var: Var, k: u32, p: f64) -> bool {
        self.uniform(var, k) < p
    }
}

/// Poisson quantile function by sequential search; capped at 255 to bound the work for any
/// parameter value.
pub fn poisson_inv(u: f64, lambda: f64) -> u32 {
    let mut p = (-lambda).exp();
    let mut cdf = p;
    let mut k = 0u32;
    while u > cdf && k < 255 {
        k += 1;
        p *= lambda / f64::from(k);
        cdf += p;
    }
    k
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative error below
/// 1.2e-9), which is ample for simulation and needs no state.
pub fn inv_norm_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A keyed pseudo-random permutation of `[0, n)`: a 4-round Feistel network on the smallest
/// even bit width covering `n`, with cycle walking to stay inside the domain. It is how each
/// row gets a distinct identity slot (and so a distinct CPR number) without any shared state.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

impl Permutation {
    pub fn new(n: u64, key: u64) -> Self {
        assert!(n > 0, "a permutation needs a non-empty domain");
        let bits = 64 - (n - 1).max(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let keys = [mix64(key ^ 1), mix64(key ^ 2), mix64(key ^ 3), mix64(key ^ 4)];
        Self { n, half_bits, keys }
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    #[inline]
    fn round(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let mut l = x >> self.half_bits;
        let mut r = x & mask;
        for k in self.keys {
            let f = mix64(r ^ k) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The image of `i` (which must be below `len()`).
    #[inline]
    pub fn apply(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        let mut x = self.round(i);
        // The Feistel domain is at most 4n, so this loop runs fewer than 4 times on average.
        while x >= self.n {
            x = self.round(x);
        }
        x
    }
}

/// A small sequential generator (SplitMix64) implementing `rand_core`'s traits, for handing a
/// row's stream to APIs that want an `Rng`, such as `fake`'s fakers.
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct SplitMix {
    state: u64,
}

#[cfg(test)]
impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

#[cfg(test)]
impl rand_core::TryRng for SplitMix {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        Ok(mix64(self.state))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i);
                assert!(j < n);
                assert!(!seen[j as usize], "n={n}: {j} hit twice");
                seen[j as usize] = true;
            }
        }
    }

    #[test]
    fn inverse_normal_matches_known_quantiles() {
        assert!((inv_norm_cdf(0.5)).abs() < 1e-9);
        assert!((inv_norm_cdf(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((inv_norm_cdf(0.01) + 2.326_347_874).abs() < 1e-6);
    }

    #[test]
    fn uniform_draws_have_the_right_moments_and_streams_differ() {
        let n = 200_000;
        let (mut s, mut s2, mut same) = (0.0, 0.0, 0);
        for row in 0..n {
            let r = RowRng::new(7, row);
            let u = r.uniform(Var::Origin, 0);
            assert!(u > 0.0 && u < 1.0);
            s += u;
            s2 += u * u;
            if r.bits(Var::Origin, 0) == r.bits(Var::Country, 0) {
                same += 1;
            }
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "var {var}");
        assert_eq!(same, 0);
    }

    #[test]
    fn poisson_mean_is_lambda() {
        let n = 100_000;
        let mean: f64 = (0..n)
            .map(|i| f64::from(RowRng::new(3, i).poisson(Var::Chronic, 0, 1.7)))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 1.7).abs() < 0.03, "{mean}");
    }
}
