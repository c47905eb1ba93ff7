//! Feeding Arrow record batches to the accumulator: column lookup, type coercion and
//! validation with the column name and the row number in every error.

use crate::accumulate::Accumulator;
use crate::input::{Batch, Col, GroupCol, InputError};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, UInt32Type};

/// Which columns play which part.
#[derive(Debug, Clone)]
pub struct Columns {
    /// The recorded outcome (0/1), what the metrics compare decisions with.
    pub label: String,
    /// The true outcome (0/1) where the data knows it, for metrics against it beside the recorded one.
    pub label_true: Option<String>,
    /// The decision; when absent it is `score >= threshold`.
    pub prediction: Option<String>,
    /// The model's score in [0, 1], for score metrics and the threshold sweep.
    pub score: Option<String>,
    /// A non-negative weight per row; absent: every row counts 1.
    pub weight: Option<String>,
    /// The group attributes (string or dictionary columns).
    pub groups: Vec<String>,
    /// The decision threshold on `score` when there is no `prediction` column.
    pub threshold: f64,
    /// Twin pairs: the id shared by a citizen and their counterfactual twin, and the 0/1 column
    /// marking the twin. Twins are paired for counterfactual fairness and left out of every
    /// group metric.
    pub twin_id: Option<String>,
    /// The 0/1 column marking the twin of a pair (read only with `twin_id`).
    pub is_twin: String,
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, InputError> {
    batch.column_by_name(name).ok_or_else(|| {
        let known: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        InputError::Other(format!(
            "column {name:?} not found; the input has: {}",
            known.join(", ")
        ))
    })
}

fn missing_value(name: &str, row: usize) -> InputError {
    InputError::Other(format!("column {name:?}, row {row}: value is missing"))
}

/// A 0/1 column from booleans, integers, floats or the strings 0/1/true/false.
fn binary(batch: &RecordBatch, name: &str, offset: usize) -> Result<Vec<u8>, InputError> {
    let a = column(batch, name)?;
    if a.null_count() > 0
        && let Some(row) = (0..a.len()).find(|&i| a.is_null(i))
    {
        return Err(missing_value(name, offset + row));
    }
    let not_binary = |row: usize, value: String| InputError::NotBinary {
        column: name.to_owned(),
        row: offset + row,
        value,
    };
    match a.data_type() {
        DataType::Boolean => Ok(a.as_boolean().values().iter().map(u8::from).collect()),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Dictionary(..) | DataType::Utf8View => {
            let s = cast(a, &DataType::Utf8).map_err(|e| InputError::Other(format!("column {name:?}: {e}")))?;
            s.as_string::<i32>()
                .iter()
                .enumerate()
                .map(|(i, v)| match v.unwrap_or_default() {
                    "1" | "true" | "True" | "TRUE" => Ok(1),
                    "0" | "false" | "False" | "FALSE" => Ok(0),
                    other => Err(not_binary(i, format!("{other:?}"))),
                })
                .collect()
        }
        t if t.is_numeric() => {
            let f = cast(a, &DataType::Float64).map_err(|e| InputError::Other(format!("column {name:?}: {e}")))?;
            f.as_primitive::<Float64Type>()
                .values()
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v == 0.0 {
                        Ok(0)
                    } else if v == 1.0 {
                        Ok(1)
                    } else {
                        Err(not_binary(i, v.to_string()))
                    }
                })
                .collect()
        }
        t => Err(InputError::Other(format!(
            "column {name:?} has type {t}, not a binary label"
        ))),
    }
}

fn floats(batch: &RecordBatch, name: &str, offset: usize) -> Result<Vec<f64>, InputError> {
    let a = column(batch, name)?;
    if !a.data_type().is_numeric() {
        return Err(InputError::Other(format!(
            "column {name:?} has type {}, not a number",
            a.data_type()
        )));
    }
    if let Some(row) = (0..a.len()).find(|&i| a.is_null(i)) {
        return Err(missing_value(name, offset + row));
    }
    let f = cast(a, &DataType::Float64).map_err(|e| InputError::Other(format!("column {name:?}: {e}")))?;
    Ok(f.as_primitive::<Float64Type>().values().to_vec())
}

/// Dictionary codes, validity and values of a group column of any type.
/// A group column as dictionary codes, validity (when some values are missing) and values.
type Encoded = (Vec<u32>, Option<Vec<bool>>, Vec<String>);

