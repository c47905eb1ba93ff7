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
        }
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
