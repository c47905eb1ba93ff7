//! Perturbation: each input moved by its measurement error, and what that does to the decisions.
//!
//! A number is moved by Gaussian noise at the scale of its measurement error (absolute, or
//! relative to the value), rounded back to whole numbers for integer columns and kept within its
//! stated bounds; a category is switched to a plausible neighbour (a municipality in the same
//! region, the adjacent education level), and the columns recorded beside it (the municipality's
//! code, the education's ISCED level) follow. Every draw is a pure function of the seed, the
//! column's name and the row, so a column's perturbed values are the same alone and together with
//! the others, at any number of workers. At scale 0 nothing moves, so a model that answers the
//! same rows alike flips exactly no decision.

use crate::error::column_index;
use crate::interval::{mean_interval, wilson};
use crate::{Estimate, ExplainError, Groups, Scored, Scorer};
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one column's recorded value can be off: the noise the perturbation applies at scale 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Noise {
    /// `value + sd·z` with `z` standard normal; rounded for integer columns; kept within
    /// `[min, max]` (widened to the value itself, so a value already outside stays put at scale 0).
    Normal {
        /// Standard deviation, in the column's unit.
        sd: f64,
        /// Smallest value the column can hold.
        min: f64,
        /// Largest value the column can hold.
        max: f64,
    },
    /// `value·(1 + sd·z)`: an error proportional to the value (incomes); bounds as for `Normal`.
    Relative {
        /// Standard deviation of the relative error.
        sd: f64,
        /// Smallest value the column can hold.
        min: f64,
        /// Largest value the column can hold.
        max: f64,
    },
    /// For a share `rate` of the rows, switched to one of its neighbours, chosen uniformly; a
    /// value without neighbours stays.
    Neighbour {
        /// The share of rows switched at scale 1 (the scale multiplies it, capped at 1).
        rate: f64,
        /// Each value's plausible neighbours (a value not listed has none).
        neighbours: Vec<Neighbours>,
        /// Columns recorded beside this one that follow its new value.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        linked: Vec<Linked>,
    },
}

/// A value of a categorical column and its plausible neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Neighbours {
    /// The value.
    pub value: String,
    /// What it may be recorded as instead.
    pub neighbours: Vec<String>,
}

/// A column whose value is determined by a categorical one (the code beside a name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Linked {
    /// The linked column.
    pub column: String,
    /// Its value for each value of the categorical column, as text (cast to the column's type).
    pub values: BTreeMap<String, String>,
}

/// One column's noise, with why it is what it is: the noise model of the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnNoise {
    /// The column perturbed.
    pub column: String,
    /// How.
    pub noise: Noise,
    /// Where the scale comes from, for the reader of a report.
    pub why: String,
}

/// How the perturbation is drawn; written into the result so anyone can recompute it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PerturbConfig {
    /// The seed every draw derives from (with the column's name and the row).
    pub seed: u64,
    /// Multiplies every standard deviation and every category's switch rate (capped at 1); 1 is
    /// the stated measurement error, 0 moves nothing.
    pub scale: f64,
    /// Confidence of every interval.
    pub confidence: f64,
}

/// What a perturbation does to the decisions of a set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sensitivity {
    /// Rows scored (each once, perturbed).
    pub rows: u64,
    /// Rows whose perturbed inputs differ from their own (rounding keeps many integers put).
    pub changed: u64,
    /// Share of rows whose decision flips, with its Wilson interval.
    pub flip_rate: Estimate,
    /// Share that flips to the positive decision (Wilson interval).
    pub flips_to_positive: Estimate,
    /// Share that flips to the negative decision (Wilson interval).
    pub flips_to_negative: Estimate,
    /// Mean absolute change of the probability (Student-t interval over rows); `None` without scores.
    pub mean_abs_score_change: Option<Estimate>,
}

/// A perturbation's effect within one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupSensitivity {
    /// The group attribute.
    pub attribute: String,
    /// The group's value.
    pub value: String,
    /// The effect within the group.
    pub sensitivity: Sensitivity,
}

/// The effect of perturbing one column (or, for `all`, every column at once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PerturbedColumn {
    /// The column, or `all` for every column of the noise model at once.
    pub column: String,
    /// Over all rows.
    pub overall: Sensitivity,
    /// Per group of each group attribute, in the attributes' and values' order.
    pub groups: Vec<GroupSensitivity>,
}

