//! Weak slices: where, among slices of the rows nobody thought to name, the model is wrong more (or
//! selects more) than elsewhere.
//!
//! Every column becomes a few slices: a numeric column with many values is cut at its quartiles
//! (bins closed on the right, empty ones dropped, so a value that fills a quartile, like the zeros
//! of a zero-inflated count, is a slice of its own), a column with few values (at most [`FEW_VALUES`]) or a categorical one gives a slice per value
//! (its [`MAX_VALUES`] most frequent ones, the rest lumped). Slices are single values and pairs of
//! values of two columns. For each slice of at least `min_size` rows (with at least as many outside
//! it), three rates are compared with the rest of the rows by Fisher's exact test (see
//! [`fisher_exact`] for why not a z-test): the error
//! rate against the recorded outcome, against the true outcome, and the selection rate. Each rate's
//! tests are corrected by Benjamini–Hochberg at `q` on their own, so among the slices reported for
//! a rate the expected share of false discoveries is at most `q` (for tests that are independent
//! or positively dependent, as overlapping slices of one column largely are; the intervals are
//! not adjusted for the selection). The significant ones are ranked, per measure, by the
//! size of the difference; for the error rates only slices where the model errs more are kept. A slice where the model errs significantly more against the true outcome but not
//! against the recorded one is flagged: there the model has learned the recording's bias.

use crate::ExplainError;
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// A numeric column with at most this many distinct values gives a slice per value.
pub const FEW_VALUES: usize = 8;
/// Most values of a categorical column that get a slice of their own; the rest are one slice.
pub const MAX_VALUES: usize = 30;

/// How slices are searched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SliceConfig {
    /// The false discovery rate Benjamini–Hochberg controls, in (0, 1).
    pub q: f64,
    /// The fewest rows a slice (and the rest) must have to be tested.
    pub min_size: usize,
    /// How many significant slices are reported per measure.
    pub top: usize,
    /// Confidence of the intervals of the differences.
    pub confidence: f64,
}

impl Default for SliceConfig {
    fn default() -> Self {
        Self {
            q: 0.05,
            min_size: 100,
            top: 10,
            confidence: 0.95,
        }
    }
}

/// The rate a slice is compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SliceMeasure {
    /// Share of decisions that differ from the recorded outcome.
    ErrorRecorded,
    /// Share of decisions that differ from the true outcome.
    ErrorTrue,
    /// Share of positive decisions.
    SelectionRate,
}

/// One condition of a slice: a column and one of its values (or bins).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The value, the bin (`≤ 35`, `(35, 50]`, `> 65`) or `(other)` for the lumped values.
    pub value: String,
}

/// A slice that differs significantly from the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Slice {
    /// One or two conditions, all of which its rows meet.
    pub conditions: Vec<Condition>,
    /// Rows in the slice.
    pub rows: usize,
    /// The rate compared.
    pub measure: SliceMeasure,
    /// The rate in the slice.
    pub rate: f64,
    /// The rate in the rest of the rows.
    pub rate_rest: f64,
    /// `rate − rate_rest`.
    pub difference: f64,
    /// Wald interval of the difference.
    pub interval: [f64; 2],
    /// Two-sided p-value of Fisher's exact test (twice the smaller hypergeometric tail, at most 1).
    pub p_value: f64,
    /// For `error_true`: the error against the recorded outcome is not significantly higher here,
    /// so the model looks right by the records and is wrong in truth.
    pub learned_bias: bool,
}

/// The result of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Slices {
    /// How it was searched.
    pub config: SliceConfig,
    /// Rows searched.
    pub rows: usize,
    /// The columns sliced.
    pub columns: Vec<String>,
    /// Tests made (slices × measures).
    pub tested: usize,
    /// Tests significant after the correction (within each rate's family).
    pub significant: usize,
    /// Per measure (errors against the recorded outcome, against the true one, selection rate),
    /// its `top` significant slices, largest absolute difference first; for errors only those
    /// where the model errs more than in the rest.
    pub top: Vec<Slice>,
}

/// A column as slice codes: per row, the index of its value or bin in `labels`.
struct Sliced {
    column: String,
    labels: Vec<String>,
    codes: Vec<u16>,
}

