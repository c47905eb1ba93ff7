//! Is a group's rate different from the reference group's? Two-proportion z-test when every
//! expected count is at least 5, Fisher's exact test otherwise, and a correction for testing
//! many groups and metrics at once (Holm by default, or Benjamini–Hochberg), named in the
//! output.

use serde::{Deserialize, Serialize};

/// Which test produced a p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum Test {
    // The normal approximation, for large counts.
    TwoProportionZ,
    // Fisher's exact test, where the normal approximation is poor (small counts).
    FisherExact,
}

/// Multiple-testing correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm's step-down method: controls the family-wise error rate.
    #[default]
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate.
    BenjaminiHochberg,
}

/// `ln Γ(x)` for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_choose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

/// Complementary error function (Numerical Recipes' `erfcc`, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided Fisher exact test of `x1/n1` against `x2/n2`.
pub fn fisher_exact(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let successes = x1 + x2;
    let n = n1f + n2f;
    let lo = successes.saturating_sub(n2);
    let hi = successes.min(n1);
    let ln_p =
        |x: u64| ln_choose(n1f, x as f64) + ln_choose(n2f, (successes - x) as f64) - ln_choose(n, successes as f64);
    let observed = ln_p(x1);
    let mut p = 0.0;
    for x in lo..=hi {
        let l = ln_p(x);
        // Tables at most as likely as the observed one (with R's relative tolerance).
        if l <= observed + 1e-7 {
            p += l.exp();
        }
    }
    p.min(1.0)
}

/// Two-sided pooled two-proportion z-test.
pub fn two_proportion_z(x1: f64, n1: f64, x2: f64, n2: f64) -> f64 {
    let pooled = (x1 + x2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return 1.0;
    }
    let z = (x1 / n1 - x2 / n2) / se;
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Tests `x1/n1` against `x2/n2`, choosing the test by the smallest expected count.
pub fn test(x1: f64, n1: f64, x2: f64, n2: f64) -> Option<(f64, Test)> {
    if n1 <= 0.0 || n2 <= 0.0 {
        return None;
    }
    let pooled = (x1 + x2) / (n1 + n2);
    let min_expected = [n1 * pooled, n1 * (1.0 - pooled), n2 * pooled, n2 * (1.0 - pooled)]
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    if min_expected >= 5.0 {
        Some((two_proportion_z(x1, n1, x2, n2), Test::TwoProportionZ))
    } else {
        let r = |v: f64| v.round() as u64;
        Some((fisher_exact(r(x1), r(n1), r(x2), r(n2)), Test::FisherExact))
    }
}

/// Adjusted p-values, in the input order.
pub fn adjust(p: &[f64], method: Correction) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    match method {
        Correction::Holm => {
            let mut running: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max(((m - rank) as f64 * p[i]).min(1.0));
                out[i] = running;
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running: f64 = 1.0;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min((m as f64 / (rank + 1) as f64 * p[i]).min(1.0));
                out[i] = running;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_matches_r() {
        // R: fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value = 0.4857143
        assert!((fisher_exact(3, 4, 1, 4) - 0.485_714_3).abs() < 1e-6);
        // R: fisher.test(matrix(c(1, 9, 11, 3), 2))$p.value = 0.002759456
        assert!((fisher_exact(1, 10, 11, 14) - 0.002_759_456).abs() < 1e-8);
    }

    #[test]
    fn z_test_by_hand() {
        // 45/100 vs 30/100: pooled 0.375, se = sqrt(0.375 * 0.625 * 0.02), z = 2.19089.
        let p = two_proportion_z(45.0, 100.0, 30.0, 100.0);
        assert!((p - 0.028_459_7).abs() < 1e-6, "{p}");
        assert_eq!(test(2.0, 10.0, 5.0, 10.0).unwrap().1, Test::FisherExact);
        assert_eq!(test(45.0, 100.0, 30.0, 100.0).unwrap().1, Test::TwoProportionZ);
    }

    #[test]
    fn corrections_by_hand() {
        let p = [0.01, 0.04, 0.03];
        let holm = adjust(&p, Correction::Holm);
        for (a, b) in holm.iter().zip([0.03, 0.06, 0.06]) {
            assert!((a - b).abs() < 1e-12, "{holm:?}");
        }
        let bh = adjust(&p, Correction::BenjaminiHochberg);
        for (a, b) in bh.iter().zip([0.03, 0.04, 0.04]) {
            assert!((a - b).abs() < 1e-12, "{bh:?}");
        }
    }
}
