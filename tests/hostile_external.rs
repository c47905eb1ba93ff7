//! Every model of `models/hostile/external/` (one per place an ONNX tensor can keep its data in
//! a file, written by `models/hostile/make_external_data.py`) is refused at every door, naming
//! the path to the tensor: by `sandkasse inspect`, by an upload to the service, and by the
//! worker itself when the model is forced on it past inspection.

mod service;

use inference::{Manifest, Worker, WorkerArgs, WorkerConfig};
use serde_json::json;
use service::Data;
use std::path::PathBuf;
use std::time::Duration;

/// One generated model, the rule that must refuse it and the path that must be named
/// (`expected.json`, written by the generator from where it put the tensor).
struct Expected {
    file: String,
    rule: serde_json::Value,
    path: String,
}

fn dir() -> PathBuf {
    service::models_dir().join("hostile/external")
}

fn expected() -> Vec<Expected> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir().join("expected.json")).unwrap()).unwrap();
    let all: Vec<Expected> = v["model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Expected {
            file: m["file"].as_str().unwrap().to_owned(),
            rule: m["rule"].clone(),
            path: m["path"].as_str().unwrap().to_owned(),
        })
        .collect();
    assert!(all.len() >= 15, "{} models", all.len());
    all
}

fn manifest_bytes() -> Vec<u8> {
    std::fs::read(dir().join("manifest.toml")).unwrap()
}

#[test]
fn sandkasse_inspect_refuses_each_naming_the_place() {
    for e in expected() {
        let o = service::sandkasse()
            .args(["inspect", "--model"])
            .arg(dir().join(&e.file))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{}: accepted\n{stderr}", e.file);
        assert!(
            stderr.contains(&e.path),
            "{}: does not name {}:\n{stderr}",
            e.file,
            e.path
        );
        // The JSON output carries the rule.
        let o = service::sandkasse()
            .args(["inspect", "--json", "--model"])
            .arg(dir().join(&e.file))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{}", e.file);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule"] == e.rule && f["location"] == e.path.as_str()),
            "{}: {v:#}",
            e.file
        );
    }
}

#[test]
fn a_forced_worker_refuses_each_before_onnx_runtime_sees_it() {
    let config = WorkerConfig {
        program: PathBuf::from(env!("CARGO_BIN_EXE_sandkasse")),
        args: WorkerArgs {
            onnxruntime: inference::locate_runtime().expect("run `bash scripts/setup.sh` first"),
            sandbox: inference::SandboxConfig {
                address_space_bytes: 1024 << 20,
                ..inference::SandboxConfig::default()
            },
            threads: 1,
            allow_probes: false,
            parent_pid: None,
            disable_layers: Default::default(),
        },
        load_timeout: Duration::from_secs(30),
        batch_timeout: Duration::from_secs(5),
        allow_missing: Default::default(),
    };
    let manifest = Manifest::parse(&String::from_utf8(manifest_bytes()).unwrap()).unwrap();
    let mut worker = Worker::spawn(&config).unwrap();
    for e in expected() {
        let bytes = std::fs::read(dir().join(&e.file)).unwrap();
        // No inspection here: the worker is handed the bytes as a bug in the parent would.
        let err = worker
            .load(&bytes, &manifest)
            .expect_err(&format!("{}: the worker loaded it", e.file))
            .to_string();
        assert!(
            err.contains("the worker refuses the model") && err.contains(&e.path),
            "{}: {err}",
            e.file
        );
    }
    // The same worker still loads a good model: a refusal is an answer, not a crash.
    let good = std::fs::read(service::models_dir().join("unemployment-logreg.onnx")).unwrap();
    let m = Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-logreg.toml")).unwrap())
        .unwrap();
    worker.load(&good, &m).unwrap();
}

#[test]
fn an_upload_of_each_is_refused_naming_the_place_and_nothing_is_stored() {
    let data = Data::sqlite();
    let authority = data.add_user("Styrelsen for Arbejdsmarked og Rekruttering", "authority", "Anna");
    let vendor = data.add_user("Nordlys Analytics", "vendor", "Niels");
    let server = data.start(&[]);
    let r = server
        .client(Some(&authority))
        .post("/api/v1/cases", &json!({"name": "c", "members": ["Nordlys Analytics"]}));
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let vendor = server.client(Some(&vendor));
    let manifest = manifest_bytes();
    for e in expected() {
        let bytes = std::fs::read(dir().join(&e.file)).unwrap();
        let r = vendor.upload(&case, &bytes, &manifest);
        assert_eq!(r.status, 422, "{}: {}", e.file, r.text());
        assert_eq!(r.code(), "model_rejected", "{}", e.file);
        let details = r.json()["error"]["details"].clone();
        assert!(
            details
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d.as_str().is_some_and(|d| d.starts_with(&format!("{}: ", e.path)))),
            "{}: {details:#}",
            e.file
        );
    }
    let r = vendor.get(&format!("/api/v1/cases/{case}/models"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().as_array().unwrap().len(), 0, "{}", r.text());
}
