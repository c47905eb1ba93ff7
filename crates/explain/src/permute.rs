//! Seeded permutations of one column of a batch.

use crate::ExplainError;
use arrow::array::UInt32Array;
use arrow::record_batch::RecordBatch;

/// A permutation of `0..n` drawn by Fisher–Yates from SplitMix64, a pure function of `seed`: the
/// same seed gives the same permutation on every machine and thread count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permutation(Vec<u32>);

impl Permutation {
    /// The permutation of `0..n` for `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            // Lemire's multiply-shift; its bias is below n / 2^64, far under any interval here.
            let j = ((u128::from(next()) * (i as u128 + 1)) >> 64) as usize;
            p.swap(i, j);
        }
        Self(p)
    }

    /// The row each position takes its value from.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }
}

/// `rows` with the values of `column` moved between rows by `permutation`, every other column
/// as it was: a row keeps everything but that one input, which it takes from another row.
pub fn with_column_permuted(
    rows: &RecordBatch,
    column: &str,
    permutation: &Permutation,
) -> Result<RecordBatch, ExplainError> {
    let schema = rows.schema();
    let index = crate::error::column_index(&schema, column)?;
    if permutation.0.len() != rows.num_rows() {
        return Err(ExplainError::Length {
            what: "the permutation".into(),
            got: permutation.0.len(),
            rows: rows.num_rows(),
        });
    }
    let arrow_err = |error| ExplainError::Arrow {
        column: column.to_owned(),
        error,
    };
    let indices = UInt32Array::from(permutation.0.clone());
    let moved = arrow::compute::take(rows.column(index), &indices, None).map_err(arrow_err)?;
    let mut columns = rows.columns().to_vec();
    columns[index] = moved;
    RecordBatch::try_new(schema, columns).map_err(arrow_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permutation_holds_every_row_once_and_depends_on_the_seed_only() {
        let a = Permutation::new(1000, 7);
        let mut sorted = a.indices().to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_eq!(a, Permutation::new(1000, 7));
        assert_ne!(a, Permutation::new(1000, 8));
        assert_ne!(a.indices(), sorted.as_slice(), "the identity is not a shuffle");
    }
}
