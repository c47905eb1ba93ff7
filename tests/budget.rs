//! The memory budget that every worker start (runs and live models) must fit into, through
//! the real binary: idle live models are unloaded to make room, busy ones are not (503), idle
//! ones are unloaded after the idle time, and a run waits for the budget.

mod procs;
mod service;

use inference::Manifest;
use serde_json::{Value, json};
use service::{Client, Data, Service};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Each worker's address-space limit in these tests, MiB: the unit the budget charges.
const WORKER_MB: u64 = 1024;

struct Setup {
    _data: Data,
    server: Service,
    vendor: Client,
    case: String,
}

const METRICS_TOKEN: &str = "budget-test-metrics-token";

fn setup(extra: &[&str]) -> Setup {
    let data = Data::sqlite();
    let authority = data.add_user("Authority", "authority", "a");
    let vendor = data.add_user("Vendor", "vendor", "v");
    let worker_mb = WORKER_MB.to_string();
    let mut args = vec![
        "--worker-memory-mb",
        worker_mb.as_str(),
        "--serving-workers",
        "1",
        "--metrics-token",
        METRICS_TOKEN,
    ];
    args.extend_from_slice(extra);
    let server = data.start(&args);
    let r = server
        .client(Some(&authority))
        .post("/api/v1/cases", &json!({"name": "budget", "members": ["Vendor"]}));
    let case = r.json()["id"].as_str().unwrap().to_owned();
    Setup {
        vendor: server.client(Some(&vendor)),
        _data: data,
        server,
        case,
    }
}

