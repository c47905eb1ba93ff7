//! The isolated worker, through the real `sandkasse worker` process: its predictions equal
//! ONNX Runtime's Python API, hostile models cannot take the sandbox down, and the sandbox
//! really forbids the network, foreign files and new processes.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Float64Type, Int64Type, UInt32Type, UInt64Type};
use inference::{Cause, Limits, Manifest, Pool, Probe, Worker, WorkerArgs, WorkerConfig, WorkerError, inspect};
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
            onnxruntime: inference::locate_runtime().expect("run `bash scripts/setup.sh` first"),
            sandbox: inference::SandboxConfig {
                address_space_bytes: memory_mb << 20,
                ..inference::SandboxConfig::default()
            },
            threads: 1,
            allow_probes,
            parent_pid: None,
            disable_layers: Default::default(),
        },
        load_timeout: Duration::from_secs(30),
        batch_timeout,
        allow_missing: Default::default(),
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

/// The eldercare regressor's hours and classifier's levels, through the real worker, equal ONNX
/// Runtime's Python API on the reference rows: the value exactly (float32 widened to float64), the
/// level as the position of the model's class name in the manifest's classes.
#[test]
fn numeric_and_multiclass_predictions_equal_onnxruntime_python() {
    for name in ["eldercare-hours-gbm", "eldercare-level-logreg"] {
        let bytes = std::fs::read(models().join(format!("{name}.onnx"))).unwrap();
        let m = manifest(&format!("{name}.toml"));
        let pool = Pool::new(&config(2048, Duration::from_secs(30), false), 1, bytes, m.clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let reference: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(models().join(format!("reference/{name}.json"))).unwrap())
                .unwrap();
        let d = &reference["dataset"];
        let (_, batches) = reference_rows(
            &m,
            d["scenario"].as_str().unwrap(),
            d["rows"].as_u64().unwrap(),
            d["seed"].as_u64().unwrap(),
        );
        let mut outs = Vec::new();
        for batch in &batches {
            let mut offset = 0;
            while offset < batch.num_rows() {
                let len = 777.min(batch.num_rows() - offset);
                outs.push(pool.score_on(0, &batch.slice(offset, len)).unwrap());
                offset += len;
            }
        }
        match &m.output {
            inference::Output::Regression(_) => {
                let got: Vec<f64> = outs
                    .iter()
                    .flat_map(|o| {
                        o.column_by_name("value")
                            .unwrap()
                            .as_primitive::<Float64Type>()
                            .values()
                            .to_vec()
                    })
                    .collect();
                let want: Vec<f64> = reference["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                assert_eq!(got, want, "{name}: values differ from onnxruntime's Python API");
                assert!(got.iter().any(|&v| v > 4.0), "{name}: some citizens need hours");
            }
            inference::Output::Multiclass(mc) => {
                let got: Vec<String> = outs
                    .iter()
                    .flat_map(|o| {
                        o.column_by_name("class")
                            .unwrap()
                            .as_primitive::<UInt32Type>()
                            .values()
                            .to_vec()
                    })
                    .map(|i| match &mc.classes[i as usize] {
                        inference::ClassValue::Text(t) => t.clone(),
                        inference::ClassValue::Int(i) => i.to_string(),
                    })
                    .collect();
                let want: Vec<String> = reference["label"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(got, want, "{name}: classes differ from onnxruntime's Python API");
                let distinct: std::collections::BTreeSet<&String> = got.iter().collect();
                assert!(distinct.len() >= 3, "{name}: {distinct:?}");
            }
            inference::Output::Binary(_) => panic!("{name} is a yes/no model"),
        }
    }
}

/// `features` → −max(features) per row → its square root: NaN for every row with a positive input.
fn model_with_nan_values() -> Vec<u8> {
    onnx::model(
        &[
            onnx::node(
                "ReduceMax",
                b"max",
                &["features"],
                &["m"],
                &[onnx::attr_ints("axes", &[1]), onnx::attr_int("keepdims", 1)],
            ),
            onnx::node("Neg", b"neg", &["m"], &["n"], &[]),
            onnx::node("Sqrt", b"sqrt", &["n"], &["variable"], &[]),
        ],
        &[],
        &[onnx::value("variable", onnx::FLOAT, &[None, Some(1)])],
    )
}

/// `features` → max(exp(features)) per row: finite in float32 (ages are under 88), yet past 1e12.
fn model_with_huge_values() -> Vec<u8> {
    onnx::model(
        &[
            onnx::node("Exp", b"exp", &["features"], &["e"], &[]),
            onnx::node(
                "ReduceMax",
                b"max",
                &["e"],
                &["variable"],
                &[onnx::attr_ints("axes", &[1]), onnx::attr_int("keepdims", 1)],
            ),
        ],
        &[],
        &[onnx::value("variable", onnx::FLOAT, &[None, Some(1)])],
    )
}

/// A regression model that answers NaN, or numbers so large that squaring them overflows (every
/// metric of the report would be NaN, and a group's error hidden from the disparities), and a
/// multi-class model whose labels are not among the
/// manifest's classes, are refused naming the row: a NaN would poison every mean of the report,
/// an unknown label would be counted as no class at all.
#[test]
fn a_nan_value_and_a_label_outside_the_classes_are_refused_naming_the_row() {
    let base = std::fs::read_to_string(models().join("hostile/cpu_bomb.toml")).unwrap();
    let head = base.split("[output]").next().unwrap();
    let regression = Manifest::parse(&format!(
        "{head}[output]\ntask = \"regression\"\nvalue = \"variable\"\n"
    ))
    .unwrap();
    let (_, batches) = reference_rows(&regression, "unemployment-risk", 100, 1);
    let pool = Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_nan_values(),
        regression.clone(),
    )
    .unwrap();
    let err = pool.score_on(0, &batches[0]).expect_err("NaN values");
    assert!(
        err.to_string()
            .contains("row 0: the predicted value NaN is not a finite number"),
        "{err}"
    );
    let pool = Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_huge_values(),
        regression.clone(),
    )
    .unwrap();
    let err = pool.score_on(0, &batches[0]).expect_err("values past 1e12");
    assert!(
        err.to_string().contains("row 0: the predicted value") && err.to_string().contains("larger than 1e12"),
        "{err}"
    );
    // Labels "aaaa" and "bbbb", where the manifest declares two other classes.
    let multiclass = Manifest::parse(&format!(
        "{head}[output]\ntask = \"multiclass\"\nlabel = \"label\"\nclasses = [\"none\", \"heavy\"]\n"
    ))
    .unwrap();
    let pool = Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_long_labels(4),
        multiclass.clone(),
    )
    .unwrap();
    let err = pool.score_on(0, &batches[0]).expect_err("labels outside the classes");
    assert!(
        err.to_string().contains("row 0: the label \"")
            && err.to_string().contains("is not one of the manifest's classes"),
        "{err}"
    );
    // The same labels, declared, are scored as positions into the classes.
    let declared = Manifest::parse(&format!(
        "{head}[output]\ntask = \"multiclass\"\nlabel = \"label\"\nclasses = [\"aaaa\", \"bbbb\"]\n"
    ))
    .unwrap();
    let pool = Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_long_labels(4),
        declared,
    )
    .unwrap();
    let out = pool.score_on(0, &batches[0]).unwrap();
    let class = out.column_by_name("class").unwrap().as_primitive::<UInt32Type>();
    assert_eq!(class.len(), batches[0].num_rows());
    assert!(class.values().iter().all(|&c| c < 2));
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
    let before = pool.pids();
    let err = pool.score_on(0, &batches[0]).expect_err("the CPU bomb cannot finish");
    assert!(
        matches!(
            err,
            WorkerError::Died {
                cause: Cause::Timeout,
                ..
            }
        ),
        "{err}"
    );
    // One timeout, not two: a batch that timed out is not retried on a fresh worker, but the
    // worker is replaced so the pool stays usable.
    let events = pool.events();
    assert_eq!(events.len(), 1, "one worker killed for the batch: {events:?}");
    assert!(events[0].cause == Cause::Timeout && events[0].respawned, "{events:?}");
    assert_ne!(pool.pids(), before, "the timed-out worker was replaced");
}