fn slice_column(name: &str, column: &ArrayRef) -> Result<Sliced, ExplainError> {
    let arrow_err = |error| ExplainError::Arrow {
        column: name.to_owned(),
        error,
    };
    let t = column.data_type();
    if t.is_integer() || t.is_floating() {
        let f = arrow::compute::cast(column, &DataType::Float64).map_err(arrow_err)?;
        let f = f.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
        let mut sorted: Vec<f64> = f.iter().flatten().filter(|x| x.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut distinct = sorted.clone();
        distinct.dedup();
        if distinct.len() > FEW_VALUES {
            let at = |p: f64| sorted[(p * (sorted.len() - 1) as f64).floor() as usize];
            let mut edges = vec![at(0.25), at(0.5), at(0.75)];
            edges.dedup();
            // Bins close on the right (`≤ edge`), so a value that fills several quartiles, like
            // the zeros of a zero-inflated count, is a bin of its own rather than splitting into
            // an empty `< 0` and a `[0, …)` that mixes it with what follows. Empty bins go.
            let fmt = |x: f64| format!("{x}");
            let mut labels = vec![format!("≤ {}", fmt(edges[0]))];
            for w in edges.windows(2) {
                labels.push(format!("({}, {}]", fmt(w[0]), fmt(w[1])));
            }
            labels.push(format!("> {}", fmt(edges[edges.len() - 1])));
            labels.push("(missing)".into());
            let missing = labels.len() - 1;
            let bins: Vec<usize> = f
                .iter()
                .map(|v| match v {
                    Some(x) if x.is_finite() => edges.partition_point(|&e| e < x),
                    _ => missing,
                })
                .collect();
            let mut used = vec![false; labels.len()];
            for &b in &bins {
                used[b] = true;
            }
            let mut code_of = vec![0u16; labels.len()];
            let mut kept = Vec::new();
            for (b, label) in labels.into_iter().enumerate() {
                if used[b] {
                    code_of[b] = kept.len() as u16;
                    kept.push(label);
                }
            }
            let (labels, codes) = (kept, bins.into_iter().map(|b| code_of[b]).collect());
            return Ok(Sliced {
                column: name.to_owned(),
                labels,
                codes,
            });
        }
    }
    let s = arrow::compute::cast(column, &DataType::Utf8).map_err(arrow_err)?;
    let s = s.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for v in s.iter() {
        *counts.entry(v.unwrap_or("(missing)")).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut labels: Vec<String> = by_count.iter().take(MAX_VALUES).map(|(v, _)| (*v).to_owned()).collect();
    labels.sort();
    let lumped = by_count.len() > MAX_VALUES;
    if lumped {
        labels.push("(other)".into());
    }
    let other = (labels.len() - 1) as u16;
    let codes = s
        .iter()
        .map(|v| {
            let v = v.unwrap_or("(missing)");
            labels[..labels.len() - usize::from(lumped)]
                .binary_search_by(|l| l.as_str().cmp(v))
                .map_or(other, |i| i as u16)
        })
        .collect();
    Ok(Sliced {
        column: name.to_owned(),
        labels,
        codes,
    })
}

/// Per cell: rows, errors against the recorded and the true outcome, positive decisions.
type Counts = [u64; 4];

struct Candidate {
    conditions: Vec<Condition>,
    counts: Counts,
}

/// Searches `columns` of `rows` for weak slices of the model whose `decision`s are given.
pub fn weak_slices(
    rows: &RecordBatch,
    columns: &[&str],
    decision: &[bool],
    recorded: &[bool],
    truth: Option<&[bool]>,
    config: SliceConfig,
) -> Result<Slices, ExplainError> {
    let n = rows.num_rows();
    if n == 0 || n > u32::MAX as usize {
        return Err(ExplainError::Config(format!(
            "weak slices need 1 to {} rows, got {n}",
            u32::MAX
        )));
    }
    let within = |x: f64| x > 0.0 && x < 1.0;
    if !(within(config.q) && within(config.confidence)) {
        return Err(ExplainError::Config(format!(
            "q and confidence must be between 0 and 1, got {} and {}",
            config.q, config.confidence
        )));
    }
    for (what, len) in [
        ("the decisions", decision.len()),
        ("the recorded outcome", recorded.len()),
    ]
    .into_iter()
    .chain(truth.map(|t| ("the true outcome", t.len())))
    {
        if len != n {
            return Err(ExplainError::Length {
                what: what.into(),
                got: len,
                rows: n,
            });
        }
    }
    let schema = rows.schema();
    let mut sliced = Vec::with_capacity(columns.len());
    for &c in columns {
        let i = crate::error::column_index(&schema, c)?;
        sliced.push(slice_column(c, rows.column(i))?);
    }
    let row_counts = |i: usize| -> Counts {
        [
            1,
            u64::from(decision[i] != recorded[i]),
            truth.map_or(0, |t| u64::from(decision[i] != t[i])),
            u64::from(decision[i]),
        ]
    };
    let mut total: Counts = [0; 4];
    for i in 0..n {
        let c = row_counts(i);
        for k in 0..4 {
            total[k] += c[k];
        }
    }
    // Every single value and every pair of values of two columns, with its counts.
    let mut candidates: Vec<Candidate> = Vec::new();
    for (a, sa) in sliced.iter().enumerate() {
        let mut cells = vec![[0u64; 4]; sa.labels.len()];
        for i in 0..n {
            let c = row_counts(i);
            let cell = &mut cells[sa.codes[i] as usize];
            for k in 0..4 {
                cell[k] += c[k];
            }
        }
        for (v, counts) in cells.into_iter().enumerate() {
            candidates.push(Candidate {
                conditions: vec![Condition {
                    column: sa.column.clone(),
                    value: sa.labels[v].clone(),
                }],
                counts,
            });
        }
        for sb in &sliced[a + 1..] {
            let width = sb.labels.len();
            let mut cells = vec![[0u64; 4]; sa.labels.len() * width];
            for i in 0..n {
                let c = row_counts(i);
                let cell = &mut cells[sa.codes[i] as usize * width + sb.codes[i] as usize];
                for k in 0..4 {
                    cell[k] += c[k];
                }
            }
            for (j, counts) in cells.into_iter().enumerate() {
                candidates.push(Candidate {
                    conditions: vec![
                        Condition {
                            column: sa.column.clone(),
                            value: sa.labels[j / width].clone(),
                        },
                        Condition {
                            column: sb.column.clone(),
                            value: sb.labels[j % width].clone(),
                        },
                    ],
                    counts,
                });
            }
        }
    }
    let measures: &[(SliceMeasure, usize)] = if truth.is_some() {
        &[
            (SliceMeasure::ErrorRecorded, 1),
            (SliceMeasure::ErrorTrue, 2),
            (SliceMeasure::SelectionRate, 3),
        ]
    } else {
        &[(SliceMeasure::ErrorRecorded, 1), (SliceMeasure::SelectionRate, 3)]
    };
    let normal = Normal::new(0.0, 1.0).expect("the standard normal");
    let z = normal.inverse_cdf(0.5 + config.confidence / 2.0);
    let min = config.min_size as u64;
    let n_all = n as u64;
    // (candidate, measure, p-value, slice rate, rest rate)
    let mut tests: Vec<(usize, SliceMeasure, f64, f64, f64)> = Vec::new();
    for (ci, c) in candidates.iter().enumerate() {
        let rows_in = c.counts[0];
        if rows_in < min || n_all - rows_in < min {
            continue;
        }
        for &(m, k) in measures {
            let (x1, n1) = (c.counts[k] as f64, rows_in as f64);
            let (x2, n2) = ((total[k] - c.counts[k]) as f64, (n_all - rows_in) as f64);
            let (r1, r2) = (x1 / n1, x2 / n2);
            let p = fisher_exact(n_all, total[k], rows_in, c.counts[k]);
            tests.push((ci, m, p, r1, r2));
        }
    }
    // Benjamini–Hochberg within each rate: the largest k with p_(k) ≤ k q / m among that rate's
    // m tests; its k smallest p-values are significant. One family per rate, because selection
    // rates that follow base rates are significant by the thousand, and in one pooled family
    // they would lower the bar for the error slices the report puts first.
    let m = tests.len();
    let mut significant: Vec<usize> = Vec::new();
    for &(measure, _) in measures {
        let mut order: Vec<usize> = (0..m).filter(|&t| tests[t].1 == measure).collect();
        order.sort_by(|&a, &b| tests[a].2.total_cmp(&tests[b].2));
        let family = order.len();
        let cut = order
            .iter()
            .enumerate()
            .filter(|&(rank, &t)| tests[t].2 <= (rank + 1) as f64 * config.q / family as f64)
            .map(|(rank, _)| rank + 1)
            .next_back()
            .unwrap_or(0);
        significant.extend_from_slice(&order[..cut]);
    }
    let cut = significant.len();
    let is_significant: std::collections::HashSet<(usize, u8)> =
        significant.iter().map(|&t| (tests[t].0, tests[t].1 as u8)).collect();
    let mut found: Vec<Slice> = significant
        .iter()
        .map(|&t| {
            let (ci, measure, p, r1, r2) = tests[t];
            let c = &candidates[ci];
            let (n1, n2) = (c.counts[0] as f64, (n_all - c.counts[0]) as f64);
            let half = z * (r1 * (1.0 - r1) / n1 + r2 * (1.0 - r2) / n2).sqrt();
            let worse_by_records = is_significant.contains(&(ci, SliceMeasure::ErrorRecorded as u8))
                && tests
                    .iter()
                    .any(|x| x.0 == ci && x.1 == SliceMeasure::ErrorRecorded && x.3 > x.4);
            Slice {
                conditions: c.conditions.clone(),
                rows: c.counts[0] as usize,
                measure,
                rate: r1,
                rate_rest: r2,
                difference: r1 - r2,
                interval: [r1 - r2 - half, r1 - r2 + half],
                p_value: p,
                learned_bias: measure == SliceMeasure::ErrorTrue && r1 > r2 && !worse_by_records,
            }
        })
        .collect();
    // Per measure, the largest differences first; errors before selection, so that slices
    // where the model selects more because their base rate is higher (as it should) do not
    // crowd out the ones where it is wrong.
    found.sort_by(|a, b| {
        (a.measure as u8)
            .cmp(&(b.measure as u8))
            .then(b.difference.abs().total_cmp(&a.difference.abs()))
            .then(a.conditions.len().cmp(&b.conditions.len()))
            .then(a.conditions.cmp(&b.conditions))
    });
    // A slice where the model errs less than elsewhere is not weak; a selection rate that differs
    // either way is reported.
    found.retain(|x| x.measure == SliceMeasure::SelectionRate || x.difference > 0.0);
    let mut kept = [0usize; 3];
    found.retain(|x| {
        let k = &mut kept[x.measure as usize];
        *k += 1;
        *k <= config.top
    });
    Ok(Slices {
        config,
        rows: n,
        columns: sliced.into_iter().map(|s| s.column).collect(),
        tested: m,
        significant: cut,
        top: found,
    })
}

/// The two-sided p-value of Fisher's exact test that a slice of `drawn` of the `rows` holds
/// `hits` of the `successes` by chance: twice the smaller tail of the hypergeometric
/// distribution, at most 1.
///
/// Not the two-proportion z-test: a slice of a hundred rows with an error rate of 10 % has a
/// right-skewed count, and the normal tail beyond z ≈ 3.4 is several times too small there, so
/// noise passed Benjamini–Hochberg's cut in 3 of 20 seeds where 1 is the stated rate. Exact tails
/// keep the p-values valid at every slice size, which the false discovery rate rests on.
fn fisher_exact(rows: u64, successes: u64, drawn: u64, hits: u64) -> f64 {
    use statrs::function::factorial::ln_binomial;
    let (lo, hi) = ((drawn + successes).saturating_sub(rows), drawn.min(successes));
    if lo == hi {
        return 1.0;
    }
    let ln_pmf =
        |x: u64| ln_binomial(successes, x) + ln_binomial(rows - successes, drawn - x) - ln_binomial(rows, drawn);
    // pmf(x + 1) / pmf(x) and pmf(x − 1) / pmf(x); `failures − (drawn − x)` is the misses
    // outside the slice, written so that no intermediate goes below zero.
    let failures = rows - successes;
    let up =
        |x: u64| ((drawn - x) as f64 * (successes - x) as f64) / ((x + 1) as f64 * (failures - (drawn - x) + 1) as f64);
    let down =
        |x: u64| (x as f64 * (failures - (drawn - x)) as f64) / ((drawn - x + 1) as f64 * (successes - x + 1) as f64);
    let mean = drawn as f64 * successes as f64 / rows as f64;
    // The tail on the observed side, summed relative to pmf(hits) until its terms vanish; the
    // other tail holds at least about half the mass.
    let (mut sum, mut term, mut x) = (1.0f64, 1.0f64, hits);
    if hits as f64 >= mean {
        while x < hi {
            term *= up(x);
            x += 1;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
    } else {
        while x > lo {
            term *= down(x);
            x -= 1;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
    }
    (2.0 * (ln_pmf(hits).exp() * sum)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A zero-inflated count (60 % zeros): the zeros are one bin, exactly, not an empty `< 0`
    /// and a bin that mixes them with the small counts.
    #[test]
    fn the_zeros_of_a_zero_inflated_column_are_a_slice_of_their_own() {
        let values: Vec<i64> = std::iter::repeat_n(0, 600).chain(1..=400).collect();
        let column: ArrayRef = Arc::new(arrow::array::Int64Array::from(values.clone()));
        let sliced = slice_column("months", &column).unwrap();
        let zero = sliced
            .labels
            .iter()
            .position(|l| l == "≤ 0")
            .expect("a bin for the zeros");
        for (v, &code) in values.iter().zip(&sliced.codes) {
            assert_eq!(usize::from(code) == zero, *v == 0, "value {v}: {:?}", sliced.labels);
        }
        // Every bin holds rows: no missing values, so no `(missing)` bin either.
        for b in 0..sliced.labels.len() {
            assert!(sliced.codes.iter().any(|&c| usize::from(c) == b), "{:?}", sliced.labels);
        }
        assert_eq!(sliced.labels, ["≤ 0", "(0, 150]", "> 150"]);
    }
}

#[cfg(test)]
mod fisher {
    use super::fisher_exact;

    /// Against R's `fisher.test(matrix(c(a, b, c, d), 2))$p.value` computed by hand from the
    /// hypergeometric tails: the doubled smaller tail (R's own two-sided rule sums the
    /// probabilities no larger than the observed one, so it can be smaller, never larger).
    #[test]
    fn tails_are_exact() {
        // 2×2 table [[3, 1], [1, 3]]: rows 8, successes 4, drawn 4, hits 3.
        // P(X ≥ 3) = (C(4,3)C(4,1) + C(4,4)C(4,0)) / C(8,4) = 17 / 70.
        let p = fisher_exact(8, 4, 4, 3);
        assert!((p - 2.0 * 17.0 / 70.0).abs() < 1e-12, "{p}");
        // The lower tail, symmetric here.
        assert!((fisher_exact(8, 4, 4, 1) - p).abs() < 1e-12);
        // At the mean both tails exceed a half: p = 1.
        assert_eq!(fisher_exact(8, 4, 4, 2), 1.0);
        // More successes than rows outside the slice, so the slice must hold some: support 3..=5
        // of C(8, x) C(2, 5 − x) / C(10, 5) = 56, 140, 56 over 252.
        assert!((fisher_exact(10, 8, 5, 3) - 2.0 * 56.0 / 252.0).abs() < 1e-12);
        assert!((fisher_exact(10, 8, 5, 5) - 2.0 * 56.0 / 252.0).abs() < 1e-12);
        // A single possible value: nothing to test.
        assert_eq!(fisher_exact(10, 10, 3, 3), 1.0);
        // The extreme table [[10, 0], [0, 10]]: 2 / C(20, 10).
        let p = fisher_exact(20, 10, 10, 10);
        assert!((p / (2.0 / 184_756.0) - 1.0).abs() < 1e-9, "{p}");
        // Against SciPy: `2 * scipy.stats.hypergeom.sf(x - 1, rows, successes, drawn)`. A slice
        // of 156 rows with 29 errors where 10 % is the rate (the normal tail says 0.0003):
        let p = fisher_exact(5000, 500, 156, 29);
        assert!((p / 0.0012977290941445627 - 1.0).abs() < 1e-9, "{p}");
        // A large, far tail stays positive and right, where a normal `1 − cdf` would be 0.
        let p = fisher_exact(1_000_000, 100_000, 10_000, 2_000);
        assert!((p / 1.8655126047786372e-197 - 1.0).abs() < 1e-9, "{p}");
    }
}