/// `rows` with every column of `noise` perturbed, and per row whether any input changed.
pub fn perturb(
    rows: &RecordBatch,
    noise: &[&ColumnNoise],
    config: PerturbConfig,
) -> Result<(RecordBatch, Vec<bool>), ExplainError> {
    if !(config.scale.is_finite() && config.scale >= 0.0) {
        return Err(ExplainError::Config(format!(
            "the perturbation's scale must be a finite number at least 0, got {}",
            config.scale
        )));
    }
    let schema = rows.schema();
    let mut columns = rows.columns().to_vec();
    let mut changed = vec![false; rows.num_rows()];
    for n in noise {
        let index = column_index(&schema, &n.column)?;
        let seed = column_seed(config.seed, &n.column);
        let arrow_err = |error| ExplainError::Arrow {
            column: n.column.clone(),
            error,
        };
        match &n.noise {
            Noise::Normal { sd, min, max } | Noise::Relative { sd, min, max } => {
                let relative = matches!(n.noise, Noise::Relative { .. });
                check_scale(&n.column, *sd, *min, *max)?;
                let (moved, moved_rows) = numeric(&columns[index], *sd * config.scale, relative, (*min, *max), seed)
                    .map_err(|e| match e {
                        NumericError::Type(t) => ExplainError::Config(format!(
                            "column {:?} is {t}; numeric noise needs an integer or floating-point column",
                            n.column
                        )),
                        NumericError::Arrow(e) => arrow_err(e),
                    })?;
                columns[index] = moved;
                mark(&mut changed, &moved_rows);
            }
            Noise::Neighbour {
                rate,
                neighbours,
                linked,
            } => {
                if !(rate.is_finite() && (0.0..=1.0).contains(rate)) {
                    return Err(ExplainError::Config(format!(
                        "the switch rate of column {:?} must be between 0 and 1, got {rate}",
                        n.column
                    )));
                }
                let original = arrow::compute::cast(&columns[index], &DataType::Utf8).map_err(arrow_err)?;
                let original = original.as_string::<i32>();
                let p = (rate * config.scale).min(1.0);
                let mut switched = vec![false; original.len()];
                let values: StringArray = (0..original.len())
                    .map(|i| {
                        if original.is_null(i) {
                            return None;
                        }
                        let v = original.value(i);
                        let mut draw = Draws::new(seed, i);
                        let (u, w) = (draw.uniform(), draw.uniform());
                        match neighbours
                            .iter()
                            .find(|n| n.value == v)
                            .map(|n| &n.neighbours)
                            .filter(|n| !n.is_empty())
                        {
                            Some(n) if u < p => {
                                let pick = &n[((w * n.len() as f64) as usize).min(n.len() - 1)];
                                switched[i] = pick != v;
                                Some(pick.clone())
                            }
                            _ => Some(v.to_owned()),
                        }
                    })
                    .collect();
                let data_type = columns[index].data_type().clone();
                columns[index] = arrow::compute::cast(&values, &data_type).map_err(arrow_err)?;
                for l in linked {
                    let Ok(j) = schema.index_of(&l.column) else { continue };
                    let before = arrow::compute::cast(&columns[j], &DataType::Utf8).map_err(arrow_err)?;
                    let before = before.as_string::<i32>();
                    let after: StringArray = (0..before.len())
                        .map(
                            |i| match switched[i].then(|| values.value(i)).and_then(|v| l.values.get(v)) {
                                Some(code) => Some(code.clone()),
                                None => before.is_valid(i).then(|| before.value(i).to_owned()),
                            },
                        )
                        .collect();
                    let data_type = columns[j].data_type().clone();
                    columns[j] = arrow::compute::cast(&after, &data_type).map_err(arrow_err)?;
                }
                mark(&mut changed, &switched);
            }
        }
    }
    let batch = RecordBatch::try_new(schema, columns).map_err(|error| ExplainError::Arrow {
        column: "(the perturbed rows)".into(),
        error,
    })?;
    Ok((batch, changed))
}

