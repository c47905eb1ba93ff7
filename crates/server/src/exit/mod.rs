//! The written result of a case: its exit report and its public summary.
//!
//! A regulatory sandbox case ends with a report written with the participant (AI Act Art. 57(7); Datatilsynet's
//! sandbox; the ICO's exit reports). [`ExitReport`] gathers, typed, everything the case did — the plan in force,
//! the participants, every run with its hashes, isolation and verdicts, the comparisons of runs on one dataset,
//! the findings, the requirements checklist — and the signed audit checkpoint that covers all of it, so a reader
//! holding the report can check any of it against an evidence bundle. It is built for one reader
//! ([`build::for_caller`]): a vendor's report holds only its own work and says so (`complete: false`).
//!
//! [`PublicSummary`] is what may be shown to anyone once the case's authority has published it in the plan
//! (`publication.published`): the fields transparency registers ask for (the EU database for high-risk systems,
//! AI Act Art. 71 and Annex VIII; the Danish overview of public-sector AI) and the sandbox's result in counts and
//! verdicts — no run ids, no hashes of vendors' files, no finding texts, no person's name.
//!
//! Facets, one file each: the types (here), [`build`] (reading the store), [`html`] (the printable report, Danish
//! and English), [`public`] (the summary and its page).

pub mod build;
pub mod html;
pub mod public;

use crate::app::compare::Leaderboard;
use crate::app::plan::Plan;
use serde::{Deserialize, Serialize};

/// What the first field of every exit report says.
pub const FORMAT: &str = "sandkasse-exit-report-v1";

/// Most comparisons one exit report computes: one per dataset, each regenerating its citizens.
pub const MAX_COMPARISONS: usize = 4;

/// A case's exit report, as one reader may read it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitReport {
    /// [`FORMAT`].
    pub format: String,
    /// The case.
    pub case: CaseInfo,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    /// Who it was made for: what it holds is what this reader may see.
    pub reader: Reader,
    /// Whether it holds the whole case; `false` for a vendor's report, which holds only its own work.
    pub complete: bool,
    /// The Sandkasse version that made it.
    pub sandbox_version: String,
    /// The organisations in the case.
    pub participants: Vec<ParticipantInfo>,
    /// The sandbox plan in force; absent when the case has none.
    pub plan: Option<PlanInForce>,
    /// The criteria fixed for the case now, in words.
    pub criteria: Vec<String>,
    /// The models uploaded to the case.
    pub models: Vec<ModelInfo>,
    /// Every run, oldest first (the newest [`build::MAX_RUNS`]).
    pub runs: Vec<RunInfo>,
    /// Older runs left out of `runs` (and of everything computed from them).
    pub runs_not_listed: usize,
    /// The isolation the runs were scored under, across all of them.
    pub isolation: IsolationSummary,
    /// Every succeeded run against the criteria it was judged by.
    pub leaderboard: Leaderboard,
    /// Runs on one dataset compared as paired samples: for each dataset scored by two or more runs that kept
    /// their rows' probabilities, its newest runs (up to 8, the oldest of them the baseline).
    pub comparisons: Vec<evaluate::RunComparison>,
    /// Datasets scored by two or more runs that were not compared, and why.
    pub not_compared: Vec<String>,
    /// The findings, in the order written (corrections after what they supersede).
    pub findings: Vec<FindingInfo>,
    /// The requirements checklist in force.
    pub checklist: ChecklistInForce,
    /// The signed audit checkpoint covering every entry of the case written before the report was made.
    pub checkpoint: CheckpointInfo,
}

/// The case an exit report is about.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The organisation that opened it (the authority).
    pub opened_by: String,
    /// When (RFC 3339, UTC).
    pub opened_at: String,
}

/// Who an exit report was made for.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    /// The user's name.
    pub name: String,
    /// Their organisation.
    pub organisation: String,
    /// Their role (`vendor`, `authority`, `advisor`, `admin`).
    pub role: String,
}

/// An organisation of the case.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantInfo {
    /// Its name.
    pub organisation: String,
    /// What it is (`vendor`, `authority`, `advisor`, `operator`).
    pub kind: String,
}

/// The plan version in force.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInForce {
    /// Its version (1 for the first save).
    pub version: u64,
    /// SHA-256 of its stored text (what its audit entry names).
    pub sha256: String,
    /// When it was saved (RFC 3339, UTC).
    pub saved_at: String,
    /// The plan.
    pub plan: Plan,
}

