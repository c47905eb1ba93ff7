//! `sandkasse evaluate` end to end through the real binary.

mod procs;
use std::path::Path;
use std::process::Command;

fn sandkasse(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sandkasse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn a_run_records_provenance_isolation_throughput_and_both_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let md = dir.path().join("run.md");
    let criteria = dir.path().join("criteria.toml");
    std::fs::write(
        &criteria,
        "[[criterion]]\nattribute = \"origin\"\nmetric = \"disparate_impact\"\nagainst = \"reference\"\nop = \">=\"\nthreshold = 0.8\n",
    )
    .unwrap();
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/unemployment-gbm.onnx",
        "--manifest",
        "models/unemployment-gbm.toml",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "20000",
        "--seed",
        "5",
        "--counterfactual",
        "origin",
        "--criteria",
        criteria.to_str().unwrap(),
        "--bootstrap",
        "200",
        "--workers",
        "2",
        "--batch-rows",
        "3000",
        "--out",
        out.to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let p = &r["provenance"];
    let sha = |s: &serde_json::Value| {
        s.as_str()
            .is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()))
    };
    assert!(
        sha(&p["model_sha256"]) && sha(&p["manifest_sha256"]) && sha(&p["dataset_sha256"]),
        "{p}"
    );
    assert_eq!(p["onnxruntime_version"], "1.31.1");
    assert_eq!(p["dataset"]["split"], "test");
    assert_eq!(p["dataset"]["counterfactual"], "origin");
    let layers = p["isolation"].as_array().unwrap();
    for layer in ["network_namespace", "landlock", "seccomp", "rlimit_as"] {
        assert!(
            layers.iter().any(|l| l["layer"] == layer && l["active"] == true),
            "{layer} not active: {layers:?}"
        );
    }
    // Twins double the rows; every row was scored.
    assert_eq!(r["throughput"]["rows"], 40000);
    assert!(r["throughput"]["worker_peak_memory_bytes"].as_u64().unwrap() > 1 << 20);
    let report = &r["report"];
    assert!(
        report["overall"]["metrics_vs_label_true"]["accuracy"]["value"]
            .as_f64()
            .is_some()
    );
    assert!(report["counterfactual"]["overall"]["pairs"].as_u64().unwrap() == 20000);
    let attrs: Vec<&str> = report["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attribute"].as_str().unwrap())
        .collect();
    assert!(
        attrs.contains(&"age_band") && attrs.contains(&"sex&origin&age_band"),
        "{attrs:?}"
    );
    assert_eq!(r["verdicts"].as_array().unwrap().len(), 1);
    // The same seed gives the same dataset hash and the same numbers.
    let out2 = dir.path().join("run2.json");
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/unemployment-gbm.onnx",
        "--manifest",
        "models/unemployment-gbm.toml",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "20000",
        "--seed",
        "5",
        "--counterfactual",
        "origin",
        "--criteria",
        criteria.to_str().unwrap(),
        "--bootstrap",
        "200",
        "--workers",
        "1",
        "--out",
        out2.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r2: serde_json::Value = serde_json::from_slice(&std::fs::read(&out2).unwrap()).unwrap();
    assert_eq!(r2["provenance"]["dataset_sha256"], p["dataset_sha256"]);
    assert_eq!(r2["report"], r["report"], "one worker and two give the same report");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("## Counterfactual twins") && md.contains("| isolation | active: close_fds"),
        "{md}"
    );
    // Nothing was allowed to be missing, and the record says so explicitly.
    assert_eq!(p["isolation_allowed_missing"], serde_json::json!([]));
    assert!(
        md.contains("allowed to be missing by the operator (--allow-missing-isolation): none"),
        "{md}"
    );
    // The twins' flips explained: the first 5,000 pairs; the inputs origin changes (the
    // municipality among them) differ within the flipped pairs, and none differs in more.
    let f = &r["explanations"]["flip_contributions"];
    assert_eq!(f["pairs"], 5000, "{f}");
    let flipped = f["flipped"].as_u64().unwrap();
    assert!(flipped > 0, "{f}");
    let columns = f["columns"].as_array().unwrap();
    assert!(columns.iter().any(|c| c["column"] == "municipality"), "{f}");
    for c in columns {
        assert!(c["pairs_differing"].as_u64().unwrap() <= flipped, "{c}");
        assert!(
            c["reverses"].as_u64().unwrap() <= c["pairs_differing"].as_u64().unwrap(),
            "{c}"
        );
    }
    assert!(
        !columns.iter().any(|c| c["column"] == "age"),
        "origin does not change age: {f}"
    );
    assert!(md.contains("### Why twins' decisions flip"), "{md}");
    assert_eq!(
        r2["explanations"]["flip_contributions"],
        r["explanations"]["flip_contributions"]
    );
    // The stability check of every run: the first request (3,000 rows) again as it was and in a
    // random order, 64 of its rows one at a time, and two rows of each of the run's 14 requests
    // scored again together; a tree ensemble reads only its row.
    let st = &r["robustness"]["stability"];
    assert_eq!(st["stable"], true, "{st}");
    let checks: Vec<(&str, u64, u64)> = st["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["rows_differing"], 0, "{c}");
            assert_eq!(c["decisions_changed"], 0, "{c}");
            (
                c["check"].as_str().unwrap(),
                c["rows"].as_u64().unwrap(),
                c["batch_rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("repeated", 3000, 3000),
            ("permuted", 3000, 3000),
            ("single_rows", 64, 1),
            ("sampled", 28, 28)
        ]
    );
    assert!(md.contains("## Stability") && md.contains("**Stable**"), "{md}");
}

/// A model whose probability for a row depends on the other rows of its batch (the hostile
/// `batch_dependent`: softmax of the features minus their batch mean) passes inspection and
/// output validation, so only the stability check can tell: the run completes, says unstable
/// in its record and Markdown, and names rows, with their person_id, where scoring a row alone
/// gave another probability. Scored again as the same request, it is the same; so a run with
/// `--no-explain` still has the verdict.
#[test]
fn a_model_that_reads_its_batch_is_found_unstable_with_example_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let md = dir.path().join("run.md");
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/hostile/batch_dependent.onnx",
        "--manifest",
        "models/hostile/batch_dependent.toml",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "2000",
        "--bootstrap",
        "50",
        "--no-explain",
        "--no-paths",
        "--out",
        out.to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(r.get("explanations").is_none());
    let st = &r["robustness"]["stability"];
    assert_eq!(st["stable"], false, "{st}");
    let check = |name: &str| {
        st["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check: {st}"))
            .clone()
    };
    assert_eq!(check("repeated")["rows_differing"], 0, "{st}");
    let single = check("single_rows");
    assert_eq!(single["rows"], 64);
    assert!(single["rows_differing"].as_u64().unwrap() > 32, "{single}");
    let examples = single["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 5, "{single}");
    for e in examples {
        // Alone, every row's centred features are zero: softmax gives exactly one half.
        assert_eq!(e["again"], 0.5, "{e}");
        assert!(e["person_id"].is_u64(), "{e}");
    }
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("**Unstable**") && text.contains("Rows where the model was unstable"),
        "{text}"
    );

    // The same dependence hidden by position (`position_gated`: only rows 64 to N-65 of a request
    // read the batch mean, so the same request, its mirror image and its first rows alone all
    // agree with the run): the seeded random order and the single rows at seeded random positions
    // find it.
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/hostile/position_gated.onnx",
        "--manifest",
        "models/hostile/position_gated.toml",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "2000",
        "--bootstrap",
        "50",
        "--no-explain",
        "--no-paths",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The command line says so too (without --quiet).
    assert!(String::from_utf8_lossy(&o.stderr).contains("Unstable: scored again"));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let st = &r["robustness"]["stability"];
    assert_eq!(st["stable"], false, "{st}");
    let checks = st["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "repeated");
    assert_eq!(checks[0]["rows_differing"], 0, "{st}");
    assert_eq!(checks[1]["check"], "permuted");
    assert!(checks[1]["max_difference"].as_f64().unwrap() > 0.01, "{st}");
    assert_eq!(checks[2]["check"], "single_rows");
    assert!(checks[2]["rows_differing"].as_u64().unwrap() > 32, "{st}");

    // A model honest on the run's first request (whose rows it knows in advance: the means of
    // the test split's first 500 citizens of seed 0 are written into it) and on single rows, and
    // batch-dependent everywhere else: every check of the first request agrees with the run; the
    // rows kept from requests across the run, scored again together, do not.
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/hostile/first_request_honest.onnx",
        "--manifest",
        "models/hostile/first_request_honest.toml",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "4000",
        "--batch-rows",
        "500",
        "--bootstrap",
        "50",
        "--no-explain",
        "--no-paths",
        "--no-robustness",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let st = &r["robustness"]["stability"];
    assert_eq!(st["stable"], false, "{st}");
    let checks = st["checks"].as_array().unwrap();
    for c in &checks[..3] {
        assert_eq!(c["rows_differing"], 0, "the first request looks honest: {c}");
    }
    let sampled = &checks[3];
    assert_eq!(sampled["check"], "sampled");
    // Two rows from each of the 8 requests of 500.
    assert_eq!(sampled["rows"], 16, "{sampled}");
    assert!(sampled["rows_differing"].as_u64().unwrap() >= 8, "{sampled}");
    let rows: Vec<u64> = sampled["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert!(
        rows.iter().any(|&r| r >= 500),
        "rows from past the first request: {rows:?}"
    );
}

