//! Live inference over the Open Inference Protocol (KServe V2 REST), through real HTTP.

mod service;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, UInt64Type};
use inference::manifest::Manifest;
use serde_json::{Value, json};
use service::{Data, Service};
use std::time::Duration;
use synth::{DatasetSpec, Generator, Split};

const MODELS: &[&str] = &[
    "unemployment-logreg",
    "unemployment-logreg-zipmap",
    "unemployment-gbm",
    "unemployment-mlp",
    "rehabilitation-logreg",
    "rehabilitation-gbm",
];

/// The reference rows (the test split the Python references were made on), as JSON columns.
fn reference_columns(
    manifest: &Manifest,
    scenario: &str,
    rows: u64,
    seed: u64,
) -> (Vec<u64>, Vec<(String, Vec<Value>)>) {
    let mut spec = DatasetSpec::new(scenario, rows, seed).unwrap();
    spec.split = Split::Test;
    let g = Generator::new(spec).unwrap();
    let mut ids = Vec::new();
    let mut cols: Vec<(String, Vec<Value>)> = manifest
        .columns()
        .iter()
        .map(|c| ((*c).to_owned(), Vec::new()))
        .collect();
    for b in 0..g.num_batches() {
        let batch: RecordBatch = g.batch(b);
        ids.extend(
            batch
                .column_by_name("person_id")
                .unwrap()
                .as_primitive::<UInt64Type>()
                .values()
                .iter(),
        );
        for (name, out) in &mut cols {
            let a = batch.column_by_name(name).unwrap();
            match a.data_type() {
                DataType::Dictionary(_, _) | DataType::Utf8 => {
                    let s = arrow::compute::cast(a, &DataType::Utf8).unwrap();
                    let s = s.as_string::<i32>();
                    out.extend((0..s.len()).map(|i| json!(s.value(i))));
                }
                DataType::Boolean => {
                    let b = a.as_boolean();
                    out.extend((0..b.len()).map(|i| json!(b.value(i))));
                }
                _ => {
                    let f = arrow::compute::cast(a, &DataType::Float64).unwrap();
                    out.extend(
                        f.as_primitive::<arrow::datatypes::Float64Type>()
                            .values()
                            .iter()
                            .map(|v| json!(v)),
                    );
                }
            }
        }
    }
    (ids, cols)
}

/// An inference request for rows `from..to`.
fn request(manifest: &Manifest, cols: &[(String, Vec<Value>)], from: usize, to: usize) -> Value {
    let inputs = server::serving::column_inputs(manifest);
    let tensors: Vec<Value> = cols
        .iter()
        .map(|(name, values)| {
            let text = inputs.iter().find(|c| &c.name == name).unwrap().text;
            let datatype = if text {
                "BYTES"
            } else if values[0].is_boolean() {
                "BOOL"
            } else {
                "FP64"
            };
            json!({"name": name, "shape": [to - from], "datatype": datatype, "data": values[from..to]})
        })
        .collect();
    json!({"id": format!("rows {from}..{to}"), "inputs": tensors})
}

struct Setup {
    data: Data,
    server: Service,
    vendor: String,
    other: String,
    case: String,
}

fn setup(extra: &[&str]) -> Setup {
    let data = Data::sqlite();
    let authority = data.add_user("Authority", "authority", "a");
    let vendor = data.add_user("Vendor", "vendor", "v");
    let other = data.add_user("Other vendor", "vendor", "o");
    let server = data.start(extra);
    let r = server
        .client(Some(&authority))
        .post("/api/v1/cases", &json!({"name": "live", "members": ["Vendor"]}));
    let case = r.json()["id"].as_str().unwrap().to_owned();
    Setup {
        data,
        server,
        vendor,
        other,
        case,
    }
}