#[test]
fn abort_kills_a_busy_worker_and_returns_at_once_without_a_new_one() {
    let bytes = std::fs::read(models().join("hostile/cpu_bomb.onnx")).unwrap();
    let m = manifest("hostile/cpu_bomb.toml");
    let pool = Pool::new(&config(1024, Duration::from_secs(120), false), 1, bytes, m.clone()).unwrap();
    let (_, batches) = reference_rows(&m, "unemployment-risk", 100, 1);
    let pid = pool.pids()[0];
    let result = std::thread::scope(|s| {
        let scoring = s.spawn(|| pool.score_on(0, &batches[0]));
        std::thread::sleep(Duration::from_millis(500));
        let aborted = std::time::Instant::now();
        pool.abort();
        let result = scoring.join().unwrap();
        // A generous cap against the 120 s batch deadline, not a performance goal.
        assert!(aborted.elapsed() < Duration::from_secs(5), "{:?}", aborted.elapsed());
        result
    });
    assert!(matches!(result, Err(WorkerError::Aborted)), "{result:?}");
    assert!(pool.events().is_empty(), "no worker started after the abort");
    assert_eq!(pool.pids(), vec![pid]);
    assert!(process_gone(pid), "worker {pid} still runs");
    assert!(matches!(pool.score_on(0, &batches[0]), Err(WorkerError::Aborted)));
}