#[test]
fn a_rejected_model_or_a_mismatched_manifest_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    for (model, manifest, scenario, expected) in [
        (
            "models/hostile/custom_op_domain.onnx",
            "models/hostile/custom_op_domain.toml",
            "unemployment-risk",
            "operator domain \"com.evil.ops\"",
        ),
        (
            "models/unemployment-gbm.onnx",
            "models/rehabilitation-gbm.toml",
            "rehabilitation-need",
            "input \"features\"",
        ),
        (
            "models/unemployment-gbm.onnx",
            "models/unemployment-gbm.toml",
            "rehabilitation-need",
            "the manifest is for scenario",
        ),
        (
            "models/missing.onnx",
            "models/unemployment-gbm.toml",
            "unemployment-risk",
            "models/missing.onnx",
        ),
    ] {
        let o = sandkasse(&[
            "evaluate",
            "--model",
            model,
            "--manifest",
            manifest,
            "--scenario",
            scenario,
            "--rows",
            "1000",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(!o.status.success(), "{model}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expected), "{model}: {err}");
        assert!(!Path::new(&out).exists());
    }
}

#[test]
fn inspect_and_doctor_report_what_a_reviewer_needs() {
    let o = sandkasse(&[
        "inspect",
        "--model",
        "models/unemployment-logreg-zipmap.onnx",
        "--manifest",
        "models/unemployment-logreg-zipmap.toml",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("output_probability seq(map(int64,tensor(float)))"),
        "{text}"
    );
    assert!(text.contains("sha256"), "{text}");
    let o = sandkasse(&["inspect", "--model", "models/hostile/huge_initializer.onnx", "--json"]);
    assert!(!o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["rule"], "tensor_size");
    let o = sandkasse(&["doctor", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["onnxruntime"]["version"], "1.31.1");
    assert!(
        v["isolation"].as_array().unwrap().iter().all(|l| l["active"] == true),
        "{v}"
    );
    // Without the library anywhere, doctor says how to install it instead of panicking.
    let o = Command::new(env!("CARGO_BIN_EXE_sandkasse"))
        .args(["doctor"])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .current_dir("/")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so (no such file)")
            && text.contains("bash scripts/setup.sh"),
        "{text}"
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}

/// The JSON record of `evaluate` with `args`, or the error it printed.
fn evaluate(args: &[&str], out: &Path) -> Result<serde_json::Value, String> {
    let mut all = vec![
        "evaluate",
        "--model",
        "models/unemployment-gbm.onnx",
        "--manifest",
        "models/unemployment-gbm.toml",
        "--bootstrap",
        "100",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    all.extend_from_slice(args);
    let o = sandkasse(&all);
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap())
}

fn generate(args: &[&str]) {
    let mut all = vec![
        "generate",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "6000",
        "--seed",
        "8",
    ];
    all.extend_from_slice(args);
    let o = sandkasse(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_test_split_read_from_parquet_or_arrow_reports_as_if_generated_and_is_hashed_as_a_file() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let generated = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "6000",
            "--seed",
            "8",
            "--bias",
            "label_rate=0.3",
            "--counterfactual",
            "sex",
        ],
        &dir.path().join("gen.json"),
    )
    .unwrap();
    for file in ["test.parquet", "test.arrow"] {
        generate(&[
            "--split",
            "test",
            "--bias",
            "label_rate=0.3",
            "--counterfactual",
            "sex",
            "--out",
            &path(file),
        ]);
        let r = evaluate(&["--dataset", &path(file)], &dir.path().join("file.json")).unwrap();
        let p = &r["provenance"];
        assert_eq!(
            p["dataset"], generated["provenance"]["dataset"],
            "{file}: the spec comes from the file"
        );
        assert_eq!(p["dataset_file"], path(file));
        let sha = sha2::Sha256::digest(std::fs::read(path(file)).unwrap());
        let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(p["dataset_sha256"], hex, "{file}: the hash is the file's");
        assert_eq!(r["throughput"]["rows"], 12000);
        assert_eq!(
            r["report"], generated["report"],
            "{file}: the same rows give the same report"
        );
        // And the same explanations: weak slices search every scenario column however the rows
        // arrive (a file is otherwise read in the columns the model and the groups need).
        let explained = |r: &serde_json::Value| {
            let mut e = r["explanations"].clone();
            e.as_object_mut().expect("explanations").remove("seconds");
            e
        };
        assert_eq!(r["slices"]["columns"], generated["slices"]["columns"], "{file}");
        assert_eq!(r["slices"], generated["slices"], "{file}");
        assert_eq!(explained(&r), explained(&generated), "{file}");
    }
    // With --dataset, --seed is the bootstrap's only.
    let a = evaluate(
        &["--dataset", &path("test.arrow"), "--seed", "1"],
        &dir.path().join("a.json"),
    )
    .unwrap();
    assert_ne!(a["report"]["config"]["seed"], generated["report"]["config"]["seed"]);
}

#[test]
fn a_dataset_file_that_is_not_a_test_split_of_the_scenario_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let out = dir.path().join("run.json");
    generate(&["--split", "train", "--out", &path("train.parquet")]);
    generate(&["--split", "test", "--out", &path("test.csv")]);
    let o = sandkasse(&[
        "generate",
        "--scenario",
        "rehabilitation-need",
        "--rows",
        "500",
        "--split",
        "test",
        "--out",
        &path("rehab.parquet"),
    ]);
    assert!(o.status.success());
    std::fs::write(path("junk.parquet"), b"PAR1 not really").unwrap();
    std::fs::remove_file(path("test.csv.meta.json")).unwrap();
    std::fs::write(path("book.xlsx"), b"PK\x03\x04\x14\x00\x06\x00 a workbook").unwrap();
    for (file, expected) in [
        (
            "train.parquet",
            "it holds the Train split; evaluation is on the test split only",
        ),
        ("test.csv", "its metadata sidecar"),
        (
            "book.xlsx",
            "it looks like a ZIP archive (an .xlsx workbook is one); write the data as",
        ),
        (
            "rehab.parquet",
            "the manifest is for scenario \"unemployment-risk\", the dataset is \"rehabilitation-need\"",
        ),
        ("junk.parquet", "not a readable Parquet file"),
        ("missing.parquet", "missing.parquet"),
    ] {
        let err = evaluate(&["--dataset", &path(file)], &out).unwrap_err();
        assert!(err.contains(expected), "{file}: {err}");
        assert!(!out.exists());
    }
    let err = evaluate(&["--dataset", &path("train.parquet"), "--rows", "10"], &out).unwrap_err();
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn a_missing_layer_fails_the_run_unless_allowed_and_the_allowance_is_in_record_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let common = ["--scenario", "unemployment-risk", "--rows", "2000", "--workers", "1"];
    // Refused: the error names the layer, why, and the flag.
    let mut args = common.to_vec();
    args.extend(["--test-disable-layer", "landlock"]);
    let err = evaluate(&args, &out).expect_err("a run without Landlock, not allowed");
    assert!(
        err.contains("landlock is inactive (disabled for a test") && err.contains("--allow-missing-isolation landlock"),
        "{err}"
    );
    assert!(!out.exists(), "a refused run wrote a record");
    // An unknown layer name is a usage error that lists the known ones.
    let mut args = common.to_vec();
    args.extend(["--allow-missing-isolation", "landlok"]);
    let err = evaluate(&args, &out).expect_err("an unknown layer");
    assert!(
        err.contains("unknown isolation layer \"landlok\"") && err.contains("landlock, capabilities, seccomp"),
        "{err}"
    );
    // Allowed: the run goes ahead, and every output says what the operator allowed.
    let (md, html) = (dir.path().join("run.md"), dir.path().join("run.html"));
    let mut args = common.to_vec();
    args.extend([
        "--test-disable-layer",
        "landlock",
        "--allow-missing-isolation",
        "landlock",
        "--md",
        md.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let r = evaluate(&args, &out).unwrap();
    let p = &r["provenance"];
    assert_eq!(p["isolation_allowed_missing"], serde_json::json!(["landlock"]));
    let layers = p["isolation"].as_array().unwrap();
    assert!(
        layers.iter().any(|l| l["layer"] == "landlock" && l["active"] == false),
        "{layers:?}"
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains(
            "unavailable: landlock; allowed to be missing by the operator (--allow-missing-isolation): landlock"
        ),
        "{md}"
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains(
            "id=\"isolation-allowed\">The operator allowed the workers to run without: <code>landlock</code>"
        ),
        "{html}"
    );
}

/// In-process runs, one at a time: each checks the worker processes of this process.
static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A run of the CPU bomb (a batch never ends) in this process.
fn cpu_bomb_request(deadline: Option<std::time::Duration>) -> evaluate::Request {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut spec = synth::DatasetSpec::new("unemployment-risk", 1000, 1).unwrap();
    spec.split = synth::Split::Test;
    let worker = inference::WorkerConfig {
        program: env!("CARGO_BIN_EXE_sandkasse").into(),
        args: inference::WorkerArgs {
            onnxruntime: inference::locate_runtime().unwrap(),
            sandbox: inference::SandboxConfig {
                address_space_bytes: 1 << 30,
                ..inference::SandboxConfig::default()
            },
            threads: 1,
            allow_probes: false,
            parent_pid: None,
            disable_layers: Default::default(),
        },
        load_timeout: std::time::Duration::from_secs(30),
        // Long, so only a cancel or the run's deadline can end the batch in time.
        batch_timeout: std::time::Duration::from_secs(60),
        allow_missing: Default::default(),
    };
    let mut req = evaluate::Request::new(
        root.join("models/hostile/cpu_bomb.onnx"),
        root.join("models/hostile/cpu_bomb.toml"),
        evaluate::Dataset::Generate(Box::new(spec)),
        worker,
    );
    req.groups = vec!["sex".into()];
    req.fairness.bootstrap = 0;
    req.batch_rows = 1000;
    req.deadline = deadline;
    req
}

/// Worker processes this process started (`sandkasse worker ...`).
fn my_workers() -> Vec<u32> {
    procs::workers_of(std::process::id())
}

#[test]
fn cancel_frees_a_run_in_the_middle_of_a_batch_and_leaves_no_worker() {
    let _one = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let req = cpu_bomb_request(None);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let (result, since_cancel, workers) = std::thread::scope(|s| {
        let run = s.spawn(|| evaluate::run(&req, &|_, _| {}, &cancel));
        // Wait for the worker, then let it sink into its endless batch.
        let mut workers = Vec::new();
        for _ in 0..600 {
            workers = my_workers();
            if !workers.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        let t = std::time::Instant::now();
        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        let result = run.join().unwrap();
        (result, t.elapsed(), workers)
    });
    assert!(!workers.is_empty(), "no worker was seen");
    assert!(
        matches!(result, Err(evaluate::EvaluateError::Cancelled)),
        "{:?}",
        result.map(|_| ())
    );
    // A generous cap against the 60 s batch deadline, not a performance goal.
    assert!(since_cancel < std::time::Duration::from_secs(5), "{since_cancel:?}");
    assert!(my_workers().is_empty(), "workers left: {:?}", my_workers());
    for pid in workers {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} is still there"
        );
    }
}

#[test]
fn a_run_over_its_deadline_is_stopped_and_fails_naming_the_limit() {
    let _one = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let req = cpu_bomb_request(Some(std::time::Duration::from_secs(2)));
    let t = std::time::Instant::now();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let err = match evaluate::run(&req, &|_, _| {}, &cancel) {
        Ok(_) => panic!("the CPU bomb finished"),
        Err(e) => e,
    };
    assert!(
        matches!(err, evaluate::EvaluateError::Deadline { limit } if limit == std::time::Duration::from_secs(2)),
        "{err}"
    );
    assert_eq!(err.to_string(), "the run went over its deadline of 2 s and was stopped");
    // A generous cap against the 60 s batch deadline.
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "{:?}", t.elapsed());
    assert!(my_workers().is_empty(), "workers left: {:?}", my_workers());
}

/// A dataset of several source batches (64 Ki rows each) gives the same report whatever the
/// number of workers and the batch size: batches are accumulated whole and merged in the
/// data's order, not in the order the workers finished them (floating-point sums depend on
/// their order).
#[test]
fn the_report_does_not_depend_on_the_number_of_workers_or_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let run = |workers: &str, batch: &str, out: &str| {
        evaluate(
            &[
                "--scenario",
                "unemployment-risk",
                "--rows",
                "140000",
                "--seed",
                "3",
                "--workers",
                workers,
                "--batch-rows",
                batch,
            ],
            &dir.path().join(out),
        )
        .unwrap()
    };
    let one = run("1", "8192", "one.json");
    let two = run("2", "3000", "two.json");
    assert_eq!(one["throughput"]["rows"], 140000);
    assert_eq!(one["report"], two["report"]);
    assert_eq!(one["provenance"]["dataset_sha256"], two["provenance"]["dataset_sha256"]);
    // The explanations too: each column's permutations depend on the seed and its name only,
    // whichever worker scored it.
    assert!(one["explanations"]["importance"]["columns"].as_array().unwrap().len() == 17);
    assert_eq!(one["explanations"]["importance"], two["explanations"]["importance"]);
    // And the paths: each twin batch is scored whole by one worker, the bootstrap is seeded.
    assert_eq!(one["paths"]["effects"], two["paths"]["effects"]);
    assert_eq!(one["paths"]["effects"]["citizens"], 20000);
    // And the perturbation: each column's draws depend on the seed, its name and the row.
    let perturbed = &one["robustness"]["perturbation"];
    assert!(perturbed["columns"].as_array().unwrap().len() >= 5, "{perturbed}");
    assert_eq!(perturbed["columns"], two["robustness"]["perturbation"]["columns"]);
    assert_eq!(perturbed["all"], two["robustness"]["perturbation"]["all"]);
}

/// Perturbation (issue 16): each input of the gradient-boosted sample moved by the measurement
/// error the scenario states. The noise model is in the record; every flip rate carries a Wilson
/// interval that holds it; results per group of origin; at scale 0 nothing moves and exactly no
/// decision flips; `--no-robustness` leaves the stage out but not the stability verdict.
#[test]
fn measurement_error_in_the_inputs_flips_decisions_per_group_and_zero_noise_flips_none() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], out: &str| {
        let mut args = vec![
            "--scenario",
            "unemployment-risk",
            "--rows",
            "6000",
            "--seed",
            "5",
            "--no-explain",
            "--no-paths",
            "--robustness-rows",
            "4000",
        ];
        args.extend_from_slice(extra);
        evaluate(&args, &dir.path().join(out)).unwrap()
    };
    let md = dir.path().join("one.md");
    let r = run(&["--md", md.to_str().unwrap()], "one.json");
    let p = &r["robustness"]["perturbation"];
    assert_eq!(p["rows"], 4000, "{p}");
    assert_eq!(p["config"]["scale"], 1.0);
    let noise = p["noise"].as_array().unwrap();
    let named: Vec<&str> = noise.iter().map(|n| n["column"].as_str().unwrap()).collect();
    for c in [
        "education",
        "income_dkk",
        "months_employed_3y",
        "municipality",
        "sick_leave_days_12m",
    ] {
        assert!(named.contains(&c), "{c} is not in the noise model: {named:?}");
    }
    let months = noise.iter().find(|n| n["column"] == "months_employed_3y").unwrap();
    assert_eq!(months["noise"]["kind"], "normal");
    assert_eq!(months["noise"]["sd"], 1.0);
    assert!(!months["why"].as_str().unwrap().is_empty());
    let municipality = noise.iter().find(|n| n["column"] == "municipality").unwrap();
    assert_eq!(municipality["noise"]["kind"], "neighbour");
    assert_eq!(municipality["noise"]["linked"][0]["column"], "municipality_code");
    let exact: Vec<&str> = p["exact"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        exact.contains(&"age") && exact.contains(&"sex") && !exact.contains(&"municipality"),
        "{exact:?}"
    );
    // Each column alone, then all at once; every flip rate within its Wilson interval.
    let columns = p["columns"].as_array().unwrap();
    assert_eq!(columns.len(), noise.len());
    let all = &p["all"];
    let check = |s: &serde_json::Value| {
        let f = s["flip_rate"]["value"].as_f64().unwrap();
        let [lo, hi] = [0, 1].map(|i| s["flip_rate"]["interval"][i].as_f64().unwrap());
        assert!(lo <= f && f <= hi && (0.0..=1.0).contains(&lo) && hi <= 1.0, "{s}");
        let up = s["flips_to_positive"]["value"].as_f64().unwrap();
        let down = s["flips_to_negative"]["value"].as_f64().unwrap();
        assert!((up + down - f).abs() < 1e-12, "{s}");
        f
    };
    let overall = check(&all["overall"]);
    assert!(
        overall > 0.0,
        "measurement error moves some decisions of the gradient-boosted model: {all}"
    );
    // The municipality is switched for its stated 5 % of citizens (200 of 4,000; a binomial
    // count's 99.99 % range is about 150 to 250).
    assert_eq!(municipality["noise"]["rate"], 0.05);
    let muni = columns.iter().find(|c| c["column"] == "municipality").unwrap();
    let moved = muni["overall"]["changed"].as_u64().unwrap();
    assert!((150..=250).contains(&moved), "{muni}");
    for c in columns {
        check(&c["overall"]);
    }
    let origin: Vec<&serde_json::Value> = all["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["attribute"] == "origin")
        .collect();
    assert!(origin.len() >= 3, "{all}");
    let rows: u64 = origin.iter().map(|g| g["sensitivity"]["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 4000);
    for g in &origin {
        check(&g["sensitivity"]);
    }
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("## Perturbation") && md.contains(r"| months\_employed\_3y | \+ N(0, 1²) within \[0, 36\] |"),
        "{md}"
    );

    // The same seed gives the same numbers.
    let again = run(&[], "again.json");
    assert_eq!(again["robustness"]["perturbation"]["all"], *all);

    // Zero noise: no input changes, no decision flips, no probability moves.
    let zero = run(&["--noise-scale", "0"], "zero.json");
    let z = &zero["robustness"]["perturbation"];
    for c in z["columns"].as_array().unwrap().iter().chain([&z["all"]]) {
        let s = &c["overall"];
        assert_eq!(s["changed"], 0, "{c}");
        assert_eq!(s["flip_rate"]["value"], 0.0, "{c}");
        assert_eq!(s["flip_rate"]["interval"][0], 0.0, "{c}");
        assert_eq!(s["mean_abs_score_change"]["value"], 0.0, "{c}");
        for g in c["groups"].as_array().unwrap() {
            assert_eq!(g["sensitivity"]["flip_rate"]["value"], 0.0, "{g}");
        }
    }

    // Criteria on robustness are judged on the stages: the worst origin group's flip rate under
    // measurement error and the gap in recourse between origin groups.
    let criteria = dir.path().join("criteria.toml");
    std::fs::write(
        &criteria,
        "[[criterion]]\nattribute = \"origin\"\nmetric = \"perturbation_flip_rate\"\nop = \"<=\"\nthreshold = 0.6\n\
         [[criterion]]\nattribute = \"origin\"\nmetric = \"recourse_gap\"\nop = \"<=\"\nthreshold = 2.0\n",
    )
    .unwrap();
    let judged = run(&["--criteria", criteria.to_str().unwrap()], "judged.json");
    let verdicts = judged["verdicts"].as_array().unwrap();
    let worst = judged["robustness"]["perturbation"]["all"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["attribute"] == "origin" && g["sensitivity"]["rows"].as_u64().unwrap() >= 20)
        .map(|g| g["sensitivity"]["flip_rate"]["value"].as_f64().unwrap())
        .fold(0.0f64, f64::max);
    assert_eq!(verdicts[0]["value"].as_f64().unwrap(), worst, "{}", verdicts[0]);
    assert_eq!(verdicts[0]["verdict"], "pass", "{}", verdicts[0]);
    // A vendor cannot pass it by turning the noise down: at another scale it cannot decide.
    let quiet = run(
        &["--criteria", criteria.to_str().unwrap(), "--noise-scale", "0"],
        "quiet.json",
    );
    let v = &quiet["verdicts"][0];
    assert_eq!(v["verdict"], "inconclusive", "{v}");
    assert!(v["explanation"].as_str().unwrap().contains("noise scale 0"), "{v}");
    let gap = &judged["robustness"]["recourse"]["result"]["gaps"];
    let origin_gap = gap
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["attribute"] == "origin")
        .unwrap();
    assert_eq!(verdicts[1]["value"], origin_gap["gap"]["value"], "{}", verdicts[1]);
    assert_eq!(verdicts[1]["verdict"], "pass", "{}", verdicts[1]);
    // Without the stage they could only be inconclusive: refused before anything runs.
    let e = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "100",
            "--no-robustness",
            "--criteria",
            criteria.to_str().unwrap(),
        ],
        &dir.path().join("refused.json"),
    )
    .unwrap_err();
    assert!(e.contains("needs the robustness stage"), "{e}");

    // Skipped: no perturbation, the stability verdict still there.
    let skipped = run(&["--no-robustness"], "skipped.json");
    assert!(skipped["robustness"]["perturbation"].is_null());
    assert_eq!(skipped["robustness"]["stability"]["stable"], true);
    // Bounds are checked before any worker starts.
    let e = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "100",
            "--noise-scale",
            "11",
        ],
        &dir.path().join("bad.json"),
    )
    .unwrap_err();
    assert!(e.contains("noise scale must be 0 to 10"), "{e}");
}

