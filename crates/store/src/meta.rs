//! The metadata entities the service keeps, independent of the backend.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{CaseId, Digest, FindingId, ModelId, OrgId, RunId, Timestamp, UserId};

/// Declares a closed set of lowercase words stored as text, with lossless conversion both ways.
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order, for listings and metrics that must name each one.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The word stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// Reads the stored word back; anything else is an error, so a corrupt row is never guessed at.
            pub fn parse(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord { what: $what, value: s.chars().take(40).collect() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A word that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {value:?}")]
pub struct UnknownWord {
    /// Which enumeration was being read.
    pub what: &'static str,
    /// The start of the word that was found.
    pub value: String,
}

word_enum!(
    /// What an organisation is in the sandbox.
    OrgKind, "organisation kind" {
        /// Submits models to be tested.
        Vendor = "vendor",
        /// Tests models and fixes the criteria they are judged by.
        Authority = "authority",
        /// Reads cases and reports to advise, changes nothing.
        Advisor = "advisor",
        /// Runs the sandbox: organisations, users and the audit log.
        Admin = "admin",
    }
);
word_enum!(
    /// What a user may do; see the service's role rules.
    Role, "role" {
        /// A vendor's user: uploads its organisation's models and runs them.
        Vendor = "vendor",
        /// An authority's user: opens cases, fixes criteria, runs any model of its cases.
        Authority = "authority",
        /// An advisor's user: reads what its cases hold.
        Advisor = "advisor",
        /// The operator: manages organisations and users and verifies the audit log.
        Admin = "admin",
    }
);
word_enum!(
    /// Where a run is in its life.
    RunState, "run state" {
        /// Waiting for a runner.
        Queued = "queued",
        /// Being scored.
        Running = "running",
        /// Finished with a report.
        Succeeded = "succeeded",
        /// Stopped by an error; the run's cause says which.
        Failed = "failed",
        /// Stopped on request.
        Cancelled = "cancelled",
    }
);

impl RunState {
    /// The states a run may be in to move to `to`: the one rule both the code and the conditional `UPDATE`s use.
    pub fn sources(to: RunState) -> &'static [RunState] {
        use RunState::*;
        match to {
            Queued => &[],
            Running => &[Queued],
            Succeeded | Failed => &[Running],
            Cancelled => &[Queued, Running],
        }
    }

    /// Whether the life of a run allows going from `self` to `to` (a finished run never changes).
    pub fn can_become(self, to: RunState) -> bool {
        Self::sources(to).contains(&self)
    }

    /// Nothing more will happen to the run.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Cancelled)
    }
}

/// An organisation: a vendor, an authority, an advisor, or the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Its display name.
    pub name: String,
    /// What it is, which bounds what its users may be.
    pub kind: OrgKind,
}

/// A browser session of the pages, as stored, with whom it belongs to. The store keeps only
/// the SHA-256 of the cookie's value; when a session has expired is the service's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The user the session signs in.
    pub user: User,
    /// The user's organisation.
    pub org: Org,
    /// The secret every form of this session repeats.
    pub csrf: String,
    /// When the session was made.
    pub created_at: Timestamp,
    /// When it was last used, for idle expiry.
    pub seen_at: Timestamp,
}

/// A session to store; see [`crate::Store::create_session`].
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// The SHA-256 of the cookie's value.
    pub key: &'a Digest,
    /// The user it signs in.
    pub user: &'a UserId,
    /// The secret every form of the session repeats.
    pub csrf: &'a str,
    /// The user's newest sessions kept, this one included; older ones end.
    pub keep_per_user: u32,
}

/// A user; the token is not here because the store never has it after [`crate::Store::create_user`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its organisation.
    pub org_id: OrgId,
    /// Its display name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A case: one model question an authority and vendors work on together; models, runs and criteria belong to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Case {
    /// Its id.
    pub id: CaseId,
    /// Its display name.
    pub name: String,
    /// The user who opened it.
    pub created_by: UserId,
    /// When it was opened.
    pub created_at: Timestamp,
}

/// A model as uploaded, before it has an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewModel {
    /// The case it is uploaded to.
    pub case_id: CaseId,
    /// The uploading organisation, which owns it.
    pub org_id: OrgId,
    /// The vendor's name for it.
    pub name: String,
    /// The vendor's version label.
    pub version: String,
    /// The scenario its manifest is written for.
    pub scenario: String,
    /// The ONNX file's blob.
    pub model_sha256: Digest,
    /// The manifest's blob.
    pub manifest_sha256: Digest,
    /// The inspection summary taken at upload, as JSON.
    pub inspection: Value,
}

/// A stored model: the upload's fields with its id and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Model {
    /// Its id.
    pub id: ModelId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// The organisation that uploaded it.
    pub org_id: OrgId,
    /// The vendor's name for it.
    pub name: String,
    /// The vendor's version label.
    pub version: String,
    /// The scenario its manifest is written for.
    pub scenario: String,
    /// The ONNX file's blob.
    pub model_sha256: Digest,
    /// The manifest's blob.
    pub manifest_sha256: Digest,
    /// The inspection summary taken at upload, as JSON.
    pub inspection: Value,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

/// A run as requested; it starts `queued`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The case it belongs to.
    pub case_id: CaseId,
    /// The model to run.
    pub model_id: ModelId,
    /// The requesting organisation.
    pub org_id: OrgId,
    /// The requesting user.
    pub created_by: UserId,
    /// The run's parameters as requested (dataset, groups, workers), as JSON.
    pub params: Value,
    /// Citizens to score, for progress and per-organisation limits.
    pub total_rows: u64,
}

