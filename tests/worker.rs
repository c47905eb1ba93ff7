//! The isolated worker, through the real `sandkasse worker` process: its predictions equal
//! ONNX Runtime's Python API, hostile models cannot take the sandbox down, and the sandbox
//! really forbids the network, foreign files and new processes.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Int64Type, UInt64Type};
use inference::client::{Cause, Pool, Worker, WorkerConfig, WorkerError};
use inference::inspect::{Limits, inspect};
use inference::manifest::Manifest;
use inference::protocol::Probe;
use inference::worker::WorkerArgs;
use std::path::{Path, PathBuf};
use std::time::Duration;
use synth::{DatasetSpec, Generator, Split};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn config(memory_mb: u64, batch_timeout: Duration, allow_probes: bool) -> WorkerConfig {
    WorkerConfig {
        program: PathBuf::from(env!("CARGO_BIN_EXE_sandkasse")),
        args: WorkerArgs {
            onnxruntime: inference::runtime::locate().expect("run `bash scripts/setup.sh` first"),
            sandbox: inference::sandbox::Config {
                address_space_bytes: memory_mb << 20,
                ..inference::sandbox::Config::default()
            },
            threads: 1,
            allow_probes,
        },
        load_timeout: Duration::from_secs(30),
        batch_timeout,
    }
}

fn manifest(rel: &str) -> Manifest {
    Manifest::parse(&std::fs::read_to_string(models().join(rel)).unwrap()).unwrap()
}

/// The rows the reference predictions were made on, projected on the manifest's columns.
fn reference_rows(m: &Manifest, scenario: &str, rows: u64, seed: u64) -> (Vec<u64>, Vec<RecordBatch>) {
    let mut spec = DatasetSpec::new(scenario, rows, seed).unwrap();
    spec.split = Split::Test;
    let g = Generator::new(spec).unwrap();
    let schema = g.schema();
    let cols: Vec<usize> = m.columns().iter().map(|c| schema.index_of(c).unwrap()).collect();
    let (mut ids, mut batches) = (Vec::new(), Vec::new());
    for b in 0..g.num_batches() {
        let batch = g.batch(b);
        ids.extend(
            batch
                .column_by_name("person_id")
                .unwrap()
                .as_primitive::<UInt64Type>()
                .values()
                .iter(),
        );
        batches.push(batch.project(&cols).unwrap());
    }
    (ids, batches)
}

