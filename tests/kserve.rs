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

/// One request with any headers and body; the status, the headers (names lower-case) and the
/// body as sent (not decompressed).
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The protocol's error: `{"error": "<string>"}` and nothing else, with the status wanted
    /// and the message naming what was wrong.
    fn refused(&self, what: &str, status: u16, needle: &str) {
        let text = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, status, "{what}: {text}");
        let v: Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
        let object = v.as_object().unwrap_or_else(|| panic!("{what}: {text}"));
        assert_eq!(object.len(), 1, "{what}: {text}");
        let message = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: error is not a string: {text}"));
        assert!(message.contains(needle), "{what}: {message:?} does not say {needle:?}");
    }
}

fn raw(base: &str, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Raw {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{base}{path}");
    let r = match method {
        "GET" => {
            let mut rb = agent.get(&url);
            for (k, v) in headers {
                rb = rb.header(*k, v);
            }
            rb.call()
        }
        "POST" | "PUT" => {
            let mut rb = if method == "POST" {
                agent.post(&url)
            } else {
                agent.put(&url)
            };
            for (k, v) in headers {
                rb = rb.header(*k, v);
            }
            rb.send(body)
        }
        other => panic!("{other}"),
    };
    let mut r = r.expect("the request failed at the transport level");
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    Raw {
        status: r.status().as_u16(),
        headers,
        body: r.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap(),
    }
}

/// `gzip -c` or `gzip -dc` of `data` (the system's gzip: the test crate has no deflate library).
fn gzip(data: &[u8], decompress: bool) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .args(if decompress { ["-dc", "-"] } else { ["-9c", "-"] })
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip is needed by this test");
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The JSON request `json` (from [`request`]) with every input's data moved after the JSON
/// as raw little-endian bytes, and `parameters` set on the request. The body and the JSON's
/// length (for `Inference-Header-Content-Length`).
fn binary_request(json: &Value, parameters: Value) -> (Vec<u8>, usize) {
    let mut head = json.clone();
    let mut bytes = Vec::new();
    for t in head["inputs"].as_array_mut().unwrap() {
        let data = t["data"].take();
        let before = bytes.len();
        for v in data.as_array().unwrap() {
            match t["datatype"].as_str().unwrap() {
                "BYTES" => {
                    let s = v.as_str().unwrap();
                    bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    bytes.extend_from_slice(s.as_bytes());
                }
                "BOOL" => bytes.push(u8::from(v.as_bool().unwrap())),
                "FP64" => bytes.extend_from_slice(&v.as_f64().unwrap().to_le_bytes()),
                other => panic!("{other}"),
            }
        }
        let t = t.as_object_mut().unwrap();
        t.remove("data");
        t.insert("parameters".into(), json!({"binary_data_size": bytes.len() - before}));
    }
    head["parameters"] = parameters;
    let mut body = serde_json::to_vec(&head).unwrap();
    let n = body.len();
    body.extend_from_slice(&bytes);
    (body, n)
}

/// An answer's outputs as (labels, probabilities), whether each came as JSON or as bytes.
/// Probabilities are FP32: a JSON number is read back to f32 (serde_json's parse of an f64
/// may be one unit in the last place off, which the f32 rounding absorbs).
fn outputs_of(r: &Raw) -> (Vec<i64>, Vec<f32>) {
    let n: usize = r
        .header("inference-header-content-length")
        .map_or(r.body.len(), |v| v.parse().unwrap());
    let head: Value = serde_json::from_slice(&r.body[..n]).unwrap();
    let mut rest = &r.body[n..];
    let (mut labels, mut probs) = (Vec::new(), Vec::new());
    for o in head["outputs"].as_array().unwrap() {
        let size = o["parameters"]["binary_data_size"].as_u64();
        match (o["name"].as_str().unwrap(), size) {
            ("label", Some(size)) => {
                let (mine, tail) = rest.split_at(size as usize);
                labels = mine
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                rest = tail;
            }
            ("probability", Some(size)) => {
                let (mine, tail) = rest.split_at(size as usize);
                probs = mine
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                rest = tail;
            }
            ("label", None) => {
                labels = o["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect()
            }
            ("probability", None) => {
                probs = o["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            }
            (other, _) => panic!("{other}"),
        }
    }
    assert!(rest.is_empty(), "{} bytes after the outputs", rest.len());
    (labels, probs)
}

#[test]
fn binary_tensors_and_compression_round_trip_and_equal_the_json_answer() {
    let s = setup(&[]);
    let id = upload(&s, "unemployment-gbm");
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 200, 3);
    let json_request = request(&manifest, &cols, 0, 150);
    let base = &s.server.base;
    let auth = ("authorization", format!("Bearer {}", s.vendor));
    let path = format!("/v2/models/{id}/infer");

    let meta = raw(base, "GET", "/v2", &[], b"");
    let meta: Value = serde_json::from_slice(&meta.body).unwrap();
    assert_eq!(meta["extensions"], json!(["binary_tensor_data"]));

    let plain = raw(
        base,
        "POST",
        &path,
        std::slice::from_ref(&auth),
        json_request.to_string().as_bytes(),
    );
    assert_eq!(plain.status, 200, "{}", String::from_utf8_lossy(&plain.body));
    assert!(plain.header("inference-header-content-length").is_none());
    let (labels, probs) = outputs_of(&plain);
    assert_eq!((labels.len(), probs.len()), (150, 150));

    // Binary in, binary out (the request's binary_data_output).
    let (body, n) = binary_request(&json_request, json!({"binary_data_output": true}));
    let h = [auth.clone(), ("inference-header-content-length", n.to_string())];
    let r = raw(base, "POST", &path, &h, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let head_len: usize = r.header("inference-header-content-length").unwrap().parse().unwrap();
    let head: Value = serde_json::from_slice(&r.body[..head_len]).unwrap();
    let sizes: Vec<Value> = head["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            json!([
                o["name"],
                o["datatype"],
                o["parameters"]["binary_data_size"],
                o.get("data")
            ])
        })
        .collect();
    assert_eq!(
        sizes,
        vec![
            json!(["label", "INT64", 150 * 8, null]),
            json!(["probability", "FP32", 150 * 4, null])
        ]
    );
    assert_eq!(outputs_of(&r), (labels.clone(), probs.clone()));

    // One output binary by its own parameter, the other JSON; binary inputs.
    let (body0, n0) = binary_request(&json_request, json!({}));
    let mut head2: Value = serde_json::from_slice(&body0[..n0]).unwrap();
    head2["outputs"] = json!([{"name": "probability", "parameters": {"binary_data": true}}, {"name": "label"}]);
    let mut body2 = serde_json::to_vec(&head2).unwrap();
    let n2 = body2.len();
    body2.extend_from_slice(&body0[n0..]);
    let h2 = [auth.clone(), ("inference-header-content-length", n2.to_string())];
    let r = raw(base, "POST", &path, &h2, &body2);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let head_len: usize = r.header("inference-header-content-length").unwrap().parse().unwrap();
    let head: Value = serde_json::from_slice(&r.body[..head_len]).unwrap();
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 150 * 4);
    assert_eq!(head["outputs"][1]["data"].as_array().unwrap().len(), 150);
    assert_eq!(outputs_of(&r), (labels.clone(), probs.clone()));

    // The same binary request gzipped, the answer gzipped on request: the same bytes inside.
    let zipped = gzip(&body, false);
    let hz = [
        auth.clone(),
        ("inference-header-content-length", n.to_string()),
        ("content-encoding", "gzip".to_owned()),
        ("accept-encoding", "gzip".to_owned()),
    ];
    let z = raw(base, "POST", &path, &hz, &zipped);
    assert_eq!(z.status, 200, "{}", String::from_utf8_lossy(&z.body));
    assert_eq!(z.header("content-encoding"), Some("gzip"));
    let unzipped = Raw {
        status: z.status,
        headers: z.headers.clone(),
        body: gzip(&z.body, true),
    };
    assert_eq!(unzipped.body, r_body_of(base, &path, &h, &body));
    assert_eq!(outputs_of(&unzipped), (labels, probs));
}