/// Whether `pid` is gone: no such process, or a zombie nobody reaped yet (in a container the
/// process that inherits orphans may not reap them).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Polls until `pid` is gone, up to `limit`; kills it if not, so a failing test leaves no
/// CPU bomb behind.
fn gone_within(pid: u32, limit: Duration) -> bool {
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        if process_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    false
}

const INTERMEDIATE_ENV: &str = "SANDKASSE_TEST_INTERMEDIATE";
const PIDS_MARKER: &str = "WORKER_PIDS ";

#[test]
fn workers_die_with_their_parent_even_in_the_middle_of_a_batch() {
    const NAME: &str = "workers_die_with_their_parent_even_in_the_middle_of_a_batch";
    if std::env::var_os(INTERMEDIATE_ENV).is_some() {
        start_workers_and_wait();
        return;
    }
    use std::io::BufRead;
    // The intermediate: this test binary again, starting an idle worker and one busy in a
    // CPU-bound batch, then waiting to be killed.
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(INTERMEDIATE_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = parent.stdout.take().unwrap();
    let mut pids = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once(PIDS_MARKER) {
            pids = rest.split_whitespace().map(|p| p.parse::<u32>().unwrap()).collect();
            break;
        }
    }
    assert_eq!(pids.len(), 2, "the intermediate did not report its workers");
    // Let the busy one get into its batch.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        pids.iter().all(|&p| !process_gone(p)),
        "workers ended before their parent"
    );
    parent.kill().unwrap();
    parent.wait().unwrap();
    for (pid, what) in pids.iter().zip(["idle", "busy"]) {
        assert!(
            gone_within(*pid, Duration::from_secs(10)),
            "the {what} worker {pid} outlived its parent"
        );
    }
}

