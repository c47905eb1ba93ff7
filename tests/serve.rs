//! The service end to end through real HTTP: `sandkasse serve` as a process, on SQLite and
//! on PostgreSQL (a throwaway cluster this test starts itself).

mod procs;
mod service;

use serde_json::{Value, json};
use service::{Data, Service};
use std::time::Duration;

/// Accounts of one scenario: an authority, two vendors, an advisor.
struct People {
    authority: String,
    vendor: String,
    other_vendor: String,
    advisor: String,
}

fn people(data: &Data) -> People {
    People {
        authority: data.add_user("Styrelsen for Arbejdsmarked og Rekruttering", "authority", "Anna"),
        vendor: data.add_user("Nordlys Analytics", "vendor", "Niels"),
        other_vendor: data.add_user("Fjord AI", "vendor", "Frida"),
        advisor: data.add_user("Datatilsynet", "advisor", "Dorte"),
    }
}

/// A metric's value in Prometheus text, summed over series whose labels contain `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn end_to_end(data: Data) {
    let p = people(&data);
    let server = data.start(&[]);
    let authority = server.client(Some(&p.authority));
    let vendor = server.client(Some(&p.vendor));
    let other = server.client(Some(&p.other_vendor));
    let advisor = server.client(Some(&p.advisor));

    // The authority opens a case with the vendor and fixes criteria before any run.
    let r = authority.post(
        "/api/v1/cases",
        &json!({"name": "Langtidsledighed", "members": ["Nordlys Analytics"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let criteria = json!({"criteria": [
        {"attribute": "origin", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8}
    ]});
    let r = authority.put(&format!("/api/v1/cases/{case}/criteria"), &criteria);
    assert_eq!(r.status, 200, "{}", r.text());

    // The vendor downloads training data: the train split, as Parquet with its spec.
    let r = vendor.get("/api/v1/scenarios/unemployment-risk/dataset?rows=500&seed=2");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type, "application/vnd.apache.parquet");
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(r.body)).unwrap();
    let kv = reader.metadata().file_metadata().key_value_metadata().unwrap().clone();
    let spec = kv
        .iter()
        .find(|k| k.key == "sandkasse.spec")
        .unwrap()
        .value
        .clone()
        .unwrap();
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(
        (spec["split"].as_str(), spec["rows"].as_u64()),
        (Some("train"), Some(500))
    );
    let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 500);

    // The vendor uploads a sample model and starts a run.
    let r = vendor.upload_files(&case, "unemployment-logreg");
    assert_eq!(r.status, 201, "{}", r.text());
    let model = r.json();
    let model_id = model["id"].as_str().unwrap().to_owned();
    assert_eq!(model["inspection"]["sha256"], model["model_sha256"]);
    let r = vendor.post(
        "/api/v1/runs",
        &json!({"model_id": model_id, "rows": 20000, "seed": 3, "counterfactual": "sex"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let run_id = r.json()["id"].as_str().unwrap().to_owned();
    let run = vendor.wait_run(&run_id, Duration::from_secs(120));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["progress_rows"], 40000);
    assert_eq!(run["progress"], 1.0);

    // The authority reads the report: the case's criteria were applied.
    let r = authority.get(&format!("/api/v1/runs/{run_id}/report"));
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["provenance"]["dataset"]["rows"], 20000);
    assert_eq!(report["provenance"]["model_sha256"], model["model_sha256"]);
    assert_eq!(report["verdicts"].as_array().unwrap().len(), 1);
    assert!(report["report"]["counterfactual"]["overall"]["pairs"].as_u64().unwrap() == 20000);
    let md = authority.get(&format!("/api/v1/runs/{run_id}/report.md"));
    assert_eq!(md.status, 200);
    assert!(md.content_type.starts_with("text/markdown"));
    assert!(md.text().contains("# Fairness report"), "{}", md.text());
    // The service's own file system stays out of what it hands out: files are named by hash.
    let dir = data.dir.path().display().to_string();
    assert!(
        !r.text().contains(&dir) && !md.text().contains(&dir),
        "a server path in the report"
    );
    assert_eq!(
        report["provenance"]["model_file"],
        format!("model sha256 {}", model["model_sha256"].as_str().unwrap())
    );

    for lang in ["da", "en"] {
        let html = authority.get(&format!("/api/v1/runs/{run_id}/report.html?lang={lang}"));
        assert_eq!(html.status, 200);
        assert!(html.content_type.starts_with("text/html"));
        let text = html.text();
        assert!(text.contains(&format!("lang=\"{lang}\"")) && text.contains("<svg") && !text.contains("<script"));
        assert!(
            text.contains("Niels") && text.contains("Langtidsledighed"),
            "who ran it, in which case"
        );
    }
    assert_eq!(
        authority
            .get(&format!("/api/v1/runs/{run_id}/report.html?lang=fr"))
            .status,
        400
    );

    // The advisor reads both, and the audit chain, and verifies it.
    assert_eq!(advisor.get(&format!("/api/v1/runs/{run_id}/report")).json(), report);
    assert_eq!(advisor.get(&format!("/api/v1/models/{model_id}")).status, 200);
    let audit = advisor.get(&format!("/api/v1/audit?case={case}"));
    assert_eq!(audit.status, 200, "{}", audit.text());
    let entries = audit.json()["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for want in [
        "POST /api/v1/cases",
        "PUT /api/v1/cases/{case}/criteria",
        "POST /api/v1/cases/{case}/models",
        "POST /api/v1/runs",
        "GET /api/v1/runs/{run}/report",
    ] {
        assert!(actions.contains(&want), "{want} not audited: {actions:?}");
    }
    // The advisor's own reads are audited, with the request id the advisor was given.
    let read = advisor.get(&format!("/api/v1/runs/{run_id}"));
    let rid = read.request_id.clone().unwrap();
    let all = advisor.get("/api/v1/audit?limit=1000").json();
    assert!(
        all["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["request_id"] == rid.as_str() && e["role"] == "advisor"),
        "the advisor's read {rid} is not in the log"
    );
    // Filters: by actor, and by time.
    let vendor_id = vendor.get("/api/v1/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = advisor.get(&format!("/api/v1/audit?actor={vendor_id}")).json();
    let mine = mine["entries"].as_array().unwrap();
    assert!(
        mine.len() >= 2 && mine.iter().all(|e| e["actor"] == vendor_id.as_str()),
        "{mine:?}"
    );
    let later = advisor.get("/api/v1/audit?from=2100-01-01T00:00:00Z").json();
    assert_eq!(later["entries"], json!([]));
    let v = advisor.get("/api/v1/audit/verify");
    assert_eq!(v.status, 200);
    assert_eq!(v.json()["intact"], true, "{}", v.text());
    assert!(v.json()["entries"].as_u64().unwrap() >= 10);
    // Advisors change nothing.
    assert_eq!(advisor.post("/api/v1/runs", &json!({"model_id": model_id})).status, 403);
    assert_eq!(advisor.post("/api/v1/cases", &json!({"name": "x"})).status, 403);

    // The second vendor sees none of it: another organisation's objects do not exist.
    assert_eq!(other.get("/api/v1/cases").json(), json!([]));
    assert_eq!(other.get("/api/v1/runs").json(), json!([]));
    for path in [
        format!("/api/v1/cases/{case}"),
        format!("/api/v1/cases/{case}/models"),
        format!("/api/v1/models/{model_id}"),
        format!("/api/v1/runs/{run_id}"),
        format!("/api/v1/runs/{run_id}/report"),
    ] {
        let r = other.get(&path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.code(), "not_found");
    }
    assert_eq!(other.upload_files(&case, "unemployment-logreg").status, 404);
    assert_eq!(other.get("/api/v1/audit").status, 403);

    // /metrics reflects it all.
    let m = server.client(None).get("/metrics").text();
    assert_eq!(
        metric(&m, "sandkasse_model_uploads_total", &["outcome=\"accepted\""]),
        1.0,
        "{m}"
    );
    assert_eq!(metric(&m, "sandkasse_runs", &["state=\"succeeded\""]), 1.0);
    assert_eq!(metric(&m, "sandkasse_runs", &["state=\"queued\""]), 0.0);
    assert_eq!(
        metric(&m, "sandkasse_runs_finished_total", &["state=\"succeeded\""]),
        1.0
    );
    assert_eq!(metric(&m, "sandkasse_rows_scored_total", &[]), 40000.0);
    assert!(metric(&m, "sandkasse_worker_events_total", &["event=\"start\""]) >= 2.0);
    assert!(
        metric(
            &m,
            "sandkasse_http_requests_total",
            &["route=\"/api/v1/runs/{run}\"", "status=\"404\""]
        ) >= 1.0
    );
    assert!(
        metric(
            &m,
            "sandkasse_http_request_duration_seconds_count",
            &["route=\"/api/v1/cases\"", "method=\"POST\""]
        ) >= 1.0
    );
}

#[test]
fn end_to_end_on_sqlite() {
    end_to_end(Data::sqlite());
}

#[test]
fn end_to_end_on_postgres() {
    end_to_end(Data::postgres());
}

/// A case with the vendor's uploaded sample model: (case id, model id).
fn case_with_model(server: &Service, p: &People) -> (String, String) {
    let r = server
        .client(Some(&p.authority))
        .post("/api/v1/cases", &json!({"name": "c", "members": ["Nordlys Analytics"]}));
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let r = server.client(Some(&p.vendor)).upload_files(&case, "unemployment-gbm");
    assert_eq!(r.status, 201, "{}", r.text());
    (case, r.json()["id"].as_str().unwrap().to_owned())
}

fn audit_verify(data: &Data) -> std::process::Output {
    service::sandkasse()
        .args(["audit", "verify"])
        .args(data.args())
        .output()
        .unwrap()
}

#[test]
fn kill_9_during_a_run_then_restart_leaves_everything_intact_and_the_run_marked() {
    let data = Data::sqlite();
    let p = people(&data);
    let mut server = data.start(&[]);
    let vendor = server.client(Some(&p.vendor));
    let (case, model) = case_with_model(&server, &p);
    // A finished run first, whose report must survive.
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 5000}));
    let done = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(vendor.wait_run(&done, Duration::from_secs(60))["state"], "succeeded");
    let report = vendor.get(&format!("/api/v1/runs/{done}/report")).json();
    // Then a long one, killed while it runs.
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 2000000}));
    let long = r.json()["id"].as_str().unwrap().to_owned();
    let t = std::time::Instant::now();
    loop {
        let run = vendor.get(&format!("/api/v1/runs/{long}")).json();
        if run["state"] == "running" && run["progress_rows"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{run}");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9();
    let o = audit_verify(&data);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let server = data.start(&[]);
    let vendor = server.client(Some(&p.vendor));
    let run = vendor.get(&format!("/api/v1/runs/{long}")).json();
    assert_eq!(run["state"], "failed", "{run}");
    assert!(
        run["cause"]
            .as_str()
            .unwrap()
            .contains("the server stopped while this run was running"),
        "{run}"
    );
    assert_eq!(vendor.get(&format!("/api/v1/runs/{done}/report")).json(), report);
    assert_eq!(
        vendor
            .get(&format!("/api/v1/cases/{case}/models"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let v = server.client(Some(&p.advisor)).get("/api/v1/audit/verify").json();
    assert_eq!(v["intact"], true, "{v}");
    // And the service still works.
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 3000}));
    let again = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(vendor.wait_run(&again, Duration::from_secs(60))["state"], "succeeded");
}

#[test]
fn sigterm_finishes_requests_in_flight_and_stops_and_marks_running_runs() {
    let data = Data::sqlite();
    let p = people(&data);
    // Long enough a grace for the download below to finish on a slow machine; the default (5 s) bounds
    // shutdown instead (see the next test).
    let mut server = data.start(&["--shutdown-grace-secs", "30"]);
    let vendor = server.client(Some(&p.vendor));
    let (_, model) = case_with_model(&server, &p);
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 2000000}));
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let t = std::time::Instant::now();
    while vendor.get(&format!("/api/v1/runs/{id}")).json()["state"] != "running" {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    // A request in flight when SIGTERM comes (generating a million-row download) still finishes.
    let download = {
        let vendor = vendor.clone();
        std::thread::spawn(move || vendor.get("/api/v1/scenarios/unemployment-risk/dataset?rows=1000000"))
    };
    std::thread::sleep(Duration::from_millis(300));
    let t = std::time::Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(20), "shutdown took {:?}", t.elapsed());
    let r = download.join().unwrap();
    assert_eq!(r.status, 200);
    let rows = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(r.body))
        .unwrap()
        .metadata()
        .file_metadata()
        .num_rows();
    assert_eq!(rows, 1_000_000);
    let server = data.start(&[]);
    let run = server.client(Some(&p.vendor)).get(&format!("/api/v1/runs/{id}")).json();
    assert_eq!(run["state"], "failed");
    assert!(run["cause"].as_str().unwrap().contains("shut down"), "{run}");
}

