//! The inference hot path, at batch sizes 1, 64, 1024 and 8192, on the gradient-boosted and
//! the logistic-regression sample models: feature tensors from Arrow, in-process
//! `Session::run` (one intra-op thread), and the round trip through an isolated worker
//! process (one thread, the same model). The Python onnxruntime anchor runs the same model
//! on the same rows: `benches/onnxruntime_anchor.py`, from `benches/run.sh`.

use arrow::array::RecordBatch;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inference::{Manifest, Model, Pool, WorkerArgs, WorkerConfig};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const SIZES: [usize; 4] = [1, 64, 1024, 8192];
const MODELS: [&str; 2] = ["unemployment-gbm", "unemployment-logreg"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest(name: &str) -> Manifest {
    Manifest::parse(&std::fs::read_to_string(root().join(format!("models/{name}.toml"))).expect("manifest"))
        .expect("valid manifest")
}

/// 8192 test-split rows projected on the manifest's columns.
fn rows(m: &Manifest) -> RecordBatch {
    let mut spec = synth::DatasetSpec::new("unemployment-risk", 8192, 11).expect("spec");
    spec.split = synth::Split::Test;
    let g = synth::Generator::new(spec).expect("generator");
    let batch = g.batch(0);
    let schema = batch.schema();
    let cols: Vec<usize> = m
        .columns()
        .iter()
        .map(|c| schema.index_of(c).expect("column"))
        .collect();
    batch.project(&cols).expect("project")
}

fn bench(c: &mut Criterion) {
    let lib = inference::locate_runtime().expect("run `bash scripts/setup.sh` first");
    inference::load_runtime(&lib).expect("ONNX Runtime loads");
    let env = inference::runtime_environment().expect("environment");
    for name in MODELS {
        let m = manifest(name);
        let data = rows(&m);
        let bytes = std::fs::read(root().join(format!("models/{name}.onnx"))).expect("model");
        let mut group = c.benchmark_group(format!("inference/{name}"));
        group.sample_size(20).measurement_time(Duration::from_secs(3));
        for n in SIZES {
            let batch = data.slice(0, n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("features", n), &batch, |b, batch| {
                b.iter(|| black_box(inference::build_features(&m, batch).expect("features")))
            });
        }
        let mut model = Model::load(&env, &bytes, m.clone(), 1).expect("session");
        for n in SIZES {
            let tensors = inference::build_features(&m, &data.slice(0, n)).expect("features");
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new("session-run-in-process", n), |b| {
                b.iter_batched(
                    || tensors.clone(),
                    |t| black_box(model.run(t).expect("run")),
                    BatchSize::SmallInput,
                )
            });
        }
        let config = WorkerConfig {
            program: PathBuf::from(env!("CARGO_BIN_EXE_sandkasse")),
            args: WorkerArgs {
                onnxruntime: lib.clone(),
                sandbox: inference::SandboxConfig::default(),
                threads: 1,
                allow_probes: false,
                parent_pid: None,
                disable_layers: Default::default(),
            },
            load_timeout: Duration::from_secs(30),
            batch_timeout: Duration::from_secs(30),
            allow_missing: Default::default(),
        };
        let pool = Pool::new(&config, 1, bytes, m.clone()).expect("worker");
        for n in SIZES {
            let batch = data.slice(0, n);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("worker-round-trip", n), &batch, |b, batch| {
                b.iter(|| black_box(pool.score_on(0, batch).expect("score")))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