fn start_workers_and_wait() {
    use std::io::Write;
    let idle = Worker::spawn(&config(1024, Duration::from_secs(30), false)).unwrap();
    let bytes = std::fs::read(models().join("hostile/cpu_bomb.onnx")).unwrap();
    let m = manifest("hostile/cpu_bomb.toml");
    let pool =
        std::sync::Arc::new(Pool::new(&config(1024, Duration::from_secs(600), false), 1, bytes, m.clone()).unwrap());
    let (_, batches) = reference_rows(&m, "unemployment-risk", 100, 1);
    let busy = pool.clone();
    std::thread::spawn(move || busy.score_on(0, &batches[0]));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{PIDS_MARKER}{} {}", idle.pid(), pool.pids()[0]).unwrap();
    out.flush().unwrap();
    drop(out);
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_worker_missing_a_layer_is_refused_unless_the_operator_allowed_it() {
    let mut cfg = config(1024, Duration::from_secs(10), false);
    cfg.args.disable_layers = ["landlock".to_owned()].into();
    let err = match Worker::spawn(&cfg) {
        Ok(_) => panic!("a worker without Landlock was used"),
        Err(e) => e,
    };
    let WorkerError::Isolation { missing } = &err else {
        panic!("expected an isolation refusal: {err}");
    };
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].layer, "landlock");
    assert_eq!(missing[0].detail, inference::DISABLED_FOR_TEST);
    let message = err.to_string();
    assert!(
        message.contains("landlock is inactive (disabled for a test")
            && message.contains("--allow-missing-isolation landlock"),
        "{message}"
    );
    // Another layer allowed is not enough.
    cfg.allow_missing = ["seccomp".to_owned()].into();
    assert!(matches!(Worker::spawn(&cfg), Err(WorkerError::Isolation { .. })));
    // With the allowance, the worker runs a model, and says what it lacks.
    cfg.allow_missing = ["landlock".to_owned()].into();
    let bytes = std::fs::read(models().join("unemployment-gbm.onnx")).unwrap();
    let pool = Pool::new(&cfg, 1, bytes, manifest("unemployment-gbm.toml")).unwrap();
    let ready = pool.ready().unwrap();
    let landlock = ready.layers.iter().find(|l| l.layer == "landlock").unwrap();
    assert!(!landlock.active);
    assert!(ready.layers.iter().filter(|l| l.layer != "landlock").all(|l| l.active));
    check_against_reference(&pool, "unemployment-gbm");
}

#[test]
fn the_worker_runs_in_an_empty_private_directory_of_its_own() {
    use std::os::unix::fs::PermissionsExt;
    let cfg = config(1024, Duration::from_secs(10), true);
    let mut w = Worker::spawn(&cfg).unwrap();
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", w.pid())).unwrap();
    assert_ne!(cwd, Path::new("/"));
    assert!(cwd.starts_with(std::env::temp_dir()), "{}", cwd.display());
    let meta = std::fs::metadata(&cwd).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{}", cwd.display());
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "the worker's directory is not empty"
    );
    let seen = w.probe(&Probe::WorkingDir).unwrap();
    assert_eq!(seen.detail, cwd.display().to_string());
    // Its own directory and its parent are not readable from inside either.
    let secret = cwd
        .parent()
        .unwrap()
        .join(format!("sandkasse-next-to-a-worker-{}", std::process::id()));
    std::fs::write(&secret, "not for models").unwrap();
    for probe in [
        Probe::ListDir { path: ".".into() },
        Probe::ListDir {
            path: cwd.parent().unwrap().display().to_string(),
        },
        Probe::ReadFile {
            path: secret.display().to_string(),
        },
        Probe::ReadFile {
            path: "../".to_owned() + secret.file_name().unwrap().to_str().unwrap(),
        },
    ] {
        let outcome = w.probe(&probe).unwrap();
        assert!(!outcome.allowed, "{probe:?}: {}", outcome.detail);
    }
    std::fs::remove_file(&secret).unwrap();
    drop(w);
    assert!(!cwd.exists(), "{} outlived its worker", cwd.display());
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
    let library_dir = cfg.args.onnxruntime.parent().unwrap().to_owned();
    let library_sibling = std::fs::read_dir(&library_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file() && *p != cfg.args.onnxruntime)
        .expect("another file next to the ONNX Runtime library");
    // Readable from outside the sandbox, so a denial inside is the sandbox's.
    std::fs::read(&library_sibling).unwrap();
    std::fs::read("/sys/devices/system/cpu/kernel_max").unwrap();
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
        // Nothing next to the library, nor the library's directory.
        (
            Probe::ReadFile {
                path: library_sibling.display().to_string(),
            },
            false,
        ),
        (
            Probe::ListDir {
                path: library_dir.display().to_string(),
            },
            false,
        ),
        // Of /sys/devices/system/cpu only the topology files, and nothing of /proc.
        (
            Probe::ReadFile {
                path: "/sys/devices/system/cpu/kernel_max".into(),
            },
            false,
        ),
        (
            Probe::ListDir {
                path: "/sys/devices/system/cpu".into(),
            },
            false,
        ),
        (
            Probe::ReadFile {
                path: "/proc/self/status".into(),
            },
            false,
        ),
        (
            Probe::ReadFile {
                path: "/proc/cpuinfo".into(),
            },
            false,
        ),
        // The control: what the worker must read, it can.
        (Probe::ReadFile { path: allowed }, true),
        (
            Probe::ReadFile {
                path: "/sys/devices/system/cpu/possible".into(),
            },
            true,
        ),
        (
            Probe::ReadFile {
                path: "/sys/devices/system/cpu/cpu0/topology/core_id".into(),
            },
            true,
        ),
    ] {
        let outcome = w.probe(&probe).unwrap();
        assert_eq!(outcome.allowed, should_work, "{probe:?}: {}", outcome.detail);
    }
    std::fs::remove_file(&secret).unwrap();
    // The same file from outside the sandbox is readable, so the denial was the sandbox's.
    assert!(std::fs::read("/etc/hostname").is_ok());
}