/// The worker processes a server started (its direct children), to clean up after a test that leaves a
/// worker busy on a model that never ends: workers dying with their parent is tested elsewhere.
fn children_of(pid: u32) -> Vec<u32> {
    procs::children_of(pid)
}

#[test]
fn sigterm_during_a_batch_that_never_ends_exits_within_seconds_and_marks_the_run() {
    let data = Data::sqlite();
    let p = people(&data);
    // A batch deadline far beyond the shutdown's few seconds, so only a bounded shutdown ends in time.
    let mut server = data.start(&["--batch-timeout", "120", "--workers-per-run", "1"]);
    let (case, _) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let dir = service::models_dir().join("hostile");
    let r = vendor.upload(
        &case,
        &std::fs::read(dir.join("cpu_bomb.onnx")).unwrap(),
        &std::fs::read(dir.join("cpu_bomb.toml")).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let model = r.json()["id"].as_str().unwrap().to_owned();
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}));
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let t = std::time::Instant::now();
    while vendor.get(&format!("/api/v1/runs/{id}")).json()["state"] != "running" {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    // The worker is in the middle of its batch.
    std::thread::sleep(Duration::from_secs(2));
    let workers = children_of(server.child.id());
    let t = std::time::Instant::now();
    let status = server.terminate();
    let took = t.elapsed();
    for w in workers {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &w.to_string()])
            .status();
    }
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    let server = data.start(&[]);
    let run = server.client(Some(&p.vendor)).get(&format!("/api/v1/runs/{id}")).json();
    assert_eq!(run["state"], "failed", "{run}");
    assert!(run["cause"].as_str().unwrap().contains("shut down"), "{run}");
}

#[test]
fn runs_over_an_organisations_limits_are_refused_with_429_naming_the_limit() {
    let data = Data::sqlite();
    let p = people(&data);
    // No executor: runs stay queued.
    let server = data.start(&[
        "--run-slots",
        "0",
        "--org-queued-runs",
        "3",
        "--org-queued-rows",
        "10000",
    ]);
    let (_, model) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let mut queued = Vec::new();
    for _ in 0..3 {
        let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}));
        assert_eq!(r.status, 201, "{}", r.text());
        queued.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.code(), "org_limit");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("Nordlys Analytics") && message.contains("3 runs queued"),
        "{message}"
    );
    // Another organisation is not held up by this one's queue.
    let authority = server.client(Some(&p.authority));
    let r = authority.post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}));
    assert_eq!(r.status, 201, "{}", r.text());
    // One cancelled makes room for a run, but not for one whose rows go over the queued rows.
    let r = vendor.post(&format!("/api/v1/runs/{}/cancel", queued[0]), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 9000}));
    assert_eq!(r.status, 429, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("2000 citizens") && message.contains("10000"),
        "{message}"
    );
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 8000}));
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn audit_paging_out_of_range_is_a_400_naming_the_parameter_in_the_api_and_the_page() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let advisor = server.client(Some(&p.advisor));
    for (query, name) in [
        ("offset=9223372036854775808", "offset"),
        ("offset=18446744073709551616", "offset"),
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
        ("limit=4294967296", "limit"),
        ("limit=ten", "limit"),
    ] {
        let r = advisor.get(&format!("/api/v1/audit?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(&format!("`{name}`")) && message.contains(".."),
            "{query}: {message}"
        );
    }
    let r = advisor.get("/api/v1/audit?offset=9223372036854775807&limit=1000");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["entries"], json!([]));

    // The page, through a browser session.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let login = agent
        .post(&format!("{}/ui/login", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(format!("token={}&next=%2Fui%2Faudit", p.advisor).as_bytes())
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = |query: &str| {
        let mut r = agent
            .get(&format!("{}/ui/audit?{query}", server.base))
            .header("cookie", &cookie)
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, body) = page("offset=9223372036854775808");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("offset") && body.contains("9223372036854775807"),
        "{body}"
    );
    assert_eq!(page("offset=&limit=").0, 200);
    assert_eq!(page("offset=50").0, 200);
}

#[test]
fn an_edited_audit_row_fails_verification_in_the_cli_and_the_api() {
    let data = Data::sqlite();
    let p = people(&data);
    let mut server = data.start(&[]);
    let (case, _) = case_with_model(&server, &p);
    let advisor = server.client(Some(&p.advisor));
    assert_eq!(advisor.get(&format!("/api/v1/cases/{case}")).status, 200);
    server.kill9();
    assert!(audit_verify(&data).status.success());
    // Someone with database access rewrites one outcome.
    data.edit_audit_outcome(3, "403");
    let o = audit_verify(&data);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("entry 3"), "{err}");
    let server = data.start(&[]);
    let v = server.client(Some(&p.advisor)).get("/api/v1/audit/verify").json();
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["break"]["seq"], 3, "{v}");
}

#[test]
fn bad_input_is_a_clear_error_stores_nothing_and_the_service_stays_up() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--max-model-mb", "1"]);
    let (case, model) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let models = |c: &service::Client| {
        c.get(&format!("/api/v1/cases/{case}/models"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    let before = models(&vendor);
    let gbm = std::fs::read(service::models_dir().join("unemployment-gbm.onnx")).unwrap();
    let manifest = std::fs::read(service::models_dir().join("unemployment-gbm.toml")).unwrap();
    let hostile = std::fs::read(service::models_dir().join("hostile/custom_op_domain.onnx")).unwrap();
    let hostile_manifest = std::fs::read(service::models_dir().join("hostile/custom_op_domain.toml")).unwrap();
    let big = vec![7u8; 2 << 20];
    let cases: Vec<(&str, service::Resp, u16, &str, &str)> = vec![
        (
            "oversized upload",
            // Its own client: the server closes a connection whose body it refused unread.
            server.client(Some(&p.vendor)).upload(&case, &big, &manifest),
            413,
            "too_large",
            "limit",
        ),
        (
            "malformed manifest",
            vendor.upload(&case, &gbm, b"name = \"x\"\nversion = 1\n[[[ nonsense"),
            422,
            "invalid_manifest",
            "the manifest",
        ),
        (
            "hostile model",
            vendor.upload(&case, &hostile, &hostile_manifest),
            422,
            "model_rejected",
            "com.evil.ops",
        ),
        (
            "missing part",
            {
                let (ct, body) = service::multipart(&[("model", "m.onnx", &gbm)]);
                vendor.send("POST", &format!("/api/v1/cases/{case}/models"), &ct, &body)
            },
            400,
            "bad_request",
            "manifest",
        ),
        (
            "not multipart",
            vendor.send(
                "POST",
                &format!("/api/v1/cases/{case}/models"),
                "application/json",
                b"{}",
            ),
            415,
            "unsupported_media_type",
            "multipart",
        ),
        (
            "unknown run",
            vendor.get(&format!("/api/v1/runs/{}", "0".repeat(32))),
            404,
            "not_found",
            "run",
        ),
        (
            "malformed id",
            vendor.get("/api/v1/models/..%2F..%2Fetc"),
            404,
            "not_found",
            "model",
        ),
        (
            "bad JSON",
            vendor.send("POST", "/api/v1/runs", "application/json", b"{\"model_id\": "),
            400,
            "bad_request",
            "not valid JSON",
        ),
        (
            "unknown field",
            vendor.post("/api/v1/runs", &json!({"model_id": model, "rowz": 5})),
            400,
            "bad_request",
            "rowz",
        ),
        (
            "too many rows",
            vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 1_000_000_000u64})),
            400,
            "bad_request",
            "rows must be",
        ),
        (
            "bad bias",
            vendor.post("/api/v1/runs", &json!({"model_id": model, "bias": ["label_rate=7"]})),
            422,
            "invalid_dataset",
            "label_rate",
        ),
        (
            "a shift criterion without the grid",
            server.client(Some(&p.authority)).post(
                "/api/v1/runs",
                &json!({"model_id": model, "criteria": [{"metric": "accuracy_true", "op": "<=", "threshold": 0.05,
                    "shift": {"axis": "proxy_strength", "from": 1, "to": 2}}]}),
            ),
            422,
            "invalid_criteria",
            "does not evaluate the shift grid",
        ),
        (
            "a shift grid too large",
            vendor.post("/api/v1/runs", &json!({"model_id": model, "shift": {"rows": 200001}})),
            400,
            "bad_request",
            "shift.rows",
        ),
        (
            "vendor sets criteria",
            vendor.post("/api/v1/runs", &json!({"model_id": model, "criteria": []})),
            403,
            "forbidden",
            "criteria",
        ),
        (
            "no token",
            server.client(None).get("/api/v1/cases"),
            401,
            "unauthorized",
            "Bearer",
        ),
        (
            "wrong token",
            server.client(Some("not-a-token")).get("/api/v1/cases"),
            401,
            "unauthorized",
            "not valid",
        ),
        (
            "unknown endpoint",
            vendor.get("/api/v1/nothing"),
            404,
            "not_found",
            "endpoint",
        ),
        (
            "bad audit time",
            server.client(Some(&p.advisor)).get("/api/v1/audit?from=yesterday"),
            400,
            "bad_request",
            "from",
        ),
    ];
    for (what, r, status, code, words) in &cases {
        assert_eq!(r.status, *status, "{what}: {}", r.text());
        assert_eq!(r.code(), *code, "{what}: {}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(words), "{what}: {message}");
        assert!(r.request_id.is_some(), "{what}");
    }
    let details = cases[2].1.json()["error"]["details"].clone();
    assert!(details.as_array().is_some_and(|d| !d.is_empty()), "{details}");
    assert_eq!(models(&vendor), before, "nothing stored half-way");
    assert_eq!(vendor.get("/api/v1/runs").json().as_array().unwrap().len(), 0);
    let health = server.client(None).get("/healthz");
    assert_eq!(health.json(), json!({"status": "ok", "database": "sqlite"}));
    let m = server.client(None).get("/metrics").text();
    assert_eq!(
        metric(&m, "sandkasse_model_uploads_total", &["outcome=\"rejected\""]),
        2.0,
        "{m}"
    );
    let _: Value = server.client(None).get("/api/v1/openapi.json").json();
}

