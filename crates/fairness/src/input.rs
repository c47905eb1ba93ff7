//! Validated input columns. Everything untrusted is checked here, and every error names the
//! column and the row.

use thiserror::Error;

/// Why a batch was refused; each names the column and, where one is at fault, the row, so the
/// data can be fixed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InputError {
    /// A column is shorter or longer than the batch's first column.
    #[error("column {column:?} has {got} rows, expected {expected} (the length of {reference:?})")]
    Length {
        /// The column.
        column: String,
        /// Its rows.
        got: usize,
        /// The rows of the reference column.
        expected: usize,
        /// The column the length was taken from.
        reference: String,
    },
    /// A label or decision that is not 0 or 1.
    #[error("column {column:?}, row {row}: {value} is not a binary label (expected 0 or 1)")]
    NotBinary {
        /// The column.
        column: String,
        /// The row.
        row: usize,
        /// The value found.
        value: String,
    },
    /// A score outside [0, 1] (or NaN).
    #[error("column {column:?}, row {row}: score {value} is outside [0, 1]")]
    ScoreRange {
        /// The column.
        column: String,
        /// The row.
        row: usize,
        /// The value found.
        value: f64,
    },
    /// A weight that is negative, infinite or NaN.
    #[error("column {column:?}, row {row}: weight {value} is not a finite non-negative number")]
    Weight {
        /// The column.
        column: String,
        /// The row.
        row: usize,
        /// The value found.
        value: f64,
    },
    /// A group value is missing and [`MissingGroups::Error`] was chosen.
    #[error(
        "group column {column:?}, row {row}: value is missing (use the \"missing\" option to report such rows as their own group)"
    )]
    MissingGroup {
        /// The column.
        column: String,
        /// The row.
        row: usize,
    },
    /// A named column is not in the data.
    #[error("column {0:?} not found")]
    MissingColumn(String),
    /// No group attribute was given, so there is nothing to compare.
    #[error("at least one group column is needed")]
    NoGroups,
    /// Anything else (a column of the wrong type, accumulators that cannot merge).
    #[error("{0}")]
    Other(String),
}

/// A named column.
#[derive(Debug, Clone, Copy)]
pub struct Col<'a, T> {
    /// Its name, for error messages.
    pub name: &'a str,
    /// One value per row.
    pub values: &'a [T],
}

/// A group column: codes into a dictionary of values, and optionally which rows are valid.
#[derive(Debug, Clone, Copy)]
pub struct GroupCol<'a> {
    /// The attribute's name.
    pub name: &'a str,
    /// One index into `dictionary` per row: dictionary encoding keeps the per-row work to an
    /// integer, whatever the values are.
    pub codes: &'a [u32],
    /// Which rows have a value; `None`: all.
    pub valid: Option<&'a [bool]>,
    /// The attribute's values.
    pub dictionary: &'a [String],
}

/// How rows whose group value is missing are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingGroups {
    /// A missing group value is an error naming the column and row.
    #[default]
    Error,
    /// Rows with a missing value form a group named `(missing)`.
    Group,
}

/// The name of the group of rows with a missing value.
pub const MISSING: &str = "(missing)";

/// One chunk of input rows.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The label the model is judged against (e.g. the recorded outcome), 0 or 1.
    pub label: Col<'a, u8>,
    /// A second label (e.g. the true outcome the synthetic data knows), 0 or 1.
    pub label_true: Option<Col<'a, u8>>,
    /// The decision, 0 or 1.
    pub prediction: Col<'a, u8>,
    /// The score (probability of the positive class) in [0, 1].
    pub score: Option<Col<'a, f64>>,
    /// A non-negative weight per row; `None`: every row counts 1.
    pub weight: Option<Col<'a, f64>>,
    /// The group attributes.
    pub groups: Vec<GroupCol<'a>>,
}

impl Batch<'_> {
    /// Rows in the batch (the length of its label column).
    pub fn len(&self) -> usize {
        self.label.values.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.label.values.is_empty()
    }

    /// Checks lengths, label values, score range and weights.
    pub fn validate(&self, missing: MissingGroups) -> Result<(), InputError> {
        let n = self.len();
        let len = |name: &str, got: usize| {
            if got == n {
                Ok(())
            } else {
                Err(InputError::Length {
                    column: name.to_owned(),
                    got,
                    expected: n,
                    reference: self.label.name.to_owned(),
                })
            }
        };
        if self.groups.is_empty() {
            return Err(InputError::NoGroups);
        }
        let binary = |c: &Col<u8>| -> Result<(), InputError> {
            len(c.name, c.values.len())?;
            match c.values.iter().position(|&v| v > 1) {
                Some(row) => Err(InputError::NotBinary {
                    column: c.name.to_owned(),
                    row,
                    value: c.values[row].to_string(),
                }),
                None => Ok(()),
            }
        };
        binary(&self.label)?;
        binary(&self.prediction)?;
        if let Some(c) = &self.label_true {
            binary(c)?;
        }
        if let Some(c) = &self.score {
            len(c.name, c.values.len())?;
            if let Some(row) = c.values.iter().position(|v| !(0.0..=1.0).contains(v)) {
                return Err(InputError::ScoreRange {
                    column: c.name.to_owned(),
                    row,
                    value: c.values[row],
                });
            }
        }
        if let Some(c) = &self.weight {
            len(c.name, c.values.len())?;
            if let Some(row) = c.values.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(InputError::Weight {
                    column: c.name.to_owned(),
                    row,
                    value: c.values[row],
                });
            }
        }
        for g in &self.groups {
            len(g.name, g.codes.len())?;
            if let Some(valid) = g.valid {
                len(g.name, valid.len())?;
                if missing == MissingGroups::Error
                    && let Some(row) = valid.iter().position(|v| !v)
                {
                    return Err(InputError::MissingGroup {
                        column: g.name.to_owned(),
                        row,
                    });
                }
            }
            if let Some(row) = g
                .codes
                .iter()
                .enumerate()
                .position(|(i, &c)| c as usize >= g.dictionary.len() && g.valid.is_none_or(|v| v[i]))
            {
                return Err(InputError::Other(format!(
                    "group column {:?}, row {row}: code {} is outside its dictionary of {} values",
                    g.name,
                    g.codes[row],
                    g.dictionary.len()
                )));
            }
        }
        Ok(())
    }
}

/// Dictionary-encodes string values (helper for callers holding plain strings).
pub fn encode<'s>(values: impl IntoIterator<Item = Option<&'s str>>) -> (Vec<u32>, Vec<bool>, Vec<String>) {
    let mut dict: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let (mut codes, mut valid) = (Vec::new(), Vec::new());
    for v in values {
        match v {
            Some(s) => {
                let code = *index.entry(s.to_owned()).or_insert_with(|| {
                    dict.push(s.to_owned());
                    (dict.len() - 1) as u32
                });
                codes.push(code);
                valid.push(true);
            }
            None => {
                codes.push(0);
                valid.push(false);
            }
        }
    }
    (codes, valid, dict)
}
