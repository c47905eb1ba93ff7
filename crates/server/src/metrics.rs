//! `/metrics` in the Prometheus text format.
//!
//! Counters and histograms are updated where things happen; run states and queue depth are
//! read from the database at scrape time, so they are true across restarts and, on
//! PostgreSQL, across server processes.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    uploads: IntCounterVec,
    runs_finished: IntCounterVec,
    run_seconds: HistogramVec,
    rows_scored: IntCounterVec,
    worker_events: IntCounterVec,
    runs_by_state: IntGaugeVec,
    audit_failures: IntCounterVec,
    inference_requests: IntCounterVec,
    inference_failures: IntCounterVec,
    inference_rows: IntCounterVec,
    inference_queue: HistogramVec,
    inference_compute: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("sandkasse".into()), None).expect("static prefix");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric");
            registry.register(Box::new(c.clone())).expect("registered once");
            c
        };
        let requests = counter(
            "http_requests_total",
            "HTTP requests by route, method and status.",
            &["route", "method", "status"],
        );
        let uploads = counter("model_uploads_total", "Model uploads by outcome.", &["outcome"]);
        let runs_finished = counter("runs_finished_total", "Runs that ended, by final state.", &["state"]);
        let rows_scored = counter("rows_scored_total", "Rows scored by isolated workers.", &["scenario"]);
        let worker_events = counter(
            "worker_events_total",
            "Worker starts, crashes, timeouts and kills, by cause.",
            &["event"],
        );
        let audit_failures = counter(
            "audit_append_failures_total",
            "Audit entries that could not be written.",
            &["action"],
        );
        let inference_requests = counter(
            "inference_requests_total",
            "Open Inference Protocol requests answered with predictions, by model.",
            &["model"],
        );
        let inference_failures = counter(
            "inference_failures_total",
            "Open Inference Protocol requests refused or failed, by model and status.",
            &["model", "status"],
        );
        let inference_rows = counter("inference_rows_total", "Rows scored live, by model.", &["model"]);
        let fast = vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
        ];
        let histogram = |name: &str, help: &str| {
            let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(fast.clone()), &["model"])
                .expect("static metric");
            registry.register(Box::new(h.clone())).expect("registered once");
            h
        };
        let inference_queue = histogram(
            "inference_queue_seconds",
            "Time a live request waited for a worker, by model.",
        );
        let inference_compute = histogram(
            "inference_compute_seconds",
            "Time the batch holding a live request took in the worker, by model.",
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route and method.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route", "method"],
        )
        .expect("static metric");
        registry.register(Box::new(latency.clone())).expect("registered once");
        let run_seconds = HistogramVec::new(
            HistogramOpts::new(
                "run_duration_seconds",
                "Wall time of runs from start to end, by final state.",
            )
            .buckets(vec![0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0]),
            &["state"],
        )
        .expect("static metric");
        registry
            .register(Box::new(run_seconds.clone()))
            .expect("registered once");
        let runs_by_state =
            IntGaugeVec::new(Opts::new("runs", "Runs in the database by state."), &["state"]).expect("static metric");
        registry
            .register(Box::new(runs_by_state.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            latency,
            uploads,
            runs_finished,
            run_seconds,
            rows_scored,
            worker_events,
            runs_by_state,
            audit_failures,
            inference_requests,
            inference_failures,
            inference_rows,
            inference_queue,
            inference_compute,
        }
    }

    pub fn inference(&self, model: &str, rows: usize, queue_seconds: f64, compute_seconds: f64) {
        self.inference_requests.with_label_values(&[model]).inc();
        self.inference_rows.with_label_values(&[model]).inc_by(rows as u64);
        self.inference_queue.with_label_values(&[model]).observe(queue_seconds);
        self.inference_compute
            .with_label_values(&[model])
            .observe(compute_seconds);
    }

    pub fn inference_failure(&self, model: &str, status: u16) {
        self.inference_failures
            .with_label_values(&[model, &status.to_string()])
            .inc();
    }

    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route, method]).observe(seconds);
    }

    /// `accepted`, `rejected` (inspection or manifest) or `invalid` (malformed request).
    pub fn upload(&self, outcome: &str) {
        self.uploads.with_label_values(&[outcome]).inc();
    }

    pub fn run_finished(&self, state: &str, seconds: f64) {
        self.runs_finished.with_label_values(&[state]).inc();
        self.run_seconds.with_label_values(&[state]).observe(seconds);
    }

    pub fn rows_scored(&self, scenario: &str, rows: u64) {
        self.rows_scored.with_label_values(&[scenario]).inc_by(rows);
    }

    /// `start`, or a stop cause such as `crashed`, `timeout`, `memory`.
    pub fn worker_event(&self, event: &str, n: u64) {
        self.worker_events.with_label_values(&[event]).inc_by(n);
    }

    pub fn audit_failure(&self, action: &str) {
        self.audit_failures.with_label_values(&[action]).inc();
    }

    /// The text exposition, with run counts by state as read just now (`queued` is the queue
    /// depth; states with no runs are reported as 0).
    pub fn render(&self, runs_by_state: &[(store::meta::RunState, u64)]) -> String {
        for s in store::meta::RunState::ALL {
            let n = runs_by_state.iter().find(|(st, _)| st == s).map_or(0, |(_, n)| *n);
            self.runs_by_state
                .with_label_values(&[s.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
