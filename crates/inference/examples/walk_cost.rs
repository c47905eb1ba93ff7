//! The cost of the schema walk for external data beside the whole inspection, on the largest
//! sample model and on any model files named as arguments (a 100 MB initializer in
//! BENCHMARKS.md). A measurement, not a test: it prints the median of 7 runs.
//!
//! `cargo run --release -p inference --example walk_cost -- [MODEL.onnx ...]`

use inference::{Limits, external_data_findings, inspect};
use std::path::PathBuf;
use std::time::Instant;

fn median(f: &mut dyn FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[3]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/unemployment-gbm.onnx")];
    files.extend(std::env::args_os().skip(1).map(PathBuf::from));
    let limits = Limits::default();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let whole = median(&mut || {
            std::hint::black_box(inspect(&bytes, &limits));
        });
        let walk = median(&mut || {
            std::hint::black_box(external_data_findings(&bytes, &limits));
        });
        println!(
            "{}: {} bytes; inspect {whole:.3} ms, of which the schema walk {walk:.3} ms",
            file.display(),
            bytes.len()
        );
    }
    Ok(())
}
