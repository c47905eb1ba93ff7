//! Replaying a finished run from its record: the model blob by hash, the stored parameters
//! (dataset spec, seeds, stages, criteria) and the same code path as the run executor, then
//! [`evaluate::compare`] of the new record with the stored one.
//!
//! Shared by `sandkasse replay` (which opens the store itself, with or without a running
//! service) and the API's replay action for advisors, so both state the same thing about a
//! run. A replay changes no data: the new record is compared and dropped, never stored.

use crate::runner::{RunParams, StoredReport};
use evaluate::{Comparison, EvaluateError};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use store::{BlobStore, Run, RunState, Store};

/// What a replay found.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Replay {
    /// The run replayed.
    pub run: String,
    /// The model it scored (by id; its bytes by `model_sha256`).
    pub model_id: String,
    /// SHA-256 of the model's bytes, read from the blob store and checked against the record.
    pub model_sha256: String,
    /// SHA-256 of the stored report the replay was compared with.
    pub stored_report_sha256: String,
    /// Rows scored by the replay.
    pub rows: u64,
    /// How long the replay took, seconds.
    pub seconds: f64,
    /// The comparison: identical or the first difference, and the versions that differ.
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// Why a run could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Only a succeeded run has a record to compare with.
    #[error("the run is {0}; only a succeeded run has a record to replay")]
    NotSucceeded(RunState),
    /// The run's model row is gone from the database.
    #[error("the run's model {0} is gone from the database")]
    ModelGone(String),
    /// The stored record names other model bytes than the run's model: the evidence disagrees
    /// with itself, so nothing is run.
    #[error("the stored record scored model sha256 {recorded}, but the run's model is sha256 {stored}")]
    ModelMismatch {
        /// What the record says.
        recorded: String,
        /// What the model row and its blob say.
        stored: String,
    },
    /// The stored report or parameters do not read.
    #[error("{0}")]
    Stored(String),
    /// The database.
    #[error("the database: {0}")]
    Store(#[from] store::StoreError),
    /// The blob store (a blob missing, or not matching its hash).
    #[error("the blob store: {0}")]
    Blob(#[from] store::BlobError),
    /// The new execution failed.
    #[error("the replay failed: {0}")]
    Evaluate(#[from] EvaluateError),
}

/// How a replay executes: the worker set-up of the process asking, and the longest it may take.
#[derive(Clone)]
pub struct ReplayConfig {
    /// How workers are started and isolated (the service's own, or the CLI's).
    pub worker: inference::WorkerConfig,
    /// How many workers score: the service's own number, for which it reserved memory; `None`: as many as the
    /// stored run had (the CLI). The report does not depend on it.
    pub workers: Option<usize>,
    /// Longest the replay may take.
    pub deadline: Option<Duration>,
}

/// Replays `run` (see the module's documentation). The batch size is the stored record's, and so is the number
/// of workers unless the config fixes it (the report does not depend on either, which the evaluation's tests
/// show).
pub async fn replay(
    store: &Store,
    blobs: &BlobStore,
    config: &ReplayConfig,
    run: &Run,
    cancel: Arc<AtomicBool>,
) -> Result<Replay, ReplayError> {
    if run.state != RunState::Succeeded {
        return Err(ReplayError::NotSucceeded(run.state));
    }
    let digest = run.report_sha256.clone().ok_or(ReplayError::NotSucceeded(run.state))?;
    let model = store
        .model(&run.model_id)
        .await?
        .ok_or_else(|| ReplayError::ModelGone(run.model_id.to_string()))?;
    let (bytes, blobs2, model_digest) = {
        let (b, d, m) = (blobs.clone(), digest.clone(), model.model_sha256.clone());
        tokio::task::spawn_blocking(move || -> Result<_, ReplayError> {
            // Reading verifies each blob against its hash: a model file changed on disk is
            // refused here, not scored.
            let report = b.get(&d)?;
            b.get(&m)?;
            Ok((report, b, m))
        })
        .await
        .map_err(|e| ReplayError::Stored(format!("reading the blobs: {e}")))??
    };
    let stored =
        StoredReport::from_slice(&bytes).map_err(|e| ReplayError::Stored(format!("the stored report: {e}")))?;
    if stored.record.provenance.model_sha256 != model_digest.to_string() {
        return Err(ReplayError::ModelMismatch {
            recorded: stored.record.provenance.model_sha256.clone(),
            stored: model_digest.to_string(),
        });
    }
    let params: RunParams = serde_json::from_value(run.params.clone())
        .map_err(|e| ReplayError::Stored(format!("the run's stored parameters do not read: {e}")))?;
    let mut req = crate::runner::request(params, &model, &blobs2, config.worker.clone());
    req.workers = config.workers.unwrap_or(stored.record.throughput.workers).max(1);
    req.batch_rows = stored.record.throughput.batch_rows.max(1);
    req.deadline = config.deadline;
    let started = Instant::now();
    let replayed = tokio::task::spawn_blocking(move || evaluate::run(&req, &|_, _| {}, &cancel))
        .await
        .map_err(|e| ReplayError::Stored(format!("the replay's thread failed: {e}")))??;
    Ok(Replay {
        run: run.id.to_string(),
        model_id: run.model_id.to_string(),
        model_sha256: model_digest.to_string(),
        stored_report_sha256: digest.to_string(),
        rows: replayed.throughput.rows,
        seconds: started.elapsed().as_secs_f64(),
        comparison: evaluate::compare(&stored.record, &replayed),
    })
}

impl Replay {
    /// What the audit entry of an advisor's replay says: the run, whether it was identical, and the hashes
    /// compared.
    pub fn audit_object(&self) -> String {
        let c = &self.comparison;
        format!(
            "run {}: replay {} (findings sha256 stored {}, replayed {})",
            self.run,
            if c.identical { "identical" } else { "DIFFERENT" },
            c.stored_findings_sha256,
            c.replayed_findings_sha256
        )
    }

    /// The replay for people, in English (the CLI prints it; values from the record are
    /// escaped by the caller for where it lands).
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let c = &self.comparison;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "run {}: replayed {} rows in {:.1} s (model sha256 {})",
            self.run, self.rows, self.seconds, self.model_sha256
        );
        if c.identical {
            let _ = writeln!(
                s,
                "identical: the replayed findings are byte-identical to the stored ones (sha256 {})",
                c.replayed_findings_sha256
            );
        } else {
            let _ = writeln!(
                s,
                "DIFFERENT: stored findings sha256 {}, replayed {}",
                c.stored_findings_sha256, c.replayed_findings_sha256
            );
            if let Some(d) = &c.first_difference {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                let _ = writeln!(
                    s,
                    "first difference at {}: stored {}, replayed {}",
                    d.path,
                    show(&d.stored),
                    show(&d.replayed)
                );
            }
        }
        if c.changed.is_empty() {
            let _ = writeln!(s, "versions and isolation: the same as the stored run");
        }
        for ch in &c.changed {
            let _ = writeln!(s, "{} differs: stored {}, replay {}", ch.what, ch.stored, ch.replayed);
        }
        s
    }
}