/// The body of one more identical request (answers are deterministic).
fn r_body_of(base: &str, path: &str, h: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    raw(base, "POST", path, h, body).body
}

#[test]
fn binary_and_compression_refusals_name_what_was_wrong_and_leave_the_model_usable() {
    let s = setup(&[]);
    let id = upload(&s, "unemployment-gbm");
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap())
            .unwrap();
    let (_, cols) = reference_columns(&manifest, "unemployment-risk", 50, 1);
    let good = request(&manifest, &cols, 0, 20);
    let base = &s.server.base;
    let auth = ("authorization", format!("Bearer {}", s.vendor));
    let path = format!("/v2/models/{id}/infer");
    let (body, n) = binary_request(&good, json!({}));
    let head: Value = serde_json::from_slice(&body[..n]).unwrap();
    let bin = &body[n..];
    let post = |head: &Value, bin: &[u8], extra: &[(&str, String)]| {
        let mut b = serde_json::to_vec(head).unwrap();
        let mut h = vec![auth.clone(), ("inference-header-content-length", b.len().to_string())];
        h.extend_from_slice(extra);
        b.extend_from_slice(bin);
        raw(base, "POST", &path, &h, &b)
    };
    let ok = post(&head, bin, &[]);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));

    let inputs = head["inputs"].as_array().unwrap();
    let num_at = inputs.iter().position(|t| t["datatype"] == "FP64").unwrap();
    let num_name = inputs[num_at]["name"].as_str().unwrap().to_owned();
    let text_at = inputs.iter().position(|t| t["datatype"] == "BYTES").unwrap();
    let text_name = inputs[text_at]["name"].as_str().unwrap().to_owned();
    // Where input `at` starts in the binary part.
    let offset = |at: usize| -> usize {
        inputs[..at]
            .iter()
            .map(|t| t["parameters"]["binary_data_size"].as_u64().unwrap() as usize)
            .sum()
    };

    let header_past_body = raw(
        base,
        "POST",
        &path,
        &[
            auth.clone(),
            ("inference-header-content-length", (body.len() + 1).to_string()),
        ],
        &body,
    );
    header_past_body.refused("header past the body", 400, "the body has only");
    let header_not_a_number = raw(
        base,
        "POST",
        &path,
        &[auth.clone(), ("inference-header-content-length", "-3".into())],
        &body,
    );
    header_not_a_number.refused("header not a number", 400, "Inference-Header-Content-Length");

    let mut wrong_size = head.clone();
    wrong_size["inputs"][num_at]["parameters"]["binary_data_size"] = json!(20 * 8 - 1);
    post(&wrong_size, bin, &[]).refused(
        "size not shape × element",
        400,
        &format!("input {num_name:?} has binary_data_size 159, but shape [20] of FP64 takes 160 bytes"),
    );
    let mut extra = bin.to_vec();
    extra.extend_from_slice(&[0; 8]);
    post(&head, &extra, &[]).refused("bytes left over", 400, "add up to");
    post(&head, &bin[..bin.len() - 1], &[]).refused("bytes missing", 400, "which has only");
    let mut both = head.clone();
    both["inputs"][num_at]["data"] = json!(vec![1.0; 20]);
    post(&both, bin, &[]).refused("data and binary", 400, "has both");
    let mut negative = head.clone();
    negative["inputs"][num_at]["parameters"]["binary_data_size"] = json!(-8);
    post(&negative, bin, &[]).refused("a negative size", 400, "whole number of bytes");

    let mut nan = bin.to_vec();
    let at = offset(num_at);
    nan[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    post(&head, &nan, &[]).refused(
        "NaN",
        400,
        &format!("input {num_name:?}: element 0 is not a finite number"),
    );

    // A string element whose length prefix runs past its tensor.
    let mut long = bin.to_vec();
    let at = offset(text_at);
    long[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    post(&head, &long, &[]).refused(
        "a string past its tensor",
        400,
        &format!("input {text_name:?}: element 0 says it is"),
    );

    let mut flag = head.clone();
    flag["parameters"] = json!({"binary_data_output": "yes"});
    post(&flag, bin, &[]).refused("a flag not a boolean", 400, "binary_data_output");
    let mut out_flag = head.clone();
    out_flag["outputs"] = json!([{"name": "label", "parameters": {"binary_data": 1}}]);
    post(&out_flag, bin, &[]).refused("an output flag not a boolean", 400, "binary_data");

    // 4 MiB of spaces in a few KB of gzip: past the 1 MiB body limit once inflated.
    let bomb = gzip(&vec![b' '; 4 << 20], false);
    assert!(bomb.len() < 16 << 10, "{} bytes", bomb.len());
    let r = raw(
        base,
        "POST",
        &path,
        &[auth.clone(), ("content-encoding", "gzip".into())],
        &bomb,
    );
    r.refused("a gzip bomb", 413, "inflates past the body limit of 1048576 bytes");
    let r = raw(
        base,
        "POST",
        &path,
        &[auth.clone(), ("content-encoding", "gzip".into())],
        b"not gzip",
    );
    r.refused("not gzip", 400, "not valid gzip");
    let r = raw(
        base,
        "POST",
        &path,
        &[auth.clone(), ("content-encoding", "br".into())],
        &body,
    );
    r.refused("an unknown coding", 415, "Content-Encoding \"br\" is not supported");

    let again = post(&head, bin, &[]);
    assert_eq!(again.status, 200, "{}", String::from_utf8_lossy(&again.body));
    assert_eq!(outputs_of(&again), outputs_of(&ok));
}

#[test]
fn every_v2_refusal_is_one_string_even_from_the_router_and_the_extractors() {
    let s = setup(&[]);
    let id = upload(&s, "unemployment-logreg");
    let base = &s.server.base;
    let auth = ("authorization", format!("Bearer {}", s.vendor));
    let infer = format!("/v2/models/{id}/infer");
    raw(base, "POST", &infer, std::slice::from_ref(&auth), b"{\"inputs\": [").refused(
        "bad JSON",
        400,
        "not a valid inference request",
    );
    raw(
        base,
        "POST",
        &infer,
        std::slice::from_ref(&auth),
        &vec![b' '; (1 << 20) + 1],
    )
    .refused("too large", 413, "size limit");
    raw(base, "POST", &infer, &[], b"{}").refused("no token", 401, "Authorization: Bearer");
    raw(base, "POST", &infer, &[("authorization", "Bearer nope".into())], b"{}").refused(
        "a bad token",
        401,
        "not valid",
    );
    raw(
        base,
        "GET",
        "/v2/models/no-such-model",
        std::slice::from_ref(&auth),
        b"",
    )
    .refused("unknown model", 404, "unknown model");
    raw(base, "GET", "/v2/models/%FF%FE", std::slice::from_ref(&auth), b"").refused(
        "a path not UTF-8",
        400,
        "the path",
    );
    raw(base, "GET", &infer, std::slice::from_ref(&auth), b"").refused("a wrong method", 405, "does not take GET");
    raw(base, "POST", "/v2/repository/index", std::slice::from_ref(&auth), b"{}").refused(
        "repository",
        501,
        "model repository extension",
    );
    raw(
        base,
        "GET",
        &format!("/v2/models/{id}/stats"),
        std::slice::from_ref(&auth),
        b"",
    )
    .refused("statistics", 501, "statistics extension");
    raw(
        base,
        "GET",
        &format!("/v2/models/{id}/config"),
        std::slice::from_ref(&auth),
        b"",
    )
    .refused("configuration", 501, "model configuration");
    raw(base, "GET", "/v2/trace/setting", std::slice::from_ref(&auth), b"").refused("trace", 501, "trace extension");
    raw(base, "GET", "/v2/nothing/here", &[], b"").refused("no such path", 404, "no endpoint /v2/nothing/here");
    // Outside /v2 the API's own shape is kept.
    let r = raw(base, "GET", "/api/v1/nothing", &[], b"");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((r.status, v["error"]["code"].as_str()), (404, Some("not_found")));
}

/// The sample model's manifest, and 300 test-split rows of its scenario as a Parquet file.
fn reference_rows(s: &Setup, stem: &str) -> (Manifest, std::path::PathBuf) {
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join(format!("{stem}.toml"))).unwrap()).unwrap();
    let rows = s.data.dir.path().join("rows.parquet");
    let out = service::sandkasse()
        .args([
            "generate",
            "--scenario",
            &manifest.scenario,
            "--rows",
            "300",
            "--seed",
            "5",
            "--split",
            "test",
            "-q",
            "--out",
        ])
        .arg(&rows)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (manifest, rows)
}

