//! Live inference over the Open Inference Protocol (KServe V2 REST), through real HTTP.

mod service;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, UInt64Type};
use inference::Manifest;
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

const METRICS_TOKEN: &str = "metrics-token-for-tests";

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
    let s = setup(&["--metrics-token", METRICS_TOKEN]);
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
    let m = s.server.client(Some(METRICS_TOKEN)).get("/metrics").text();
    let line = |name: &str| {
        m.lines()
            .filter(|l| l.starts_with(name) && l.contains(&format!("model=\"{id}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    // 12 good requests between the bad ones and one versioned: 13 answered, 20 rows each;
    // 7 malformed and 1 oversized counted for the model; the rest (unknown, not visible,
    // no token) under "unknown".
    assert_eq!(line("sandkasse_model_inference_requests_total"), 13.0, "{m}");
    assert_eq!(line("sandkasse_model_inference_rows_total"), 260.0, "{m}");
    assert_eq!(line("sandkasse_model_inference_failures_total"), 8.0, "{m}");
    assert_eq!(line("sandkasse_model_inference_queue_seconds_count"), 13.0, "{m}");
    let unknown: f64 = m
        .lines()
        .filter(|l| l.starts_with("sandkasse_model_inference_failures_total{model=\"unknown\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(unknown, 4.0, "{m}");
    drop(s.data);
}

#[test]
fn concurrent_single_rows_are_batched_and_a_full_queue_answers_503_at_once() {
    // One user's 64 clients: lift the per-caller limit to reach the queue's.
    let s = setup(&[
        "--serving-queue",
        "4",
        "--serving-workers",
        "1",
        "--serving-per-caller",
        "1000",
    ]);
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

#[test]
fn an_output_named_twice_or_unknown_is_refused_and_answers_are_bounded() {
    let s = setup(&[]);
    let id = upload(&s, "unemployment-gbm");
    let vendor = s.server.client(Some(&s.vendor));
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 100, 3);
    let path = format!("/v2/models/{id}/infer");
    // The amplification: 100 rows, the probability asked for 5,000 times (a 100 KB request
    // that was answered with about 1,000 times its rows).
    let mut amplified = request(&manifest, &cols, 0, 100);
    amplified["outputs"] = json!(vec![json!({"name": "probability"}); 5000]);
    let r = vendor.post(&path, &amplified);
    assert_eq!(r.status, 400, "{}", &r.text()[..r.text().len().min(300)]);
    let e = r.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(e.contains("\"probability\"") && e.contains("twice"), "{e}");
    let mut twice = request(&manifest, &cols, 0, 100);
    twice["outputs"] = json!([{"name": "label"}, {"name": "label"}]);
    let r = vendor.post(&path, &twice);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("\"label\""));
    let mut unknown = request(&manifest, &cols, 0, 100);
    unknown["outputs"] = json!([{"name": "label"}, {"name": "logits"}]);
    let r = vendor.post(&path, &unknown);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("\"logits\""));
    // Each output once still works, in the order asked, and the answer is small.
    let mut both = request(&manifest, &cols, 0, 100);
    both["outputs"] = json!([{"name": "probability"}, {"name": "label"}]);
    let r = vendor.post(&path, &both);
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<Value> = r.json()["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("probability"), json!("label")]);
    assert!(r.body.len() < 100 * 64, "{} bytes for 100 rows", r.body.len());
    let plain = vendor.post(&path, &request(&manifest, &cols, 0, 100));
    assert_eq!(plain.status, 200, "{}", plain.text());
}

/// One POST over a fresh connection; the status and the `Retry-After` header.
fn post_raw(base: &str, path: &str, token: &str, body: &[u8]) -> (u16, Option<String>) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    tcp.write_all(body).unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let retry = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after").then(|| v.trim().to_owned())
    });
    (status, retry)
}

#[test]
fn a_caller_over_its_concurrency_limit_gets_429_with_retry_after_and_others_are_served() {
    let s = setup(&["--serving-per-caller", "1"]);
    let id = upload(&s, "unemployment-gbm");
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 2000, 4);
    let path = format!("/v2/models/{id}/infer");
    let body = request(&manifest, &cols, 0, 2000).to_string().into_bytes();
    let vendor = s.server.client(Some(&s.vendor));
    assert_eq!(vendor.post(&path, &request(&manifest, &cols, 0, 1)).status, 200);
    // Eight connections of one user, 2,000 rows each, against a limit of one in flight.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (base, path, token, body) = (s.server.base.clone(), path.clone(), s.vendor.clone(), body.clone());
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| post_raw(&base, &path, &token, &body))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<(u16, Option<String>)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert!(
        answers.iter().all(|a| a.0 == 200 || a.0 == 429),
        "only 200 and 429: {answers:?}"
    );
    assert!(answers.iter().any(|a| a.0 == 200), "some were answered");
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert!(!limited.is_empty(), "eight at once over a limit of one: {answers:?}");
    assert!(limited.iter().all(|a| a.1.as_deref() == Some("1")), "{limited:?}");
    // The limit is per user and its slots come back: the user is served again.
    assert_eq!(vendor.post(&path, &request(&manifest, &cols, 0, 1)).status, 200);
}

