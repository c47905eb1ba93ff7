//! Persistence for the sandbox service.
//!
//! Three jobs, one module each:
//! - [`BlobStore`]: models, datasets and reports as files addressed by their SHA-256, so a name can never point at
//!   different bytes and a torn write is never visible;
//! - the audit chain ([`chain`], [`AuditEntry`]): the tamper-evident audit chain (pure model, no I/O), so the service and `sandkasse audit verify`
//!   share one definition of "intact";
//! - the Merkle tree over the chain ([`merkle`]) and its signed checkpoints ([`AuditKey`], [`VerifierKey`]),
//!   which pin the log's entries outside the database so a truncated, continued or rolled-back log is found;
//! - [`Store`]: the metadata (organisations, users, browser sessions, cases, models, runs, criteria, audit rows)
//!   on SQLite (the embedded default) or PostgreSQL, both driven by the same code and the same test suite.

#![deny(missing_docs)]

mod audit;
mod backend;
mod blobs;
mod checkpoint;
mod digest;
mod error;
mod ids;
pub mod merkle;
mod meta;
mod postgres;
mod rows;
mod sqlite;
mod store;
mod time;

pub use audit::{AuditEntry, BreakKind, ChainBreak, NewEntry, chain, entry_hash};
pub use blobs::{BlobError, BlobStore};
pub use checkpoint::{AuditKey, Checkpoint, CheckpointError, MAX_NOTE_BYTES, SignedCheckpoint, VerifierKey};
pub use digest::{Digest, DigestError};
pub use error::StoreError;
pub use ids::{CaseId, FindingId, IdError, ModelId, OrgId, RunId, Token, UserId};
pub use meta::{
    AuditFilter, Case, Criteria, DocumentKind, EvidenceLink, Finding, FindingTarget, Model, NewFinding, NewModel,
    NewRun, NewSession, Org, OrgKind, OrgLoad, Role, Run, RunState, Severity, StoredDocument, StoredSession,
    UnknownWord, User,
};
pub use store::{Store, Verified};
pub use time::{Timestamp, TimestampError};
