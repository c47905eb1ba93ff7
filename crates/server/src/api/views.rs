//! What the API answers, as types: each view says exactly which fields a response has, so the
//! OpenAPI document describes them from the code and a field cannot drift from its schema.

use crate::app;
use crate::error::ApiResult;
use fairness::Criterion;
use serde::{Deserialize, Serialize};
use store::{Case, Criteria, Org, Run, User};
use store::{CaseId, Store, Timestamp, UserId};

/// A case with its member organisations.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Case")]
pub struct CaseView {
    pub id: CaseId,
    pub name: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    /// The organisations in the case, by name.
    pub members: Vec<Org>,
}

impl CaseView {
    pub async fn of(store: &Store, case: Case) -> ApiResult<Self> {
        let members = app::cases::members_of(store, &case).await?;
        Ok(Self {
            id: case.id,
            name: case.name,
            created_by: case.created_by,
            created_at: case.created_at,
            members,
        })
    }
}

/// A case's criteria, as fixed, by whom and when.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Criteria")]
pub struct CriteriaView {
    pub case_id: CaseId,
    pub criteria: Vec<Criterion>,
    pub fixed_by: UserId,
    pub fixed_at: Timestamp,
}

impl CriteriaView {
    pub fn of(c: Criteria) -> ApiResult<Self> {
        Ok(Self {
            criteria: app::cases::typed_criteria(&c)?,
            case_id: c.case_id,
            fixed_by: c.fixed_by,
            fixed_at: c.fixed_at,
        })
    }
}

/// A run as stored, with its progress as a fraction of its rows.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Run")]
pub struct RunView {
    #[serde(flatten)]
    pub run: Run,
    /// `progress_rows / total_rows`, 0 before the run knows its rows.
    pub progress: f64,
}

impl From<Run> for RunView {
    fn from(run: Run) -> Self {
        let progress = if run.total_rows == 0 {
            0.0
        } else {
            run.progress_rows as f64 / run.total_rows as f64
        };
        Self { run, progress }
    }
}

/// Who is asking.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Me {
    pub user: User,
    pub org: Org,
}

/// A scenario of the catalogue: its population, its default bias and its columns.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Scenario")]
#[serde(deny_unknown_fields)]
pub struct ScenarioView {
    pub name: String,
    pub summary: String,
    /// The summary in Danish.
    pub summary_da: String,
    /// The SHA-256 of the scenario module (the TOML file) the scenario is defined by.
    pub module_sha256: String,
    /// The youngest and oldest age drawn, inclusive.
    pub ages: [u8; 2],
    /// Whether the scenario has an outcome to predict (the population alone has none).
    pub has_outcome: bool,
    /// What its models predict: `binary` (yes/no), `continuous` or `count` (a number; runs of
    /// such scenarios are refused until manifests describe numeric outputs), or `none`.
    pub outcome_kind: synth::OutcomeKind,
    /// The most citizens one dataset of it may have.
    pub max_rows: u64,
    /// The most citizens whose ages follow the population exactly.
    pub max_rows_exact_ages: u64,
    pub default_bias: synth::BiasConfig,
    /// The numeric columns a measurement bias may distort.
    pub measurable_features: Vec<String>,
    /// Every column of its datasets, in causal order.
    pub columns: Vec<ColumnView>,
}

/// One column of a scenario's datasets.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Column")]
#[serde(deny_unknown_fields)]
pub struct ColumnView {
    pub name: String,
    /// `categorical`, `utf8`, `date32`, `bool`, `uint8`, `int32`, `float64`, ...
    #[serde(rename = "type")]
    pub data_type: String,
    pub meaning: String,
    /// The variables it is drawn from in the causal model (empty for roots).
    pub parents: Vec<String>,
    /// Every category a categorical column can hold, in dictionary order (absent for others):
    /// what one-hot lists in a manifest are checked against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The scenario catalogue, typed: what `synth` describes, read once through these types so
/// that a field it adds or renames fails the server's tests rather than the document.
pub fn scenarios() -> ApiResult<Vec<ScenarioView>> {
    synth::scenario_catalogue()
        .into_iter()
        .map(|v| {
            serde_json::from_value(v)
                .map_err(|e| crate::error::ApiError::internal(format!("the scenario catalogue: {e}")))
        })
        .collect()
}

/// A page of the audit log.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AuditPage {
    pub entries: Vec<store::AuditEntry>,
}

