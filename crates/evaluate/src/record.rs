//! The record of a run: everything needed to redo it and to trust its numbers.

use fairness::{Report, Verdict};
use inference::{LayerStatus, Manifest, PoolEvent, Summary};
use serde::{Deserialize, Serialize};
use synth::DatasetSpec;

/// The version of the record's layout, written into every record.
///
/// - 1 (no `schema_version` at the top; `report.schema_version` 1): the verdicts sat inside
///   the report (`report.verdicts`).
/// - 2: the verdicts sit in the record (`verdicts`), beside the report they judge.
/// - 3: the report says which task it judges (`report.task`: `binary`, `regression`,
///   `multiclass`); a binary report is otherwise as in version 2.
///
/// Records of every version load ([`RunRecord::from_json`]); they are brought to this one as
/// they are read, so every reader sees one type.
pub const SCHEMA_VERSION: u32 = 3;

/// A record that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not JSON at all.
    #[error("the run record is not JSON: {0}")]
    Json(String),
    /// The record is newer than this release (or its version is not a number it knows), so
    /// reading it could silently drop fields.
    #[error("the run record has schema version {found}; this release reads versions 1 to {SCHEMA_VERSION}")]
    Version {
        /// The version the record declares.
        found: u64,
    },
    /// The record declares a known version but its fields do not match that version's layout.
    #[error("the run record (schema version {version}) does not match its schema: {error}")]
    Shape {
        /// The version the record declares.
        version: u64,
        /// Where the record departs from the schema.
        error: String,
    },
}

/// Everything one succeeded run produced: what it ran on, how fast, and what it found. The
/// HTML and Markdown reports are rendered from it, so it is the one thing stored per run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// Where the model, data and code came from, so the run can be redone and checked.
    pub provenance: Provenance,
    /// The model as inspection saw it.
    pub inspection: Summary,
    /// How long the stages took and how fast the workers scored.
    pub throughput: Throughput,
    /// Workers that crashed, hung or ran out of memory, and whether they were replaced.
    pub worker_events: Vec<PoolEvent>,
    /// Metrics against the recorded outcome, with the same metrics and disparities against the
    /// true outcome beside them, by the model's task (`report.task`).
    pub report: RunReport,
    /// Verdicts on the criteria fixed before the run, judged against `report`.
    pub verdicts: Vec<Verdict>,
    /// Why the model decides as it does (permutation importance on the first rows); absent
    /// when the run skipped the stage, and in records from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanations: Option<crate::Explanations>,
    /// Weak slices: single values and pairs of the dataset's columns where the model errs (against
    /// the recorded or the true outcome) or selects significantly more or less than in the rest,
    /// searched in the first source batch with the run's own decisions; computed with the
    /// explanations and skipped with them. Records written before it moved here had it under
    /// `explanations`; they are read with it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<explain::Slices>,
    /// What changing a protected attribute does along each causal path (path-specific twins);
    /// absent when the run skipped the stage, and in records from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<crate::Paths>,
    /// How robust the model is: `stability` (whether, on the rows of the first request, its
    /// decisions depended on each citizen's row only) in every run that scored rows, and
    /// `perturbation` (what measurement error in the inputs does to the decisions) unless
    /// skipped; absent in records from before the stage existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustness: Option<crate::Robustness>,
}

/// What a run measured, by the model's task.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "task", rename_all = "lowercase")]
pub enum RunReport {
    /// A yes/no model's: against `outcome_recorded`, with `outcome_true` beside it.
    Binary(Box<Report>),
    /// A regression model's: against `outcome_recorded` and against `outcome_true`.
    Regression(TaskReports<fairness::RegressionReport>),
    /// A multi-class model's: against `level_recorded` and against `level_true`.
    Multiclass(TaskReports<fairness::MulticlassReport>),
}

/// A regression or multi-class model judged twice: against the outcome as the records hold it
/// (what a model trained on them learns) and against the truth the generator knows. Where the
/// two differ, the records' bias is in the model's error against the truth.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskReports<R> {
    /// The outcome column judged against as recorded (`outcome_recorded`, `level_recorded`).
    pub recorded_column: String,
    /// Against the recorded outcome.
    pub recorded: R,
    /// The true outcome column (`outcome_true`, `level_true`).
    pub true_column: String,
    /// Against the true outcome.
    pub truth: R,
    /// Groups smaller than this are shown but kept out of the disparities.
    pub min_group_size: u64,
    /// Whether each prediction depended on its own row only (the run's first request scored again:
    /// as it was, shuffled, row by row); absent when the run scored no rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<crate::TaskStability>,
    /// What the report does not carry yet for this task, said rather than left out silently.
    pub not_computed: Vec<String>,
}

impl RunReport {
    /// The yes/no report, if the run judged a yes/no model.
    pub fn binary(&self) -> Option<&Report> {
        match self {
            RunReport::Binary(r) => Some(r.as_ref()),
            _ => None,
        }
    }

    /// The same, to change (tests rewrite reports to check rendering).
    pub fn binary_mut(&mut self) -> Option<&mut Report> {
        match self {
            RunReport::Binary(r) => Some(r.as_mut()),
            _ => None,
        }
    }

