//! Partial dependence and individual conditional expectation (ICE): how the model's score moves
//! when one input is set to each value of a grid, for every row at once.
//!
//! For each grid value, the column is set to that value in every row (everything else kept), the
//! rows are scored, and the scores are averaged: over all rows (partial dependence, as
//! scikit-learn's `partial_dependence(method="brute")` computes it), over each group's rows, and
//! kept row by row for the first few rows (ICE). The grid is stated in the result as the values
//! the column actually held, after the cast to its type, so anyone can recompute the curves.

use crate::importance::Groups;
use crate::score::checked;
use crate::{ExplainError, Scorer};
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most grid points of a numeric column.
pub const NUMERIC_GRID_POINTS: usize = 20;
/// Most values of a categorical column (its most frequent ones).
pub const CATEGORY_GRID_VALUES: usize = 20;
/// Rows whose individual curves (ICE) are kept: the first ones.
pub const ICE_ROWS: usize = 20;

/// One value of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum GridValue {
    /// A numeric column's value.
    Number(f64),
    /// A categorical column's value.
    Category(String),
}

/// How the grid of a column was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    /// Its distinct values, when there are at most [`NUMERIC_GRID_POINTS`].
    Distinct,
    /// [`NUMERIC_GRID_POINTS`] equally spaced points from its 5th to its 95th percentile (linear
    /// interpolation between order statistics), cast to the column's type (integers rounded,
    /// duplicates dropped). scikit-learn's default uses the same percentiles at 100 points; the
    /// grid is in the record, and the reference test hands scikit-learn this grid
    /// (`custom_values`), so the curves compare point for point.
    Percentiles,
    /// Its [`CATEGORY_GRID_VALUES`] most frequent values (ties by name), in name order.
    Categories,
}

/// One group's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupCurve {
    /// The group attribute.
    pub attribute: String,
    /// The group's value.
    pub value: String,
    /// Rows in the group.
    pub rows: usize,
    /// Mean score at each grid value.
    pub mean_score: Vec<f64>,
}

/// One row's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IceCurve {
    /// The row's position among the explained rows, from 0.
    pub row: usize,
    /// Its score at each grid value.
    pub score: Vec<f64>,
}

/// The partial dependence of the score on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartialDependence {
    /// The column.
    pub column: String,
    /// How its grid was chosen.
    pub grid_kind: GridKind,
    /// The values the column was set to, as it held them.
    pub grid: Vec<GridValue>,
    /// Mean score over all rows at each grid value (the score is the probability of the positive
    /// outcome; a model without one counts its decisions as 0 or 1).
    pub mean_score: Vec<f64>,
    /// Share of positive decisions at each grid value.
    pub decision_rate: Vec<f64>,
    /// Per non-empty group of each attribute.
    pub groups: Vec<GroupCurve>,
    /// The first [`ICE_ROWS`] rows' own curves.
    pub ice: Vec<IceCurve>,
}

/// Whether a column is treated as numeric (its grid from percentiles) or categorical.
fn numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}

