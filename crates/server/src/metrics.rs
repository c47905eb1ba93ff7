//! `/metrics` in the Prometheus text format.
//!
//! Counters and histograms are updated where things happen; run states and queue depth are
//! read from the database at scrape time, so they are true across restarts and, on
//! PostgreSQL, across server processes.
//!
//! Live inference is counted twice: in series that name no model (what anyone may scrape),
//! and per model in a second registry shown only to a scraper holding the metrics token,
//! because model ids belong to the organisations that uploaded them.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Gauges read from the server's state at scrape time.
pub struct Gauges {
    pub memory_budget_bytes: u64,
    pub memory_reserved_bytes: u64,
    pub live_models: usize,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Series labelled by model id: only with the metrics token.
    per_model: Registry,
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
    model_requests: IntCounterVec,
    model_failures: IntCounterVec,
    model_rows: IntCounterVec,
    model_queue: HistogramVec,
    model_compute: HistogramVec,
    memory_budget: IntGauge,
    memory_reserved: IntGauge,
    live_models: IntGauge,
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
            "Open Inference Protocol requests answered with predictions.",
            &[],
        );
        let inference_failures = counter(
            "inference_failures_total",
            "Open Inference Protocol requests refused or failed, by status.",
            &["status"],
        );
        let inference_rows = counter("inference_rows_total", "Rows scored live.", &[]);
        let fast = vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
        ];
        let histogram = |registry: &Registry, name: &str, help: &str, labels: &[&str]| {
            let h =
                HistogramVec::new(HistogramOpts::new(name, help).buckets(fast.clone()), labels).expect("static metric");
            registry.register(Box::new(h.clone())).expect("registered once");
            h
        };
        let inference_queue = histogram(
            &registry,
            "inference_queue_seconds",
            "Time a live request waited for a worker.",
            &[],
        );
        let inference_compute = histogram(
            &registry,
            "inference_compute_seconds",
            "Time the batch holding a live request took in the worker.",
            &[],
        );
        let per_model = Registry::new_custom(Some("sandkasse".into()), None).expect("static prefix");
        let model_counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric");
            per_model.register(Box::new(c.clone())).expect("registered once");
            c
        };
        let model_requests = model_counter(
            "model_inference_requests_total",
            "Open Inference Protocol requests answered with predictions, by model.",
            &["model"],
        );
        let model_failures = model_counter(
            "model_inference_failures_total",
            "Open Inference Protocol requests refused or failed, by model and status.",
            &["model", "status"],
        );
        let model_rows = model_counter("model_inference_rows_total", "Rows scored live, by model.", &["model"]);
        let model_queue = histogram(
            &per_model,
            "model_inference_queue_seconds",
            "Time a live request waited for a worker, by model.",
            &["model"],
        );
        let model_compute = histogram(
            &per_model,
            "model_inference_compute_seconds",
            "Time the batch holding a live request took in the worker, by model.",
            &["model"],
        );
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("static metric");
            registry.register(Box::new(g.clone())).expect("registered once");
            g
        };
        let memory_budget = gauge(
            "memory_budget_bytes",
            "Memory all workers may reserve together (each is charged its address-space limit).",
        );
        let memory_reserved = gauge(
            "memory_reserved_bytes",
            "Memory reserved now by running workers (runs and live models).",
        );
        let live_models = gauge("live_models", "Models loaded for live inference now.");
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
            per_model,
            model_requests,
            model_failures,
            model_rows,
            model_queue,
            model_compute,
            memory_budget,
            memory_reserved,
            live_models,
        }
    }

    pub fn inference(&self, model: &str, rows: usize, queue_seconds: f64, compute_seconds: f64) {
        self.inference_requests.with_label_values::<&str>(&[]).inc();
        self.inference_rows.with_label_values::<&str>(&[]).inc_by(rows as u64);
        self.inference_queue
            .with_label_values::<&str>(&[])
            .observe(queue_seconds);
        self.inference_compute
            .with_label_values::<&str>(&[])
            .observe(compute_seconds);
        self.model_requests.with_label_values(&[model]).inc();
        self.model_rows.with_label_values(&[model]).inc_by(rows as u64);
        self.model_queue.with_label_values(&[model]).observe(queue_seconds);
        self.model_compute.with_label_values(&[model]).observe(compute_seconds);
    }

    pub fn inference_failure(&self, model: &str, status: u16) {
        let status = status.to_string();
        self.inference_failures.with_label_values(&[status.as_str()]).inc();
        self.model_failures.with_label_values(&[model, &status]).inc();
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
    /// depth; states with no runs are reported as 0) and `gauges`; with the per-model series
    /// only when `per_model` (the scraper showed the metrics token).
    pub fn render(&self, runs_by_state: &[(store::RunState, u64)], gauges: &Gauges, per_model: bool) -> String {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.memory_budget.set(int(gauges.memory_budget_bytes));
        self.memory_reserved.set(int(gauges.memory_reserved_bytes));
        self.live_models.set(int(gauges.live_models as u64));
        for s in store::RunState::ALL {
            let n = runs_by_state.iter().find(|(st, _)| st == s).map_or(0, |(_, n)| *n);
            self.runs_by_state
                .with_label_values(&[s.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut families = self.registry.gather();
        if per_model {
            families.extend(self.per_model.gather());
        }
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Whether the request carries `Authorization: Bearer TOKEN` with the configured metrics
/// token. Compared as SHA-256 digests, so the time taken says nothing about the token.
pub fn token_matches(token: Option<&str>, headers: &axum::http::HeaderMap) -> bool {
    let Some(token) = token else { return false };
    let Some(sent) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
    else {
        return false;
    };
    store::Digest::of(sent.as_bytes()).as_str() == store::Digest::of(token.as_bytes()).as_str()
}
