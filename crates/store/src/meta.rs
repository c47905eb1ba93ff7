//! The metadata entities the service keeps, independent of the backend.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{CaseId, Digest, ModelId, OrgId, RunId, Timestamp, UserId};

/// Declares a closed set of lowercase words stored as text, with lossless conversion both ways.
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

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
    pub what: &'static str,
    pub value: String,
}

word_enum!(
    /// What an organisation is in the sandbox.
    OrgKind, "organisation kind" { Vendor = "vendor", Authority = "authority", Advisor = "advisor", Admin = "admin" }
);
word_enum!(
    /// What a user may do; see the service's role rules.
    Role, "role" { Vendor = "vendor", Authority = "authority", Advisor = "advisor", Admin = "admin" }
);
word_enum!(
    /// Where a run is in its life.
    RunState, "run state" {
        Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled",
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

    pub fn can_become(self, to: RunState) -> bool {
        Self::sources(to).contains(&self)
    }

    /// Nothing more will happen to the run.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Cancelled)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub kind: OrgKind,
}

/// A browser session of the pages, as stored, with whom it belongs to. The store keeps only
/// the SHA-256 of the cookie's value; when a session has expired is the service's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub user: User,
    pub org: Org,
    /// The secret every form of this session repeats.
    pub csrf: String,
    pub created_at: Timestamp,
    pub seen_at: Timestamp,
}

/// A session to store; see [`crate::Store::create_session`].
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// The SHA-256 of the cookie's value.
    pub key: &'a Digest,
    pub user: &'a UserId,
    pub csrf: &'a str,
    /// The user's newest sessions kept, this one included; older ones end.
    pub keep_per_user: u32,
}

/// A user; the token is not here because the store never has it after [`crate::Store::create_user`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Case {
    pub id: CaseId,
    pub name: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

/// A model as uploaded, before it has an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewModel {
    pub case_id: CaseId,
    pub org_id: OrgId,
    pub name: String,
    pub version: String,
    pub scenario: String,
    pub model_sha256: Digest,
    pub manifest_sha256: Digest,
    pub inspection: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Model {
    pub id: ModelId,
    pub case_id: CaseId,
    pub org_id: OrgId,
    pub name: String,
    pub version: String,
    pub scenario: String,
    pub model_sha256: Digest,
    pub manifest_sha256: Digest,
    pub inspection: Value,
    pub created_at: Timestamp,
}

/// A run as requested; it starts `queued`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    pub case_id: CaseId,
    pub model_id: ModelId,
    pub org_id: OrgId,
    pub created_by: UserId,
    pub params: Value,
    pub total_rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    pub id: RunId,
    pub case_id: CaseId,
    pub model_id: ModelId,
    pub org_id: OrgId,
    pub created_by: UserId,
    pub params: Value,
    pub state: RunState,
    pub progress_rows: u64,
    pub total_rows: u64,
    /// Why it failed or was cancelled.
    pub cause: Option<String>,
    /// The report blob, once succeeded.
    pub report_sha256: Option<Digest>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// What one organisation has waiting and running: what its per-organisation limits are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrgLoad {
    pub queued_runs: u64,
    /// Citizens of its queued runs, together.
    pub queued_rows: u64,
    pub running_runs: u64,
}

/// The evaluation criteria fixed for a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Criteria {
    pub case_id: CaseId,
    pub json: Value,
    pub fixed_by: UserId,
    pub fixed_at: Timestamp,
}

/// Which audit entries to list: all conditions must hold; `from <= time < to`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub case: Option<CaseId>,
    pub actor: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// At most this many entries (oldest first, unless `newest_first`).
    pub limit: u32,
    pub offset: u64,
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