fn upload(s: &Setup, stem: &str) -> String {
    let r = s.server.client(Some(&s.vendor)).upload_files(&s.case, stem);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn answers_equal_onnxruntime_python_for_every_sample_model() {
    let s = setup(&[]);
    let vendor = s.server.client(Some(&s.vendor));
    for stem in MODELS {
        let id = upload(&s, stem);
        let manifest =
            Manifest::parse(&std::fs::read_to_string(service::models_dir().join(format!("{stem}.toml"))).unwrap())
                .unwrap();
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(service::models_dir().join(format!("reference/{stem}.json"))).unwrap(),
        )
        .unwrap();
        let d = &reference["dataset"];
        let (ids, cols) = reference_columns(
            &manifest,
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
        assert_eq!(ids, want_ids, "{stem}: not the reference rows");
        let meta = vendor.get(&format!("/v2/models/{id}"));
        assert_eq!(meta.status, 200, "{}", meta.text());
        let inputs: Vec<String> = meta.json()["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(inputs, manifest.columns(), "{stem}: metadata inputs");
        let (mut labels, mut probs) = (Vec::new(), Vec::new());
        let n = ids.len();
        let mut from = 0;
        while from < n {
            let to = (from + 700).min(n);
            let r = vendor.post(&format!("/v2/models/{id}/infer"), &request(&manifest, &cols, from, to));
            assert_eq!(r.status, 200, "{stem}: {}", r.text());
            let answer = r.json();
            assert_eq!(answer["id"], format!("rows {from}..{to}"));
            assert_eq!(answer["model_name"], id.as_str());
            for o in answer["outputs"].as_array().unwrap() {
                assert_eq!(o["shape"], json!([to - from]));
                match o["name"].as_str().unwrap() {
                    "label" => labels.extend(o["data"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap())),
                    "probability" => probs.extend(o["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap())),
                    other => panic!("{other}"),
                }
            }
            from = to;
        }
        let want_labels: Vec<i64> = reference["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(
            labels, want_labels,
            "{stem}: labels differ from onnxruntime's Python API"
        );
        let worst = probs
            .iter()
            .zip(reference["probability"].as_array().unwrap())
            .map(|(a, b)| (a - b.as_f64().unwrap()).abs())
            .fold(0.0, f64::max);
        assert_eq!(probs.len(), n);
        assert!(worst <= 1e-6, "{stem}: probabilities differ by up to {worst}");
    }
}

#[test]
fn malformed_requests_get_the_protocols_error_and_leave_the_model_usable() {
    let s = setup(&[]);
    let id = upload(&s, "unemployment-gbm");
    let vendor = s.server.client(Some(&s.vendor));
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 50, 1);
    let good = request(&manifest, &cols, 0, 20);
    let path = format!("/v2/models/{id}/infer");
    let mut wrong_shape = good.clone();
    wrong_shape["inputs"][0]["shape"] = json!([19]);
    let mut wrong_type = good.clone();
    let text_at = good["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["datatype"] == "BYTES")
        .unwrap();
    wrong_type["inputs"][text_at]["datatype"] = json!("FP32");
    let mut not_numbers = good.clone();
    let num_at = good["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["datatype"] == "FP64")
        .unwrap();
    not_numbers["inputs"][num_at]["data"] = json!(vec!["x"; 20]);
    let mut missing = good.clone();
    let dropped = missing["inputs"].as_array_mut().unwrap().remove(0)["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut unknown = good.clone();
    unknown["inputs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "cpr", "shape": [20], "datatype": "BYTES", "data": vec!["x"; 20]}));
    let mut bad_output = good.clone();
    bad_output["outputs"] = json!([{"name": "secret"}]);
    let huge = 3 << 20;
    let cases: Vec<(&str, service::Resp, u16, String)> = vec![
        ("wrong shape", vendor.post(&path, &wrong_shape), 400, "values".into()),
        ("wrong datatype", vendor.post(&path, &wrong_type), 400, "BYTES".into()),
        (
            "not numbers",
            vendor.post(&path, &not_numbers),
            400,
            "finite numbers".into(),
        ),
        (
            "missing input",
            vendor.post(&path, &missing),
            400,
            format!("{dropped:?} is missing"),
        ),
        (
            "unknown input",
            vendor.post(&path, &unknown),
            400,
            "unexpected input \"cpr\"".into(),
        ),
        (
            "unknown output",
            vendor.post(&path, &bad_output),
            400,
            "unknown output".into(),
        ),
        (
            "not JSON",
            vendor.send("POST", &path, "application/json", b"{\"inputs\": ["),
            400,
            "not a valid inference request".into(),
        ),
        (
            "huge body",
            // Refused by its length alone, so only the length is sent.
            vendor.send_declared(&path, "application/json", huge),
            413,
            "size limit".into(),
        ),
        (
            "unknown model",
            vendor.post(&format!("/v2/models/{}/infer", "0".repeat(32)), &good),
            404,
            "unknown model".into(),
        ),
        (
            "wrong version",
            vendor.post(&format!("/v2/models/{id}/versions/9.9/infer"), &good),
            404,
            "no version".into(),
        ),
        (
            "other vendor",
            s.server.client(Some(&s.other)).post(&path, &good),
            404,
            "unknown model".into(),
        ),
        (
            "no token",
            s.server.client(None).post(&path, &good),
            401,
            "Bearer".into(),
        ),
    ];
    for (what, r, status, words) in &cases {
        assert_eq!(r.status, *status, "{what}: {}", r.text());
        let e = r.json()["error"].clone();
        assert!(e.as_str().is_some_and(|e| e.contains(words.as_str())), "{what}: {e}");
        // The model still answers.
        let ok = vendor.post(&path, &good);
        assert_eq!(ok.status, 200, "after {what}: {}", ok.text());
    }
    // Versioned paths, metadata, readiness and health.
    let version = manifest.version.clone();
    assert_eq!(
        vendor
            .post(&format!("/v2/models/{id}/versions/{version}/infer"), &good)
            .status,
        200
    );
    assert_eq!(
        vendor.get(&format!("/v2/models/{id}/versions/{version}")).json()["versions"],
        json!([version])
    );
    assert_eq!(vendor.get(&format!("/v2/models/{id}/ready")).json()["ready"], true);
    assert_eq!(
        vendor.get(&format!("/v2/models/{id}/versions/{version}/ready")).status,
        200
    );
    let public = s.server.client(None);
    assert_eq!(public.get("/v2/health/live").json(), json!({"live": true}));
    assert_eq!(public.get("/v2/health/ready").json(), json!({"ready": true}));
    assert_eq!(public.get("/v2").json()["name"], "sandkasse");
    // Live inference is not written to the audit log (it changes nothing).
    let m = public.get("/metrics").text();
    let line = |name: &str| {
        m.lines()
            .filter(|l| l.starts_with(name) && l.contains(&format!("model=\"{id}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    // 12 good requests between the bad ones and one versioned: 13 answered, 20 rows each;
    // 7 malformed and 1 oversized counted for the model; the rest (unknown, not visible,
    // no token) under "unknown".
    assert_eq!(line("sandkasse_inference_requests_total"), 13.0, "{m}");
    assert_eq!(line("sandkasse_inference_rows_total"), 260.0, "{m}");
    assert_eq!(line("sandkasse_inference_failures_total"), 8.0, "{m}");
    assert_eq!(line("sandkasse_inference_queue_seconds_count"), 13.0, "{m}");
    let unknown: f64 = m
        .lines()
        .filter(|l| l.starts_with("sandkasse_inference_failures_total{model=\"unknown\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(unknown, 4.0, "{m}");
    drop(s.data);
}

#[test]
fn concurrent_single_rows_are_batched_and_a_full_queue_answers_503_at_once() {
    let s = setup(&["--serving-queue", "4", "--serving-workers", "1"]);
    let id = upload(&s, "unemployment-gbm");
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 200, 2);
    let vendor = s.server.client(Some(&s.vendor));
    let path = format!("/v2/models/{id}/infer");
    assert_eq!(vendor.post(&path, &request(&manifest, &cols, 0, 1)).status, 200);
    // 64 clients, 20 single-row requests each, against one worker and a queue of 4.
    let handles: Vec<_> = (0..64)
        .map(|t| {
            let (vendor, path) = (vendor.clone(), path.clone());
            let body = request(&manifest, &cols, t, t + 1);
            std::thread::spawn(move || {
                (0..20)
                    .map(|_| {
                        let t0 = std::time::Instant::now();
                        let r = vendor.post(&path, &body);
                        (r.status, t0.elapsed(), r.json())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<(u16, Duration, Value)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let busy: Vec<&(u16, Duration, Value)> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!(
        ok + busy.len(),
        answers.len(),
        "only 200 and 503: {:?}",
        answers.iter().find(|a| a.0 != 200 && a.0 != 503)
    );
    assert!(ok > 0, "some requests were answered");
    assert!(!busy.is_empty(), "a queue of 4 overflows under 64 clients");
    assert!(
        busy.iter()
            .all(|b| b.2["error"].as_str().is_some_and(|e| e.contains("queue"))),
        "{:?}",
        busy[0]
    );
    // And the model is still usable afterwards.
    assert_eq!(vendor.post(&path, &request(&manifest, &cols, 0, 1)).status, 200);
}