    /// The task judged.
    pub fn task(&self) -> inference::Task {
        match self {
            RunReport::Binary(_) => inference::Task::Binary,
            RunReport::Regression(_) => inference::Task::Regression,
            RunReport::Multiclass(_) => inference::Task::Multiclass,
        }
    }
}

/// What a run ran on, identified by content hash and version, so a reader can tell whether two
/// runs are comparable and redo one.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provenance {
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// The model file as the request named it: its path for the CLI, its hash for the service.
    pub model_file: String,
    /// SHA-256 of the model's bytes.
    pub model_sha256: String,
    /// SHA-256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// The manifest as parsed.
    pub manifest: Manifest,
    /// The dataset's spec: scenario, size, seed, split, bias and counterfactual.
    pub dataset: DatasetSpec,
    /// The file the rows were read from; absent when they were generated for the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_file: Option<String>,
    /// For a file, the SHA-256 of its bytes. For generated rows, SHA-256 over the digests of
    /// the record batches in order, each digest a SHA-256 of the batch's column buffers.
    pub dataset_sha256: String,
    /// Rows scored.
    pub dataset_rows: u64,
    /// Version of the generator that made (or would make) the rows; another version may make
    /// other citizens from the same seed.
    pub generator_version: String,
    /// Version of Sandkasse that ran the evaluation.
    pub sandbox_version: String,
    /// Version of ONNX Runtime the workers scored with.
    pub onnxruntime_version: String,
    /// Isolation layers of the workers, as they reported them: what was active and what this
    /// kernel could not provide.
    pub isolation: Vec<LayerStatus>,
    /// The isolation layers the operator allowed the workers to run without
    /// (`--allow-missing-isolation`); empty when none was. Always written; absent (`None`)
    /// only in records from before the option existed, when workers ran whatever the kernel
    /// provided (`isolation` says what that was), so "none allowed" is never claimed for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation_allowed_missing: Option<Vec<String>>,
}

/// How fast the run went, for capacity planning and for spotting a model that is slow on
/// purpose.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Throughput {
    /// Rows scored.
    pub rows: u64,
    /// Worker processes.
    pub workers: usize,
    /// Rows per request to a worker.
    pub batch_rows: usize,
    /// Starting the workers and loading the model.
    pub load_seconds: f64,
    /// Generating, scoring and accumulating (overlapped).
    pub score_seconds: f64,
    /// Building the report (bootstrap included).
    pub metrics_seconds: f64,
    /// The whole run, start to record.
    pub total_seconds: f64,
    /// `rows` over `score_seconds`.
    pub rows_per_second: f64,
    /// Median time a worker took to answer one batch.
    pub batch_latency_ms_p50: f64,
    /// 95th percentile of the batch time.
    pub batch_latency_ms_p95: f64,
    /// 99th percentile of the batch time.
    pub batch_latency_ms_p99: f64,
    /// The largest resident memory any worker reached; `None` where the kernel does not say.
    pub worker_peak_memory_bytes: Option<u64>,
}