/// The effect on the decisions of perturbing the columns of `noise` together, named `name`:
/// `rows` perturbed and scored once, compared with `base` (the model's answer for `rows` as they are).
pub fn perturbation_effect<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    base: &Scored,
    noise: &[&ColumnNoise],
    name: &str,
    groups: &[Groups],
    scorer: &mut S,
    config: PerturbConfig,
) -> Result<PerturbedColumn, ExplainError> {
    let n = rows.num_rows();
    if base.decision.len() != n || base.score.as_ref().is_some_and(|s| s.len() != n) {
        return Err(ExplainError::Length {
            what: "the model's answer for the rows as they are".into(),
            got: base.decision.len(),
            rows: n,
        });
    }
    for g in groups {
        if g.codes.len() != n {
            return Err(ExplainError::Length {
                what: format!("the groups of {}", g.attribute),
                got: g.codes.len(),
                rows: n,
            });
        }
    }
    let (perturbed, changed) = perturb(rows, noise, config)?;
    let answer = crate::score::checked(scorer, &perturbed, name, 0)?;
    let all: Vec<usize> = (0..n).collect();
    let overall = sensitivity(base, &answer, &changed, &all, config.confidence);
    let mut per_group = Vec::new();
    for g in groups {
        for (code, value) in g.values.iter().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&i| g.codes[i] as usize == code).collect();
            if members.is_empty() {
                continue;
            }
            per_group.push(GroupSensitivity {
                attribute: g.attribute.clone(),
                value: value.clone(),
                sensitivity: sensitivity(base, &answer, &changed, &members, config.confidence),
            });
        }
    }
    Ok(PerturbedColumn {
        column: name.to_owned(),
        overall,
        groups: per_group,
    })
}

fn sensitivity(base: &Scored, after: &Scored, changed: &[bool], rows: &[usize], confidence: f64) -> Sensitivity {
    let n = rows.len() as f64;
    let (mut up, mut down) = (0.0, 0.0);
    for &i in rows {
        match (base.decision[i], after.decision[i]) {
            (false, true) => up += 1.0,
            (true, false) => down += 1.0,
            _ => {}
        }
    }
    let rate = |k: f64| Estimate {
        value: if n > 0.0 { k / n } else { f64::NAN },
        interval: (n > 0.0).then(|| wilson(k, n, confidence)),
    };
    let mean_abs_score_change = match (&base.score, &after.score) {
        (Some(a), Some(b)) if !rows.is_empty() => {
            let d: Vec<f64> = rows.iter().map(|&i| (b[i] - a[i]).abs()).collect();
            let (value, _, interval) = mean_interval(&d, confidence);
            Some(Estimate { value, interval })
        }
        _ => None,
    };
    Sensitivity {
        rows: rows.len() as u64,
        changed: rows.iter().filter(|&&i| changed[i]).count() as u64,
        flip_rate: rate(up + down),
        flips_to_positive: rate(up),
        flips_to_negative: rate(down),
        mean_abs_score_change,
    }
}

fn check_scale(column: &str, sd: f64, min: f64, max: f64) -> Result<(), ExplainError> {
    if !(sd.is_finite() && sd >= 0.0) || min.is_nan() || max.is_nan() || min > max {
        return Err(ExplainError::Config(format!(
            "the noise of column {column:?} needs a finite standard deviation at least 0 and min <= max, \
             got sd {sd}, min {min}, max {max}"
        )));
    }
    Ok(())
}

fn mark(changed: &mut [bool], rows: &[bool]) {
    for (c, r) in changed.iter_mut().zip(rows) {
        *c |= *r;
    }
}

enum NumericError {
    Type(DataType),
    Arrow(arrow::error::ArrowError),
}

/// The column moved by `sd`-scaled normal noise (relative to the value when `relative`), rounded
/// for integer types, kept within the bounds and the type's range; and per row whether it moved.
fn numeric(
    column: &ArrayRef,
    sd: f64,
    relative: bool,
    (min, max): (f64, f64),
    seed: u64,
) -> Result<(ArrayRef, Vec<bool>), NumericError> {
    let data_type = column.data_type().clone();
    let (lo, hi, integer) = type_range(&data_type).ok_or_else(|| NumericError::Type(data_type.clone()))?;
    let (min, max) = (min.max(lo), max.min(hi));
    let values = arrow::compute::cast(column, &DataType::Float64).map_err(NumericError::Arrow)?;
    let values = values.as_primitive::<Float64Type>();
    let mut moved_rows = vec![false; values.len()];
    let moved: Float64Array = (0..values.len())
        .map(|i| {
            if values.is_null(i) {
                return None;
            }
            let x = values.value(i);
            let z = Draws::new(seed, i).normal();
            let e = if relative { x * sd * z } else { sd * z };
            if e == 0.0 || !x.is_finite() {
                return Some(x);
            }
            let mut y = x + e;
            if integer {
                y = y.round();
            }
            // A value already outside the bounds (a file may hold one) is not pulled in by the noise.
            let y = y.clamp(min.min(x), max.max(x));
            moved_rows[i] = y != x;
            Some(y)
        })
        .collect();
    let moved = arrow::compute::cast(&moved, &data_type).map_err(NumericError::Arrow)?;
    Ok((moved, moved_rows))
}