#[test]
fn hostile_models_that_pass_inspection_fail_their_runs_and_the_service_carries_on() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--batch-timeout", "5", "--worker-memory-mb", "2048"]);
    let (case, good) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    for (stem, words) in [
        ("alloc_bomb", "allocate"),
        ("nan_output", "probabilit"),
        ("wrong_output_shape", "shape"),
        ("cpu_bomb", "Timeout"),
    ] {
        let dir = service::models_dir().join("hostile");
        let model = std::fs::read(dir.join(format!("{stem}.onnx"))).unwrap();
        let manifest = std::fs::read(dir.join(format!("{stem}.toml"))).unwrap();
        let r = vendor.upload(&case, &model, &manifest);
        assert_eq!(r.status, 201, "{stem} passes inspection: {}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let r = vendor.post("/api/v1/runs", &json!({"model_id": id, "rows": 2000}));
        let run = vendor.wait_run(r.json()["id"].as_str().unwrap(), Duration::from_secs(120));
        assert_eq!(run["state"], "failed", "{stem}: {run}");
        assert!(run["cause"].as_str().unwrap().contains(words), "{stem}: {run}");
    }
    let r = vendor.post("/api/v1/runs", &json!({"model_id": good, "rows": 2000}));
    let run = vendor.wait_run(r.json()["id"].as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let m = server.client(None).get("/metrics").text();
    assert_eq!(metric(&m, "sandkasse_runs", &["state=\"failed\""]), 4.0, "{m}");
    assert!(
        metric(&m, "sandkasse_worker_events_total", &["event=\"timeout\""]) >= 1.0,
        "{m}"
    );
}

#[test]
fn cancelling_a_running_run_stops_it_and_frees_the_slot() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let vendor = server.client(Some(&p.vendor));
    let (_, model) = case_with_model(&server, &p);
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 2000000}));
    let long = r.json()["id"].as_str().unwrap().to_owned();
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 2000}));
    let next = r.json()["id"].as_str().unwrap().to_owned();
    let t = std::time::Instant::now();
    while vendor.get(&format!("/api/v1/runs/{long}")).json()["state"] != "running" {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = vendor.post(&format!("/api/v1/runs/{long}/cancel"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"], "cancelled");
    assert!(r.json()["cause"].as_str().unwrap().contains("Niels"), "{}", r.text());
    // The one slot is freed long before two million rows could have been scored.
    let run = vendor.wait_run(&next, Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    let run = vendor.get(&format!("/api/v1/runs/{long}")).json();
    assert_eq!(run["state"], "cancelled");
    assert!(run["progress_rows"].as_u64().unwrap() < 4_000_000, "{run}");
    assert_eq!(
        vendor.post(&format!("/api/v1/runs/{long}/cancel"), &json!({})).status,
        409
    );
    assert_eq!(vendor.get(&format!("/api/v1/runs/{long}/report")).status, 409);
}

/// One raw HTTP/1.1 exchange (no redirects followed): status, head and body.
fn raw_http(base: &str, request: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(request.replace("HOST", addr).as_bytes()).unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, head.to_owned(), body.to_owned())
}

fn header_of(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// Every audit entry, read by an advisor.
fn audit_entries(server: &service::Service, advisor: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = server
            .client(Some(advisor))
            .get(&format!("/api/v1/audit?limit=1000&offset={offset}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json()["entries"].as_array().unwrap().clone();
        offset += page.len();
        let done = page.len() < 1000;
        out.extend(page);
        if done {
            return out;
        }
    }
}

#[test]
fn every_kind_of_change_has_exactly_one_audit_entry_for_its_request() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--run-slots", "0"]);
    let authority = server.client(Some(&p.authority));
    let vendor = server.client(Some(&p.vendor));
    let mut changes: Vec<(String, &str, u16)> = Vec::new();
    let mut note = |r: &service::Resp, action: &'static str, status: u16| {
        assert_eq!(r.status, status, "{action}: {}", r.text());
        changes.push((r.request_id.clone().unwrap(), action, status));
    };
    let r = authority.post(
        "/api/v1/cases",
        &json!({"name": "Sag", "members": ["Nordlys Analytics"]}),
    );
    note(&r, "POST /api/v1/cases", 201);
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let r = authority.post(&format!("/api/v1/cases/{case}/members"), &json!({"org": "Fjord AI"}));
    note(&r, "POST /api/v1/cases/{case}/members", 200);
    let r = authority.put(&format!("/api/v1/cases/{case}/criteria"), &json!({"criteria": []}));
    note(&r, "PUT /api/v1/cases/{case}/criteria", 200);
    let r = vendor.upload_files(&case, "unemployment-logreg");
    note(&r, "POST /api/v1/cases/{case}/models", 201);
    let model = r.json()["id"].as_str().unwrap().to_owned();
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}));
    note(&r, "POST /api/v1/runs", 201);
    let run = r.json()["id"].as_str().unwrap().to_owned();
    let r = vendor.post(&format!("/api/v1/runs/{run}/cancel"), &json!({}));
    note(&r, "POST /api/v1/runs/{run}/cancel", 200);
    // Refused and failed requests keep their one entry, written after the handler.
    let r = vendor.post(&format!("/api/v1/runs/{run}/cancel"), &json!({}));
    note(&r, "POST /api/v1/runs/{run}/cancel", 409);
    let r = server
        .client(Some(&p.advisor))
        .post("/api/v1/cases", &json!({"name": "x"}));
    note(&r, "POST /api/v1/cases", 403);
    // The pages: a login and a logout.
    let form = format!("token={}&next=%2Fui%2Fcases", p.authority);
    let (status, head, _) = raw_http(
        &server.base,
        &format!(
            "POST /ui/login HTTP/1.1\r\nhost: HOST\r\nsec-fetch-site: same-origin\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 303, "{head}");
    changes.push((header_of(&head, "x-request-id").unwrap(), "POST /ui/login", 303));
    let cookie = header_of(&head, "set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let (status, _, page) = raw_http(
        &server.base,
        &format!("GET /ui/cases HTTP/1.1\r\nhost: HOST\r\ncookie: {cookie}\r\nconnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = format!("csrf={csrf}");
    let (status, head, _) = raw_http(
        &server.base,
        &format!(
            "POST /ui/logout HTTP/1.1\r\nhost: HOST\r\ncookie: {cookie}\r\nsec-fetch-site: same-origin\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 303, "{head}");
    changes.push((header_of(&head, "x-request-id").unwrap(), "POST /ui/logout", 303));

    let entries = audit_entries(&server, &p.advisor);
    for (rid, action, status) in &changes {
        let mine: Vec<&Value> = entries.iter().filter(|e| e["request_id"] == rid.as_str()).collect();
        assert_eq!(mine.len(), 1, "{action} ({rid}): {mine:?}");
        assert_eq!(mine[0]["action"], *action);
        assert_eq!(mine[0]["outcome"], status.to_string(), "{action}");
    }
    let login = entries.iter().find(|e| e["action"] == "POST /ui/login").unwrap();
    assert_eq!(
        login["role"], "authority",
        "a login is by the user it logged in: {login}"
    );
    let v = server.client(Some(&p.advisor)).get("/api/v1/audit/verify").json();
    assert_eq!(v["intact"], true, "{v}");
}

/// Rows of the SQLite database of `data`, read directly.
fn query_db(data: &Data, sql: &'static str) -> Vec<(String, Option<String>)> {
    let db = data.dir.path().join("sandkasse.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    })
}

fn exec_db(data: &Data, sql: &'static str) {
    let db = data.dir.path().join("sandkasse.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

#[test]
fn a_change_whose_audit_entry_cannot_be_written_is_not_made() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--run-slots", "0"]);
    let authority = server.client(Some(&p.authority));
    assert_eq!(authority.post("/api/v1/cases", &json!({"name": "før"})).status, 201);
    // The audit table stops taking entries (a full disk, a broken connection, ...).
    exec_db(
        &data,
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
    );
    let r = authority.post("/api/v1/cases", &json!({"name": "uden spor"}));
    assert_eq!(r.status, 500, "{}", r.text());
    let names: Vec<String> = authority
        .get("/api/v1/cases")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["før"], "a case was made without its audit entry");
}

#[test]
fn kill_9_during_concurrent_case_creation_leaves_no_case_without_its_audit_entry() {
    let data = Data::sqlite();
    let p = people(&data);
    let mut server = data.start(&["--run-slots", "0"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let created = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (client, stop, created) = (server.client(Some(&p.authority)), stop.clone(), created.clone());
            std::thread::spawn(move || {
                let body = json!({"name": format!("sag {t}"), "members": ["Nordlys Analytics", "Fjord AI"]});
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // The transport fails once the server is killed.
                    let url = format!("{}/api/v1/cases", client.base);
                    let ok = ureq::post(&url)
                        .header("Authorization", &format!("Bearer {}", client.token.as_deref().unwrap()))
                        .header("content-type", "application/json")
                        .send(body.to_string().as_bytes())
                        .is_ok();
                    if !ok {
                        return;
                    }
                    created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    let t = std::time::Instant::now();
    while created.load(std::sync::atomic::Ordering::Relaxed) < 300 {
        assert!(t.elapsed() < Duration::from_secs(120), "cases are not being created");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let cases = query_db(&data, "SELECT id, NULL FROM cases");
    assert!(cases.len() >= 300);
    let audited: std::collections::HashSet<String> = query_db(
        &data,
        "SELECT request_id, case_id FROM audit WHERE action = 'POST /api/v1/cases'",
    )
    .into_iter()
    .filter_map(|(_, case)| case)
    .collect();
    let missing: Vec<&String> = cases
        .iter()
        .map(|(id, _)| id)
        .filter(|id| !audited.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} cases have no audit entry: {missing:?}",
        missing.len(),
        cases.len()
    );
    let o = audit_verify(&data);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn anonymous_refusals_are_rate_limited_and_counted_not_each_written() {
    let data = Data::sqlite();
    let p = people(&data);
    let mut server = data.start(&["--run-slots", "0"]);
    let before = audit_entries(&server, &p.advisor).len();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        // A connection each: the server may close one after refusing without reading the body.
        let r = server
            .client(Some("not-a-token"))
            .post("/api/v1/cases", &json!({"name": "x"}));
        *statuses.entry(r.status).or_default() += 1;
        if i == 500 {
            // Meanwhile, from the same address: a caller with a valid token is served, and
            // health probes answer.
            let r = server
                .client(Some(&p.authority))
                .post("/api/v1/cases", &json!({"name": "ok"}));
            assert_eq!(r.status, 201, "{}", r.text());
            assert_eq!(server.client(None).get("/healthz").status, 200);
            assert_eq!(server.client(None).get("/v2/health/live").status, 200);
        }
    }
    assert!(statuses[&401] >= 50, "{statuses:?}");
    assert!(statuses[&429] >= 500, "{statuses:?}");
    assert_eq!(statuses.values().sum::<usize>(), 1000);
    // A 429 says when to come back.
    let (status, head, _) = raw_http(
        &server.base,
        "POST /api/v1/cases HTTP/1.1\r\nhost: HOST\r\nauthorization: Bearer nope\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    );
    assert_eq!(status, 429);
    let retry: u64 = header_of(&head, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // At shutdown the counts are written; 1,001 refusals are two entries.
    assert!(server.terminate().success());
    let server = data.start(&["--run-slots", "0"]);
    let entries = audit_entries(&server, &p.advisor);
    let new: Vec<&Value> = entries[before..].iter().filter(|e| e["actor"] == "anonymous").collect();
    assert_eq!(new.len(), 2, "{new:#?}");
    assert_eq!(new[0]["outcome"], "401");
    let summary = &new[1];
    assert_eq!(summary["action"], "anonymous refusals");
    let object = summary["object"].as_str().unwrap();
    let expected = format!(
        "1000 refused requests from 127.0.0.1 to POST /api/v1/cases (401 x{}, 429 x{}) between ",
        statuses[&401] - 1,
        statuses[&429] + 1
    );
    assert!(object.starts_with(&expected), "{object} vs {expected}");
    let v = server.client(Some(&p.advisor)).get("/api/v1/audit/verify").json();
    assert_eq!(v["intact"], true, "{v}");
}

#[test]
fn a_run_whose_model_file_is_gone_fails_naming_its_hash_not_a_server_path() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let (_, model) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let sha = vendor.get(&format!("/api/v1/models/{model}")).json()["model_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    // The blob goes missing behind the service's back (a disk fault, an operator's mistake).
    let blob = data.dir.path().join("blobs").join(&sha[..2]).join(&sha);
    std::fs::remove_file(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
    let r = vendor.post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}));
    assert_eq!(r.status, 201, "{}", r.text());
    let run = vendor.wait_run(r.json()["id"].as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(run["state"], "failed", "{run}");
    let cause = run["cause"].as_str().unwrap();
    assert!(cause.contains(&format!("model sha256 {sha}")), "{cause}");
    assert!(
        !cause.contains(&data.dir.path().display().to_string()),
        "a server path: {cause}"
    );
    assert!(!cause.contains("/blobs/"), "a server path: {cause}");
}

/// Issue 14: a manifest is checked against its scenario at upload. Each mistake a vendor makes
/// (a one-hot typo, an unknown column, a column of another scenario, text or a date used as a
/// number, the outcome as an input) is a 422 naming the field, the value and the valid
/// choices; a name and version already in the case is a 409; a manifest over the one limit is
/// a 413; nothing is stored. Categories the scenario produces but a one-hot leaves out are
/// accepted and shown as warnings in the inspection.
#[test]
fn manifest_mistakes_are_refused_at_upload_naming_field_value_and_choices() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let (case, _) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let models = || {
        vendor
            .get(&format!("/api/v1/cases/{case}/models"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    let before = models();
    let gbm = std::fs::read(service::models_dir().join("unemployment-gbm.onnx")).unwrap();
    let manifest = std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap();
    let edit = |from: &str, to: &str| {
        assert!(manifest.contains(from), "{from}");
        manifest
            .replace(from, to)
            .replace("version = \"1.0.0\"", "version = \"2.0.0\"")
    };
    let educations = [
        "in_school",
        "basic",
        "upper_secondary",
        "vocational",
        "short_cycle",
        "bachelor",
        "master_phd",
    ];
    let mistakes: Vec<(&str, String, &str, Vec<&str>)> = vec![
        (
            "one-hot typo",
            edit("one_hot = [\"bachelor\", ", "one_hot = [\"bachlor\", "),
            "inputs[1].columns[13].one_hot[0]",
            [
                vec![
                    "\"bachlor\" is not a category of \"education\"",
                    "did you mean \"bachelor\"?",
                ],
                educations.to_vec(),
            ]
            .concat(),
        ),
        (
            "unknown column",
            edit("{ column = \"age\" }", "{ column = \"agee\" }"),
            "inputs[1].columns[0].column",
            vec![
                "\"agee\" is not a column of scenario unemployment-risk",
                "did you mean \"age\"?",
                "sick_leave_days_12m",
            ],
        ),
        (
            "a column of another scenario",
            edit("{ column = \"n_children\" }", "{ column = \"functional_score\" }"),
            "inputs[1].columns[4].column",
            vec!["it is a column of rehabilitation-need"],
        ),
        (
            "text as a number",
            edit("{ column = \"n_children\" }", "{ column = \"first_name\" }"),
            "inputs[1].columns[4].column",
            vec!["\"first_name\" is free text", "numeric and yes/no columns can"],
        ),
        (
            "a date as a number",
            edit("{ column = \"n_children\" }", "{ column = \"birth_date\" }"),
            "inputs[1].columns[4].column",
            vec!["\"birth_date\" is a date"],
        ),
        (
            "a category as a number",
            edit("{ column = \"n_children\" }", "{ column = \"region\" }"),
            "inputs[1].columns[4].column",
            vec!["list its categories in one_hot", "Region Hovedstaden"],
        ),
        (
            "the outcome as an input",
            edit("{ column = \"n_children\" }", "{ column = \"outcome_recorded\" }"),
            "inputs[1].columns[4].column",
            vec!["never one of its inputs"],
        ),
    ];
    for (what, text, field, words) in &mistakes {
        let r = vendor.upload(&case, &gbm, text.as_bytes());
        assert_eq!(r.status, 422, "{what}: {}", r.text());
        assert_eq!(r.code(), "invalid_manifest", "{what}: {}", r.text());
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(&format!("manifest field {field}: ")),
            "{what}: {message}"
        );
        for w in words {
            assert!(message.contains(w), "{what}: {w:?} not in {message}");
        }
        assert!(
            !message.contains("/tmp") && !message.contains(".sandkasse"),
            "{what}: {message}"
        );
    }
    // The same name and version again.
    let r = vendor.upload(&case, &gbm, manifest.as_bytes());
    assert_eq!(r.status, 409, "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("\"unemployment-gbm\" version \"1.0.0\" is already in this case"),
        "{message}"
    );
    // Over the one limit of 256 KiB, which the OpenAPI document states.
    let padded = format!("{manifest}\n# {}\n", "x".repeat(256 * 1024));
    let r = server.client(Some(&p.vendor)).upload(&case, &gbm, padded.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    let spec = server.client(None).get("/api/v1/openapi.json").json();
    assert_eq!(
        spec["components"]["schemas"]["ModelUpload"]["properties"]["manifest"]["maxLength"],
        262144
    );
    assert_eq!(models(), before, "nothing stored");
    // A one-hot that leaves out categories the scenario produces: accepted, with a warning.
    let r = vendor.upload(
        &case,
        &gbm,
        edit("one_hot = [\"F\", \"M\"]", "one_hot = [\"F\", \"F\"]").as_bytes(),
    );
    assert_eq!(r.status, 422, "a category listed twice is refused: {}", r.text());
    // One category fewer and one plain column more: the same width, so the model accepts it.
    let fewer = edit(
        "{ column = \"household_type\", one_hot = [\"child_at_home\", ",
        "{ column = \"age\" },\n  { column = \"household_type\", one_hot = [",
    );
    let r = vendor.upload(&case, &gbm, fewer.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let inspection = vendor.get(&format!("/api/v1/models/{id}/inspection")).json();
    let warnings = inspection["warnings"].as_array().expect("warnings").clone();
    assert_eq!(warnings.len(), 1, "{inspection}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("\"household_type\"") && w.contains("\"child_at_home\"") && w.contains("all zeros"),
        "{w}"
    );
}

/// An upload without a manifest has one drafted from the model's input names: a wide input
/// without the training frame's column names is refused naming it and what to send, nothing
/// stored; with them the drafted manifest is the committed one, readable back; and `/v2` then
/// takes the scenario's types (a fractional age is refused, not cut).
#[test]
fn an_upload_without_a_manifest_is_drafted_or_refused_naming_what_could_not_be_mapped() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let (case, _) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let models = || {
        vendor
            .get(&format!("/api/v1/cases/{case}/models"))
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    let before = models();
    let gbm = std::fs::read(service::models_dir().join("unemployment-gbm.onnx")).unwrap();
    let committed = inference::Manifest::parse(
        &std::fs::read_to_string(service::models_dir().join("unemployment-gbm.toml")).unwrap(),
    )
    .unwrap();
    let upload = |parts: &[(&str, &[u8])]| {
        let named: Vec<(&str, &str, &[u8])> = parts.iter().map(|(n, b)| (*n, *n, *b)).collect();
        let (content_type, body) = service::multipart(&named);
        vendor.send("POST", &format!("/api/v1/cases/{case}/models"), &content_type, &body)
    };
    let base: Vec<(&str, &[u8])> = vec![
        ("model", &gbm),
        ("name", b"drafted-gbm"),
        ("version", b"1"),
        ("scenario", b"unemployment-risk"),
    ];
    let r = upload(&base);
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_manifest"), "{}", r.text());
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("input \"features\": it takes 37 columns") && message.contains("`feature_names`"),
        "{message}"
    );
    let r = upload(&base[..3]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("the part `scenario` is missing"), "{}", r.text());
    let manifest = std::fs::read(service::models_dir().join("unemployment-gbm.toml")).unwrap();
    let r = upload(&[
        ("model", &gbm),
        ("manifest", &manifest),
        ("scenario", b"unemployment-risk"),
    ]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("the part `scenario` is for drafting a manifest"),
        "{}",
        r.text()
    );
    assert_eq!(models(), before, "nothing stored");

    let wide = committed.inputs.iter().find(|i| i.tensor == "features").unwrap();
    let names: Vec<String> = wide
        .columns
        .iter()
        .flat_map(|c| match &c.one_hot {
            None => vec![c.column.clone()],
            Some(cats) => cats.iter().map(|v| format!("{}_{v}", c.column)).collect(),
        })
        .collect();
    let names = names.join("\n");
    let mut parts = base.clone();
    parts.push(("feature_names", names.as_bytes()));
    let r = upload(&parts);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = vendor.get(&format!("/api/v1/models/{id}/manifest"));
    assert_eq!(r.status, 200, "{}", r.text());
    let drafted = inference::Manifest::parse(&r.text()).unwrap();
    assert_eq!((drafted.inputs, drafted.output), (committed.inputs, committed.output));

    let meta = vendor.get(&format!("/v2/models/{id}")).json();
    let datatype = |name: &str| {
        meta["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["datatype"].clone())
    };
    assert_eq!(
        [
            datatype("age"),
            datatype("living_alone"),
            datatype("income_dkk"),
            datatype("sector")
        ],
        [
            Some(json!("INT64")),
            Some(json!("BOOL")),
            Some(json!("INT64")),
            Some(json!("BYTES"))
        ]
    );
    let inputs: Vec<Value> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let value = match i["datatype"].as_str().unwrap() {
                "BYTES" => json!("x"),
                "BOOL" => json!(true),
                _ if i["name"] == "age" => json!(40.5),
                _ => json!(1),
            };
            json!({"name": i["name"], "shape": [1], "datatype": i["datatype"], "data": [value]})
        })
        .collect();
    let r = vendor.post(&format!("/v2/models/{id}/infer"), &json!({"inputs": inputs}));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("input \\\"age\\\", value 0: 40.5 is not a whole number"),
        "{}",
        r.text()
    );
}

/// Runs SQL statements on a stopped service's SQLite database, as someone with the files would.
fn tamper(db: &std::path::Path, statements: &[&'static str]) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        for s in statements {
            sqlx::query(*s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    });
}

/// Appends entries chained exactly as the service chains them, after the newest one left: a forged
/// continuation that the chain alone cannot tell from the real one.
fn forge_continuation(db: &std::path::Path, n: usize) {
    use sqlx::Row as _;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let row = sqlx::query(
            "SELECT seq, time, actor, org, role, action, object, outcome, request_id, case_id, prev_hash, hash \
             FROM audit ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let mut prev = store::AuditEntry {
            seq: row.get("seq"),
            time: row.get("time"),
            actor: row.get("actor"),
            org: row.get("org"),
            role: row.get("role"),
            action: row.get("action"),
            object: row.get("object"),
            outcome: row.get("outcome"),
            request_id: row.get("request_id"),
            case_id: row.get("case_id"),
            prev_hash: row.get("prev_hash"),
            hash: row.get("hash"),
        };
        for i in 0..n {
            let e = store::chain(
                Some(&prev),
                store::NewEntry {
                    time: prev.time.clone(),
                    actor: "service".into(),
                    org: String::new(),
                    role: "service".into(),
                    action: "run.create".into(),
                    object: format!("run/forged-{i}"),
                    outcome: "ok".into(),
                    request_id: format!("forged-{i}"),
                    case_id: None,
                },
            );
            sqlx::query(
                "INSERT INTO audit (seq, time, actor, org, role, action, object, outcome, request_id, case_id, \
                 prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.seq)
            .bind(&e.time)
            .bind(&e.actor)
            .bind(&e.org)
            .bind(&e.role)
            .bind(&e.action)
            .bind(&e.object)
            .bind(&e.outcome)
            .bind(&e.request_id)
            .bind(&e.case_id)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&pool)
            .await
            .unwrap();
            prev = e;
        }
        pool.close().await;
    });
}

/// Issue 17: the three ways someone holding the database can rewrite history without breaking the hash chain
/// (cut its tail; cut it and continue with forged entries; put back an older copy of the database, checkpoints
/// table and all) each pass `audit verify` on the chain alone and each fail against a checkpoint signed before
/// and kept outside, with the reason named. The checkpoint comes from the API, its key from the API, and the
/// proofs the API gives verify with the RFC 9162 verifier.
#[test]
fn signed_checkpoints_find_a_cut_tail_a_forged_continuation_and_a_rollback() {
    let data = Data::sqlite();
    let db = data.dir.path().join("sandkasse.db");
    let older = data.dir.path().join("older.db");
    let p = people(&data);
    let mut server = data.start(&["--checkpoint-every-mins", "0"]);
    let advisor = server.client(Some(&p.advisor));
    assert_eq!(advisor.get("/api/v1/audit/checkpoint").status, 404);
    case_with_model(&server, &p);
    // The copy an attacker would later put back, taken consistently while the service runs.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("VACUUM INTO ?")
            .bind(older.display().to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    case_with_model(&server, &p);
    assert_eq!(
        server
            .client(Some(&p.vendor))
            .post("/api/v1/audit/checkpoint", &json!({}))
            .status,
        403,
        "only advisors and admins sign checkpoints"
    );
    let r = advisor.post("/api/v1/audit/checkpoint", &json!({}));
    assert_eq!(r.status, 201, "{}", r.text());
    let cp = r.json();
    let size = cp["size"].as_u64().unwrap();
    let root = store::merkle::from_hex(cp["root"].as_str().unwrap()).unwrap();
    let note = cp["note"].as_str().unwrap().to_owned();
    assert_eq!(advisor.get("/api/v1/audit/checkpoint").json()["note"], note.as_str());
    let key = advisor.get("/api/v1/audit/key").json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let verifier: store::VerifierKey = key.parse().unwrap();
    assert_eq!(verifier.open(&note).unwrap().size, size);
    // Every read above was audited, so the log has grown; the consistency proof shows the checkpoint is its prefix.
    let c = advisor
        .get(&format!("/api/v1/audit/proof/consistency?from={size}"))
        .json();
    let to = c["to"].as_u64().unwrap();
    assert!(to > size, "{c}");
    let hashes = |v: &serde_json::Value| -> Vec<store::merkle::Hash> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| store::merkle::from_hex(h.as_str().unwrap()).unwrap())
            .collect()
    };
    let now_root = store::merkle::from_hex(c["to_root"].as_str().unwrap()).unwrap();
    assert!(store::merkle::verify_consistency(
        size,
        to,
        &root,
        &now_root,
        &hashes(&c["proof"])
    ));
    let i = advisor
        .get(&format!("/api/v1/audit/proof/inclusion?seq=2&size={size}"))
        .json();
    let leaf = store::merkle::from_hex(i["leaf"].as_str().unwrap()).unwrap();
    assert!(store::merkle::verify_inclusion(
        &leaf,
        1,
        size,
        &hashes(&i["proof"]),
        &root
    ));
    assert_eq!(
        advisor
            .get(&format!("/api/v1/audit/proof/inclusion?seq={}", to + 100))
            .status,
        400
    );
    // Checked against the signer's record of its last checkpoint and the stored copy of the same.
    let v = advisor.get("/api/v1/audit/verify").json();
    assert_eq!(
        (v["intact"].as_bool(), v["checkpoints"].as_u64()),
        (Some(true), Some(2)),
        "{v}"
    );
    let cp_file = data.dir.path().join("checkpoint.txt");
    std::fs::write(&cp_file, &note).unwrap();

    // An independent implementation (Python, OpenSSL's Ed25519, the RFC's recursive tree) agrees with the
    // checkpoint over the entries the API lists, and refuses an edited entry and a changed note.
    let entries = advisor.get("/api/v1/audit?limit=1000").json()["entries"].clone();
    let reference = |entries: &serde_json::Value, note_file: &std::path::Path| {
        let f = data.dir.path().join("entries.json");
        std::fs::write(&f, entries.to_string()).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let o = std::process::Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tools/audit_reference.py"))
            .arg(&f)
            .arg(note_file)
            .arg(&key)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (ok, out) = reference(&entries, &cp_file);
    assert!(ok && out.contains(cp["root"].as_str().unwrap()), "{out}");
    let mut edited = entries.clone();
    edited[1]["outcome"] = json!("denied");
    let (ok, out) = reference(&edited, &cp_file);
    assert!(!ok && out.contains("entry 2's content"), "{out}");
    let changed = data.dir.path().join("changed.txt");
    std::fs::write(
        &changed,
        note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size - 1), 1),
    )
    .unwrap();
    let (ok, out) = reference(&entries, &changed);
    assert!(!ok && out.contains("signature does not verify"), "{out}");
    assert_eq!(server.terminate().code(), Some(0));
    let verify = |with_checkpoint: bool| {
        let mut cmd = service::sandkasse();
        cmd.args(["audit", "verify"]).args(data.args());
        if with_checkpoint {
            cmd.args(["--key", &key]).arg("--checkpoint").arg(&cp_file);
        }
        let o = cmd.output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (ok, out) = verify(true);
    assert!(
        ok && out.contains("extends 1 checkpoint(s) given and 1 stored"),
        "{out}"
    );
    // The command line signs with the same key the service used, and prints the same public half.
    let o = service::sandkasse()
        .args(["audit", "key"])
        .args(data.args())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), key);
    let cli_cp = data.dir.path().join("cli-checkpoint.txt");
    let o = service::sandkasse()
        .args(["audit", "checkpoint", "--out"])
        .arg(&cli_cp)
        .args(data.args())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli = verifier.open(&std::fs::read_to_string(&cli_cp).unwrap()).unwrap();
    assert!(
        cli.size > size,
        "the later checkpoint covers the reads since: {} vs {size}",
        cli.size
    );
    let intact = std::fs::read(&db).unwrap();
    let record = data.dir.path().join("audit-last-checkpoint.txt");
    let last = std::fs::read(&record).unwrap();
    let restore = |bytes: &[u8]| {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(data.dir.path().join(format!("sandkasse.db{suffix}")));
        }
        std::fs::write(&db, bytes).unwrap();
        std::fs::write(&record, &last).unwrap();
    };
    // The attacker removes the stored checkpoints too.
    for (attack, expect) in [
        ("cut tail", "removed from its end"),
        ("forged continuation", "are not those the checkpoint"),
        ("rollback", "older copy of the database was restored"),
    ] {
        restore(&intact);
        match attack {
            "cut tail" => tamper(
                &db,
                &[
                    "DELETE FROM audit WHERE seq > (SELECT MIN(size) - 2 FROM audit_checkpoints)",
                    "DELETE FROM audit_checkpoints",
                ],
            ),
            "forged continuation" => {
                tamper(
                    &db,
                    &[
                        "DELETE FROM audit WHERE seq > (SELECT MIN(size) - 2 FROM audit_checkpoints)",
                        "DELETE FROM audit_checkpoints",
                    ],
                );
                forge_continuation(&db, 10);
            }
            _ => restore(&std::fs::read(&older).unwrap()),
        }
        // On the host, the signer's record of its last checkpoint (beside the key, outside the database) sees
        // it, and the sandbox will not sign the rewritten log.
        let (ok, out) = verify(false);
        assert!(!ok && out.contains("does not verify"), "{attack}: {out}");
        let o = service::sandkasse()
            .args(["audit", "checkpoint"])
            .args(data.args())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("no checkpoint was signed"),
            "{attack}: {err}"
        );
        // An attacker who holds the data directory removes that record too: now the chain alone passes, and
        // only the checkpoint kept outside the sandbox tells.
        std::fs::remove_file(&record).unwrap();
        let (ok, out) = verify(false);
        assert!(ok, "{attack}: the chain alone should not see it, yet: {out}");
        let (ok, out) = verify(true);
        assert!(!ok && out.contains(expect), "{attack}: {out}");
    }
}

/// Issue 17: findings are the advisor's one write, authorities write them too; they are kept as written (a
/// correction supersedes, both stay, and a finding is corrected once); vendors read those on their own work
/// only, and organisations outside the case get 404.
#[test]
fn findings_are_written_by_oversight_kept_as_written_and_shown_to_vendors_on_their_own_work() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--checkpoint-every-mins", "0"]);
    let (advisor, authority, vendor, other) = (
        server.client(Some(&p.advisor)),
        server.client(Some(&p.authority)),
        server.client(Some(&p.vendor)),
        server.client(Some(&p.other_vendor)),
    );
    let (case, model) = case_with_model(&server, &p);
    let run = vendor
        .post("/api/v1/runs", &json!({"model_id": model, "rows": 2000}))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/cases/{case}/findings");
    let on_run = json!({"target": {"kind": "run", "id": run}, "severity": "medium",
        "body": "Selection rate for women is 0.74 of men's.\nAsk for the training data's shares.",
        "links": [{"kind": "run", "id": run, "section": "fairness"}]});
    let r = advisor.post(&path, &on_run);
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["role"], "advisor");
    let r = authority.post(
        &path,
        &json!({"target": {"kind": "case"}, "severity": "note", "body": "Plan agreed on 1 December."}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = advisor.post(
        &path,
        &json!({"target": {"kind": "model", "id": model}, "severity": "low", "body": "Manifest names no unit for income."}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Who may not write: the vendor (403), an organisation outside the case (404, as if it did not exist).
    assert_eq!(vendor.post(&path, &on_run).status, 403);
    assert_eq!(other.post(&path, &on_run).status, 404);
    assert_eq!(other.get(&path).status, 404);
    // The vendor reads the findings on its run and its model, not the case's own.
    let seen = vendor.get(&path).json();
    let kinds: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["run", "model"], "{seen}");
    // A correction supersedes; both stay; a second correction of the same finding is refused.
    let fix = json!({"target": {"kind": "run", "id": run}, "severity": "high", "body": "0.64, not 0.74: the interval was misread.",
        "supersedes": first});
    let r = advisor.post(&path, &fix);
    assert_eq!(r.status, 201, "{}", r.text());
    let second = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(advisor.post(&path, &fix).status, 409);
    let all = advisor.get(&path).json();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(
        (all[0]["id"].as_str(), all[0]["superseded_by"].as_str()),
        (Some(first.as_str()), Some(second.as_str()))
    );
    assert_eq!(
        all[0]["body"], on_run["body"],
        "the superseded finding stays as written"
    );
    // Bad input is named.
    for (body, status, words) in [
        (
            json!({"target": {"kind": "run", "id": "0123456789abcdef0123456789abcdef"}, "severity": "low", "body": "x"}),
            422,
            "not in case",
        ),
        (
            json!({"target": {"kind": "case"}, "severity": "low", "body": "bell\u{7}"}),
            400,
            "U+0007",
        ),
        (
            json!({"target": {"kind": "case"}, "severity": "low", "body": "x".repeat(10_001)}),
            400,
            "10000",
        ),
        (
            json!({"target": {"kind": "case"}, "severity": "urgent", "body": "x"}),
            400,
            "severity",
        ),
        // A correction keeps the corrected finding's target, so its readers read the correction too.
        (
            json!({"target": {"kind": "case"}, "severity": "low", "body": "x", "supersedes": second}),
            422,
            "target",
        ),
        (
            json!({"target": {"kind": "case"}, "severity": "low", "body": "x", "links": [{"kind": "run", "id": run, "section": "<b>"}]}),
            400,
            "section",
        ),
    ] {
        let r = advisor.post(&path, &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.text().contains(words), "{}", r.text());
    }
    assert_eq!(
        advisor.get(&path).json().as_array().unwrap().len(),
        4,
        "refused findings are not stored"
    );
    // Each finding committed with its own audit entry, naming it and the case.
    let log = advisor.get(&format!("/api/v1/audit?case={case}&limit=1000")).json();
    let written: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "201" && e["object"].as_str().unwrap().starts_with("finding/"))
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(written.len(), 4, "{log}");
    assert!(written.contains(&format!("finding/{second}").as_str()));
}

/// Rebuilds a tar with `change` applied to the file at `path`.
fn retar(bundle: &[u8], mut change: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(bundle);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if let Some(data) = change(&path, data) {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            out.append_data(&mut h, &path, data.as_slice()).unwrap();
        }
    }
    out.into_inner().unwrap()
}

/// Issue 17: a case's evidence bundle verifies offline with the sandbox's public key; one byte changed in any of
/// its files fails naming that file; an audit entry taken out fails; another sandbox's key fails.
#[test]
fn an_evidence_bundle_verifies_offline_and_names_any_file_changed() {
    let data = Data::sqlite();
    let p = people(&data);
    let mut server = data.start(&["--checkpoint-every-mins", "0"]);
    let (case, model) = case_with_model(&server, &p);
    let vendor = server.client(Some(&p.vendor));
    let run = vendor
        .post("/api/v1/runs", &json!({"model_id": model, "rows": 3000}))
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(vendor.wait_run(&run, Duration::from_secs(60))["state"], "succeeded");
    let advisor = server.client(Some(&p.advisor));
    let r = advisor.post(
        &format!("/api/v1/cases/{case}/findings"),
        &json!({"target": {"kind": "run", "id": run}, "severity": "low", "body": "Checked."}),
    );
    assert_eq!(r.status, 201);
    // The case's plan and checklist go into the bundle too, each bound to the audit entry of its save.
    let authority = server.client(Some(&p.authority));
    let r = authority.put(
        &format!("/api/v1/cases/{case}/plan"),
        &json!({"objectives": ["Afprøv modellen."], "models_in_scope": [model]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let blank = authority.get(&format!("/api/v1/cases/{case}/checklist")).json()["checklist"].clone();
    assert_eq!(
        authority.put(&format!("/api/v1/cases/{case}/checklist"), &blank).status,
        200
    );
    let key = advisor.get("/api/v1/audit/key").json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(server.terminate().code(), Some(0));

    let bundle = data.dir.path().join("evidence.tar");
    let o = service::sandkasse()
        .args(["evidence", "export", "--case", &case, "--out"])
        .arg(&bundle)
        .args(data.args())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let verify = |path: &std::path::Path, key: &str| {
        let o = service::sandkasse()
            .args(["evidence", "verify", "--key", key])
            .arg(path)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (ok, out) = verify(&bundle, &key);
    assert!(ok && out.contains("1 runs"), "{out}");
    let bytes = std::fs::read(&bundle).unwrap();
    let mut paths = Vec::new();
    retar(&bytes, |p, d| {
        paths.push(p.to_owned());
        Some(d)
    });
    for needed in [
        "case.json",
        "audit/entries.json",
        "audit/proofs.json",
        "audit/checkpoint.txt",
        "MANIFEST.sig",
        "documents/plan-v1.json",
        "documents/checklist-v1.json",
        "exit-report.json",
        "exit-report.da.html",
        "exit-report.en.html",
    ] {
        assert!(paths.iter().any(|p| p == needed), "{needed} missing from {paths:?}");
    }
    // The exit report in the bundle is the operator's (the whole case) and lists the run with its record.
    let mut exit = None;
    retar(&bytes, |p, d| {
        if p == "exit-report.json" {
            exit = Some(serde_json::from_slice::<Value>(&d).unwrap());
        }
        Some(d)
    });
    let exit = exit.unwrap();
    assert_eq!(exit["complete"], true, "{}", exit["reader"]);
    assert_eq!(exit["runs"][0]["id"], run.as_str());
    assert_eq!(exit["runs"][0]["result"]["verdicts"], json!([]));
    assert_eq!(exit["findings"][0]["finding"]["body"], "Checked.");
    assert!(paths.iter().any(|p| p.ends_with(".record.json")) && paths.iter().any(|p| p.ends_with(".manifest")));
    let changed = data.dir.path().join("changed.tar");
    for target in &paths {
        let t = retar(&bytes, |p, mut d| {
            if p == target {
                let i = d.len() / 2;
                d[i] ^= 0x01;
            }
            Some(d)
        });
        std::fs::write(&changed, t).unwrap();
        let (ok, out) = verify(&changed, &key);
        assert!(!ok && out.contains(target.as_str()), "{target} changed: {out}");
    }
    // One audit entry taken out (the JSON still well formed).
    let t = retar(&bytes, |p, d| {
        if p != "audit/entries.json" {
            return Some(d);
        }
        let mut v: serde_json::Value = serde_json::from_slice(&d).unwrap();
        v.as_array_mut().unwrap().remove(0);
        Some(serde_json::to_vec_pretty(&v).unwrap())
    });
    std::fs::write(&changed, t).unwrap();
    let (ok, out) = verify(&changed, &key);
    assert!(!ok && out.contains("audit/entries.json"), "{out}");
    // A file added, and another sandbox's key.
    let t = retar(&bytes, |_, d| Some(d));
    let mut extra = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(t.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut h = entry.header().clone();
        let path = entry.path().unwrap().into_owned();
        let mut d = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut d).unwrap();
        extra.append_data(&mut h, path, d.as_slice()).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_cksum();
    extra.append_data(&mut h, "runs/extra.json", &b"{}"[..]).unwrap();
    std::fs::write(&changed, extra.into_inner().unwrap()).unwrap();
    let (ok, out) = verify(&changed, &key);
    assert!(!ok && out.contains("runs/extra.json"), "{out}");
    let stranger = store::AuditKey::generate().unwrap().verifier().to_string();
    let (ok, out) = verify(&bundle, &stranger);
    assert!(!ok && out.contains("MANIFEST.sig"), "{out}");
}

/// A finding on one vendor's run may cite another vendor's model as evidence; the first vendor reads the
/// finding but not that link, and the second reads neither (the finding is not on its work).
#[test]
fn a_vendor_reads_no_link_to_another_vendors_work() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--checkpoint-every-mins", "0"]);
    let (case, model) = case_with_model(&server, &p);
    let r = server
        .client(Some(&p.authority))
        .post(&format!("/api/v1/cases/{case}/members"), &json!({"org": "Fjord AI"}));
    assert!(r.status < 300, "{}", r.text());
    let (vendor, other) = (server.client(Some(&p.vendor)), server.client(Some(&p.other_vendor)));
    let r = other.upload_files(&case, "unemployment-logreg");
    assert_eq!(r.status, 201, "{}", r.text());
    let theirs = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cases/{case}/findings");
    let r = server.client(Some(&p.advisor)).post(
        &path,
        &json!({"target": {"kind": "model", "id": model}, "severity": "low", "body": "Compare with the other model.",
            "links": [{"kind": "model", "id": theirs}, {"kind": "model", "id": model}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let seen = vendor.get(&path).json();
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen[0]["links"], json!([{"kind": "model", "id": model}]), "{seen}");
    assert!(!seen.to_string().contains(&theirs), "{seen}");
    assert_eq!(other.get(&path).json(), json!([]));
}

/// Issue 17: every sample model's run replays byte-identical — through the API as an advisor
/// (audited with the hashes compared) and with `sandkasse replay` beside the running service —
/// and on SQLite a run whose stored parameters were changed behind the service's back replays
/// different, naming the first field that differs. Only advisors and admins may replay; others
/// in the case are refused, other organisations do not see the run.
fn every_sample_model_replays_byte_identical(data: Data) {
    let p = people(&data);
    let server = data.start(&[]);
    let (vendor, advisor) = (server.client(Some(&p.vendor)), server.client(Some(&p.advisor)));
    let r = server.client(Some(&p.authority)).post(
        "/api/v1/cases",
        &json!({"name": "replays", "members": ["Nordlys Analytics"]}),
    );
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let mut stems: Vec<String> = std::fs::read_dir(service::models_dir())
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".onnx").map(str::to_owned)
        })
        .collect();
    stems.sort();
    assert!(stems.len() >= 6, "{stems:?}");
    let mut runs = Vec::new();
    for stem in &stems {
        let r = vendor.upload_files(&case, stem);
        assert_eq!(r.status, 201, "{stem}: {}", r.text());
        let model = r.json()["id"].as_str().unwrap().to_owned();
        // The eldercare models predict hours and levels: their runs have no counterfactual twins.
        let numeric = stem.starts_with("eldercare-");
        let body = if numeric {
            json!({"model_id": model, "rows": 4000, "seed": 11})
        } else {
            json!({"model_id": model, "rows": 4000, "seed": 11, "counterfactual": "origin"})
        };
        let r = vendor.post("/api/v1/runs", &body);
        assert_eq!(r.status, 201, "{stem}: {}", r.text());
        runs.push((stem.clone(), r.json()["id"].as_str().unwrap().to_owned()));
    }
    for (stem, run) in &runs {
        let done = vendor.wait_run(run, Duration::from_secs(300));
        assert_eq!(done["state"], "succeeded", "{stem}: {done}");
    }

    for (stem, run) in &runs {
        let r = advisor.post(&format!("/api/v1/runs/{run}/replay"), &json!({}));
        assert_eq!(r.status, 200, "{stem}: {}", r.text());
        let v = r.json();
        assert_eq!(v["identical"], true, "{stem}: {v}");
        assert_eq!(v["first_difference"], Value::Null, "{stem}");
        assert_eq!(v["stored_findings_sha256"], v["replayed_findings_sha256"]);
        assert_eq!(v["changed"], json!([]), "the same release and runtime: {v}");
        let rows = if stem.starts_with("eldercare-") { 4000 } else { 8000 };
        assert_eq!(v["rows"], rows, "{stem}: rows and their twins");

        let o = service::sandkasse()
            .args(["replay", run])
            .args(data.args())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{stem}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            out.contains("identical: the replayed findings are byte-identical"),
            "{out}"
        );
        assert!(out.contains(v["replayed_findings_sha256"].as_str().unwrap()), "{out}");
    }
    // The advisor's replays are in the log, with what they found.
    let entries = audit_entries(&server, &p.advisor);
    let replays: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "POST /api/v1/runs/{run}/replay" && e["outcome"] == "200")
        .collect();
    assert_eq!(replays.len(), runs.len(), "{entries:?}");
    assert!(replays.iter().all(|e| {
        e["object"]
            .as_str()
            .unwrap()
            .contains(": replay identical (findings sha256")
    }));

    // Who may replay: advisors (and admins); the vendor and the authority are refused, another
    // vendor does not see the run.
    let run = &runs[0].1;
    assert_eq!(
        vendor.post(&format!("/api/v1/runs/{run}/replay"), &json!({})).status,
        403
    );
    assert_eq!(
        server
            .client(Some(&p.authority))
            .post(&format!("/api/v1/runs/{run}/replay"), &json!({}))
            .status,
        403
    );
    let other = server.client(Some(&p.other_vendor));
    assert_eq!(
        other.post(&format!("/api/v1/runs/{run}/replay"), &json!({})).status,
        404
    );

    if data.database_url.is_none() {
        // Someone with the database changes a finished run's seed: its replay scores other citizens,
        // and says where the findings first part.
        let sql = format!(
            "UPDATE runs SET params_json = json_set(params_json, '$.dataset.seed', 12) WHERE id = '{}'",
            runs[1].1
        );
        exec_db(&data, Box::leak(sql.into_boxed_str()));
        let o = service::sandkasse()
            .args(["replay", &runs[1].1, "--json"])
            .args(data.args())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["identical"], false, "{v}");
        assert_eq!(v["first_difference"]["path"], "dataset.seed", "{v}");
        assert_eq!(
            (
                v["first_difference"]["stored"].as_str(),
                v["first_difference"]["replayed"].as_str()
            ),
            (Some("11"), Some("12"))
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("differ"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn every_sample_model_replays_byte_identical_on_sqlite() {
    every_sample_model_replays_byte_identical(Data::sqlite());
}

#[test]
fn every_sample_model_replays_byte_identical_on_postgres() {
    every_sample_model_replays_byte_identical(Data::postgres());
}

/// Issue 17: runs on the same dataset compare as paired samples. The same model twice differs in
/// nothing (every difference exactly 0, every paired interval [0, 0]); two correlated models
/// (logistic regression and gradient boosting on the same citizens) have paired intervals
/// narrower than the unpaired ones; the rates agree with each run's own report (computed by
/// another path, the accumulators); runs on different datasets are refused naming both hashes;
/// the leaderboard lists every succeeded run against the case's criteria; another vendor sees
/// none of it.
#[test]
fn runs_on_the_same_dataset_compare_as_paired_samples() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let (authority, vendor) = (server.client(Some(&p.authority)), server.client(Some(&p.vendor)));
    let r = authority.post(
        "/api/v1/cases",
        &json!({"name": "compare", "members": ["Nordlys Analytics"]}),
    );
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let criteria = json!({"criteria": [
        {"attribute": "origin", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8},
        {"attribute": "sex", "metric": "equal_opportunity_difference", "op": "<=", "threshold": 0.1}
    ]});
    assert_eq!(
        authority
            .put(&format!("/api/v1/cases/{case}/criteria"), &criteria)
            .status,
        200
    );
    let model = |stem: &str| {
        let r = vendor.upload_files(&case, stem);
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    };
    let (logreg, gbm) = (model("unemployment-logreg"), model("unemployment-gbm"));
    let start = |model: &str, seed: u64| {
        let r = vendor.post(
            "/api/v1/runs",
            &json!({"model_id": model, "rows": 20000, "seed": seed, "no_explain": true, "no_paths": true, "no_robustness": true}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(vendor.wait_run(&id, Duration::from_secs(300))["state"], "succeeded");
        id
    };
    let (a, a2, b, c) = (start(&logreg, 5), start(&logreg, 5), start(&gbm, 5), start(&gbm, 6));

    // The same model on the same citizens: nothing differs.
    let r = authority.get(&format!("/api/v1/cases/{case}/comparison?runs={a},{a2}&resamples=200"));
    assert_eq!(r.status, 200, "{}", r.text());
    let same = r.json();
    assert_eq!(same["citizens"], 20000);
    let pair = &same["pairs"][0];
    assert_eq!(pair["decisions_differ"], 0);
    let rates = pair["rates"].as_array().unwrap();
    assert!(rates.len() > 20, "{rates:?}");
    for x in rates.iter().chain(pair["disparities"].as_array().unwrap()) {
        if x["change"].is_null() {
            continue;
        }
        assert_eq!(x["change"]["difference"], 0.0, "{x}");
        assert_eq!(x["change"]["first"], x["change"]["second"], "{x}");
        assert_eq!(x["change"]["paired"], json!([0.0, 0.0]), "{x}");
    }

    // Two correlated models on the same citizens.
    let r = authority.get(&format!("/api/v1/cases/{case}/comparison?runs={a},{b}&resamples=1000"));
    assert_eq!(r.status, 200, "{}", r.text());
    let cmp = r.json();
    let pair = &cmp["pairs"][0];
    assert!(pair["decisions_differ"].as_u64().unwrap() > 0);
    let width = |i: &Value| i[1].as_f64().unwrap() - i[0].as_f64().unwrap();
    let mut narrower = 0;
    let mut compared = 0;
    for x in pair["rates"].as_array().unwrap() {
        let ch = &x["change"];
        if ch.is_null() || x["n"].as_u64().unwrap() < 500 {
            continue;
        }
        compared += 1;
        narrower += usize::from(width(&ch["paired"]) < width(&ch["unpaired"]));
    }
    assert!(
        compared >= 10 && narrower == compared,
        "{narrower} of {compared}: {pair}"
    );
    let overall = pair["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["outcome"] == "recorded" && x["rate"] == "selection_rate" && x["group"].is_null())
        .unwrap();
    assert!(
        width(&overall["change"]["paired"]) * 2.0 < width(&overall["change"]["unpaired"]),
        "{overall}"
    );
    // The rates agree with each run's own report.
    for (k, run) in [(0usize, &a), (1, &b)] {
        let report = authority.get(&format!("/api/v1/runs/{run}/report")).json();
        let own = report["report"]["overall"]["metrics"]["selection_rate"]["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{}", report["report"]["overall"]));
        let mine = overall["change"][if k == 0 { "first" } else { "second" }]
            .as_f64()
            .unwrap();
        assert!((own - mine).abs() < 1e-12, "run {run}: report {own}, comparison {mine}");
    }
    // The criteria side by side.
    assert_eq!(cmp["criteria"].as_array().unwrap().len(), 2, "{}", cmp["criteria"]);
    let md = authority.get(&format!(
        "/api/v1/cases/{case}/comparison.md?runs={a},{b}&resamples=100"
    ));
    assert_eq!(md.status, 200);
    assert!(
        md.text().contains("# Comparison of runs") && md.text().contains("paired"),
        "{}",
        md.text()
    );

    // Different datasets do not pair.
    let r = authority.get(&format!("/api/v1/cases/{case}/comparison?runs={a},{c}"));
    assert_eq!(r.status, 409, "{}", r.text());
    let (ha, hc) = (
        authority.get(&format!("/api/v1/runs/{a}/report")).json()["provenance"]["dataset_sha256"].clone(),
        authority.get(&format!("/api/v1/runs/{c}/report")).json()["provenance"]["dataset_sha256"].clone(),
    );
    assert_ne!(ha, hc);
    assert!(
        r.text().contains(ha.as_str().unwrap()) && r.text().contains(hc.as_str().unwrap()),
        "{}",
        r.text()
    );
    for bad in [a.clone(), format!("{a},{a}"), String::new()] {
        let r = authority.get(&format!("/api/v1/cases/{case}/comparison?runs={bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }

    // The leaderboard: four runs, two criteria.
    let board = authority.get(&format!("/api/v1/cases/{case}/leaderboard")).json();
    assert_eq!(board["criteria"].as_array().unwrap().len(), 2, "{board}");
    let rows = board["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{board}");
    assert!(rows.iter().all(|r| r["verdicts"].as_array().unwrap().len() == 2));
    let passed: Vec<u64> = rows.iter().map(|r| r["passed"].as_u64().unwrap()).collect();
    assert!(passed.windows(2).all(|w| w[0] >= w[1]), "{passed:?}");

    // Another vendor sees none of it.
    let other = server.client(Some(&p.other_vendor));
    assert_eq!(other.get(&format!("/api/v1/cases/{case}/leaderboard")).status, 404);
    assert_eq!(
        other
            .get(&format!("/api/v1/cases/{case}/comparison?runs={a},{b}"))
            .status,
        404
    );
}

/// Issue 17: a case's requirements checklist. Everyone in the case reads it (blank, version 0, before any save);
/// the case's authority saves versions (JSON or CSV), each audited with its version and hash, every older version
/// still readable; CSV exported by the service, imported and exported again is byte-identical, tricky text
/// included; evidence must be work of the case; a vendor reads only the links to work it may see and saves
/// nothing (what it reads is not the whole checklist); advisors review but do not answer; another organisation
/// does not see it.
#[test]
fn the_requirements_checklist_is_versioned_audited_and_round_trips_through_csv() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let (authority, vendor, advisor) = (
        server.client(Some(&p.authority)),
        server.client(Some(&p.vendor)),
        server.client(Some(&p.advisor)),
    );
    let (case, model) = case_with_model(&server, &p);
    let r = vendor.post(
        "/api/v1/runs",
        &json!({"model_id": model, "rows": 1000, "no_explain": true}),
    );
    let run = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cases/{case}/checklist");

    let blank = advisor.get(&path);
    assert_eq!(blank.status, 200, "{}", blank.text());
    let blank = blank.json();
    assert_eq!(blank["version"], 0);
    let items = blank["checklist"]["items"].as_array().unwrap().clone();
    assert!(items.len() >= 20, "{items:?}");
    assert_eq!(blank["summary"]["open"], items.len());

    // A second vendor in the case, with a model of its own.
    let third = data.add_user("Tredje Data", "vendor", "Tove");
    let r = authority.post(&format!("/api/v1/cases/{case}/members"), &json!({"org": "Tredje Data"}));
    assert!(r.status < 300, "{}", r.text());
    let third = server.client(Some(&third));
    let r = third.upload_files(&case, "unemployment-mlp");
    assert_eq!(r.status, 201, "{}", r.text());
    let third_model = r.json()["id"].as_str().unwrap().to_owned();

    // The authority answers three requirements, two with evidence from the case.
    let mut doc = blank["checklist"].clone();
    doc["items"][0]["status"] = json!("answered");
    doc["items"][0]["answer"] = json!("=HYPERLINK(\"x\") \"citat\", komma\nny linje æøå 🧪");
    doc["items"][1]["status"] = json!("evidenced");
    doc["items"][1]["answer"] = json!("'+ se kørslen");
    doc["items"][1]["evidence"] = json!([
        format!("run:{run}"),
        format!("model:{model}"),
        format!("model:{third_model}")
    ]);
    doc["items"][2]["status"] = json!("evidenced");
    doc["items"][2]["answer"] = json!("Se den anden leverandørs model.");
    doc["items"][2]["evidence"] = json!([format!("model:{third_model}")]);
    assert_eq!(
        vendor.put(&path, &doc).status,
        403,
        "a vendor does not save the checklist"
    );
    let r = authority.put(&path, &doc);
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = r.json();
    assert_eq!(
        (v1["version"].as_u64(), v1["summary"]["evidenced"].as_u64()),
        (Some(1), Some(2))
    );
    // Each vendor reads the links to its own work only; an item whose every link is hidden reads as answered.
    let seen = vendor.get(&path).json()["checklist"]["items"].clone();
    assert_eq!(
        seen[1]["evidence"],
        json!([format!("run:{run}"), format!("model:{model}")])
    );
    assert_eq!(
        (seen[2]["status"].as_str(), seen[2]["evidence"].clone()),
        (Some("answered"), json!([]))
    );
    assert!(!vendor.get(&format!("{path}.csv")).text().contains(&third_model));
    let seen = third.get(&path).json()["checklist"]["items"].clone();
    assert_eq!(seen[1]["evidence"], json!([format!("model:{third_model}")]));
    assert_eq!(seen[2]["status"], "evidenced");
    assert_eq!(
        advisor.get(&path).json()["checklist"]["items"][1]["evidence"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // CSV: exported, imported, exported again: the same bytes; the import is a new version with the same hash.
    let csv1 = authority.get(&format!("{path}.csv"));
    assert_eq!(csv1.status, 200);
    assert!(csv1.content_type.starts_with("text/csv"));
    let r = authority.send("PUT", &format!("{path}.csv"), "text/csv; charset=utf-8", &csv1.body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    assert_eq!(
        r.json()["sha256"],
        v1["sha256"],
        "the same checklist, the same canonical bytes"
    );
    let csv2 = authority.get(&format!("{path}.csv"));
    assert_eq!(csv1.body, csv2.body, "CSV export, import, export is byte-identical");
    // The formula is defused in the CSV and restored on import.
    assert!(csv1.text().contains("'=HYPERLINK"), "{}", csv1.text());
    assert_eq!(
        authority.get(&path).json()["checklist"]["items"][0]["answer"],
        doc["items"][0]["answer"]
    );

    // Every version stays readable.
    let old = authority.get(&format!("{path}?version=1")).json();
    assert_eq!(old["version"], 1);
    assert_eq!(authority.get(&format!("{path}?version=9")).status, 404);

    // Refusals: evidence from another case, a broken CSV (named by line), the wrong media type, the wrong role,
    // another organisation.
    let (_, other_model) = case_with_model(&server, &p);
    let mut foreign = doc.clone();
    foreign["items"][1]["evidence"] = json!([format!("model:{other_model}")]);
    let r = authority.put(&path, &foreign);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains(&other_model), "{}", r.text());
    let mut broken = csv1.text();
    broken = broken.replacen(",answered,", ",finished,", 1);
    let r = authority.send("PUT", &format!("{path}.csv"), "text/csv", broken.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("line") && r.text().contains("finished"),
        "{}",
        r.text()
    );
    assert_eq!(
        authority
            .send("PUT", &path, "text/plain", doc.to_string().as_bytes())
            .status,
        415
    );
    assert_eq!(advisor.put(&path, &doc).status, 403);
    let other = server.client(Some(&p.other_vendor));
    assert_eq!(other.get(&path).status, 404);
    assert_eq!(other.put(&path, &doc).status, 404);
    assert_eq!(authority.get(&path).json()["version"], 2, "nothing refused was stored");

    // The saves are in the audit log with their versions and hashes.
    let entries = audit_entries(&server, &p.advisor);
    let saves: Vec<&str> = entries
        .iter()
        .filter(|e| {
            let action = e["action"].as_str().unwrap_or("");
            e["outcome"] == "200" && action.starts_with("PUT ") && action.contains("/checklist")
        })
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(saves.len(), 2, "{saves:?}");
    assert!(
        saves[0].contains("version 1 sha256") && saves[1].contains("version 2 sha256"),
        "{saves:?}"
    );
    // The schema is served.
    let schema = advisor.get("/api/v1/checklist/schema");
    assert_eq!(schema.status, 200);
    assert!(schema.json()["properties"]["items"].is_object(), "{}", schema.text());
}

/// Issue 17: the sandbox plan of a case. The authority writes it; every save is a version, audited with its hash;
/// every run records the version in force when it was started; older versions stay readable; a milestone without
/// a real date or a model of another case is refused naming the field; vendors and advisors read but do not write.
#[test]
fn the_sandbox_plan_is_versioned_and_its_version_recorded_in_every_run() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&[]);
    let (authority, vendor, advisor) = (
        server.client(Some(&p.authority)),
        server.client(Some(&p.vendor)),
        server.client(Some(&p.advisor)),
    );
    let (case, model) = case_with_model(&server, &p);
    let path = format!("/api/v1/cases/{case}/plan");
    // A second vendor in the case, whose model is in scope too.
    let third = data.add_user("Tredje Data", "vendor", "Tove");
    let r = authority.post(&format!("/api/v1/cases/{case}/members"), &json!({"org": "Tredje Data"}));
    assert!(r.status < 300, "{}", r.text());
    let r = server.client(Some(&third)).upload_files(&case, "unemployment-mlp");
    assert_eq!(r.status, 201, "{}", r.text());
    let third_model = r.json()["id"].as_str().unwrap().to_owned();
    let none = vendor.get(&path).json();
    assert_eq!((none["version"].as_u64(), none["plan"].is_null()), (Some(0), true));
    let run = |who: &service::Client| {
        let r = who.post(
            "/api/v1/runs",
            &json!({"model_id": model, "rows": 500, "no_explain": true}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    };
    let before = run(&vendor);

    let plan = json!({
        "objectives": ["Afprøv om profileringen behandler borgere af forskellig oprindelse ens."],
        "legal_questions": ["Er profileringen en automatisk afgørelse efter GDPR art. 22?"],
        "models_in_scope": [model, third_model],
        "participants": [
            {"organisation": "Styrelsen for Arbejdsmarked og Rekruttering", "role": "authority", "responsibilities": "Kriterier"},
            {"organisation": "Nordlys Analytics", "role": "vendor"}
        ],
        "milestones": [{"title": "Første kørsel", "due": "2027-01-15"}]
    });
    let r = authority.put(&path, &plan);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["version"], 1);
    let during_v1 = run(&vendor);
    let mut v2 = plan.clone();
    v2["milestones"][0]["done"] = json!(true);
    assert_eq!(authority.put(&path, &v2).json()["version"], 2);
    let during_v2 = run(&authority);

    let params = |run: &str| data_run_params(&data, run);
    assert_eq!(params(&before).get("plan_version"), None, "no plan when it started");
    assert_eq!(params(&during_v1)["plan_version"], 1);
    assert_eq!(params(&during_v2)["plan_version"], 2);
    // As written, with the defaults of what was left out.
    let mut stored = plan.clone();
    stored["milestones"][0]["done"] = json!(false);
    stored["participants"][1]["responsibilities"] = json!("");
    assert_eq!(advisor.get(&format!("{path}?version=1")).json()["plan"], stored);
    assert_eq!(advisor.get(&path).json()["plan"]["milestones"][0]["done"], true);
    // A vendor reads only its own models in scope.
    assert_eq!(vendor.get(&path).json()["plan"]["models_in_scope"], json!([model]));
    assert_eq!(
        advisor.get(&path).json()["plan"]["models_in_scope"],
        json!([model, third_model])
    );

    // Refusals name the field; nothing refused is stored.
    let mut bad = plan.clone();
    bad["milestones"][0]["due"] = json!("2027-02-30");
    let r = authority.put(&path, &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("milestones[0].due"), "{}", r.text());
    let (_, other_model) = case_with_model(&server, &p);
    let mut bad = plan.clone();
    bad["models_in_scope"] = json!([other_model]);
    let r = authority.put(&path, &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("models_in_scope[0]"), "{}", r.text());
    assert_eq!(vendor.put(&path, &plan).status, 403);
    assert_eq!(advisor.put(&path, &plan).status, 403);
    assert_eq!(server.client(Some(&p.other_vendor)).get(&path).status, 404);
    assert_eq!(authority.get(&path).json()["version"], 2);
    let entries = audit_entries(&server, &p.advisor);
    let saves = entries
        .iter()
        .filter(|e| e["outcome"] == "200" && e["action"] == "PUT /api/v1/cases/{case}/plan")
        .filter(|e| e["object"].as_str().unwrap().contains(" sha256 "))
        .count();
    assert_eq!(saves, 2);
}

/// A run's stored parameters, read from the SQLite database.
fn data_run_params(data: &Data, run: &str) -> Value {
    let db = data.dir.path().join("sandkasse.db");
    let run = run.to_owned();
    tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let (params,): (String,) = sqlx::query_as("SELECT params_json FROM runs WHERE id = ?")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        serde_json::from_str(&params).unwrap()
    })
}

#[test]
fn the_exit_report_covers_the_case_per_reader_and_the_public_summary_appears_only_when_published() {
    let data = Data::sqlite();
    let p = people(&data);
    let server = data.start(&["--checkpoint-every-mins", "0"]);
    let (authority, vendor, advisor, other) = (
        server.client(Some(&p.authority)),
        server.client(Some(&p.vendor)),
        server.client(Some(&p.advisor)),
        server.client(Some(&p.other_vendor)),
    );
    let anyone = server.client(None);
    let (case, model) = case_with_model(&server, &p);
    let criteria = json!({"criteria": [
        {"name": "four-fifths by origin", "attribute": "origin", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8}
    ]});
    assert_eq!(
        authority
            .put(&format!("/api/v1/cases/{case}/criteria"), &criteria)
            .status,
        200
    );
    // A second vendor in the case, whose run the first vendor must not read.
    let third = data.add_user("Tredje Data", "vendor", "Tove");
    let r = authority.post(&format!("/api/v1/cases/{case}/members"), &json!({"org": "Tredje Data"}));
    assert!(r.status < 300, "{}", r.text());
    let third = server.client(Some(&third));
    let r = third.upload_files(&case, "unemployment-mlp");
    assert_eq!(r.status, 201, "{}", r.text());
    let third_model = r.json()["id"].as_str().unwrap().to_owned();
    let start = |who: &service::Client, model: &str| {
        let r = who.post(
            "/api/v1/runs",
            &json!({"model_id": model, "rows": 3000, "no_explain": true}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(who.wait_run(&id, Duration::from_secs(120))["state"], "succeeded");
        id
    };
    // Hostile text from participants, in the plan and a finding.
    let hostile = "<script>alert(1)</script> & \u{202e}fdp.exe";
    let plan = json!({
        "objectives": [format!("Afprøv profileringen {hostile}")],
        "legal_questions": ["Er profileringen en afgørelse efter GDPR art. 22?"],
        "models_in_scope": [model, third_model],
        "participants": [{"organisation": "Styrelsen for Arbejdsmarked og Rekruttering", "role": "authority"}],
        "milestones": [{"title": "Exit", "due": "2027-03-01"}],
        "publication": {"status": "piloting", "intended_purpose": "Finde ledige med risiko for langtidsledighed."}
    });
    let r = authority.put(&format!("/api/v1/cases/{case}/plan"), &plan);
    assert_eq!(r.status, 200, "{}", r.text());
    let (a, b, c) = (
        start(&vendor, &model),
        start(&vendor, &model),
        start(&third, &third_model),
    );
    let secret = "Confidential: the vendor's feature list leaks income.";
    let r = advisor.post(
        &format!("/api/v1/cases/{case}/findings"),
        &json!({"target": {"kind": "run", "id": a}, "severity": "high", "body": format!("{secret} {hostile}")}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let model_sha = vendor.get(&format!("/api/v1/models/{model}")).json()["model_sha256"].clone();
    let last_case_entry = advisor.get(&format!("/api/v1/audit?case={case}&limit=1000")).json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .max()
        .unwrap();

    // The advisor's report: every run with its hashes and verdicts, the plan, the comparison of the two runs on
    // the same citizens, the finding, and a signed checkpoint that covers every entry of the case.
    let path = format!("/api/v1/cases/{case}/exit-report");
    let r = advisor.get(&path);
    assert_eq!(r.status, 200, "{}", r.text());
    let full = r.json();
    assert_eq!(full["format"], "sandkasse-exit-report-v1");
    assert_eq!(full["complete"], true, "an advisor reads the whole case");
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(ids(&full), all);
    for run in full["runs"].as_array().unwrap() {
        let report = advisor
            .get(&format!("/api/v1/runs/{}/report", run["id"].as_str().unwrap()))
            .json();
        let result = &run["result"];
        assert_eq!(result["model_sha256"], report["provenance"]["model_sha256"], "{run}");
        assert_eq!(
            result["dataset_sha256"], report["provenance"]["dataset_sha256"],
            "{run}"
        );
        assert_eq!(run["plan_version"], 1, "{run}");
        let verdicts = result["verdicts"].as_array().unwrap();
        assert_eq!(verdicts.len(), 1, "{run}");
        assert!(
            ["pass", "fail", "inconclusive"].contains(&verdicts[0]["verdict"].as_str().unwrap()),
            "{run}"
        );
    }
    let run_a = full["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a.as_str())
        .unwrap();
    assert_eq!(run_a["result"]["model_sha256"], model_sha);
    assert_eq!(full["plan"]["version"], 1);
    assert_eq!(full["plan"]["plan"]["objectives"], plan["objectives"]);
    let comparisons = full["comparisons"].as_array().unwrap();
    assert_eq!(
        comparisons.len(),
        1,
        "the two runs of one model on one dataset: {}",
        full["comparisons"]
    );
    assert_eq!(full["findings"].as_array().unwrap().len(), 1);
    assert_eq!(
        full["leaderboard"]["rows"].as_array().map(Vec::len),
        Some(3),
        "{}",
        full["leaderboard"]
    );
    let cp = &full["checkpoint"];
    assert!(cp["case_entries_up_to"].as_u64().unwrap() >= last_case_entry, "{cp}");
    assert!(
        cp["size"].as_u64().unwrap() >= cp["case_entries_up_to"].as_u64().unwrap(),
        "{cp}"
    );
    let key = advisor.get("/api/v1/audit/key").json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cp["public_key"], key.as_str());
    let verifier: store::VerifierKey = key.parse().unwrap();
    let opened = verifier
        .open(cp["note"].as_str().unwrap())
        .expect("the checkpoint's signature");
    assert_eq!(opened.size, cp["size"].as_u64().unwrap());
    // The checkpoint is held outside the database and the log verifies against it.
    let held = data.dir.path().join("exit-checkpoint.txt");
    std::fs::write(&held, cp["note"].as_str().unwrap()).unwrap();
    let o = service::sandkasse()
        .args(["audit", "verify", "--checkpoint"])
        .arg(&held)
        .args(data.args())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // In both languages, participants' text escaped.
    for (lang, word) in [("da", "Slutrapport"), ("en", "Exit report")] {
        let r = advisor.get(&format!("{path}.html?lang={lang}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let html = r.text();
        assert!(html.contains(word), "{lang}");
        assert!(html.contains(&format!("lang=\"{lang}\"")), "{lang}");
        assert!(!html.contains("<script>alert"), "unescaped participant text in {lang}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{lang}");
        assert!(!html.contains('\u{202e}'), "a bidi override reaches the page raw");
        for id in &all {
            assert!(html.contains(id.as_str()), "run {id} missing in {lang}");
        }
    }
    assert_eq!(advisor.get(&format!("{path}.html?lang=fr")).status, 400);

    // The vendor's report holds its own runs and says it is not the whole case; outsiders get 404.
    // A vendor's read signs no checkpoint, though the advisor's reads above wrote newer entries of the case,
    // and does not say when the case was last written.
    let latest = || advisor.get("/api/v1/audit/checkpoint").json()["size"].clone();
    let before = latest();
    let own = vendor.get(&path).json();
    assert_eq!(
        latest(),
        before,
        "a vendor's exit report made the sandbox sign a checkpoint"
    );
    assert_eq!(own["checkpoint"]["case_entries_up_to"], Value::Null);
    assert_eq!(own["complete"], false, "{}", own["reader"]);
    let mut mine = vec![a.clone(), b.clone()];
    mine.sort();
    assert_eq!(ids(&own), mine);
    assert!(
        !own.to_string().contains(&c),
        "the other vendor's run leaks into the vendor's report"
    );
    assert!(!own.to_string().contains(&third_model));
    assert_eq!(other.get(&path).status, 404);
    assert_eq!(other.get(&format!("{path}.html")).status, 404);

    // The public summary: nothing public until the authority publishes it.
    let public = format!("/api/v1/public/cases/{case}/summary");
    assert_eq!(anyone.get(&public).status, 404);
    assert_eq!(anyone.get(&format!("{public}.html")).status, 404);
    let draft = authority.get(&format!("/api/v1/cases/{case}/public-summary"));
    assert_eq!(draft.status, 200, "{}", draft.text());
    assert_eq!(draft.json()["published"], false);
    let mut published = plan.clone();
    published["publication"] = json!({"published": true, "status": "piloting",
        "intended_purpose": format!("Finde ledige med risiko for langtidsledighed. {hostile}"),
        "how_it_works": "En model vurderer registerdata.", "legal_basis": "Lov om en aktiv beskæftigelsesindsats",
        "human_oversight": "En sagsbehandler træffer afgørelsen.", "contact": "star@star.dk"});
    // Published texts are all required: a publication without them is refused, naming the field.
    let mut incomplete = published.clone();
    incomplete["publication"]["contact"] = json!("");
    let r = authority.put(&format!("/api/v1/cases/{case}/plan"), &incomplete);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("publication.contact"), "{}", r.text());
    assert_eq!(anyone.get(&public).status, 404);
    assert_eq!(
        authority.put(&format!("/api/v1/cases/{case}/plan"), &published).status,
        200
    );
    let r = anyone.get(&public);
    assert_eq!(r.status, 200, "{}", r.text());
    let summary = r.json();
    assert_eq!(summary["published"], true);
    assert_eq!(summary["authority"], "Styrelsen for Arbejdsmarked og Rekruttering");
    assert_eq!(summary["sandbox"]["runs"], 3);
    assert_eq!(summary["sandbox"]["citizens_scored"], 9000);
    let text = r.text();
    for confidential in [
        &a,
        &b,
        &c,
        &model,
        &third_model,
        model_sha.as_str().unwrap(),
        secret,
        "Niels",
        "Dorte",
    ] {
        assert!(
            !text.contains(confidential),
            "the public summary holds {confidential:?}"
        );
    }
    let page = anyone.get(&format!("{public}.html?lang=en"));
    assert_eq!(page.status, 200);
    let page = page.text();
    assert!(page.contains("&lt;script&gt;") && !page.contains("<script>alert"));
    assert!(!page.contains(secret));
    // Only the models the plan puts in scope are published: with the third vendor's model out of scope, its
    // model and organisation are not in the summary.
    let mut narrowed = published.clone();
    narrowed["models_in_scope"] = json!([model]);
    assert_eq!(
        authority.put(&format!("/api/v1/cases/{case}/plan"), &narrowed).status,
        200
    );
    let summary = anyone.get(&public).json();
    assert_eq!(summary["sandbox"]["runs"], 2, "{summary}");
    assert!(!summary.to_string().contains("Tredje Data"), "{summary}");
    assert!(!summary.to_string().contains("unemployment-mlp"), "{summary}");
    // Withdrawn, it is gone at once (no stale copy served from the cache).
    assert_eq!(authority.put(&format!("/api/v1/cases/{case}/plan"), &plan).status, 200);
    assert_eq!(anyone.get(&public).status, 404);
    assert_eq!(
        anyone
            .get(&format!("/api/v1/public/cases/{}/summary", "0".repeat(32)))
            .status,
        404
    );
}