/// Path-specific twins of origin on the unemployment samples. The logistic regression reads no
/// municipality, region, name or country: its decisions cannot move when only the proxies change,
/// so its proxy flip rate is exactly 0 (interval [0, …]). The gradient-boosted model reads the
/// municipality: its proxy flip rate's interval excludes 0. The total path is the run's own
/// counterfactual twins: the same pairs and the same flips.
#[test]
fn path_specific_twins_separate_what_runs_through_proxies_from_what_runs_through_mediators() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("run.md");
    // Criteria on flips: through the proxies at most 0.05 %, in total (the run's own twins) at most 50 %.
    let criteria = dir.path().join("criteria.toml");
    std::fs::write(
        &criteria,
        "[[criterion]]\nname = \"proxy flips\"\nattribute = \"origin\"\nmetric = \"flip_rate\"\npath = \"proxy\"\nop = \"<=\"\nthreshold = 0.0005\n\n\
         [[criterion]]\nname = \"all flips\"\nattribute = \"origin\"\nmetric = \"flip_rate\"\nop = \"<=\"\nthreshold = 0.5\n",
    )
    .unwrap();
    let run = |model: &str, out: &str| {
        let model_path = format!("models/{model}.onnx");
        let manifest = format!("models/{model}.toml");
        let o = sandkasse(&[
            "evaluate",
            "--model",
            &model_path,
            "--manifest",
            &manifest,
            "--scenario",
            "unemployment-risk",
            "--rows",
            "12000",
            "--seed",
            "5",
            "--counterfactual",
            "origin",
            "--no-explain",
            "--path-rows",
            "12000",
            "--workers",
            "2",
            "--bootstrap",
            "0",
            "--criteria",
            criteria.to_str().unwrap(),
            "--md",
            md.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(dir.path().join(out)).unwrap()).unwrap()
    };
    let path = |r: &serde_json::Value, name: &str| -> serde_json::Value {
        r["paths"]["effects"]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == name)
            .unwrap_or_else(|| panic!("no path {name}: {}", r["paths"]))
            .clone()
    };
    let gbm = run("unemployment-gbm", "gbm.json");
    assert_eq!(gbm["paths"]["effects"]["attribute"], "origin");
    assert_eq!(gbm["paths"]["spec"]["counterfactual"], "origin");
    assert_eq!(gbm["paths"]["spec"]["rows"], 12000);
    // The total path is the run's twins: the same pairs, the same flips.
    let total = path(&gbm, "total");
    let twins = &gbm["report"]["counterfactual"]["overall"];
    assert_eq!(total["overall"]["pairs"], twins["pairs"]);
    assert_eq!(
        total["overall"]["flip_rate"]["value"], twins["flip_rate"],
        "{total} {twins}"
    );
    let proxy = path(&gbm, "proxy");
    assert_eq!(
        proxy["recomputed"],
        serde_json::json!([
            "country_of_origin",
            "municipality_code",
            "municipality",
            "region",
            "first_name",
            "last_name"
        ])
    );
    let lo = proxy["overall"]["flip_rate"]["interval"][0].as_f64().unwrap();
    assert!(lo > 0.0, "the gbm reads the municipality: {proxy}");
    let mediated = path(&gbm, "mediated");
    assert!(
        mediated["recomputed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "months_employed_3y")
    );
    // The gap decomposition for Danish citizens whose twins are non-Western immigrants.
    let d = gbm["paths"]["effects"]["decomposition"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["from"] == "danish")
        .expect("a decomposition for Danish citizens")
        .clone();
    assert_eq!(d["to"], "immigrant_non_western");
    let v = |k: &str| d[k]["value"].as_f64().unwrap();
    assert!(
        (v("gap") - v("proxy") - v("mediated") - v("remainder")).abs() < 1e-12,
        "{d}"
    );
    assert!(
        (v("total") - v("proxy") - v("mediated") - v("interaction")).abs() < 1e-12,
        "{d}"
    );
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("## Why groups are treated differently: causal paths"),
        "{text}"
    );
    assert!(text.contains("### The selection gap, split by path"), "{text}");

    let logreg = run("unemployment-logreg", "logreg.json");
    let proxy = path(&logreg, "proxy");
    assert_eq!(proxy["overall"]["flip_rate"]["value"], 0.0, "{proxy}");
    assert_eq!(proxy["overall"]["flip_rate"]["interval"][0], 0.0, "{proxy}");
    assert_eq!(proxy["overall"]["mean_abs_score_change"]["value"], 0.0, "{proxy}");
    assert!(
        path(&logreg, "total")["overall"]["flip_rate"]["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

/// A path the scenario's causal graph does not have is refused before any scoring, naming the
/// column and the ones that would be right.
#[test]
fn a_path_through_a_column_origin_does_not_cause_is_refused_before_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let e = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "500000",
            "--through",
            "age,education",
        ],
        &out,
    )
    .unwrap_err();
    assert!(e.contains("age does not descend from origin"), "{e}");
    assert!(e.contains("municipality"), "the columns that do: {e}");
    assert!(!e.contains("rows scored"), "{e}");
    assert!(!out.exists());
    let e = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "500",
            "--paths",
            "total,sideways",
        ],
        &out,
    )
    .unwrap_err();
    assert!(e.contains("unknown path \"sideways\""), "{e}");
    // A criterion on a path the run does not measure could only be inconclusive: refused.
    let criteria = dir.path().join("criteria.toml");
    std::fs::write(
        &criteria,
        "[[criterion]]\nattribute = \"origin\"\nmetric = \"flip_rate\"\npath = \"proxy\"\nop = \"<=\"\nthreshold = 0.01\n",
    )
    .unwrap();
    let e = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "500000",
            "--paths",
            "total",
            "--criteria",
            criteria.to_str().unwrap(),
        ],
        &out,
    )
    .unwrap_err();
    assert!(
        e.contains("names path proxy, which this run does not measure (it measures total)"),
        "{e}"
    );
    assert!(!e.contains("rows scored"), "{e}");
}

