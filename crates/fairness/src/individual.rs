//! Individual-level unfairness: AIF360's generalized entropy index over the benefit
//! `b = prediction - label + 1` and its between-group component.
//!
//! `b` is 0 for a false negative, 1 for a correct decision and 2 for a false positive, so the
//! index is a function of the confusion cells alone and merges like them.

use crate::cells::Cells;

/// The benefit distribution of some rows: `(weight of b=0, b=1, b=2)`.
fn benefit(c: &Cells) -> (f64, f64, f64) {
    (c.fn_, c.tp + c.tn, c.fp)
}

fn mean_benefit(c: &Cells) -> f64 {
    let (_, n1, n2) = benefit(c);
    (n1 + 2.0 * n2) / c.n()
}

/// `x^alpha`-based entropy term of one value relative to the mean (`alpha` 1 is Theil).
fn term(x: f64, mu: f64, alpha: f64) -> f64 {
    let r = x / mu;
    if alpha == 1.0 {
        if r > 0.0 { r * r.ln() } else { 0.0 }
    } else if alpha == 0.0 {
        -r.ln()
    } else {
        (r.powf(alpha) - 1.0) / (alpha * (alpha - 1.0))
    }
}

/// Generalized entropy index GE(alpha) of the individual benefits; `alpha = 1` is the Theil
/// index. `None` when there are no rows or every benefit is zero.
pub fn generalized_entropy(c: &Cells, alpha: f64) -> Option<f64> {
    let n = c.n();
    if n <= 0.0 {
        return None;
    }
    let mu = mean_benefit(c);
    if mu <= 0.0 {
        return None;
    }
    let (n0, n1, n2) = benefit(c);
    let zero = if n0 > 0.0 {
        if alpha == 1.0 {
            0.0
        } else if alpha <= 0.0 {
            return None; // log or negative power of a zero benefit
        } else {
            n0 * (-1.0 / (alpha * (alpha - 1.0)))
        }
    } else {
        0.0
    };
    Some((zero + n1 * term(1.0, mu, alpha) + n2 * term(2.0, mu, alpha)) / n)
}

/// The between-group component: GE of the benefits with every individual's benefit replaced by
/// their group's mean (AIF360's `between_all_groups_generalized_entropy_index`).
pub fn between_groups(groups: &[Cells], alpha: f64) -> Option<f64> {
    let mut all = Cells::default();
    for g in groups {
        all.merge(g);
    }
    let n = all.n();
    if n <= 0.0 {
        return None;
    }
    let mu = mean_benefit(&all);
    if mu <= 0.0 {
        return None;
    }
    let s: f64 = groups
        .iter()
        .filter(|g| g.n() > 0.0)
        .map(|g| g.n() * term(mean_benefit(g), mu, alpha))
        .sum();
    Some(s / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_on_individual_benefits() {
        let c = Cells {
            tp: 3.0,
            fp: 2.0,
            tn: 4.0,
            fn_: 1.0,
        };
        let b: Vec<f64> = [0.0]
            .iter()
            .chain([1.0; 7].iter())
            .chain([2.0; 2].iter())
            .copied()
            .collect();
        let mu = b.iter().sum::<f64>() / b.len() as f64;
        let ge2 = b.iter().map(|x| ((x / mu).powi(2) - 1.0) / 2.0).sum::<f64>() / b.len() as f64;
        let theil = b
            .iter()
            .map(|x| if *x > 0.0 { x / mu * (x / mu).ln() } else { 0.0 })
            .sum::<f64>()
            / b.len() as f64;
        assert!((generalized_entropy(&c, 2.0).unwrap() - ge2).abs() < 1e-15);
        assert!((generalized_entropy(&c, 1.0).unwrap() - theil).abs() < 1e-15);
        // One group: no between-group inequality.
        assert!(between_groups(&[c], 2.0).unwrap().abs() < 1e-15);
    }
}