// ---------------------------------------------------------------------------------------------
// Hostile models made at test time (an 8 MB node name does not belong in the repository): a
// minimal protobuf writer for the few ONNX messages they need (field numbers from
// crates/inference/proto/onnx.proto).

mod onnx {
    pub const FLOAT: i64 = 1;
    pub const INT64: i64 = 7;
    pub const STRING: i64 = 8;

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn int(out: &mut Vec<u8>, field: u32, v: i64) {
        varint(out, u64::from(field) << 3);
        varint(out, v as u64);
    }

    fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
        varint(out, (u64::from(field) << 3) | 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }

    /// ValueInfoProto of a tensor; `None` dims are symbolic (`N`).
    pub fn value(name: &str, elem: i64, dims: &[Option<i64>]) -> Vec<u8> {
        let mut shape = Vec::new();
        for d in dims {
            let mut dim = Vec::new();
            match d {
                Some(v) => int(&mut dim, 1, *v),
                None => bytes(&mut dim, 2, b"N"),
            }
            bytes(&mut shape, 1, &dim);
        }
        let mut tensor = Vec::new();
        int(&mut tensor, 1, elem);
        bytes(&mut tensor, 2, &shape);
        let mut ty = Vec::new();
        bytes(&mut ty, 1, &tensor);
        let mut v = Vec::new();
        bytes(&mut v, 1, name.as_bytes());
        bytes(&mut v, 2, &ty);
        v
    }

    /// AttributeProto of type INTS.
    pub fn attr_ints(name: &str, v: &[i64]) -> Vec<u8> {
        let mut a = Vec::new();
        bytes(&mut a, 1, name.as_bytes());
        for x in v {
            int(&mut a, 8, *x);
        }
        int(&mut a, 20, 7);
        a
    }

    /// AttributeProto of type INT.
    pub fn attr_int(name: &str, v: i64) -> Vec<u8> {
        let mut a = Vec::new();
        bytes(&mut a, 1, name.as_bytes());
        int(&mut a, 3, v);
        int(&mut a, 20, 2);
        a
    }

    pub fn node(op: &str, name: &[u8], inputs: &[&str], outputs: &[&str], attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = Vec::new();
        for i in inputs {
            bytes(&mut n, 1, i.as_bytes());
        }
        for o in outputs {
            bytes(&mut n, 2, o.as_bytes());
        }
        bytes(&mut n, 3, name);
        bytes(&mut n, 4, op.as_bytes());
        for a in attrs {
            bytes(&mut n, 5, a);
        }
        n
    }

