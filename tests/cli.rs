//! End-to-end behaviour of `sandkasse generate` and `sandkasse scenarios` through the real
//! binary.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sandkasse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sandkasse"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> Output {
    let out = sandkasse(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn generate(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut args = vec!["generate", "--quiet", "--out", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(&args);
    path
}

/// Files in `dir` other than `keep`: a failed run must leave nothing behind.
fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn parquet_output_is_zstd_with_self_describing_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = generate(
        dir.path(),
        "u.parquet",
        &["--scenario", "unemployment-risk", "--rows", "70000", "--seed", "4"],
    );
    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 70_000);
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    let get = |k: &str| {
        kv.iter()
            .find(|e| e.key == k)
            .and_then(|e| e.value.clone())
            .unwrap_or_else(|| panic!("no {k}"))
    };
    assert_eq!(get("sandkasse.scenario"), "unemployment-risk");
    assert_eq!(get("sandkasse.seed"), "4");
    assert_eq!(get("sandkasse.generator_version"), env!("CARGO_PKG_VERSION"));
    let spec: serde_json::Value = serde_json::from_str(&get("sandkasse.spec")).unwrap();
    assert_eq!(spec["rows"], 70_000);
    assert_eq!(spec["bias"]["label_rate"], 0.1);
    let dictionary: serde_json::Value = serde_json::from_str(&get("sandkasse.data_dictionary")).unwrap();
    let names: Vec<&str> = dictionary
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"outcome_recorded") && names.contains(&"cpr"));
    for rg in meta.row_groups() {
        for col in rg.columns() {
            assert!(
                matches!(col.compression(), Compression::ZSTD(_)),
                "{}",
                col.column_path()
            );
        }
    }
    // Read back through Arrow: categorical columns come back dictionary-encoded.
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    assert!(matches!(
        builder.schema().field_with_name("origin").unwrap().data_type(),
        DataType::Dictionary(..)
    ));
    let rows: usize = builder.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 70_000);
}

#[test]
fn same_arguments_give_identical_bytes_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--scenario",
        "rehabilitation-need",
        "--rows",
        "150000",
        "--seed",
        "99",
        "--counterfactual",
        "sex",
    ];
    let one = generate(dir.path(), "a.parquet", &[&args[..], &["--threads", "1"]].concat());
    let two = generate(dir.path(), "b.parquet", &[&args[..], &["--threads", "2"]].concat());
    let four = generate(dir.path(), "c.parquet", &[&args[..], &["--threads", "4"]].concat());
    let bytes = fs::read(&one).unwrap();
    assert_eq!(bytes, fs::read(&two).unwrap());
    assert_eq!(bytes, fs::read(&four).unwrap());
    let other = generate(
        dir.path(),
        "d.parquet",
        &[
            "--scenario",
            "rehabilitation-need",
            "--rows",
            "150000",
            "--seed",
            "100",
            "--counterfactual",
            "sex",
        ],
    );
    assert_ne!(bytes, fs::read(other).unwrap());
    for fmt in ["csv", "arrow"] {
        let x = generate(
            dir.path(),
            &format!("x.{fmt}"),
            &[&args[..], &["--threads", "1"]].concat(),
        );
        let y = generate(
            dir.path(),
            &format!("y.{fmt}"),
            &[&args[..], &["--threads", "2"]].concat(),
        );
        assert_eq!(fs::read(x).unwrap(), fs::read(y).unwrap(), "{fmt}");
    }
}

#[test]
fn csv_and_arrow_outputs_carry_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let common = ["--scenario", "population", "--rows", "5000", "--seed", "1"];
    let csv = generate(dir.path(), "p.csv", &common);
    let ipc = generate(dir.path(), "p.arrow", &common);
    let text = fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("person_id,cpr,sex,birth_date,age,origin"),
        "{header}"
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(text.lines().count(), 5001);
    let sidecar: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("p.csv.meta.json")).unwrap()).unwrap();
    assert_eq!(sidecar["sandkasse.spec"]["rows"], 5000);
    let reader = arrow::ipc::reader::FileReader::try_new(File::open(&ipc).unwrap(), None).unwrap();
    assert_eq!(reader.schema().metadata()["sandkasse.scenario"], "population");
    let batch = reader.into_iter().next().unwrap().unwrap();
    assert_eq!(
        batch.column_by_name("cpr").unwrap().as_string::<i32>().value(0),
        first[1]
    );
    assert_eq!(batch.num_rows(), 5000);
    assert_eq!(batch.column_by_name("cpr").unwrap().null_count(), 0);
}

