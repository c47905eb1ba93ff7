//! The vendor's path with the tools vendors use: scikit-learn with skl2onnx, XGBoost and LightGBM
//! with onnxmltools, and a PyTorch-style probability-only network, each trained on data
//! downloaded from the running server, exported with the exporter's defaults, uploaded without
//! a manifest (the server drafts it), scored through `/v2` and compared with ONNX Runtime's
//! Python API on the same rows (tests/exporters/exporters_roundtrip.py); then each model runs.

mod service;

use serde_json::{Value, json};
use service::Data;
use std::time::Duration;

#[test]
fn every_exporters_default_output_uploads_without_a_manifest_and_scores_as_onnxruntime() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-exporters/bin/python");
    let has = std::process::Command::new(&python)
        .args([
            "-c",
            "import skl2onnx, onnxmltools, xgboost, lightgbm, onnxruntime, pandas",
        ])
        .status();
    assert!(
        has.is_ok_and(|s| s.success()),
        "{} lacks the exporters: run `bash scripts/exporters.sh`",
        python.display()
    );
    let data = Data::sqlite();
    let authority = data.add_user("Authority", "authority", "a");
    let vendor = data.add_user("Vendor", "vendor", "v");
    let server = data.start(&[]);
    let r = server
        .client(Some(&authority))
        .post("/api/v1/cases", &json!({"name": "exporters", "members": ["Vendor"]}));
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let out = std::process::Command::new(&python)
        .arg(root.join("tests/exporters/exporters_roundtrip.py"))
        .args([
            "--url",
            server.base.trim_start_matches("http://"),
            "--token",
            &vendor,
            "--case",
            &case,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exporters_roundtrip.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    eprintln!("exporters: {figures}");
    let exporters = figures["exporters"].as_object().unwrap();
    assert_eq!(exporters.len(), 4, "{figures}");
    for (name, e) in exporters {
        assert!(e["worst"].as_f64().unwrap() <= 1e-6, "{name}: {e}");
        assert_eq!(e["rows"], 300, "{name}");
    }
    // skl2onnx from a data frame: one input per column, each of the column's own type.
    let skl = exporters["skl2onnx-pipeline"]["drafted"].as_array().unwrap();
    assert_eq!(skl.len(), 16, "{skl:?}");
    let dtype = |tensor: &str| {
        skl.iter()
            .find(|i| i["tensor"] == tensor)
            .map(|i| i["dtype"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        [dtype("age"), dtype("living_alone"), dtype("sector")],
        [Some("int64".into()), Some("bool".into()), Some("string".into())]
    );
    // The wide models: one float32 input built from the feature names.
    for name in ["xgboost-onnxmltools", "lightgbm-onnxmltools", "probability-only-mlp"] {
        let drafted = exporters[name]["drafted"].as_array().unwrap();
        assert_eq!(drafted.len(), 1, "{name}: {drafted:?}");
        assert_eq!(drafted[0]["dtype"], "float32", "{name}");
    }
    // Each model runs end to end on the test split.
    let client = server.client(Some(&vendor));
    for (name, e) in exporters {
        let r = client.post(
            "/api/v1/runs",
            &json!({"model_id": e["model"], "rows": 3000, "seed": 5}),
        );
        assert_eq!(r.status, 201, "{name}: {}", r.text());
        let run = client.wait_run(r.json()["id"].as_str().unwrap(), Duration::from_secs(300));
        assert_eq!(run["state"], "succeeded", "{name}: {run}");
    }
}