/// A run as stored: what was asked and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// The model it runs.
    pub model_id: ModelId,
    /// The requesting organisation.
    pub org_id: OrgId,
    /// The requesting user.
    pub created_by: UserId,
    /// The run's parameters as requested, as JSON.
    pub params: Value,
    /// Where it is in its life.
    pub state: RunState,
    /// Citizens scored so far.
    pub progress_rows: u64,
    /// Citizens to score.
    pub total_rows: u64,
    /// Why it failed or was cancelled.
    pub cause: Option<String>,
    /// The report blob, once succeeded.
    pub report_sha256: Option<Digest>,
    /// When it was requested.
    pub created_at: Timestamp,
    /// When a runner took it.
    pub started_at: Option<Timestamp>,
    /// When it succeeded, failed or was cancelled.
    pub finished_at: Option<Timestamp>,
}

/// What one organisation has waiting and running: what its per-organisation limits are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrgLoad {
    /// Its runs waiting for a runner.
    pub queued_runs: u64,
    /// Citizens of its queued runs, together.
    pub queued_rows: u64,
    /// Its runs being scored now.
    pub running_runs: u64,
}

/// The evaluation criteria fixed for a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Criteria {
    /// The case they are fixed for.
    pub case_id: CaseId,
    /// The criteria as JSON (a list of `fairness` criteria).
    pub json: Value,
    /// Who fixed them.
    pub fixed_by: UserId,
    /// When; runs requested before this were not judged by them.
    pub fixed_at: Timestamp,
}

word_enum!(
    /// How much a finding weighs.
    Severity, "severity" {
        /// A note: context, no concern.
        Note = "note",
        /// A concern of little weight.
        Low = "low",
        /// A concern the participant should answer.
        Medium = "medium",
        /// A concern that stands in the way of the system's use as it is.
        High = "high",
    }
);

/// What a finding is about: the case as a whole, one model or one run of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum FindingTarget {
    /// The case.
    Case,
    /// A model of the case.
    Model(ModelId),
    /// A run of the case.
    Run(RunId),
}

/// Where a finding's evidence is: a run (optionally one section of its report) or a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceLink {
    /// The run or model.
    #[serde(flatten)]
    pub target: FindingTarget,
    /// A section of the run's report, by its anchor (`fairness`, `robustness`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// A finding as written, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    /// The case it belongs to.
    pub case_id: CaseId,
    /// What it is about (in that case).
    pub target: FindingTarget,
    /// How much it weighs.
    pub severity: Severity,
    /// What was found.
    pub body: String,
    /// The evidence it rests on.
    pub links: Vec<EvidenceLink>,
    /// Who wrote it, their organisation and role at the time.
    pub author: UserId,
    /// The author's organisation.
    pub org_id: OrgId,
    /// The author's role when writing.
    pub role: Role,
    /// The finding it corrects, which stays.
    pub supersedes: Option<FindingId>,
}

/// Which versioned document of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// The sandbox plan: objectives, legal questions, models in scope, participants, milestones.
    Plan,
    /// The requirements checklist.
    Checklist,
}

impl DocumentKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Plan => "plan",
            DocumentKind::Checklist => "checklist",
        }
    }
}

/// One saved version of a case's document. The store keeps its canonical JSON as text; what it holds is the
/// service's to read and check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredDocument {
    /// The case.
    pub case_id: CaseId,
    /// Which document.
    pub kind: DocumentKind,
    /// 1 for the first save of this kind, one more for each later one.
    pub version: u64,
    /// The document's canonical JSON.
    pub body: String,
    /// SHA-256 of `body`.
    pub sha256: Digest,
    /// Who saved it.
    pub saved_by: UserId,
    /// When.
    pub saved_at: Timestamp,
}

/// A finding as stored: never changed, only superseded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "StoredFinding")]
pub struct Finding {
    /// Its id.
    pub id: FindingId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// What it is about.
    pub target: FindingTarget,
    /// How much it weighs.
    pub severity: Severity,
    /// What was found.
    pub body: String,
    /// The evidence it rests on.
    pub links: Vec<EvidenceLink>,
    /// Who wrote it.
    pub author: UserId,
    /// The author's organisation.
    pub org_id: OrgId,
    /// The author's role when writing.
    pub role: Role,
    /// When it was written.
    pub created_at: Timestamp,
    /// The finding it corrects.
    pub supersedes: Option<FindingId>,
}

/// Which audit entries to list: all conditions must hold; `from <= time < to`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    /// Only entries about this case.
    pub case: Option<CaseId>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only entries at or after this time.
    pub from: Option<Timestamp>,
    /// Only entries before this time.
    pub to: Option<Timestamp>,
    /// At most this many entries (oldest first, unless `newest_first`).
    pub limit: u32,
    /// Entries skipped first, for paging.
    pub offset: u64,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in RunState::ALL {
            assert_eq!(RunState::parse(s.as_str()), Ok(*s));
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn transitions() {
        use RunState::*;
        assert!(Queued.can_become(Running));
        assert!(Running.can_become(Succeeded));
        assert!(Queued.can_become(Cancelled));
        assert!(!Succeeded.can_become(Cancelled));
        assert!(!Queued.can_become(Succeeded));
        assert!(!Failed.can_become(Running));
        assert!(RunState::ALL.iter().all(|s| !s.can_become(Queued)));
    }
}