/// Runs a tritonclient script of tests/api with the project's `.venv` (after checking it can
/// `import`) and returns the figures it prints as its last line.
fn tritonclient_script(script: &str, import: &str, args: &[&str], rows: &std::path::Path) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let has = std::process::Command::new(&python)
        .args(["-c", &format!("import {import}, onnxruntime, pyarrow")])
        .status();
    assert!(
        has.is_ok_and(|s| s.success()),
        "{} lacks {import}, onnxruntime or pyarrow: run `bash scripts/setup.sh && bash scripts/apitools.sh`",
        python.display()
    );
    let out = std::process::Command::new(&python)
        .arg(root.join("tests/api").join(script))
        .args(args)
        .arg("--rows")
        .arg(rows)
        .current_dir(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    eprintln!("{script}: {figures}");
    assert_eq!(figures["rows"], 300);
    figures
}

/// tritonclient.http (tests/api/tritonclient_roundtrip.py, installed by scripts/apitools.sh)
/// against the running server: JSON and binary tensors, gzip and deflate, its own exception
/// on refusals, every answer equal to ONNX Runtime's Python API on the same rows.
#[test]
fn tritonclient_speaks_to_the_server_and_agrees_with_onnxruntime() {
    let s = setup(&[]);
    let stem = "unemployment-logreg";
    let id = upload(&s, stem);
    let (_, rows) = reference_rows(&s, stem);
    let url = s.server.base.trim_start_matches("http://");
    let args = ["--url", url, "--token", &s.vendor, "--model", &id, "--stem", stem];
    let figures = tritonclient_script("tritonclient_roundtrip.py", "tritonclient.http", &args, &rows);
    for k in ["json_worst", "binary_worst", "gzip_worst", "deflate_worst"] {
        assert!(figures[k].as_f64().unwrap() <= 1e-6, "{k}: {figures}");
    }
}

