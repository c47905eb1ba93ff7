//! Confidence intervals.

/// The standard normal quantile for a two-sided interval at `confidence`.
pub fn z_for(confidence: f64) -> f64 {
    // Acklam's approximation of the inverse normal CDF (ample for interval widths).
    let p = 1.0 - (1.0 - confidence) / 2.0;
    let q = (p - 0.5).abs();
    if q <= 0.475 {
        let r = (p - 0.5) * (p - 0.5);
        const A: [f64; 6] = [
            -39.696_830_286_653_76,
            220.946_098_424_520_5,
            -275.928_510_446_968_7,
            138.357_751_867_269,
            -30.664_798_066_147_16,
            2.506_628_277_459_239,
        ];
        const B: [f64; 5] = [
            -54.476_098_798_224_06,
            161.585_836_858_040_9,
            -155.698_979_859_886_6,
            66.801_311_887_719_72,
            -13.280_681_552_885_72,
        ];
        (p - 0.5) * (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5])
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        const C: [f64; 6] = [
            -0.007_784_894_002_430_293,
            -0.322_396_458_041_136_5,
            -2.400_758_277_161_838,
            -2.549_732_539_343_734,
            4.374_664_141_464_968,
            2.938_163_982_698_783,
        ];
        const D: [f64; 4] = [
            0.007_784_695_709_041_462,
            0.322_467_129_070_039_8,
            2.445_134_137_142_996,
            3.754_408_661_907_416,
        ];
        let t = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * t + C[1]) * t + C[2]) * t + C[3]) * t + C[4]) * t + C[5])
            / ((((D[0] * t + D[1]) * t + D[2]) * t + D[3]) * t + 1.0)
    }
}

/// Wilson score interval for `successes` out of `trials` (trials > 0).
pub fn wilson(successes: f64, trials: f64, confidence: f64) -> [f64; 2] {
    let z = z_for(confidence);
    let p = successes / trials;
    let z2 = z * z;
    let denom = 1.0 + z2 / trials;
    let centre = (p + z2 / (2.0 * trials)) / denom;
    let half = z * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt() / denom;
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_and_wilson_by_hand() {
        assert!((z_for(0.95) - 1.959_963_985).abs() < 1e-8);
        assert!((z_for(0.99) - 2.575_829_304).abs() < 1e-8);
        // 8 of 10 at 95 %: the textbook Wilson interval is (0.4902, 0.9433).
        let [lo, hi] = wilson(8.0, 10.0, 0.95);
        assert!(
            (lo - 0.490_16).abs() < 1e-4 && (hi - 0.943_32).abs() < 1e-4,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0.0, 5.0, 0.95)[0], 0.0);
    }
}