#[test]
fn metrics_name_no_model_without_the_metrics_token() {
    let s = setup(&["--metrics-token", METRICS_TOKEN]);
    let id = upload(&s, "unemployment-gbm");
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 20, 5);
    let vendor = s.server.client(Some(&s.vendor));
    let r = vendor.post(&format!("/v2/models/{id}/infer"), &request(&manifest, &cols, 0, 20));
    assert_eq!(r.status, 200, "{}", r.text());
    let mut bad = request(&manifest, &cols, 0, 20);
    bad["outputs"] = json!([{"name": "nope"}]);
    assert_eq!(vendor.post(&format!("/v2/models/{id}/infer"), &bad).status, 400);
    let value = |m: &str, name: &str| {
        m.lines()
            .find(|l| l.split(' ').next() == Some(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    // Anyone, a user's own token, a wrong token: aggregated series only.
    for (who, client) in [
        ("no token", s.server.client(None)),
        ("a user's token", s.server.client(Some(&s.vendor))),
        ("a wrong token", s.server.client(Some("not-the-metrics-token"))),
    ] {
        let r = client.get("/metrics");
        assert_eq!(r.status, 200, "{who}: {}", r.text());
        let m = r.text();
        assert!(!m.contains(&id), "{who}: /metrics names the model {id}:\n{m}");
        assert!(!m.contains("model=\""), "{who}: a per-model series:\n{m}");
        assert_eq!(value(&m, "sandkasse_inference_requests_total"), Some(1.0), "{who}: {m}");
        assert_eq!(value(&m, "sandkasse_inference_rows_total"), Some(20.0), "{who}: {m}");
    }
    let m = s.server.client(Some(METRICS_TOKEN)).get("/metrics").text();
    assert!(
        m.contains(&format!("sandkasse_model_inference_requests_total{{model=\"{id}\"}} 1")),
        "with the token, per model:\n{m}"
    );
    assert!(m.contains(&format!("model=\"{id}\",status=\"400\"")), "{m}");
}

#[test]
fn a_monitor_with_the_metrics_token_is_not_held_back_by_anonymous_limits() {
    // Two anonymous requests, then one every 1000 s: the address is throttled at once.
    let s = setup(&[
        "--metrics-token",
        METRICS_TOKEN,
        "--anonymous-burst",
        "2",
        "--anonymous-rate",
        "0.001",
    ]);
    let anyone = s.server.client(None);
    let statuses: Vec<u16> = (0..3).map(|_| anyone.get("/metrics").status).collect();
    assert_eq!(statuses, [200, 200, 429], "anonymous scrapes are limited");
    let monitor = s.server.client(Some(METRICS_TOKEN));
    for i in 0..20 {
        let r = monitor.get("/metrics");
        assert_eq!(r.status, 200, "scrape {i} with the metrics token: {}", r.text());
        assert!(r.text().contains("sandkasse_live_models"), "{}", r.text());
    }
    // A wrong token is still anonymous, and still throttled.
    assert_eq!(
        s.server.client(Some("not-the-metrics-token")).get("/metrics").status,
        429
    );
}
