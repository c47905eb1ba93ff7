//! Weak slices: where, among slices of the rows nobody thought to name, the model is wrong more (or
//! selects more) than elsewhere.
//!
//! Every column becomes a few slices: a numeric column with many values is cut at its quartiles,
//! a column with few values (at most [`FEW_VALUES`]) or a categorical one gives a slice per value
//! (its [`MAX_VALUES`] most frequent ones, the rest lumped). Slices are single values and pairs of
//! values of two columns. For each slice of at least `min_size` rows (with at least as many outside
//! it), three rates are compared with the rest of the rows by a two-proportion z-test: the error
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
    /// The value, the bin (`< 35`, `[35, 50)`, `≥ 65`) or `(other)` for the lumped values.
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
    /// Two-sided p-value of the two-proportion z-test.
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
            let fmt = |x: f64| format!("{x}");
            let mut labels = vec![format!("< {}", fmt(edges[0]))];
            for w in edges.windows(2) {
                labels.push(format!("[{}, {})", fmt(w[0]), fmt(w[1])));
            }
            labels.push(format!("≥ {}", fmt(edges[edges.len() - 1])));
            labels.push("(missing)".into());
            let missing = (labels.len() - 1) as u16;
            let codes = f
                .iter()
                .map(|v| match v {
                    Some(x) if x.is_finite() => edges.partition_point(|&e| e <= x) as u16,
                    _ => missing,
                })
                .collect();
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
            let pooled = (x1 + x2) / (n1 + n2);
            let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
            let (r1, r2) = (x1 / n1, x2 / n2);
            // The upper tail from `sf`, not `1 − cdf`, which is 0 beyond z ≈ 8.3.
            let p = if se > 0.0 {
                (2.0 * normal.sf(((r1 - r2) / se).abs())).min(1.0)
            } else {
                1.0
            };
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