/// The range of a numeric type and whether it holds whole numbers; `None` for other types.
fn type_range(t: &DataType) -> Option<(f64, f64, bool)> {
    Some(match t {
        DataType::UInt8 => (0.0, f64::from(u8::MAX), true),
        DataType::UInt16 => (0.0, f64::from(u16::MAX), true),
        DataType::UInt32 => (0.0, f64::from(u32::MAX), true),
        DataType::UInt64 => (0.0, 2f64.powi(53), true),
        DataType::Int8 => (f64::from(i8::MIN), f64::from(i8::MAX), true),
        DataType::Int16 => (f64::from(i16::MIN), f64::from(i16::MAX), true),
        DataType::Int32 => (f64::from(i32::MIN), f64::from(i32::MAX), true),
        DataType::Int64 => (-(2f64.powi(53)), 2f64.powi(53), true),
        DataType::Float32 => (f64::from(f32::MIN), f64::from(f32::MAX), false),
        DataType::Float64 => (f64::MIN, f64::MAX, false),
        _ => return None,
    })
}

/// The seed of one column's draws: the run's seed mixed with the column's name (FNV-1a), so a
/// column's draws do not depend on which other columns are perturbed.
fn column_seed(seed: u64, column: &str) -> u64 {
    column.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The draws of one row of one column: SplitMix64 from the column's seed and the row.
struct Draws(u64);

impl Draws {
    fn new(seed: u64, row: usize) -> Self {
        Self(seed ^ (row as u64).wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, UInt8Array, UInt16Array};
    use arrow::datatypes::{Field, Int16Type, Schema};
    use std::sync::Arc;

    fn rows() -> RecordBatch {
        let n = 2000;
        let months: UInt8Array = (0..n).map(|i| Some((i % 37) as u8)).collect();
        let muni: DictionaryArray<Int16Type> = (0..n).map(|i| ["A", "B", "C"][i % 3]).collect();
        let code: UInt16Array = (0..n).map(|i| Some([101u16, 147, 751][i % 3])).collect();
        let schema = Schema::new(vec![
            Field::new("months", DataType::UInt8, false),
            Field::new("municipality", muni.data_type().clone(), false),
            Field::new("code", DataType::UInt16, false),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(months), Arc::new(muni), Arc::new(code)]).unwrap()
    }

    fn noise() -> Vec<ColumnNoise> {
        vec![
            ColumnNoise {
                column: "months".into(),
                noise: Noise::Normal {
                    sd: 2.0,
                    min: 0.0,
                    max: 36.0,
                },
                why: "test".into(),
            },
            ColumnNoise {
                column: "municipality".into(),
                noise: Noise::Neighbour {
                    rate: 1.0,
                    neighbours: vec![
                        Neighbours {
                            value: "A".into(),
                            neighbours: vec!["B".into()],
                        },
                        Neighbours {
                            value: "B".into(),
                            neighbours: vec!["A".into()],
                        },
                    ],
                    linked: vec![Linked {
                        column: "code".into(),
                        values: BTreeMap::from([("A".into(), "101".into()), ("B".into(), "147".into())]),
                    }],
                },
                why: "test".into(),
            },
        ]
    }

    fn config(scale: f64) -> PerturbConfig {
        PerturbConfig {
            seed: 7,
            scale,
            confidence: 0.95,
        }
    }

    #[test]
    fn scale_zero_moves_nothing() {
        let rows = rows();
        let noise = noise();
        let all: Vec<&ColumnNoise> = noise.iter().collect();
        let (same, changed) = perturb(&rows, &all, config(0.0)).unwrap();
        assert_eq!(same, rows);
        assert!(changed.iter().all(|c| !c));
    }

    #[test]
    fn numbers_stay_whole_and_within_bounds_and_categories_move_to_neighbours_with_their_codes() {
        let rows = rows();
        let noise = noise();
        let all: Vec<&ColumnNoise> = noise.iter().collect();
        let (moved, changed) = perturb(&rows, &all, config(1.0)).unwrap();
        let before = rows.column(0).as_primitive::<arrow::datatypes::UInt8Type>();
        let after = moved.column(0).as_primitive::<arrow::datatypes::UInt8Type>();
        assert!(after.values().iter().all(|&m| m <= 36));
        let moved_months = (0..rows.num_rows())
            .filter(|&i| before.value(i) != after.value(i))
            .count();
        // sd 2 rounds to no change when |2z| < 0.5, P = 0.197; at the bounds fewer move.
        assert!((1200..1700).contains(&moved_months), "{moved_months}");
        let muni = arrow::compute::cast(moved.column(1), &DataType::Utf8).unwrap();
        let muni = muni.as_string::<i32>();
        let code = moved.column(2).as_primitive::<arrow::datatypes::UInt16Type>();
        for (i, &moved_here) in changed.iter().enumerate() {
            let (m, c) = (muni.value(i), code.value(i));
            match i % 3 {
                0 => assert_eq!((m, c), ("B", 147), "row {i}: A has the one neighbour B"),
                1 => assert_eq!((m, c), ("A", 101), "row {i}"),
                _ => assert_eq!((m, c), ("C", 751), "row {i}: C has no neighbour"),
            }
            assert!(moved_here || (i % 3 == 2 && before.value(i) == after.value(i)));
        }
        // A column's draws are its own: alone or together, the same values.
        let (alone, _) = perturb(&rows, &[&noise[0]], config(1.0)).unwrap();
        assert_eq!(alone.column(0), moved.column(0));
    }

    #[test]
    fn flips_are_counted_against_the_model_on_the_rows_as_they_are() {
        // The model selects municipality A. Switching A <-> B flips every A and B row, never C.
        let rows = rows();
        let noise = noise();
        let mut model = |b: &RecordBatch| -> Result<Scored, String> {
            let m = arrow::compute::cast(b.column(1), &DataType::Utf8).map_err(|e| e.to_string())?;
            let m = m.as_string::<i32>();
            let decision: Vec<bool> = (0..b.num_rows()).map(|i| m.value(i) == "A").collect();
            let score = decision.iter().map(|&d| if d { 0.9 } else { 0.2 }).collect();
            Ok(Scored {
                decision,
                score: Some(score),
            })
        };
        let base = model(&rows).unwrap();
        let groups = [Groups {
            attribute: "third".into(),
            values: vec!["a".into(), "b".into(), "c".into()],
            codes: (0..rows.num_rows()).map(|i| (i % 3) as u32).collect(),
        }];
        let effect = perturbation_effect(
            &rows,
            &base,
            &[&noise[1]],
            "municipality",
            &groups,
            &mut model,
            config(1.0),
        )
        .unwrap();
        // Rows 0, 3, ... (667 of A) and 1, 4, ... (667 of B) of 2000.
        let rate = 1334.0 / 2000.0;
        assert!((effect.overall.flip_rate.value - rate).abs() < 1e-12);
        assert_eq!(effect.groups[2].sensitivity.flip_rate.value, 0.0);
        assert_eq!(effect.groups[0].sensitivity.flips_to_negative.value, 1.0);
        assert_eq!(effect.groups[1].sensitivity.flips_to_positive.value, 1.0);
        let abs = effect.overall.mean_abs_score_change.unwrap().value;
        assert!((abs - 0.7 * rate).abs() < 1e-12, "{abs}");
        let zero = perturbation_effect(
            &rows,
            &base,
            &[&noise[1]],
            "municipality",
            &groups,
            &mut model,
            config(0.0),
        )
        .unwrap();
        assert_eq!(zero.overall.flip_rate.value, 0.0);
        assert_eq!(zero.overall.flip_rate.interval.unwrap()[0], 0.0);
    }

    #[test]
    fn a_text_column_cannot_take_numeric_noise() {
        let rows = rows();
        let bad = ColumnNoise {
            column: "municipality".into(),
            noise: Noise::Normal {
                sd: 1.0,
                min: 0.0,
                max: 1.0,
            },
            why: String::new(),
        };
        let e = perturb(&rows, &[&bad], config(1.0)).unwrap_err().to_string();
        assert!(
            e.contains("municipality") && e.contains("integer or floating-point"),
            "{e}"
        );
    }
}