/// What verifying the audit chain found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AuditVerification")]
#[serde(untagged)]
pub enum ChainView {
    /// Every hash and link holds, and the log extends the stored checkpoints.
    Intact {
        /// Always true.
        intact: bool,
        entries: u64,
        /// The last entry checked; none in an empty log.
        head: Option<ChainHead>,
        /// The Merkle root (RFC 9162) over every entry checked, hex.
        root: String,
        /// How many checkpoints the log was checked against: the signer's record of the last one it signed and
        /// the stored ones of its key.
        checkpoints: u64,
        /// Stored checkpoints signed by another key (another host's, or not the sandbox's), not checked against.
        foreign_checkpoints: u64,
    },
    /// The first point where the chain fails.
    Broken {
        /// Always false.
        intact: bool,
        #[serde(rename = "break")]
        at: store::ChainBreak,
    },
    /// The chain holds, but the log does not extend a checkpoint this sandbox signed, or a stored checkpoint
    /// is not signed by it.
    Diverges {
        /// Always false.
        intact: bool,
        /// What does not match.
        divergence: String,
    },
}

/// A signed checkpoint of the audit log.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AuditCheckpoint")]
pub struct CheckpointView {
    /// The log's name.
    pub origin: String,
    /// How many entries it covers.
    pub size: u64,
    /// The Merkle root over those entries, hex.
    pub root: String,
    /// When it was signed.
    pub time: store::Timestamp,
    /// The signed note (C2SP tlog-checkpoint in a C2SP signed-note), to keep outside the sandbox and give to
    /// `sandkasse audit verify --checkpoint`.
    pub note: String,
}

impl From<store::SignedCheckpoint> for CheckpointView {
    fn from(s: store::SignedCheckpoint) -> Self {
        Self {
            origin: s.checkpoint.origin,
            size: s.checkpoint.size,
            root: store::merkle::to_hex(&s.checkpoint.root),
            time: s.checkpoint.time,
            note: s.text,
        }
    }
}

/// The public key that checks the audit log's checkpoints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AuditKey")]
pub struct AuditKeyView {
    /// The log's name, which is the key's name.
    pub origin: String,
    /// The verifier key, `name+keyid+base64(0x01 || Ed25519 key)` (the format of Go's `note` package).
    pub key: String,
}

/// An inclusion proof (RFC 9162 §2.1.3) of one entry in the tree of the log's first `size` entries.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AuditInclusionProof")]
pub struct InclusionView {
    /// The entry (1-based); its leaf index is `seq - 1`.
    pub seq: u64,
    pub size: u64,
    /// The leaf hash: SHA-256 of 0x00 and the entry's 32-byte chain hash, hex.
    pub leaf: String,
    /// The root of the tree of `size` entries, hex.
    pub root: String,
    /// The audit path, leaf to root, hex.
    pub proof: Vec<String>,
}

/// A consistency proof (RFC 9162 §2.1.4) that the log's first `from` entries are a prefix of its first `to`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AuditConsistencyProof")]
pub struct ConsistencyView {
    pub from: u64,
    pub to: u64,
    /// The roots of the two trees, hex.
    pub from_root: String,
    pub to_root: String,
    /// The proof, hex.
    pub proof: Vec<String>,
}

/// The last entry of a verified chain.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

/// The service's health.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_scenario_catalogue_reads_as_its_view() {
        let views = super::scenarios().unwrap();
        assert!(views.len() >= 3);
        assert!(views.iter().all(|v| !v.columns.is_empty()));
    }
}

/// A finding as the API shows it: as written, and the finding that superseded it, if one did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Finding")]
pub struct FindingView {
    #[serde(flatten)]
    pub finding: store::Finding,
    /// The finding that corrects this one (this one stays as written).
    pub superseded_by: Option<store::FindingId>,
}

impl FindingView {
    /// `visible` (oldest first) with each one's successor found among `all` of the case's findings.
    pub fn list(visible: Vec<store::Finding>, all: &[store::Finding]) -> Vec<Self> {
        visible
            .into_iter()
            .map(|finding| {
                let superseded_by = all
                    .iter()
                    .find(|f| f.supersedes.as_ref() == Some(&finding.id))
                    .map(|f| f.id.clone());
                Self { finding, superseded_by }
            })
            .collect()
    }
}
