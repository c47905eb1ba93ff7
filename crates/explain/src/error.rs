//! What can go wrong, with what was wrong and what would be right.

/// An explanation that cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// A column to explain is not among the rows' columns.
    #[error("column {column:?} is not in the rows; they have: {known}")]
    UnknownColumn {
        /// The column asked for.
        column: String,
        /// The columns the rows have, comma-separated.
        known: String,
    },
    /// Outcomes, groups or scores whose length is not the number of rows.
    #[error("{what} has {got} values for {rows} rows")]
    Length {
        /// Which input.
        what: String,
        /// Its length.
        got: usize,
        /// The number of rows.
        rows: usize,
    },
    /// A configuration value out of its range.
    #[error("{0}")]
    Config(String),
    /// Arrow refused to build the permuted rows.
    #[error("permuting column {column:?}: {error}")]
    Arrow {
        /// The column being permuted.
        column: String,
        /// Arrow's message.
        error: arrow::error::ArrowError,
    },
    /// The scorer failed.
    #[error("scoring rows with {column:?} changed (step {step}): {error}")]
    Score {
        /// The permuted or set column, or "(none)" for the rows as they are.
        column: String,
        /// The repeat of a permutation or the point of a grid, from 0.
        step: usize,
        /// The scorer's message.
        error: String,
    },
}

/// The index of `column` in `schema`, or [`ExplainError::UnknownColumn`] listing the columns there are.
pub(crate) fn column_index(schema: &arrow::datatypes::Schema, column: &str) -> Result<usize, ExplainError> {
    schema.index_of(column).map_err(|_| ExplainError::UnknownColumn {
        column: column.to_owned(),
        known: schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}
