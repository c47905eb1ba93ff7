//! Helpers shared by the integration tests (`tests/generator.rs`) and the crate's own unit
//! tests (`src/tests.rs`, which include this file by path): a spec with bias arguments, a
//! whole dataset in one batch, and a column as plain values.
#![allow(dead_code)]

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Int16Type, UInt8Type};
use rayon::prelude::*;
use synth::{DatasetSpec, Generator};

pub fn spec(scenario: &str, rows: u64, seed: u64, bias: &[&str]) -> DatasetSpec {
    let mut s = DatasetSpec::new(scenario, rows, seed).unwrap();
    s.apply_bias_args(bias).unwrap();
    s
}

pub fn generate(spec: DatasetSpec) -> RecordBatch {
    let g = Generator::new(spec).unwrap();
    let batches: Vec<RecordBatch> = (0..g.num_batches()).into_par_iter().map(|b| g.batch(b)).collect();
    concat_batches(&g.schema(), &batches).unwrap()
}

pub fn strings(b: &RecordBatch, col: &str) -> Vec<String> {
    let c = b.column_by_name(col).unwrap();
    if let Some(d) = c.as_dictionary_opt::<Int16Type>() {
        let values = d.values().as_string::<i32>();
        d.keys()
            .values()
            .iter()
            .map(|&k| values.value(k as usize).to_owned())
            .collect()
    } else {
        c.as_string::<i32>().iter().map(|s| s.unwrap().to_owned()).collect()
    }
}

pub fn bools(b: &RecordBatch, col: &str) -> Vec<bool> {
    b.column_by_name(col)
        .unwrap()
        .as_boolean()
        .iter()
        .map(Option::unwrap)
        .collect()
}

pub fn u8s(b: &RecordBatch, col: &str) -> Vec<u8> {
    b.column_by_name(col)
        .unwrap()
        .as_primitive::<UInt8Type>()
        .values()
        .to_vec()
}
