//! The anchor of `sandkasse evaluate`'s speed: ONNX Runtime alone scoring the same rows on the
//! same cores, inputs prepared. The rows are the test split `sandkasse generate --scenario
//! unemployment-risk --rows N --seed 1 --split test` writes (the generator is a pure function
//! of seed and row, so they are the same rows); their feature tensors are built before the
//! clock starts; then one in-process session per core (one intra-op thread each, the worker's
//! options) scores its share of the batches. Only `Session::run` and reading its outputs are
//! timed. `ANCHOR_RUNS` runs (3 unless set) are printed.
//!
//!     cargo bench --bench onnxruntime_alone
//!     ANCHOR_ROWS=1000000 ANCHOR_BATCH=8192 ANCHOR_THREADS=2 cargo bench --bench onnxruntime_alone

use inference::{InputTensor, Manifest, Model};
use std::path::PathBuf;
use std::time::Instant;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let rows = env_or("ANCHOR_ROWS", 1_000_000);
    let batch = env_or("ANCHOR_BATCH", evaluate::DEFAULT_BATCH_ROWS);
    let threads = env_or(
        "ANCHOR_THREADS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let name = "unemployment-gbm";
    let manifest =
        Manifest::parse(&std::fs::read_to_string(root.join(format!("models/{name}.toml"))).expect("manifest"))
            .expect("valid manifest");
    let bytes = std::fs::read(root.join(format!("models/{name}.onnx"))).expect("model");
    let lib = inference::locate_runtime().expect("run `bash scripts/setup.sh` first");
    inference::load_runtime(&lib).expect("ONNX Runtime loads");
    let env = inference::runtime_environment().expect("environment");

    let mut spec = synth::DatasetSpec::new("unemployment-risk", rows as u64, 1).expect("spec");
    spec.split = synth::Split::Test;
    let generator = synth::Generator::new(spec).expect("generator");
    let mut prepared: Vec<Vec<InputTensor>> = Vec::new();
    let mut b = 0;
    while let Some(data) = (b < generator.num_batches()).then(|| generator.batch(b)) {
        let schema = data.schema();
        let cols: Vec<usize> = manifest
            .columns()
            .iter()
            .map(|c| schema.index_of(c).expect("column"))
            .collect();
        let data = data.project(&cols).expect("project");
        let mut offset = 0;
        while offset < data.num_rows() {
            let len = batch.min(data.num_rows() - offset);
            prepared.push(inference::build_features(&manifest, &data.slice(offset, len)).expect("features"));
            offset += len;
        }
        b += 1;
    }
    let total: usize = prepared.iter().map(|t| t.first().map_or(0, |t| t.rows)).sum();
    assert_eq!(total, rows, "the generator gave {total} rows");
    println!(
        "ONNX Runtime alone: {name}, {rows} rows, batches of {batch}, {threads} threads (one session each, one intra-op thread)"
    );
    for run in 1..=env_or("ANCHOR_RUNS", 3) {
        let mut models: Vec<Model> = (0..threads)
            .map(|_| Model::load(&env, &bytes, manifest.clone(), 1).expect("session"))
            .collect();
        // Each thread gets every `threads`-th batch, cloned before the clock starts.
        let shares: Vec<Vec<Vec<InputTensor>>> = (0..threads)
            .map(|t| prepared.iter().skip(t).step_by(threads).cloned().collect())
            .collect();
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for (model, share) in models.iter_mut().zip(shares) {
                s.spawn(move || {
                    for inputs in share {
                        std::hint::black_box(model.run(inputs).expect("run"));
                    }
                });
            }
        });
        let secs = t0.elapsed().as_secs_f64();
        println!("run {run}: {secs:.3} s, {:.0} rows/s", rows as f64 / secs);
    }
}