fn group(batch: &RecordBatch, name: &str) -> Result<Encoded, InputError> {
    let a = column(batch, name)?;
    let valid = (a.null_count() > 0).then(|| (0..a.len()).map(|i| a.is_valid(i)).collect());
    if let DataType::Dictionary(_, value_type) = a.data_type()
        && matches!(**value_type, DataType::Utf8 | DataType::LargeUtf8)
    {
        // Fast path: the keys are already codes.
        let d = a.as_any_dictionary();
        let keys = cast(d.keys(), &DataType::UInt32).map_err(|e| InputError::Other(format!("column {name:?}: {e}")))?;
        let values =
            cast(d.values(), &DataType::Utf8).map_err(|e| InputError::Other(format!("column {name:?}: {e}")))?;
        let dict = values
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or("(null)").to_owned())
            .collect();
        let codes = keys.as_primitive::<UInt32Type>().values().to_vec();
        return Ok((codes, valid, dict));
    }
    if a.data_type() == &DataType::Boolean {
        // Fast path: false/true are codes 0/1.
        let codes = a.as_boolean().values().iter().map(u32::from).collect();
        return Ok((codes, valid, vec!["false".to_owned(), "true".to_owned()]));
    }
    let s = cast(a, &DataType::Utf8)
        .map_err(|e| InputError::Other(format!("group column {name:?} of type {}: {e}", a.data_type())))?;
    let (codes, v, dict) = crate::input::encode(s.as_string::<i32>().iter());
    Ok((
        codes,
        valid.or(Some(v)).filter(|v: &Vec<bool>| v.iter().any(|x| !x)),
        dict,
    ))
}

impl InputError {
    /// The same error with its row number shifted by `offset` (for batches after the first).
    fn shifted(self, offset: usize) -> Self {
        match self {
            InputError::NotBinary { column, row, value } => InputError::NotBinary {
                column,
                row: row + offset,
                value,
            },
            InputError::ScoreRange { column, row, value } => InputError::ScoreRange {
                column,
                row: row + offset,
                value,
            },
            InputError::Weight { column, row, value } => InputError::Weight {
                column,
                row: row + offset,
                value,
            },
            InputError::MissingGroup { column, row } => InputError::MissingGroup {
                column,
                row: row + offset,
            },
            other => other,
        }
    }
}

/// Adds one record batch whose first row is row `offset` of the input.
pub fn add_record_batch(
    acc: &mut Accumulator,
    batch: &RecordBatch,
    cols: &Columns,
    offset: usize,
) -> Result<(), InputError> {
    // Every named column must exist before any value is judged.
    let twin_cols = cols.twin_id.as_ref().map(|_| &cols.is_twin);
    let named = [
        cols.twin_id.as_ref(),
        twin_cols,
        Some(&cols.label),
        cols.label_true.as_ref(),
        cols.prediction.as_ref(),
        cols.score.as_ref(),
        cols.weight.as_ref(),
    ];
    for name in named.into_iter().flatten().chain(&cols.groups) {
        column(batch, name)?;
    }
    let label = binary(batch, &cols.label, offset)?;
    let label_true = cols
        .label_true
        .as_deref()
        .map(|c| binary(batch, c, offset))
        .transpose()?;
    let score = cols.score.as_deref().map(|c| floats(batch, c, offset)).transpose()?;
    let prediction = match (&cols.prediction, &score) {
        (Some(c), _) => binary(batch, c, offset)?,
        (None, Some(s)) => s.iter().map(|&p| u8::from(p >= cols.threshold)).collect(),
        (None, None) => {
            return Err(InputError::Other(
                "a prediction column or a score column is needed".into(),
            ));
        }
    };
    let weight = cols.weight.as_deref().map(|c| floats(batch, c, offset)).transpose()?;
    let groups: Vec<Encoded> = cols.groups.iter().map(|g| group(batch, g)).collect::<Result<_, _>>()?;
    let b = Batch {
        label: Col {
            name: &cols.label,
            values: &label,
        },
        label_true: cols
            .label_true
            .as_deref()
            .zip(label_true.as_deref())
            .map(|(name, values)| Col { name, values }),
        prediction: Col {
            name: cols.prediction.as_deref().unwrap_or("(score >= threshold)"),
            values: &prediction,
        },
        score: cols
            .score
            .as_deref()
            .zip(score.as_deref())
            .map(|(name, values)| Col { name, values }),
        weight: cols
            .weight
            .as_deref()
            .zip(weight.as_deref())
            .map(|(name, values)| Col { name, values }),
        groups: cols
            .groups
            .iter()
            .zip(&groups)
            .map(|(name, (codes, valid, dictionary))| GroupCol {
                name,
                codes,
                valid: valid.as_deref(),
                dictionary,
            })
            .collect(),
    };
    let Some(id_col) = &cols.twin_id else {
        return acc.add(&b).map_err(|e| e.shifted(offset));
    };
    let ids_array = cast(column(batch, id_col)?, &DataType::UInt64)
        .map_err(|e| InputError::Other(format!("column {id_col:?}: {e}")))?;
    if let Some(row) = (0..ids_array.len()).find(|&i| ids_array.is_null(i)) {
        return Err(missing_value(id_col, offset + row));
    }
    let ids = ids_array
        .as_primitive::<arrow::datatypes::UInt64Type>()
        .values()
        .to_vec();
    let twin: Vec<bool> = binary(batch, &cols.is_twin, offset)?
        .into_iter()
        .map(|v| v == 1)
        .collect();
    acc.add_twins(&b, &ids, &twin).map_err(|e| e.shifted(offset))?;
    // Group metrics describe the citizens, not their counterfactual twins.
    let keep = arrow::array::BooleanArray::from(twin.iter().map(|t| !t).collect::<Vec<_>>());
    let originals = arrow::compute::filter_record_batch(batch, &keep)
        .map_err(|e| InputError::Other(format!("filtering twins: {e}")))?;
    let no_twins = Columns {
        twin_id: None,
        ..cols.clone()
    };
    add_record_batch(acc, &originals, &no_twins, offset)
}