/// The explanation stage on the gradient-boosted sample: every input column the manifest uses
/// gets its permutation importance, in the manifest's order, overall and per group; the
/// municipality (a proxy for origin the model reads) matters, with an interval above 0. The
/// Markdown report shows the table; `--no-explain` leaves the stage and the section out.
#[test]
fn a_run_explains_which_inputs_drive_the_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let md = dir.path().join("run.md");
    let args = [
        "--scenario",
        "unemployment-risk",
        "--rows",
        "8000",
        "--seed",
        "4",
        "--workers",
        "2",
        "--explain-rows",
        "3000",
        "--md",
        md.to_str().unwrap(),
    ];
    let r = evaluate(&args, &out).unwrap();
    let e = &r["explanations"];
    assert_eq!(e["rows"]["taken"], "first");
    assert_eq!(e["rows"]["count"], 3000);
    assert_eq!(e["importance"]["rows"], 3000);
    assert_eq!(
        e["importance"]["config"]["seed"], 4,
        "the dataset's seed, as the bootstrap's"
    );
    let columns = e["importance"]["columns"].as_array().unwrap();
    let names: Vec<&str> = columns.iter().map(|c| c["column"].as_str().unwrap()).collect();
    assert_eq!(names[..3], ["municipality", "age", "education_isced"]);
    assert_eq!(names.len(), 17);
    // The model reads the municipality: moving it between citizens changes some decisions
    // (the interval excludes 0), though it buys the model no ranking quality. Its register
    // features are what it ranks by: months employed loses AUC against both outcomes.
    let overall = |name: &str| &columns[names.iter().position(|n| *n == name).unwrap()]["overall"];
    let lo = |m: &serde_json::Value| m["interval"][0].as_f64().unwrap();
    let municipality = overall("municipality");
    assert!(lo(&municipality["decisions_changed"]) > 0.0, "{municipality}");
    let months = overall("months_employed_3y");
    assert!(
        lo(&months["decisions_changed"]) > lo(&municipality["decisions_changed"]),
        "{months}"
    );
    assert!(lo(&months["recorded"]["roc_auc"]) > 0.0, "{months}");
    assert!(lo(&months["truth"]["roc_auc"]) > 0.0, "{months}");
    // Per group of each default attribute (sex, origin, age band), with the group's size.
    let groups = columns[0]["groups"].as_array().unwrap();
    let origin_rows: u64 = groups
        .iter()
        .filter(|g| g["attribute"] == "origin")
        .map(|g| g["drops"]["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(origin_rows, 3000);
    assert!(groups.iter().any(|g| g["attribute"] == "age_band"));
    // Weak slices over all 8,000 rows with the run's own decisions, every scenario column but
    // identifiers and outcomes.
    let sl = &r["slices"];
    assert_eq!(sl["rows"], 8000, "{sl}");
    let sliced: Vec<&str> = sl["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["municipality", "age", "origin", "months_employed_3y"] {
        assert!(sliced.contains(&c), "{c} not sliced: {sliced:?}");
    }
    for c in ["person_id", "outcome_recorded", "outcome_true"] {
        assert!(!sliced.contains(&c), "{c} sliced");
    }
    assert!(sl["tested"].as_u64().unwrap() > 1000, "{sl}");
    let top = sl["top"].as_array().unwrap();
    assert!(top.len() <= 30, "at most 10 per rate");
    for x in top {
        assert!(x["p_value"].as_f64().unwrap() < 0.05, "{x}");
        assert!(x["rows"].as_u64().unwrap() >= 100, "{x}");
    }
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("### Weak slices"), "{text}");
    assert!(
        text.contains("## Why the model decides as it does: permutation importance"),
        "{text}"
    );
    assert!(text.contains("| municipality | "), "{text}");

    let mut skip = args.to_vec();
    skip.push("--no-explain");
    let r = evaluate(&skip, &out).unwrap();
    assert!(r.get("explanations").is_none() && r.get("slices").is_none());
    assert!(!std::fs::read_to_string(&md).unwrap().contains("permutation importance"));
}