/// The grid of `column`: see [`GridKind`].
fn grid_of(column: &ArrayRef, name: &str) -> Result<(GridKind, Vec<GridValue>, ArrayRef), ExplainError> {
    let arrow_err = |error| ExplainError::Arrow {
        column: name.to_owned(),
        error,
    };
    let t = column.data_type();
    if numeric(t) {
        let f = arrow::compute::cast(column, &DataType::Float64).map_err(arrow_err)?;
        let f = f.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
        let mut v: Vec<f64> = f.iter().flatten().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let mut distinct = v.clone();
        distinct.dedup();
        let (kind, points) = if distinct.len() <= NUMERIC_GRID_POINTS {
            (GridKind::Distinct, distinct)
        } else {
            let q = |p: f64| {
                let pos = p * (v.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
            };
            let (a, b) = (q(0.05), q(0.95));
            let k = NUMERIC_GRID_POINTS;
            let points = (0..k).map(|i| a + (b - a) * i as f64 / (k - 1) as f64).collect();
            (GridKind::Percentiles, points)
        };
        // The values as the column holds them: cast to its type and back (integers round).
        let rounded: Vec<f64> = if t.is_integer() {
            points.iter().map(|p| p.round()).collect()
        } else {
            points
        };
        let held = arrow::compute::cast(&(Arc::new(Float64Array::from(rounded)) as ArrayRef), t).map_err(arrow_err)?;
        let back = arrow::compute::cast(&held, &DataType::Float64).map_err(arrow_err)?;
        let back = back.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
        let mut values: Vec<f64> = back.iter().flatten().collect();
        values.dedup();
        let held =
            arrow::compute::cast(&(Arc::new(Float64Array::from(values.clone())) as ArrayRef), t).map_err(arrow_err)?;
        Ok((kind, values.into_iter().map(GridValue::Number).collect(), held))
    } else {
        let s = arrow::compute::cast(column, &DataType::Utf8).map_err(arrow_err)?;
        let s = s.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for v in s.iter().flatten() {
            *counts.entry(v).or_default() += 1;
        }
        let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut values: Vec<String> = by_count
            .into_iter()
            .take(CATEGORY_GRID_VALUES)
            .map(|(v, _)| v.to_owned())
            .collect();
        values.sort();
        let held =
            arrow::compute::cast(&(Arc::new(StringArray::from(values.clone())) as ArrayRef), t).map_err(arrow_err)?;
        Ok((
            GridKind::Categories,
            values.into_iter().map(GridValue::Category).collect(),
            held,
        ))
    }
}

/// The partial dependence of the score on each of `columns`, with group curves and ICE.
pub fn partial_dependence<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    columns: &[&str],
    groups: &[Groups],
    scorer: &mut S,
) -> Result<Vec<PartialDependence>, ExplainError> {
    let n = rows.num_rows();
    if n == 0 {
        return Err(ExplainError::Config("there are no rows to explain".into()));
    }
    for g in groups {
        if g.codes.len() != n {
            return Err(ExplainError::Length {
                what: format!("group attribute {:?}", g.attribute),
                got: g.codes.len(),
                rows: n,
            });
        }
    }
    let schema = rows.schema();
    let mut out = Vec::with_capacity(columns.len());
    for &name in columns {
        let index = crate::error::column_index(&schema, name)?;
        let arrow_err = |error| ExplainError::Arrow {
            column: name.to_owned(),
            error,
        };
        let (grid_kind, grid, held) = grid_of(rows.column(index), name)?;
        let mut mean_score = Vec::with_capacity(grid.len());
        let mut decision_rate = Vec::with_capacity(grid.len());
        // Each non-empty group's rows, beside its curve.
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut curves: Vec<GroupCurve> = Vec::new();
        for g in groups {
            let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); g.values.len()];
            for (i, &c) in g.codes.iter().enumerate() {
                rows_of[c as usize].push(i as u32);
            }
            for (value, m) in g.values.iter().zip(rows_of).filter(|(_, m)| !m.is_empty()) {
                curves.push(GroupCurve {
                    attribute: g.attribute.clone(),
                    value: value.clone(),
                    rows: m.len(),
                    mean_score: Vec::with_capacity(grid.len()),
                });
                members.push(m);
            }
        }
        let ice_rows = n.min(ICE_ROWS);
        let mut ice: Vec<IceCurve> = (0..ice_rows)
            .map(|row| IceCurve {
                row,
                score: Vec::with_capacity(grid.len()),
            })
            .collect();
        for (k, _) in grid.iter().enumerate() {
            let value = held.slice(k, 1);
            let indices = arrow::array::UInt32Array::from(vec![0u32; n]);
            let filled = arrow::compute::take(&value, &indices, None).map_err(arrow_err)?;
            let mut cols = rows.columns().to_vec();
            cols[index] = filled;
            let set = RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)?;
            let s = checked(scorer, &set, name, k)?;
            let score: Vec<f64> = match s.score {
                Some(v) => v,
                None => s.decision.iter().map(|&d| f64::from(u8::from(d))).collect(),
            };
            mean_score.push(score.iter().sum::<f64>() / n as f64);
            decision_rate.push(s.decision.iter().filter(|&&d| d).count() as f64 / n as f64);
            for (curve, m) in curves.iter_mut().zip(&members) {
                let sum: f64 = m.iter().map(|&i| score[i as usize]).sum();
                curve.mean_score.push(sum / m.len() as f64);
            }
            for c in &mut ice {
                c.score.push(score[c.row]);
            }
        }
        out.push(PartialDependence {
            column: name.to_owned(),
            grid_kind,
            grid,
            mean_score,
            decision_rate,
            groups: curves,
            ice,
        });
    }
    Ok(out)
}