fn check_against_reference(pool: &Pool, name: &str) {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(models().join(format!("reference/{name}.json"))).unwrap())
            .unwrap();
    let d = &reference["dataset"];
    let m = manifest(&format!("{name}.toml"));
    let (ids, batches) = reference_rows(
        &m,
        d["scenario"].as_str().unwrap(),
        d["rows"].as_u64().unwrap(),
        d["seed"].as_u64().unwrap(),
    );
    let want_ids: Vec<u64> = reference["person_id"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ids, want_ids, "{name}: the regenerated rows are not the reference rows");
    let (mut labels, mut probs) = (Vec::new(), Vec::new());
    for batch in &batches {
        // Uneven slices, to cross batch boundaries the way a run does.
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = 777.min(batch.num_rows() - offset);
            let out = pool.score_on(0, &batch.slice(offset, len)).unwrap();
            labels.extend(
                out.column_by_name("label")
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .copied(),
            );
            probs.extend(
                out.column_by_name("probability")
                    .unwrap()
                    .as_primitive::<Float32Type>()
                    .values()
                    .iter()
                    .copied(),
            );
            offset += len;
        }
    }
    let want_labels: Vec<i64> = reference["label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(
        labels, want_labels,
        "{name}: labels differ from onnxruntime's Python API"
    );
    let want: Vec<f64> = reference["probability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let worst = probs
        .iter()
        .zip(&want)
        .map(|(&a, &b)| (f64::from(a) - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-6, "{name}: probabilities differ by up to {worst}");
}

#[test]
fn worker_predictions_equal_onnxruntime_python_for_every_sample_model() {
    for name in [
        "unemployment-logreg",
        "unemployment-logreg-zipmap",
        "unemployment-gbm",
        "unemployment-mlp",
        "rehabilitation-logreg",
        "rehabilitation-gbm",
    ] {
        let bytes = std::fs::read(models().join(format!("{name}.onnx"))).unwrap();
        let pool = Pool::new(
            &config(2048, Duration::from_secs(30), false),
            1,
            bytes,
            manifest(&format!("{name}.toml")),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ready = pool.ready().unwrap();
        assert_eq!(ready.onnxruntime_version, "1.31.1");
        check_against_reference(&pool, name);
    }
}

#[test]
fn hostile_models_in_a_row_leave_the_sandbox_able_to_score_a_good_model() {
    let cfg = config(1024, Duration::from_secs(3), false);
    let mut rejected = 0;
    let mut contained = Vec::new();
    for file in [
        "external_data_traversal",
        "mem_addr_marker",
        "custom_op_domain",
        "truncated",
        "huge_initializer",
        "many_nodes",
        "alloc_bomb",
        "cpu_bomb",
        "nan_output",
        "wrong_output_shape",
    ] {
        let bytes = std::fs::read(models().join(format!("hostile/{file}.onnx"))).unwrap();
        let m = manifest(&format!("hostile/{file}.toml"));
        let inspection = inspect(&bytes, &Limits::default());
        if !inspection.accepted() {
            rejected += 1;
            continue;
        }
        // Past inspection, the worker must contain it: the model fails, the process survives.
        let result = Pool::new(&cfg, 1, bytes, m.clone()).and_then(|pool| {
            let (_, batches) = reference_rows(&m, "unemployment-risk", 200, 3);
            pool.score_on(0, &batches[0]).map(|_| ())
        });
        let err = result.expect_err(file);
        contained.push((file, err.to_string()));
        match file {
            "cpu_bomb" => assert!(
                matches!(
                    err,
                    WorkerError::Died {
                        cause: Cause::Timeout,
                        ..
                    }
                ),
                "{file}: {err}"
            ),
            "nan_output" => assert!(err.to_string().contains("not within [0, 1]"), "{file}: {err}"),
            "wrong_output_shape" => assert!(err.to_string().contains("shape"), "{file}: {err}"),
            "alloc_bomb" => assert!(
                matches!(
                    err,
                    WorkerError::Failed(_)
                        | WorkerError::Died {
                            cause: Cause::Memory,
                            ..
                        }
                ),
                "{file}: {err}"
            ),
            _ => {}
        }
    }
    assert_eq!(rejected, 6, "six hostile models are stopped at inspection");
    assert_eq!(contained.len(), 4, "{contained:?}");
    // And the sandbox still scores a good model exactly.
    let bytes = std::fs::read(models().join("unemployment-gbm.onnx")).unwrap();
    let pool = Pool::new(&cfg, 2, bytes, manifest("unemployment-gbm.toml")).unwrap();
    check_against_reference(&pool, "unemployment-gbm");
}

#[test]
fn a_worker_that_dies_is_replaced_and_the_cause_recorded() {
    let bytes = std::fs::read(models().join("hostile/cpu_bomb.onnx")).unwrap();
    let m = manifest("hostile/cpu_bomb.toml");
    let pool = Pool::new(&config(1024, Duration::from_secs(1), false), 1, bytes, m.clone()).unwrap();
    let (_, batches) = reference_rows(&m, "unemployment-risk", 100, 1);
    assert!(pool.score_on(0, &batches[0]).is_err());
    let events = pool.events();
    assert_eq!(events.len(), 2, "first try and the retry on a fresh worker: {events:?}");
    assert!(
        events.iter().all(|e| e.cause == Cause::Timeout && e.respawned),
        "{events:?}"
    );
}

#[test]
fn the_sandbox_forbids_the_network_foreign_files_and_new_processes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let cfg = config(1024, Duration::from_secs(10), true);
    let mut w = Worker::spawn(&cfg).unwrap();
    for layer in &w.ready().layers {
        assert!(
            layer.active,
            "isolation layer {} is not active here: {}",
            layer.layer, layer.detail
        );
    }
    let secret = std::env::temp_dir().join(format!("sandkasse-secret-{}", std::process::id()));
    std::fs::write(&secret, "not for models").unwrap();
    let allowed = cfg.args.onnxruntime.display().to_string();
    for (probe, should_work) in [
        (Probe::Connect { address }, false),
        (
            Probe::ReadFile {
                path: secret.display().to_string(),
            },
            false,
        ),
        (
            Probe::ReadFile {
                path: "/etc/hostname".into(),
            },
            false,
        ),
        (
            Probe::Spawn {
                program: "/bin/true".into(),
            },
            false,
        ),
        // The control: what the worker must read, it can.
        (Probe::ReadFile { path: allowed }, true),
    ] {
        let outcome = w.probe(&probe).unwrap();
        assert_eq!(outcome.allowed, should_work, "{probe:?}: {}", outcome.detail);
    }
    std::fs::remove_file(&secret).unwrap();
    // The same file from outside the sandbox is readable, so the denial was the sandbox's.
    assert!(std::fs::read("/etc/hostname").is_ok());
}