/// The group columns of a batch, encoded, as [`GroupCol`]s borrowing them.
fn group_cols<'a>(names: &'a [String], encoded: &'a [Encoded]) -> Vec<GroupCol<'a>> {
    names
        .iter()
        .zip(encoded)
        .map(|(name, (codes, valid, dictionary))| GroupCol {
            name,
            codes,
            valid: valid.as_deref(),
            dictionary,
        })
        .collect()
}

/// Finite numbers from a numeric column; the first missing, NaN or infinite value is named with its row.
fn finite(batch: &RecordBatch, name: &str, offset: usize) -> Result<Vec<f64>, InputError> {
    let v = floats(batch, name, offset)?;
    if let Some(row) = v.iter().position(|x| !x.is_finite()) {
        return Err(InputError::Other(format!(
            "column {name:?}, row {}: {} is not a finite number",
            offset + row,
            v[row]
        )));
    }
    Ok(v)
}

/// Adds one record batch (its first row is row `offset` of the input) to a regression accumulator: `outcome`
/// and `prediction` are numeric columns.
pub fn add_regression_batch(
    acc: &mut crate::tasks::regression::RegressionAccumulator,
    batch: &RecordBatch,
    outcome: &str,
    prediction: &str,
    groups: &[String],
    offset: usize,
) -> Result<(), InputError> {
    for name in [outcome, prediction]
        .into_iter()
        .chain(groups.iter().map(String::as_str))
    {
        column(batch, name)?;
    }
    let (y, p) = (finite(batch, outcome, offset)?, finite(batch, prediction, offset)?);
    let encoded: Vec<Encoded> = groups.iter().map(|g| group(batch, g)).collect::<Result<_, _>>()?;
    acc.add(&crate::tasks::regression::RegressionBatch {
        outcome: Col {
            name: outcome,
            values: &y,
        },
        prediction: Col {
            name: prediction,
            values: &p,
        },
        groups: group_cols(groups, &encoded),
    })
    .map_err(|e| e.shifted(offset))
}

/// A class column as indices into `classes`: the class names as strings, or their indices as integers.
fn classes_of(batch: &RecordBatch, name: &str, classes: &[String], offset: usize) -> Result<Vec<u32>, InputError> {
    let a = column(batch, name)?;
    if let Some(row) = (0..a.len()).find(|&i| a.is_null(i)) {
        return Err(missing_value(name, offset + row));
    }
    let unknown = |row: usize, value: String| {
        InputError::Other(format!(
            "column {name:?}, row {}: {value} is not one of the classes ({})",
            offset + row,
            classes.join(", ")
        ))
    };
    if a.data_type().is_integer() {
        let v = cast(a, &DataType::Int64).map_err(|e| InputError::Other(format!("column {name:?}: {e}")))?;
        return v
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .iter()
            .enumerate()
            .map(|(row, &c)| {
                u32::try_from(c)
                    .ok()
                    .filter(|&c| (c as usize) < classes.len())
                    .ok_or_else(|| unknown(row, c.to_string()))
            })
            .collect();
    }
    let (codes, _, dict) = group(batch, name)?;
    let map: Vec<Option<u32>> = dict
        .iter()
        .map(|d| classes.iter().position(|c| c == d).map(|k| k as u32))
        .collect();
    codes
        .iter()
        .enumerate()
        .map(|(row, &c)| {
            map[c as usize].ok_or_else(|| {
                unknown(
                    row,
                    format!("{:?}", dict[c as usize].chars().take(80).collect::<String>()),
                )
            })
        })
        .collect()
}

/// Adds one record batch (its first row is row `offset` of the input) to a multi-class accumulator: `outcome`
/// and `prediction` hold class names (strings) or class indices (integers).
pub fn add_multiclass_batch(
    acc: &mut crate::tasks::multiclass::MulticlassAccumulator,
    batch: &RecordBatch,
    outcome: &str,
    prediction: &str,
    groups: &[String],
    offset: usize,
) -> Result<(), InputError> {
    for name in [outcome, prediction]
        .into_iter()
        .chain(groups.iter().map(String::as_str))
    {
        column(batch, name)?;
    }
    let classes = acc.classes().to_vec();
    let y = classes_of(batch, outcome, &classes, offset)?;
    let p = classes_of(batch, prediction, &classes, offset)?;
    let encoded: Vec<Encoded> = groups.iter().map(|g| group(batch, g)).collect::<Result<_, _>>()?;
    acc.add(&crate::tasks::multiclass::MulticlassBatch {
        outcome: Col {
            name: outcome,
            values: &y,
        },
        prediction: Col {
            name: prediction,
            values: &p,
        },
        groups: group_cols(groups, &encoded),
    })
    .map_err(|e| e.shifted(offset))
}