/// A model of the case.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Its id.
    pub id: String,
    /// Its name and version, from its manifest.
    pub name: String,
    /// The organisation that uploaded it.
    pub organisation: String,
    /// The scenario it was written for.
    pub scenario: String,
    /// SHA-256 of the ONNX file.
    pub model_sha256: String,
    /// SHA-256 of the manifest as uploaded.
    pub manifest_sha256: String,
    /// When it was uploaded (RFC 3339, UTC).
    pub uploaded_at: String,
}

/// A run of the case.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// Its id.
    pub id: String,
    /// The model's id.
    pub model_id: String,
    /// The model's name and version.
    pub model: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Who started it.
    pub started_by: String,
    /// When it was asked for (RFC 3339, UTC).
    pub created_at: String,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Why it failed or was cancelled.
    pub cause: Option<String>,
    /// The plan version in force when it was started.
    pub plan_version: Option<u64>,
    /// Citizens asked for (twins included).
    pub rows: u64,
    /// The scenario of its dataset.
    pub scenario: String,
    /// The dataset's seed.
    pub seed: u64,
    /// SHA-256 of the run record, for a succeeded run (the blob the evidence bundle holds).
    pub record_sha256: Option<String>,
    /// What the record says of the run, for a succeeded run.
    pub result: Option<RunResult>,
}

/// What a succeeded run's record says.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    /// SHA-256 of the model bytes scored.
    pub model_sha256: String,
    /// SHA-256 of the dataset scored: runs with the same hash compare as paired samples.
    pub dataset_sha256: String,
    /// Citizens scored.
    pub dataset_rows: u64,
    /// The Sandkasse version that scored it.
    pub sandbox_version: String,
    /// The ONNX Runtime version that scored it.
    pub onnxruntime_version: String,
    /// The isolation layers in force in its workers.
    pub isolation_active: Vec<String>,
    /// The layers that were not, with why.
    pub isolation_missing: Vec<String>,
    /// The layers the operator allowed to be missing (`--allow-missing-isolation`); `None` for records from
    /// before it was recorded.
    pub isolation_allowed_missing: Option<Vec<String>>,
    /// Each criterion it was judged by and the verdict.
    pub verdicts: Vec<VerdictInfo>,
}

/// A criterion and a run's verdict on it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictInfo {
    /// The criterion, in words, with its bound.
    pub criterion: String,
    /// `pass`, `fail` or `inconclusive`.
    pub verdict: String,
}

/// The isolation of all of a report's succeeded runs together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IsolationSummary {
    /// Layers in force in every succeeded run.
    pub in_every_run: Vec<String>,
    /// Layers missing in at least one run, with how many runs lacked each.
    pub missing: Vec<MissingLayer>,
    /// Whether the operator allowed a missing layer for any run.
    pub operator_allowed_missing: bool,
}

/// A layer some runs were scored without.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MissingLayer {
    /// The layer.
    pub layer: String,
    /// Runs without it.
    pub runs: usize,
}

/// A finding, with its author's name and organisation.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingInfo {
    /// The finding as stored.
    pub finding: store::Finding,
    /// Its author's name.
    pub author: String,
    /// Its author's organisation.
    pub organisation: String,
    /// The finding that supersedes it, if one does.
    pub superseded_by: Option<String>,
}

/// The checklist in force.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistInForce {
    /// Its saved version; 0 for the blank checklist before the first save.
    pub version: u64,
    /// SHA-256 of the stored text; absent before the first save.
    pub sha256: Option<String>,
    /// The catalogue of requirements it answers.
    pub catalogue_version: String,
    /// How many items are at each status.
    pub summary: checklist::Summary,
    /// Its items, in catalogue order.
    pub items: Vec<ChecklistRow>,
}

/// One requirement of the checklist and its answer.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistRow {
    /// The requirement's id.
    pub id: String,
    /// The provision (Danish, English).
    pub article: [String; 2],
    /// Its title (Danish, English).
    pub title: [String; 2],
    /// `open`, `answered` or `evidenced`.
    pub status: String,
    /// The answer.
    pub answer: String,
    /// Its evidence links (`run:ID`, `model:ID`, `finding:ID`, `section:ID#name`).
    pub evidence: Vec<String>,
}

/// The signed checkpoint an exit report stands on.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointInfo {
    /// The log's name.
    pub origin: String,
    /// How many audit entries it covers.
    pub size: u64,
    /// The Merkle root of those entries (hex).
    pub root: String,
    /// When it was signed (RFC 3339, UTC).
    pub time: String,
    /// The newest audit entry of the case it covers.
    pub case_entries_up_to: Option<u64>,
    /// The signed note, as `sandkasse audit verify --checkpoint` reads it.
    pub note: String,
    /// The sandbox's public key (a verifier should use the one it got from the sandbox itself).
    pub public_key: String,
}