    /// A 1-D string initializer.
    pub fn strings(name: &str, values: &[Vec<u8>]) -> Vec<u8> {
        let mut t = Vec::new();
        int(&mut t, 1, values.len() as i64);
        int(&mut t, 2, STRING);
        for v in values {
            bytes(&mut t, 6, v);
        }
        bytes(&mut t, 8, name.as_bytes());
        t
    }

    /// A scalar int64 initializer.
    pub fn int64_scalar(name: &str, v: i64) -> Vec<u8> {
        let mut t = Vec::new();
        int(&mut t, 2, INT64);
        bytes(&mut t, 9, &v.to_le_bytes());
        bytes(&mut t, 8, name.as_bytes());
        t
    }

    /// ModelProto, IR version 8, main-domain opset 17, input `features` float [N, 2].
    pub fn model(nodes: &[Vec<u8>], initializers: &[Vec<u8>], outputs: &[Vec<u8>]) -> Vec<u8> {
        let mut g = Vec::new();
        for n in nodes {
            bytes(&mut g, 1, n);
        }
        bytes(&mut g, 2, b"test");
        for i in initializers {
            bytes(&mut g, 5, i);
        }
        bytes(&mut g, 11, &value("features", FLOAT, &[None, Some(2)]));
        for o in outputs {
            bytes(&mut g, 12, o);
        }
        let mut opset = Vec::new();
        bytes(&mut opset, 1, b"");
        int(&mut opset, 2, 17);
        let mut m = Vec::new();
        int(&mut m, 1, 8);
        bytes(&mut m, 7, &g);
        bytes(&mut m, 8, &opset);
        m
    }
}

/// `features` + an int64 constant: a type error at load time, in a node whose name is 8 MB.
fn model_with_huge_node_name() -> Vec<u8> {
    let name = vec![b'n'; 8 << 20];
    onnx::model(
        &[onnx::node("Add", &name, &["features", "k"], &["y"], &[])],
        &[onnx::int64_scalar("k", 1)],
        &[onnx::value("y", onnx::FLOAT, &[None, Some(2)])],
    )
}

/// Valid probabilities (Softmax) and string labels of `label_bytes` each (a Gather from two
/// long class names by the ArgMax).
fn model_with_long_labels(label_bytes: usize) -> Vec<u8> {
    onnx::model(
        &[
            onnx::node(
                "Softmax",
                b"softmax",
                &["features"],
                &["probabilities"],
                &[onnx::attr_int("axis", 1)],
            ),
            onnx::node(
                "ArgMax",
                b"argmax",
                &["probabilities"],
                &["class"],
                &[onnx::attr_int("axis", 1), onnx::attr_int("keepdims", 0)],
            ),
            onnx::node(
                "Gather",
                b"gather",
                &["names", "class"],
                &["label"],
                &[onnx::attr_int("axis", 0)],
            ),
        ],
        &[onnx::strings(
            "names",
            &[vec![b'a'; label_bytes], vec![b'b'; label_bytes]],
        )],
        &[
            onnx::value("label", onnx::STRING, &[None]),
            onnx::value("probabilities", onnx::FLOAT, &[None, Some(2)]),
        ],
    )
}

#[test]
fn an_error_text_from_the_worker_is_capped() {
    let m = manifest("hostile/cpu_bomb.toml");
    let err = match Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_huge_node_name(),
        m,
    ) {
        Ok(_) => panic!("a model with a type error loaded"),
        Err(e) => e,
    };
    let WorkerError::Failed(text) = &err else {
        panic!("expected the model to fail: {err}");
    };
    println!("{}", &text[..text.len().min(300)]);
    assert!(
        text.len() <= inference::MAX_ERROR_TEXT,
        "an error text of {} bytes crossed from the worker",
        text.len()
    );
    assert!(text.contains("nnnn") && text.contains("[cut: "), "{text}");
    assert!(err.to_string().len() <= inference::MAX_ERROR_TEXT + 64);
}