/// tritonclient.grpc (tests/api/tritonclient_grpc_roundtrip.py, installed by scripts/apitools.sh)
/// against the gRPC port: raw and typed inputs, gzip and deflate, one output, the model's version,
/// and every refusal as its gRPC code with the server's message; every answer equal to ONNX
/// Runtime's Python API on the same rows.
#[test]
fn tritonclient_grpc_speaks_to_the_server_and_agrees_with_onnxruntime() {
    let s = setup(&["--grpc-bind", "127.0.0.1:0"]);
    let grpc = s.server.grpc.clone().expect("the server prints its gRPC address");
    let stem = "unemployment-logreg";
    let id = upload(&s, stem);
    let (manifest, rows) = reference_rows(&s, stem);
    let args = [
        "--url",
        &grpc,
        "--token",
        &s.vendor,
        "--other-token",
        &s.other,
        "--model",
        &id,
        "--version",
        &manifest.version,
        "--stem",
        stem,
    ];
    let figures = tritonclient_script("tritonclient_grpc_roundtrip.py", "tritonclient.grpc", &args, &rows);
    for k in ["raw_worst", "gzip_worst", "deflate_worst", "contents_worst"] {
        assert!(figures[k].as_f64().unwrap() <= 1e-6, "{k}: {figures}");
    }
    // The calls are counted where the HTTP ones are.
    let metrics = s.server.client(None).get("/metrics").text();
    let infer = metrics
        .lines()
        .find(|l| {
            l.starts_with("sandkasse_http_requests_total")
                && l.contains("/inference.GRPCInferenceService/ModelInfer")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no gRPC ModelInfer series in /metrics:\n{metrics}"));
    assert!(infer.ends_with(" 5"), "five answered ModelInfer calls: {infer}");
}

/// A refusal that quotes what the caller sent is cut: a shape of 100,000 dimensions (200 KB of
/// request) is named by its first eight and a count, and no message is over 1 KiB, where it
/// used to quote the whole shape back (a megabyte of error for a small compressed request).
#[test]
fn refusals_quote_at_most_a_kibibyte_of_what_the_caller_sent() {
    let s = setup(&[]);
    let id = upload(&s, "unemployment-logreg");
    let shape = vec![1; 100_000];
    let body = json!({"inputs": [{"name": "age", "shape": shape, "datatype": "FP32", "data": [52.0]}]});
    let auth = ("authorization", format!("Bearer {}", s.vendor));
    let r = raw(
        &s.server.base,
        "POST",
        &format!("/v2/models/{id}/infer"),
        &[auth],
        body.to_string().as_bytes(),
    );
    r.refused("a shape of 100,000 dimensions", 400, "and 99992 more dimensions");
    let message: Value = serde_json::from_slice(&r.body).unwrap();
    let message = message["error"].as_str().unwrap();
    assert!(message.len() <= 1024, "{} bytes: {message}", message.len());
}