impl RunRecord {
    /// Reads a record of any version this release knows, bringing it to [`SCHEMA_VERSION`].
    pub fn from_json(bytes: &[u8]) -> Result<RunRecord, RecordError> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?;
        Self::from_value(value)
    }

    /// [`Self::from_json`] of an already parsed document (e.g. a part of a stored report).
    pub fn from_value(mut value: serde_json::Value) -> Result<RunRecord, RecordError> {
        let version = match value.get("schema_version") {
            Some(v) => v.as_u64().ok_or(RecordError::Version { found: 0 })?,
            None => 1,
        };
        match version {
            1 => {
                upgrade_v1(&mut value);
                upgrade_v2(&mut value);
            }
            2 => upgrade_v2(&mut value),
            3 => {}
            found => return Err(RecordError::Version { found }),
        }
        lift_slices(&mut value);
        serde_json::from_value(value).map_err(|e| RecordError::Shape {
            version,
            error: e.to_string(),
        })
    }

    /// The run for people: provenance, isolation and throughput first, then the report.
    ///
    /// The model's name and version, the file names and the workers' error text come from the
    /// vendor or the operator: each is escaped as a Markdown table cell
    /// ([`escape::markdown_cell`]) and kept out of code spans (where escapes do not work), so
    /// none can end the table, forge a section or open an HTML comment.
    pub fn to_markdown(&self) -> String {
        use escape::markdown_cell as cell;
        use std::fmt::Write;
        let p = &self.provenance;
        let t = &self.throughput;
        let mut s = String::new();
        let _ = writeln!(s, "# Evaluation run\n");
        let _ = writeln!(s, "| | |\n| --- | --- |");
        let _ = writeln!(s, "| started | {} |", p.started);
        let _ = writeln!(
            s,
            "| model | {} {} (file {}), sha256 `{}` |",
            cell(&p.manifest.name),
            cell(&p.manifest.version),
            cell(&p.model_file),
            p.model_sha256
        );
        let _ = writeln!(s, "| manifest | sha256 `{}` |", p.manifest_sha256);
        for w in &self.inspection.warnings {
            let _ = writeln!(s, "| manifest warning | {} |", cell(w));
        }
        let _ = writeln!(
            s,
            "| dataset | {}{} rows of {}, split {}, seed {}, {}; sha256 `{}` |",
            p.dataset_file
                .as_ref()
                .map(|f| format!("file {}: ", cell(f)))
                .unwrap_or_default(),
            p.dataset_rows,
            cell(&p.dataset.scenario),
            p.dataset.split.as_str(),
            p.dataset.seed,
            p.dataset
                .counterfactual
                .map_or("no counterfactual twins".to_owned(), |c| format!(
                    "counterfactual twins by {}",
                    c.as_str()
                )),
            p.dataset_sha256
        );
        let _ = writeln!(
            s,
            "| versions | generator {}, sandbox {}, ONNX Runtime {} |",
            cell(&p.generator_version),
            cell(&p.sandbox_version),
            cell(&p.onnxruntime_version)
        );
        let active: Vec<&str> = p
            .isolation
            .iter()
            .filter(|l| l.active)
            .map(|l| l.layer.as_str())
            .collect();
        let missing: Vec<&str> = p
            .isolation
            .iter()
            .filter(|l| !l.active)
            .map(|l| l.layer.as_str())
            .collect();
        let none_or = |names: &[&str]| {
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        let allowed = match &p.isolation_allowed_missing {
            Some(allowed) => none_or(&allowed.iter().map(String::as_str).collect::<Vec<_>>()),
            None => "not recorded (the run predates the option)".to_owned(),
        };
        let _ = writeln!(
            s,
            "| isolation | active: {}; unavailable: {}; allowed to be missing by the operator (--allow-missing-isolation): {} |",
            active.join(", "),
            none_or(&missing),
            allowed
        );
        let _ = writeln!(
            s,
            "| throughput | {} rows by {} workers in {:.2} s ({:.0} rows/s); batches of {} rows: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; worker peak memory {} MiB |",
            t.rows,
            t.workers,
            t.score_seconds,
            t.rows_per_second,
            t.batch_rows,
            t.batch_latency_ms_p50,
            t.batch_latency_ms_p95,
            t.batch_latency_ms_p99,
            t.worker_peak_memory_bytes.map_or("?".into(), |b| (b >> 20).to_string())
        );
        for e in &self.worker_events {
            let _ = writeln!(
                s,
                "| worker event | worker {}: {} ({}); replaced: {} |",
                e.worker,
                e.cause.as_str(),
                cell(&e.detail),
                e.respawned
            );
        }
        s.push('\n');
        let mut s = s + &match &self.report {
            RunReport::Binary(r) => fairness::render_markdown(r, &self.verdicts),
            RunReport::Regression(r) => crate::task_markdown::regression_markdown(r),
            RunReport::Multiclass(r) => crate::task_markdown::multiclass_markdown(r),
        };
        if let Some(e) = &self.explanations {
            s.push('\n');
            s.push_str(&crate::explanations::markdown(e));
        }
        if let Some(sl) = &self.slices {
            s.push_str(&crate::explanations::slices_markdown(sl));
        }
        if let Some(p) = &self.paths {
            s.push('\n');
            s.push_str(&crate::paths::markdown(p));
        }
        if let Some(r) = &self.robustness {
            s.push_str(&crate::stability::markdown(&r.stability));
            if let Some(p) = &r.perturbation {
                s.push_str(&crate::perturbation::markdown(p));
            }
            if let Some(rc) = &r.recourse {
                s.push_str(&crate::recourse::markdown(rc));
            }
            if let Some(sh) = &r.shift {
                s.push_str(&crate::shift::markdown(sh));
            }
        }
        s
    }
}

/// The weak slices sat under `explanations` before they got their own place in the record:
/// move them up, so records written then read as they were.
fn lift_slices(value: &mut serde_json::Value) {
    let Some(record) = value.as_object_mut() else { return };
    let slices = record
        .get_mut("explanations")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|e| e.remove("slices"));
    if let Some(slices) = slices
        && !record.contains_key("slices")
    {
        record.insert("slices".into(), slices);
    }
}

/// Versions 1 and 2 judged yes/no models only, and their reports did not say so.
fn upgrade_v2(value: &mut serde_json::Value) {
    let Some(record) = value.as_object_mut() else { return };
    if let Some(report) = record.get_mut("report").and_then(serde_json::Value::as_object_mut) {
        report.insert("task".into(), "binary".into());
    }
    record.insert("schema_version".into(), SCHEMA_VERSION.into());
}

/// Version 1 kept the verdicts inside the report: move them beside it. Nothing else changed.
fn upgrade_v1(value: &mut serde_json::Value) {
    let Some(record) = value.as_object_mut() else { return };
    let verdicts = record
        .get_mut("report")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|report| {
            report.insert("schema_version".into(), fairness::SCHEMA_VERSION.into());
            report.remove("verdicts")
        })
        .unwrap_or_else(|| serde_json::Value::Array(Vec::new()));
    record.insert("verdicts".into(), verdicts);
}
