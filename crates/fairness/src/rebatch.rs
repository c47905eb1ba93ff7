//! Record batches regrouped into batches of one fixed size.
//!
//! An [`Accumulator`](crate::Accumulator) sums each batch's rows and then adds the batch's
//! sums to its own; floating-point sums depend on how they are grouped, so the same rows in
//! other chunks can differ in the last bits. Reading a file through [`Rebatched`] makes its
//! report independent of the chunks it was written in.

use arrow::array::RecordBatch;
use arrow::compute::BatchCoalescer;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;

/// Batches of exactly `rows` rows (the last one shorter) from any batches of one schema.
pub struct Rebatched<I> {
    inner: I,
    coalescer: BatchCoalescer,
    done: bool,
}

impl<I> Rebatched<I> {
    /// Regroups `inner`'s batches of `schema` into batches of `rows` (at least 1).
    pub fn new(inner: I, schema: SchemaRef, rows: usize) -> Self {
        Self {
            inner,
            coalescer: BatchCoalescer::new(schema, rows.max(1)),
            done: false,
        }
    }
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> Iterator for Rebatched<I> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.coalescer.next_completed_batch() {
                return Some(Ok(batch));
            }
            if self.done {
                return None;
            }
            let pushed = match self.inner.next() {
                Some(Ok(batch)) => self.coalescer.push_batch(batch),
                Some(Err(e)) => Err(e),
                None => {
                    self.done = true;
                    self.coalescer.finish_buffered_batch()
                }
            };
            if let Err(e) = pushed {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array};
    use std::sync::Arc;

    #[test]
    fn batches_of_any_size_come_out_in_the_size_asked_for_in_order() {
        let make = |from: i32, n: i32| {
            RecordBatch::try_from_iter([("x", Arc::new(Int32Array::from_iter_values(from..from + n)) as ArrayRef)])
        };
        let schema = make(0, 1).unwrap().schema();
        let sizes = [3, 1, 7, 0, 2, 11];
        let mut from = 0;
        let input: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let b = make(from, n);
                from += n;
                b
            })
            .collect();
        let out: Vec<RecordBatch> = Rebatched::new(input.into_iter(), schema, 5)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            out.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
            [5, 5, 5, 5, 4]
        );
        let values: Vec<i32> = out
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(values, (0..24).collect::<Vec<_>>());
    }
}