#[test]
fn long_string_labels_are_refused_naming_the_row() {
    let m = manifest("hostile/cpu_bomb.toml");
    let (_, batches) = reference_rows(&m, "unemployment-risk", 100, 1);
    // Short labels pass: the model itself is fine.
    let pool = Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_long_labels(8),
        m.clone(),
    )
    .unwrap();
    let out = pool.score_on(0, &batches[0]).unwrap();
    assert_eq!(
        out.column_by_name("label").unwrap().as_string::<i32>().value(0).len(),
        8
    );
    let pool = Pool::new(
        &config(1024, Duration::from_secs(10), false),
        1,
        model_with_long_labels(4096),
        m,
    )
    .unwrap();
    let err = pool.score_on(0, &batches[0]).expect_err("4 KiB labels");
    assert!(
        err.to_string()
            .contains("the label of row 0 is 4096 bytes, over the limit of 256"),
        "{err}"
    );
}

/// `features` minus the batch's mean of each column, its largest per row: a number that depends on
/// the other rows of the request (a model that behaves one way on the sandbox's batches of synthetic
/// citizens and another way on one citizen at a time).
fn model_reading_its_batch() -> Vec<u8> {
    onnx::model(
        &[
            onnx::node(
                "ReduceMean",
                b"mean",
                &["features"],
                &["m"],
                &[onnx::attr_ints("axes", &[0]), onnx::attr_int("keepdims", 1)],
            ),
            onnx::node("Sub", b"sub", &["features", "m"], &["d"], &[]),
            onnx::node(
                "ReduceMax",
                b"max",
                &["d"],
                &["variable"],
                &[onnx::attr_ints("axes", &[1]), onnx::attr_int("keepdims", 1)],
            ),
        ],
        &[],
        &[onnx::value("variable", onnx::FLOAT, &[None, Some(1)])],
    )
}

/// The stability check of a regression run: a model whose number depends on its batch is shown
/// unstable in the record (repeated alike, shuffled and row by row not), with the rows; the run
/// itself succeeds, as a yes/no run's does, so the authority sees the verdict.
#[test]
fn a_regression_model_that_reads_its_batch_is_found_unstable() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("batchy.onnx");
    std::fs::write(&model, model_reading_its_batch()).unwrap();
    let manifest = dir.path().join("batchy.toml");
    std::fs::write(
        &manifest,
        "name = \"batchy\"\nversion = \"1\"\nscenario = \"eldercare-visitation\"\n\n[[inputs]]\ntensor = \"features\"\ndtype = \"float32\"\ncolumns = [{ column = \"age\" }, { column = \"adl_limitations\" }]\n\n[output]\ntask = \"regression\"\nvalue = \"variable\"\n",
    )
    .unwrap();
    let mut spec = DatasetSpec::new("eldercare-visitation", 3000, 2).unwrap();
    spec.split = Split::Test;
    let mut req = evaluate::Request::new(
        model,
        manifest,
        evaluate::Dataset::Generate(Box::new(spec)),
        config(1024, Duration::from_secs(30), false),
    );
    req.batch_rows = 500;
    let record = evaluate::run(&req, &|_, _| {}, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    let evaluate::RunReport::Regression(r) = &record.report else {
        panic!("a regression report");
    };
    let st = r.stability.as_ref().expect("checked");
    assert!(!st.stable, "{st:?}");
    let by = |name: &str| st.checks.iter().find(|c| c.check == name).unwrap();
    assert_eq!(
        by("repeated").rows_differing,
        0,
        "the same request gives the same numbers"
    );
    assert!(by("single_rows").rows_differing > 0 && !by("single_rows").examples.is_empty());
    assert_eq!(by("single_rows").rows, 32);
    assert!(record.to_markdown().contains("**Unstable**"));
}