/// Parquet and Feather as other tools write them: pyarrow (what pandas' `to_parquet` and
/// `to_feather` call) rewrites a test split with every Parquet codec it writes and as Feather
/// with lz4 and zstd, metadata kept. `evaluate --dataset` and
/// `metrics` read each and report exactly what they report for the split as Sandkasse wrote
/// it. Before the codecs were compiled in, snappy (pandas' default) failed with "Disabled
/// feature at compile time: snap".
#[test]
fn parquet_with_every_codec_and_compressed_feather_report_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    generate(&["--split", "test", "--out", &path("zstd.parquet")]);
    // pyarrow writes "lz4" as the format's LZ4_RAW (the older Hadoop-framed LZ4 is deprecated
    // and no longer written by it).
    let codecs = ["snappy", "gzip", "brotli", "lz4", "zstd", "none"];
    let script = "import sys, pyarrow.parquet as pq\n\
        t = pq.read_table(sys.argv[1])\n\
        for codec in sys.argv[3:]:\n\
        \x20   pq.write_table(t, f'{sys.argv[2]}/{codec}.parquet', compression=codec,\n\
        \x20                  use_compliant_nested_type=False, row_group_size=2500)\n\
        import pyarrow.feather as feather\n\
        for codec in ['lz4', 'zstd']:\n\
        \x20   feather.write_feather(t, f'{sys.argv[2]}/{codec}.feather', compression=codec, chunksize=2500)\n";
    let venv_python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let o = Command::new(&venv_python)
        .args(["-c", script, &path("zstd.parquet"), dir.path().to_str().unwrap()])
        .args(codecs)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/test.sh, which installs pyarrow",
                venv_python.display()
            )
        });
    assert!(o.status.success(), "pyarrow: {}", String::from_utf8_lossy(&o.stderr));
    let metrics = |file: &str| {
        let out = dir.path().join(format!("{file}.metrics.json"));
        let o = sandkasse(&[
            "metrics",
            "--input",
            &path(file),
            "--label",
            "outcome_true",
            "--prediction",
            "outcome_recorded",
            "--score",
            "p_true",
            "--group",
            "origin",
            "--bootstrap",
            "50",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{file}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let want_run = evaluate(&["--dataset", &path("zstd.parquet")], &dir.path().join("base.json")).unwrap();
    let want_metrics = metrics("zstd.parquet");
    let files = codecs
        .iter()
        .map(|c| format!("{c}.parquet"))
        .chain(["lz4.feather".to_owned(), "zstd.feather".to_owned()]);
    for file in files {
        let run = evaluate(&["--dataset", &path(&file)], &dir.path().join("run.json"))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(run["report"], want_run["report"], "{file}: evaluate");
        assert_eq!(
            run["provenance"]["dataset"], want_run["provenance"]["dataset"],
            "{file}"
        );
        assert_eq!(metrics(&file), want_metrics, "{file}: metrics");
    }
}

/// The same split as CSV (the generator's, pandas' with `,`, and pandas' with `;` and decimal
/// commas), as gzip- or zstd-compressed CSV, and as gzip- or zstd-compressed Parquet gives
/// `evaluate --dataset` and `metrics` the same reports as the Parquet file; only the dataset's
/// hash (of the file as given) differs.
#[test]
fn csv_with_either_delimiter_and_compressed_files_report_as_parquet_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    generate(&["--split", "test", "--out", &path("base.parquet")]);
    generate(&["--split", "test", "--format", "csv", "--out", &path("gen.csv")]);
    let script = "import sys, shutil, pyarrow as pa, pyarrow.parquet as pq\n\
        d = sys.argv[1]\n\
        df = pq.read_table(f'{d}/base.parquet').to_pandas()\n\
        df.to_csv(f'{d}/comma.csv', index=False)\n\
        df.to_csv(f'{d}/semicolon.csv', sep=';', decimal=',', index=False)\n\
        for name in ['comma.csv', 'semicolon.csv']:\n\
        \x20   shutil.copy(f'{d}/gen.csv.meta.json', f'{d}/{name}.meta.json')\n\
        for name, codec, ext in [('gen.csv', 'gzip', 'gz'), ('semicolon.csv', 'zstd', 'zst'),\n\
        \x20                       ('base.parquet', 'gzip', 'gz'), ('base.parquet', 'zstd', 'zst')]:\n\
        \x20   with open(f'{d}/{name}', 'rb') as src, pa.CompressedOutputStream(f'{d}/{name}.{ext}', codec) as out:\n\
        \x20       out.write(src.read())\n";
    let venv_python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let o = Command::new(&venv_python)
        .args(["-c", script, dir.path().to_str().unwrap()])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/test.sh, which installs pandas",
                venv_python.display()
            )
        });
    assert!(o.status.success(), "pandas: {}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read_to_string(path("semicolon.csv")).unwrap().contains(";0,"),
        "pandas wrote no decimal comma"
    );
    let metrics = |file: &str, flags: &[&str]| {
        let out = dir.path().join(format!("{file}.metrics.json"));
        let mut args = vec![
            "metrics",
            "--input",
            &path(file),
            "--label",
            "outcome_true",
            "--prediction",
            "outcome_recorded",
            "--score",
            "p_true",
            "--group",
            "origin",
            "--bootstrap",
            "50",
            "--out",
            out.to_str().unwrap(),
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = sandkasse(&args);
        assert!(o.status.success(), "{file}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let want_run = evaluate(&["--dataset", &path("base.parquet")], &dir.path().join("base.json")).unwrap();
    let want_metrics = metrics("base.parquet", &[]);
    let files: [(&str, &[&str]); 8] = [
        ("gen.csv", &[]),
        ("gen.csv.gz", &[]),
        ("comma.csv", &["--csv-delimiter", ","]),
        ("semicolon.csv", &["--decimal-comma"]),
        ("semicolon.csv.zst", &["--decimal-comma", "--csv-delimiter", ";"]),
        ("base.parquet.gz", &[]),
        ("base.parquet.zst", &[]),
        ("comma.csv", &[]),
    ];
    for (file, flags) in files {
        let mut args = vec!["--dataset", &*path(file)]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = evaluate(&args, &dir.path().join("run.json")).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(run["report"], want_run["report"], "{file}: evaluate");
        assert_eq!(
            run["provenance"]["dataset"], want_run["provenance"]["dataset"],
            "{file}"
        );
        assert_ne!(
            run["provenance"]["dataset_sha256"], want_run["provenance"]["dataset_sha256"],
            "{file}: the hash is of the file as given"
        );
        assert_eq!(metrics(file, flags), want_metrics, "{file}: metrics");
    }
    // Decimal commas read without --decimal-comma are text, which is no score.
    let o = sandkasse(&[
        "metrics",
        "--input",
        &path("semicolon.csv"),
        "--label",
        "outcome_true",
        "--score",
        "p_true",
        "--group",
        "origin",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("\"p_true\" has type Utf8"), "{e}");
    // A comma delimiter and a decimal comma cannot be told apart.
    let e = match evaluate(
        &["--dataset", &path("comma.csv"), "--decimal-comma"],
        &dir.path().join("x.json"),
    ) {
        Ok(_) => panic!("comma.csv with --decimal-comma was read"),
        Err(e) => e,
    };
    assert!(e.contains("--decimal-comma needs a delimiter other than"), "{e}");
    // A CSV without its sidecar has no types to be evaluated with.
    std::fs::remove_file(path("comma.csv.meta.json")).unwrap();
    let e = match evaluate(&["--dataset", &path("comma.csv")], &dir.path().join("x.json")) {
        Ok(_) => panic!("comma.csv without its sidecar was read"),
        Err(e) => e,
    };
    assert!(e.contains("comma.csv.meta.json") && e.contains("is missing"), "{e}");
}

/// The explanation stage's numbers, recomputed independently: `tools/importance_reference.py`
/// redraws each permutation with its own implementation of the algorithm, builds the inputs as
/// the manifest says, scores with ONNX Runtime's Python API and measures with scikit-learn and
/// SciPy; every column, overall and per group of every attribute, must agree (decisions
/// exactly, metrics to 1e-9). In the exporters' environment (scripts/exporters.sh), which has
/// all of those.
#[test]
fn importance_equals_an_independent_recomputation_with_onnxruntime_and_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("test.parquet");
    let out = dir.path().join("run.json");
    generate(&["--split", "test", "--out", data.to_str().unwrap()]);
    let r = evaluate(
        &[
            "--dataset",
            data.to_str().unwrap(),
            "--workers",
            "2",
            "--explain-rows",
            "1500",
            "--explain-repeats",
            "3",
        ],
        &out,
    )
    .unwrap();
    assert_eq!(r["explanations"]["rows"]["count"], 1500);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(root.join(".venv-exporters/bin/python"))
        .arg(root.join("tools/importance_reference.py"))
        .args(["--record", out.to_str().unwrap(), "--dataset", data.to_str().unwrap()])
        .args([
            "--model",
            "models/unemployment-gbm.onnx",
            "--manifest",
            "models/unemployment-gbm.toml",
        ])
        .current_dir(root)
        .output()
        .expect("the exporters' Python (bash scripts/exporters.sh)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{said}");
    assert!(said.contains("17 columns") && said.contains("numbers equal"), "{said}");
}

/// Recourse (issue 16) for the logistic regression equals its closed form: `tools/recourse_reference.py`
/// reads the model's coefficients from the ONNX file and, for every citizen with the unfavourable
/// decision, computes the distance to the decision boundary over the input's coefficient, rounded
/// up to a whole month or contact and kept within the bounds; every change the record lists, and
/// each action's share and median, must agree to 1e-6.
#[test]
fn recourse_of_the_logistic_regression_equals_the_closed_form() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("test.parquet");
    let out = dir.path().join("run.json");
    generate(&["--split", "test", "--out", data.to_str().unwrap()]);
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/unemployment-logreg.onnx",
        "--manifest",
        "models/unemployment-logreg.toml",
        "--dataset",
        data.to_str().unwrap(),
        "--bootstrap",
        "50",
        "--no-explain",
        "--no-paths",
        "--robustness-rows",
        "1500",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let rc = &r["robustness"]["recourse"];
    assert_eq!(rc["rows"], 1500);
    assert_eq!(rc["every_citizen_listed"], true);
    // An honest model gives the search's answers among ordinary rows too.
    let check = &rc["result"]["check"];
    assert_eq!(
        (check["changed_disagreeing"].as_u64(), check["own_disagreeing"].as_u64()),
        (Some(0), Some(0)),
        "{check}"
    );
    assert!(check["changed_rows"].as_u64().unwrap() > 100, "{check}");
    let overall = &rc["result"]["overall"];
    assert!(overall["citizens"].as_u64().unwrap() > 100, "{overall}");
    // Months in work lower the risk: most citizens have recourse through them.
    assert!(
        overall["actions"][0]["share"]["value"].as_f64().unwrap() > 0.5,
        "{overall}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(root.join(".venv-exporters/bin/python"))
        .arg(root.join("tools/recourse_reference.py"))
        .args(["--record", out.to_str().unwrap(), "--dataset", data.to_str().unwrap()])
        .args([
            "--model",
            "models/unemployment-logreg.onnx",
            "--manifest",
            "models/unemployment-logreg.toml",
        ])
        .current_dir(root)
        .output()
        .expect("the exporters' Python (bash scripts/exporters.sh)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{said}");
    assert!(said.contains("changes equal the closed form"), "{said}");
}

/// Partial dependence against scikit-learn: `tools/dependence_reference.py` refits the
/// gradient-boosted sample as `models/train.py` does, requires its export to be byte-identical
/// to `models/unemployment-gbm.onnx`, and runs `partial_dependence(method="brute")` on the
/// record's rows and grid: the mean curve, each group's curve and each ICE curve agree to
/// float32 tolerance, for a numeric column and for the municipality string.
#[test]
fn partial_dependence_equals_scikit_learns_on_the_estimator_the_sample_was_exported_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("test.parquet");
    let out = dir.path().join("run.json");
    generate(&["--split", "test", "--out", data.to_str().unwrap()]);
    let r = evaluate(
        &[
            "--dataset",
            data.to_str().unwrap(),
            "--explain-rows",
            "800",
            "--explain-repeats",
            "2",
            "--explain-dependence",
            "months_employed_3y,municipality",
        ],
        &out,
    )
    .unwrap();
    let pd = r["explanations"]["partial_dependence"].as_array().unwrap();
    assert_eq!(pd.len(), 2);
    // 0 to 36 months: more than 20 values, so 20 points between the 5th and 95th percentile,
    // rounded to whole months as the column holds them.
    assert_eq!(pd[0]["grid_kind"], "percentiles", "{}", pd[0]["grid"]);
    assert_eq!(pd[1]["grid_kind"], "categories");
    assert_eq!(pd[1]["grid"].as_array().unwrap().len(), 20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(root.join(".venv-exporters/bin/python"))
        .arg(root.join("tools/dependence_reference.py"))
        .args(["--record", out.to_str().unwrap(), "--dataset", data.to_str().unwrap()])
        .env("SANDKASSE_BIN", env!("CARGO_BIN_EXE_sandkasse"))
        .current_dir(root)
        .output()
        .expect("the exporters' Python (bash scripts/exporters.sh)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{said}");
    assert!(said.contains("byte-identical"), "{said}");
}

/// Explanation options that could only fail at the end are refused before a worker starts, with
/// the columns that would be right, and nothing is written.
#[test]
fn a_dependence_column_the_model_does_not_read_is_refused_before_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let e = evaluate(
        &[
            "--scenario",
            "unemployment-risk",
            "--rows",
            "500000",
            "--explain-dependence",
            "months_employd_3y",
        ],
        &out,
    )
    .unwrap_err();
    assert!(
        e.contains("partial dependence of \"months_employd_3y\": the model does not read it")
            && e.contains("months_employed_3y"),
        "{e}"
    );
    assert!(!e.contains("rows scored"), "{e}");
    assert!(!out.exists());
    // Before the dataset is even read: a missing file is not what is reported first.
    let e = evaluate(
        &[
            "--dataset",
            "/nonexistent/test.parquet",
            "--explain-dependence",
            "months_employd_3y",
        ],
        &out,
    )
    .unwrap_err();
    assert!(e.contains("the model does not read it"), "{e}");
}

/// Issue 16's shift grid. The gradient-boosted model reads the municipality, a proxy for origin;
/// the logistic regression does not. With the run's own setting at proxy strength 0, the grid's
/// point at 2 is the same citizens living where stronger segregation puts them: the gbm's
/// disparate impact by origin moves (the non-Western immigrants' ratio of unfavourable decisions
/// to the Danes' grows, so the favourable ratio falls) with a paired interval that excludes 0,
/// while the logistic regression's decisions do not change at all (change 0, interval [0, 0]).
/// Along the label-bias axis the decisions and the truth stay, so accuracy against the true
/// outcome does not move while accuracy against the recorded outcome falls. A criterion bounds
/// the drop of accuracy against the true outcome from proxy strength 0 to 2. The gbm's points are
/// checked against `tools/shift_reference.py` (each population regenerated from its spec, scored
/// by ONNX Runtime's Python API).
#[test]
fn the_shift_grid_moves_the_disparity_of_the_model_that_reads_the_municipality_and_not_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let criteria = dir.path().join("criteria.toml");
    std::fs::write(
        &criteria,
        "[[criterion]]\nmetric = \"accuracy_true\"\nop = \"<=\"\nthreshold = 0.05\n\
         shift = { axis = \"proxy_strength\", from = 0, to = 2 }\n\n\
         [[criterion]]\nmetric = \"accuracy\"\nop = \"<=\"\nthreshold = 0.0\n\
         shift = { axis = \"label_rate\", from = 0, to = 0.3 }\n",
    )
    .unwrap();
    let run = |model: &str, axes: &str| {
        let out = dir.path().join(format!("{model}.json"));
        let o = sandkasse(&[
            "evaluate",
            "--model",
            &format!("models/unemployment-{model}.onnx"),
            "--manifest",
            &format!("models/unemployment-{model}.toml"),
            "--scenario",
            "unemployment-risk",
            "--rows",
            "4000",
            "--seed",
            "1",
            "--bias",
            "proxy_strength=0",
            "--bootstrap",
            "300",
            "--no-robustness",
            "--no-paths",
            "--no-explain",
            "--shift",
            "--shift-rows",
            "200000",
            "--shift-axes",
            axes,
            "--criteria",
            criteria.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&out).unwrap()).unwrap()
    };
    let point = |r: &serde_json::Value, axis: &str, value: serde_json::Value| {
        r["robustness"]["shift"]["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["axis"] == axis && p["value"] == value)
            .unwrap_or_else(|| panic!("no point {axis} = {value}"))
            .clone()
    };
    let di = |p: &serde_json::Value, group: &str| {
        p["change"]["disparate_impact"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["attribute"] == "origin" && g["group"] == group)
            .unwrap_or_else(|| panic!("no change for {group}: {p}"))
            .clone()
    };

    let gbm = run("gbm", "proxy_strength,label_rate");
    let p2 = point(&gbm, "proxy_strength", 2.0.into());
    assert_eq!(p2["spec"]["bias"]["proxy_strength"], 2.0);
    assert_eq!(p2["spec"]["rows"], 200000);
    assert_eq!(p2["change"]["from"], 0.0);
    assert!(point(&gbm, "proxy_strength", 0.0.into())["baseline"] == true);
    let nw = di(&p2, "immigrant_non_western");
    let [lo, hi] = [
        nw["change"]["interval"][0].as_f64().unwrap(),
        nw["change"]["interval"][1].as_f64().unwrap(),
    ];
    assert!(
        nw["change"]["value"].as_f64().unwrap() > 0.0 && lo > 0.0,
        "the gbm's disparity moves: {nw}"
    );
    assert!(
        nw["to"].as_f64().unwrap() > nw["from"].as_f64().unwrap() && hi > lo,
        "{nw}"
    );
    assert!(p2["change"]["decisions_changed"].as_u64().unwrap() > 0);
    // Label bias changes what was recorded, not who the citizens are nor what the model decides.
    let l3 = point(&gbm, "label_rate", 0.3.into());
    assert_eq!(l3["change"]["decisions_changed"], 0, "{l3}");
    assert_eq!(l3["change"]["accuracy_true"]["value"], 0.0);
    assert!(l3["change"]["accuracy"]["interval"][1].as_f64().unwrap() < 0.0, "{l3}");
    let verdicts = gbm["verdicts"].as_array().unwrap();
    assert_eq!(verdicts[0]["verdict"], "pass", "{}", verdicts[0]);
    assert!(
        verdicts[0]["group"].as_str().unwrap().contains("the same citizens"),
        "{}",
        verdicts[0]
    );
    // Accuracy against the recorded outcome falls from label rate 0 to 0.3: its drop is above 0.
    assert_eq!(verdicts[1]["verdict"], "fail", "{}", verdicts[1]);
    assert!(verdicts[1]["interval"][0].as_f64().unwrap() > 0.0, "{}", verdicts[1]);

    // Every point on the paired axes regenerated from its own spec by `sandkasse generate` and
    // scored by ONNX Runtime's Python API gives the record's numbers.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(root.join(".venv-exporters/bin/python"))
        .arg(root.join("tools/shift_reference.py"))
        .args(["--record", dir.path().join("gbm.json").to_str().unwrap()])
        .args(["--sandkasse", env!("CARGO_BIN_EXE_sandkasse")])
        .args([
            "--model",
            "models/unemployment-gbm.onnx",
            "--manifest",
            "models/unemployment-gbm.toml",
        ])
        .current_dir(root)
        .output()
        .expect("the exporters' Python (bash scripts/exporters.sh)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && said.contains("shift numbers equal the reference"),
        "{said}"
    );

    let logreg = run("logreg", "proxy_strength,label_rate");
    let p2 = point(&logreg, "proxy_strength", 2.0.into());
    assert_eq!(
        p2["change"]["decisions_changed"], 0,
        "the logistic regression reads no municipality"
    );
    // No drop at all is written 0, not -0.
    let v = &logreg["verdicts"][0];
    assert_eq!(serde_json::to_string(&v["value"]).unwrap(), "0.0", "{v}");
    assert_eq!(v["verdict"], "pass", "{v}");
    for g in p2["change"]["disparate_impact"].as_array().unwrap() {
        assert_eq!(g["change"]["value"], 0.0, "{g}");
        assert_eq!(g["change"]["interval"], serde_json::json!([0.0, 0.0]), "{g}");
    }
}

/// A criterion on the shift grid is refused before any scoring when the run does not evaluate
/// the grid, when its axis is left out, or when a point is not on the axis.
#[test]
fn a_shift_criterion_the_grid_cannot_answer_is_refused_before_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let criteria = dir.path().join("criteria.toml");
    let refused = |bound: &str, extra: &[&str]| {
        std::fs::write(
            &criteria,
            format!("[[criterion]]\nmetric = \"accuracy_true\"\nop = \"<=\"\nthreshold = 0.05\nshift = {bound}\n"),
        )
        .unwrap();
        let mut args = vec![
            "--scenario",
            "unemployment-risk",
            "--rows",
            "2000",
            "--criteria",
            criteria.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        evaluate(&args, &out).expect_err("refused")
    };
    let e = refused("{ axis = \"proxy_strength\", from = 1, to = 2 }", &[]);
    assert!(
        e.contains("does not evaluate the shift grid") && e.contains("--shift"),
        "{e}"
    );
    let e = refused(
        "{ axis = \"proxy_strength\", from = 1, to = 2 }",
        &["--shift", "--shift-axes", "region"],
    );
    assert!(e.contains("leaves out"), "{e}");
    let e = refused("{ axis = \"proxy_strength\", from = 1, to = 1.5 }", &["--shift"]);
    assert!(
        e.contains("not a point of the proxy_strength axis") && e.contains("0, 1, 2"),
        "{e}"
    );
    let e = refused("{ axis = \"region\", from = \"all\", to = \"Atlantis\" }", &["--shift"]);
    assert!(e.contains("Region Nordjylland"), "{e}");
    let e = refused("{ axis = \"region\", from = 1, to = 2 }", &["--shift"]);
    assert!(e.contains("region's name"), "{e}");
    assert!(!out.exists());
}

/// Issue 18: the eldercare regressor and classifier end to end through `sandkasse evaluate` on a test
/// split read from Parquet. Every number of the record's report — overall and per group of sex and
/// origin, against the recorded and the true outcome — equals an independent recomputation
/// (`tools/task_reference.py`: ONNX Runtime's Python API and scikit-learn's metric functions, as
/// fairlearn's MetricFrame uses them); the report is the same with one worker and with two and another
/// batch size; the Markdown and the HTML (Danish and English) carry it; what this task cannot do yet
/// (criteria) is refused, not ignored.
#[test]
fn the_eldercare_regressor_and_classifier_are_judged_per_group_as_scikit_learn_computes_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("eldercare.parquet");
    let o = sandkasse(&[
        "generate",
        "--scenario",
        "eldercare-visitation",
        "--rows",
        "20000",
        "--seed",
        "5",
        "--split",
        "test",
        "--quiet",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (model, task) in [
        ("eldercare-hours-gbm", "regression"),
        ("eldercare-level-logreg", "multiclass"),
    ] {
        let onnx = format!("models/{model}.onnx");
        let toml = format!("models/{model}.toml");
        let run = |name: &str, extra: &[&str]| -> Result<serde_json::Value, String> {
            let out = dir.path().join(format!("{model}-{name}.json"));
            let mut args = vec![
                "evaluate",
                "--model",
                &onnx,
                "--manifest",
                &toml,
                "--dataset",
                data.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ];
            args.extend_from_slice(extra);
            let o = sandkasse(&args);
            if !o.status.success() {
                return Err(String::from_utf8_lossy(&o.stderr).into_owned());
            }
            Ok(serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap())
        };
        let md = dir.path().join(format!("{model}.md"));
        let html_da = dir.path().join(format!("{model}.da.html"));
        let one = run(
            "one",
            &[
                "--md",
                md.to_str().unwrap(),
                "--html",
                html_da.to_str().unwrap(),
                "--lang",
                "da",
            ],
        )
        .unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(one["schema_version"], 3);
        assert_eq!(one["report"]["task"], task, "{model}");
        assert_eq!(one["report"]["recorded"]["rows"], 20000);
        assert_eq!(one["provenance"]["manifest"]["output"]["task"], task);
        // The sample models read their own rows only.
        assert_eq!(
            one["report"]["stability"]["stable"], true,
            "{model}: {}",
            one["report"]["stability"]
        );
        // The reference recomputes every number from the file and the model alone.
        let record = dir.path().join(format!("{model}-one.json"));
        let o = Command::new(root.join(".venv-exporters/bin/python"))
            .arg(root.join("tools/task_reference.py"))
            .args([
                "--record",
                record.to_str().unwrap(),
                "--dataset",
                data.to_str().unwrap(),
            ])
            .args(["--model", &onnx, "--manifest", &toml])
            .current_dir(root)
            .output()
            .expect("the exporters' Python (bash scripts/exporters.sh)");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success() && said.contains("numbers equal"), "{model}: {said}");
        // Source batches merge in the data's order: workers and batch size change nothing.
        let two = run("two", &["--workers", "2", "--batch-rows", "777"]).unwrap();
        // (The stability check scores the first request again, whose size is the batch size.)
        let without_stability = |r: &serde_json::Value| {
            let mut r = r["report"].clone();
            r.as_object_mut().unwrap().remove("stability");
            r
        };
        assert!(
            without_stability(&one) == without_stability(&two),
            "{model}: the report depends on the workers"
        );
        assert_eq!(two["report"]["stability"]["checks"][0]["rows"], 777);
        // Nor does the dataset's form: the same citizens generated for the run report alike (a file's
        // dictionaries ordered the groups otherwise).
        let generated = dir.path().join(format!("{model}-generated.json"));
        let o = sandkasse(&[
            "evaluate",
            "--model",
            &onnx,
            "--manifest",
            &toml,
            "--scenario",
            "eldercare-visitation",
            "--rows",
            "20000",
            "--seed",
            "5",
            "--out",
            generated.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let generated: serde_json::Value = serde_json::from_slice(&std::fs::read(&generated).unwrap()).unwrap();
        assert!(
            generated["report"] == one["report"],
            "{model}: the report depends on whether the rows were generated or read from a file"
        );
        let md = std::fs::read_to_string(&md).unwrap();
        let html = std::fs::read_to_string(&html_da).unwrap();
        assert!(
            md.contains("against the recorded outcome") && md.contains("Not computed for this task yet"),
            "{md}"
        );
        assert!(
            html.contains("Mål pr. gruppe") && html.contains("<svg"),
            "{model}: Danish HTML"
        );
        if task == "regression" {
            assert!(
                md.contains("# Regression report") && md.contains("mean_absolute_error"),
                "{md}"
            );
            // The records under-state non-Western citizens' needs (default bias down 15 %): their
            // recorded mean is further below their true mean than Danish citizens'.
            let mean = |which: &str, group: &str| {
                one["report"][which]["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["attribute"] == "origin")
                    .unwrap()["groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|g| g["group"] == group)
                    .unwrap()["metrics"]["mean_outcome"]["value"]
                    .as_f64()
                    .unwrap()
            };
            let ratio = |g: &str| mean("recorded", g) / mean("truth", g);
            assert!(
                ratio("immigrant_non_western") < ratio("danish") - 0.1,
                "{} vs {}",
                ratio("immigrant_non_western"),
                ratio("danish")
            );
            assert!(html.contains("Gns. fejl (bias)"), "Danish metric names");
            // Means of hours are placed on an axis that reaches them (an axis of rates pinned them
            // all at its end).
            let xs: std::collections::BTreeSet<&str> = html
                .split("<circle cx=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .collect();
            assert!(xs.len() >= 10, "{xs:?}");
        } else {
            assert!(md.contains("# Multi-class report") && md.contains("| heavy |"), "{md}");
            let classes: Vec<&str> = one["report"]["recorded"]["classes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            // The scenario's order, though the model lists its classes alphabetically.
            assert_eq!(classes, ["none", "light", "medium", "heavy"]);
        }
        let html_en = dir.path().join(format!("{model}.en.html"));
        run("en", &["--html", html_en.to_str().unwrap(), "--lang", "en"]).unwrap();
        assert!(std::fs::read_to_string(&html_en).unwrap().contains("Metrics by group"));
        // Criteria on these tasks are not judged yet: refused before anything runs.
        let criteria = dir.path().join("criteria.toml");
        std::fs::write(
            &criteria,
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"disparate_impact\"\nagainst = \"reference\"\nop = \">=\"\nthreshold = 0.8\n",
        )
        .unwrap();
        let e = run("criteria", &["--criteria", criteria.to_str().unwrap()]).unwrap_err();
        assert!(
            e.contains(&format!("acceptance criteria are not available for {task} models yet")),
            "{e}"
        );
    }
}

/// A dataset file may carry columns the scenario does not have; one named as a column the run adds
/// itself (`age_band`, a yes/no model's `decision`, a regression or multi-class model's `prediction`)
/// was read in place of the run's own — a `decision` column copying the outcome gave any model
/// perfect accuracy. Refused, naming the column, for both kinds of run.
#[test]
fn a_dataset_column_named_as_one_the_run_adds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (scenario, model, column, groups) in [
        ("eldercare-visitation", "eldercare-level-logreg", "age_band", vec![]),
        (
            "eldercare-visitation",
            "eldercare-level-logreg",
            "prediction",
            vec!["--group", "sex", "--group", "prediction"],
        ),
        (
            "unemployment-risk",
            "unemployment-logreg",
            "decision",
            vec!["--group", "sex", "--group", "decision"],
        ),
    ] {
        let csv = dir.path().join(format!("{scenario}-{column}.csv"));
        let o = sandkasse(&[
            "generate",
            "--scenario",
            scenario,
            "--rows",
            "2000",
            "--seed",
            "4",
            "--split",
            "test",
            "--quiet",
            "--out",
            csv.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{},{column}\n", lines.next().unwrap());
        for l in lines {
            out += &format!("{l},x\n");
        }
        std::fs::write(&csv, out).unwrap();
        let (onnx, toml) = (format!("models/{model}.onnx"), format!("models/{model}.toml"));
        let record = dir.path().join("r.json");
        let mut args = vec![
            "evaluate",
            "--model",
            &onnx,
            "--manifest",
            &toml,
            "--dataset",
            csv.to_str().unwrap(),
            "--out",
            record.to_str().unwrap(),
            "--quiet",
            "--no-explain",
            "--no-paths",
            "--no-robustness",
        ];
        args.extend_from_slice(&groups);
        let o = sandkasse(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{model} with a {column} column ran");
        assert!(
            err.contains(&format!(
                "the dataset has a column \"{column}\", which the run adds itself"
            )),
            "{err}"
        );
        assert!(!record.exists());
    }
}