#[test]
fn report_compares_with_reference_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    let out = ok(&[
        "generate",
        "--quiet",
        "--scenario",
        "population",
        "--rows",
        "1000000",
        "--seed",
        "7",
        "--report",
        "--out",
        path.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    for section in [
        "region share",
        "municipality share",
        "age band x sex share",
        "origin share",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(section))
            .unwrap_or_else(|| panic!("no {section} in\n{text}"));
        assert!(line.ends_with("PASS"), "{line}");
    }
    assert!(text.contains("Ishøj") && text.contains("100+ F"));
}

#[test]
fn scenarios_lists_data_dictionaries() {
    let out = ok(&["scenarios", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "population",
            "unemployment-risk",
            "rehabilitation-need",
            "eldercare-visitation"
        ]
    );
    for s in v.as_array().unwrap() {
        let cols = s["columns"].as_array().unwrap();
        assert!(
            cols.iter()
                .all(|c| c["meaning"].as_str().is_some_and(|m| !m.is_empty()))
        );
        assert!(s["max_rows"].as_u64().unwrap() > 30_000_000);
    }
    let text = String::from_utf8(ok(&["scenarios"]).stdout).unwrap();
    assert!(text.contains("months_employed_3y") && text.contains("functional_score"));
}

#[test]
fn bad_arguments_fail_clearly_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad.parquet");
    let out_s = out.to_str().unwrap();
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, b"x").unwrap();
    let under_file = not_a_dir.join("x.parquet");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--scenario", "martians", "--rows", "10", "--out", out_s],
            "unknown scenario \"martians\"",
        ),
        (
            vec!["--scenario", "population", "--rows", "0", "--out", out_s],
            "--rows must be at least 1",
        ),
        (vec!["--scenario", "population", "--rows", "-5", "--out", out_s], "'-5'"),
        (
            vec!["--scenario", "population", "--rows", "ten", "--out", out_s],
            "invalid value 'ten'",
        ),
        (
            vec![
                "--scenario",
                "unemployment-risk",
                "--rows",
                "10",
                "--bias",
                "colour=red",
                "--out",
                out_s,
            ],
            "unknown bias key \"colour\"",
        ),
        (
            vec![
                "--scenario",
                "unemployment-risk",
                "--rows",
                "10",
                "--bias",
                "label_rate=2",
                "--out",
                out_s,
            ],
            "label_rate=\"2\"",
        ),
        (
            vec![
                "--scenario",
                "unemployment-risk",
                "--rows",
                "10",
                "--bias",
                "label_group=origin:x",
                "--out",
                out_s,
            ],
            "unknown origin \"x\"",
        ),
        (
            vec![
                "--scenario",
                "population",
                "--rows",
                "10",
                "--bias",
                "label_rate=0.1",
                "--out",
                out_s,
            ],
            "no outcome",
        ),
        (
            vec![
                "--scenario",
                "population",
                "--rows",
                "10",
                "--counterfactual",
                "shoe_size",
                "--out",
                out_s,
            ],
            "\"shoe_size\"",
        ),
        (
            vec!["--scenario", "population", "--rows", "999999999999", "--out", out_s],
            "at most",
        ),
        (
            vec!["--scenario", "population", "--rows", "10", "--out", "x.xlsx"],
            ".xlsx",
        ),
        (
            vec![
                "--scenario",
                "population",
                "--rows",
                "10",
                "--out",
                under_file.to_str().unwrap(),
            ],
            "Not a directory",
        ),
        (
            vec![
                "--scenario",
                "population",
                "--rows",
                "10",
                "--out",
                dir.path().to_str().unwrap(),
            ],
            "is a directory",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["generate", "--quiet"];
        full.extend(&args);
        let o = sandkasse(&full);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in {stderr}");
        assert_eq!(leftovers(dir.path()), vec!["file".to_owned()], "{args:?} left files");
    }
    // A run that fails validation creates no directories; a good run creates the missing ones.
    let nested = dir.path().join("a/b/c.parquet");
    let o = sandkasse(&[
        "generate",
        "--quiet",
        "--scenario",
        "population",
        "--rows",
        "10",
        "--counterfactual",
        "x",
        "--out",
        nested.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(!dir.path().join("a").exists());
    generate(
        dir.path(),
        "a/b/c.parquet",
        &["--scenario", "population", "--rows", "10"],
    );
    assert!(nested.is_file());
    // An existing good file is not touched by a failing run aimed at it.
    let good = generate(
        dir.path(),
        "good.parquet",
        &["--scenario", "population", "--rows", "100"],
    );
    let before = fs::read(&good).unwrap();
    let o = sandkasse(&[
        "generate",
        "--quiet",
        "--scenario",
        "population",
        "--rows",
        "100",
        "--bias",
        "nope",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(fs::read(&good).unwrap(), before);
}

#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.parquet");
    let child = Command::new(env!("CARGO_BIN_EXE_sandkasse"))
        .args([
            "generate",
            "--quiet",
            "--scenario",
            "population",
            "--rows",
            "50000000",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary file exists, i.e. writing has begun.
    let started = std::time::Instant::now();
    while leftovers(dir.path()).is_empty() {
        assert!(started.elapsed().as_secs() < 30, "no temporary file appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cancelled"));
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

#[test]
fn an_unknown_isolation_layer_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = sandkasse(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
        "--allow-missing-isolation",
        "landlock,bogus",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown isolation layer \"bogus\"") && err.contains("the layers are: close_fds"),
        "{err}"
    );
    assert!(!data.exists(), "a refused start created its data directory");
}

/// `manifest draft` on the shipped sample models: given the training frame's column names of
/// their wide input (here spelled out from the committed manifest: `age`, ..., `sex_F`,
/// `sex_M`, ...), the draft rebuilds the committed manifest's inputs and outputs exactly;
/// without them it names the wide input and what to give, and writes nothing to stdout.
#[test]
fn manifest_draft_rebuilds_the_sample_manifests_from_the_models() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for name in ["unemployment-gbm", "unemployment-logreg", "rehabilitation-logreg"] {
        let model = root.join(format!("{name}.onnx"));
        let committed =
            inference::Manifest::parse(&fs::read_to_string(root.join(format!("{name}.toml"))).unwrap()).unwrap();
        let wide = committed.inputs.iter().find(|i| i.columns.len() > 1).unwrap();
        let names: Vec<String> = wide
            .columns
            .iter()
            .flat_map(|c| match &c.one_hot {
                None => vec![c.column.clone()],
                Some(cats) => cats.iter().map(|v| format!("{}_{v}", c.column)).collect(),
            })
            .collect();
        let out = ok(&[
            "manifest",
            "draft",
            "--model",
            model.to_str().unwrap(),
            "--scenario",
            &committed.scenario,
            "--name",
            &committed.name,
            "--version",
            &committed.version,
            "--feature-names",
            &names.join(","),
        ]);
        let drafted = inference::Manifest::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
        assert_eq!(drafted.inputs, committed.inputs, "{name}");
        assert_eq!(drafted.output, committed.output, "{name}");

        let out = sandkasse(&[
            "manifest",
            "draft",
            "--model",
            model.to_str().unwrap(),
            "--scenario",
            &committed.scenario,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "{name}: {err}");
        assert!(
            err.contains(&format!("input {:?}: it takes {} columns", wide.tensor, names.len()))
                && err.contains("--feature-names"),
            "{name}: {err}"
        );
    }
}

/// An analyst's own scenario through the binary: start from a shipped module, rename it, draw
/// from it (the spec in the file records its SHA-256); a broken edit is refused with its place
/// and nothing is written.
#[test]
fn a_scenario_module_file_is_checked_and_generated_from() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = String::from_utf8(ok(&["scenarios", "--source", "rehabilitation-need"]).stdout).unwrap();
    let mine = shipped.replacen("name = \"rehabilitation-need\"", "name = \"my-rehab\"", 1);
    let module = dir.path().join("my-rehab.toml");
    fs::write(&module, &mine).unwrap();
    let described: serde_json::Value =
        serde_json::from_slice(&ok(&["scenarios", "--json", "--file", module.to_str().unwrap()]).stdout).unwrap();
    let sha = described[0]["module_sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha.len(), 64);
    let path = generate(
        dir.path(),
        "mine.parquet",
        &[
            "--scenario-file",
            module.to_str().unwrap(),
            "--rows",
            "3000",
            "--seed",
            "2",
        ],
    );
    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let kv = reader.metadata().file_metadata().key_value_metadata().unwrap().clone();
    let spec = kv
        .iter()
        .find(|k| k.key == "sandkasse.spec")
        .unwrap()
        .value
        .clone()
        .unwrap();
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["scenario"], "my-rehab");
    assert_eq!(spec["module"], sha.as_str());

    let broken = mine.replacen(
        "0.45 * min(falls_12m, 3)",
        "0.45 * min(falls_12m, 3) / hospital_days_12m",
        1,
    );
    fs::write(&module, &broken).unwrap();
    let line = broken[..broken.find("/ hospital_days_12m").unwrap()]
        .matches('\n')
        .count()
        + 1;
    let out = sandkasse(&[
        "generate",
        "--scenario-file",
        module.to_str().unwrap(),
        "--rows",
        "10",
        "--out",
        dir.path().join("no.parquet").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("my-rehab.toml:{line}:")) && err.contains("can divide by zero"),
        "{err}"
    );
    assert!(!dir.path().join("no.parquet").exists());
}
