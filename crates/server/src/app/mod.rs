//! What the service does, whoever asks: the operations on cases, models, runs and the audit
//! log. The three faces (the JSON API in `api`, the pages in `web`, live inference in `v2`) read
//! their requests, call these, and write their answers; none of them holds business rules, and
//! every role rule is asked of `policy`.
//!
//! An operation that changes something takes the request's [`crate::middleware::Audit`] and
//! commits its audit entry in the same transaction as the change.

pub mod audit;
pub mod cases;
pub mod checklist;
pub mod compare;
pub mod findings;
pub mod models;
pub mod plan;
pub mod runs;