fn upload(s: &Setup, stem: &str) -> String {
    let r = s.vendor.upload_files(&s.case, stem);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// A valid request of `rows` rows for the model of `stem` (every input the same value).
fn request(stem: &str, rows: usize) -> Value {
    let manifest =
        Manifest::parse(&std::fs::read_to_string(service::models_dir().join(format!("{stem}.toml"))).unwrap()).unwrap();
    let inputs: Vec<Value> = server::serving::column_inputs(&manifest)
        .iter()
        .map(|c| {
            if c.text {
                let category = manifest
                    .inputs
                    .iter()
                    .flat_map(|i| &i.columns)
                    .find(|col| col.column == c.name)
                    .and_then(|col| col.one_hot.as_ref())
                    .and_then(|cats| cats.first().cloned())
                    .unwrap_or_default();
                json!({"name": c.name, "shape": [rows], "datatype": "BYTES", "data": vec![category; rows]})
            } else {
                json!({"name": c.name, "shape": [rows], "datatype": "FP64", "data": vec![1.0; rows]})
            }
        })
        .collect();
    json!({"inputs": inputs})
}

fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

/// Scraped as a monitor would, with the metrics token: anonymous scrapes polled every 50 ms
/// would run into the anonymous rate limit on a slow machine.
fn scrape(s: &Setup) -> String {
    s.server.client(Some(METRICS_TOKEN)).get("/metrics").text()
}

/// The worker processes of the server: its children running `sandkasse worker`.
fn workers(s: &Setup) -> Vec<u32> {
    procs::workers_of(s.server.child.id())
}

/// Waits (polling, up to `limit`) until `done` holds.
fn eventually(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serving_a_second_model_unloads_the_idle_first_when_the_budget_holds_one() {
    let budget = WORKER_MB.to_string();
    let s = setup(&["--memory-budget-mb", &budget]);
    let (a, b) = (upload(&s, "unemployment-gbm"), upload(&s, "unemployment-logreg"));
    let r = s
        .vendor
        .post(&format!("/v2/models/{a}/infer"), &request("unemployment-gbm", 10));
    assert_eq!(r.status, 200, "{}", r.text());
    let m = scrape(&s);
    assert_eq!(gauge(&m, "sandkasse_memory_budget_bytes"), (WORKER_MB << 20) as f64);
    assert_eq!(gauge(&m, "sandkasse_memory_reserved_bytes"), (WORKER_MB << 20) as f64);
    assert_eq!(gauge(&m, "sandkasse_live_models"), 1.0);
    let a_workers = workers(&s);
    assert_eq!(a_workers.len(), 1, "one worker for model A: {a_workers:?}");
    let r = s
        .vendor
        .post(&format!("/v2/models/{b}/infer"), &request("unemployment-logreg", 10));
    assert_eq!(r.status, 200, "model B starts by unloading idle A: {}", r.text());
    let b_workers = workers(&s);
    assert_eq!(b_workers.len(), 1, "only B's worker is left: {b_workers:?}");
    assert!(!b_workers.contains(&a_workers[0]), "A's worker {a_workers:?} is gone");
    let m = scrape(&s);
    assert_eq!(gauge(&m, "sandkasse_memory_reserved_bytes"), (WORKER_MB << 20) as f64);
    assert_eq!(gauge(&m, "sandkasse_live_models"), 1.0);
    // And back: A unloads idle B.
    let r = s
        .vendor
        .post(&format!("/v2/models/{a}/infer"), &request("unemployment-gbm", 10));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(workers(&s).len(), 1);
}

#[test]
fn a_model_that_cannot_fit_beside_a_busy_one_is_refused_with_503_naming_the_budget() {
    let budget = WORKER_MB.to_string();
    let s = setup(&["--memory-budget-mb", &budget]);
    let (a, b) = (upload(&s, "unemployment-gbm"), upload(&s, "unemployment-logreg"));
    let path_a = format!("/v2/models/{a}/infer");
    assert_eq!(s.vendor.post(&path_a, &request("unemployment-gbm", 10)).status, 200);
    // Keep A busy from three threads while B asks for the memory A holds.
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let (vendor, path, stop) = (s.vendor.clone(), path_a.clone(), stop.clone());
            let body = request("unemployment-gbm", 4000);
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..2000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    statuses.push(vendor.post(&path, &body).status);
                }
                statuses
            })
        })
        .collect();
    let body_b = request("unemployment-logreg", 1);
    let mut refusal = None;
    for _ in 0..400 {
        let r = s.vendor.post(&format!("/v2/models/{b}/infer"), &body_b);
        assert!(
            r.status == 200 || r.status == 503,
            "only answered or refused: {} {}",
            r.status,
            r.text()
        );
        if r.status == 503 {
            refusal = Some(r.json()["error"].as_str().unwrap_or_default().to_owned());
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in busy {
        for status in h.join().unwrap() {
            assert!(status == 200 || status == 503, "model A: {status}");
        }
    }
    let refusal = refusal.expect("a start beyond the budget while the other model is busy is refused");
    assert!(refusal.contains("memory budget"), "{refusal}");
    // Nothing was overcommitted, and once A is idle B starts.
    assert!(gauge(&scrape(&s), "sandkasse_memory_reserved_bytes") <= (WORKER_MB << 20) as f64);
    let r = s.vendor.post(&format!("/v2/models/{b}/infer"), &body_b);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn an_idle_model_is_unloaded_after_the_idle_time() {
    let s = setup(&["--serving-idle-secs", "1"]);
    let a = upload(&s, "unemployment-gbm");
    let r = s
        .vendor
        .post(&format!("/v2/models/{a}/infer"), &request("unemployment-gbm", 10));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(workers(&s).len(), 1);
    eventually(Duration::from_secs(20), "the idle model unloaded", || {
        let m = scrape(&s);
        gauge(&m, "sandkasse_live_models") == 0.0 && gauge(&m, "sandkasse_memory_reserved_bytes") == 0.0
    });
    eventually(Duration::from_secs(10), "its worker gone", || workers(&s).is_empty());
    // It starts again on the next request.
    let r = s
        .vendor
        .post(&format!("/v2/models/{a}/infer"), &request("unemployment-gbm", 10));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn runs_wait_for_the_budget_and_unload_an_idle_live_model() {
    // Two run slots, but memory for one run's two workers: the runs must go one after the
    // other, and the first must unload the idle live model to start at all.
    let budget = (2 * WORKER_MB).to_string();
    let s = setup(&[
        "--memory-budget-mb",
        &budget,
        "--run-slots",
        "2",
        "--workers-per-run",
        "2",
    ]);
    let a = upload(&s, "unemployment-gbm");
    let r = s
        .vendor
        .post(&format!("/v2/models/{a}/infer"), &request("unemployment-gbm", 10));
    assert_eq!(r.status, 200, "{}", r.text());
    let runs: Vec<String> = (0..2)
        .map(|_| {
            let r = s.vendor.post("/api/v1/runs", &json!({"model_id": a, "rows": 60_000}));
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let done: Vec<Value> = runs
        .iter()
        .map(|id| s.vendor.wait_run(id, Duration::from_secs(300)))
        .collect();
    for run in &done {
        assert_eq!(run["state"], "succeeded", "{run}");
    }
    let span = |run: &Value| {
        (
            run["started_at"].as_str().unwrap().to_owned(),
            run["finished_at"].as_str().unwrap().to_owned(),
        )
    };
    let (first, second) = {
        let (x, y) = (span(&done[0]), span(&done[1]));
        if x.0 <= y.0 { (x, y) } else { (y, x) }
    };
    assert!(
        second.0 >= first.1,
        "the second run started at {} before the first ended at {}: both held the memory of one",
        second.0,
        first.1
    );
    let m = scrape(&s);
    assert_eq!(gauge(&m, "sandkasse_memory_reserved_bytes"), 0.0);
    assert_eq!(
        gauge(&m, "sandkasse_live_models"),
        0.0,
        "the live model was unloaded for the runs"
    );
}

#[test]
fn a_run_that_can_never_fit_fails_with_the_reason() {
    let budget = WORKER_MB.to_string();
    let s = setup(&["--memory-budget-mb", &budget, "--workers-per-run", "2"]);
    let a = upload(&s, "unemployment-gbm");
    let r = s.vendor.post("/api/v1/runs", &json!({"model_id": a, "rows": 1000}));
    assert_eq!(r.status, 201, "{}", r.text());
    let run = s
        .vendor
        .wait_run(r.json()["id"].as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(run["state"], "failed", "{run}");
    assert!(run.to_string().contains("memory budget"), "{run}");
}
