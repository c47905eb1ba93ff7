//! What every handler shares.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::runner::Runner;
use std::sync::Arc;
use store::BlobStore;
use store::Store;

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub blobs: BlobStore,
    pub metrics: Metrics,
    pub runner: Runner,
    pub config: Config,
    /// Training-data downloads generated at the same time; more wait their turn.
    pub downloads: tokio::sync::Semaphore,
    /// Models served over the Open Inference Protocol.
    pub models: crate::serving::Models,
    /// Live inference requests in flight, per user.
    pub in_flight: crate::v2::PerCaller,
    /// Recently authenticated tokens.
    pub callers: crate::middleware::CallerCache,
    /// The rate limit and refusal counts of callers without valid credentials.
    pub anonymous: crate::middleware::anonymous::Anonymous,
    /// Models recently found visible to a user, for live inference.
    pub visible_models: crate::v2::VisibleCache,
    /// The audit page's last verification of the chain.
    pub last_check: crate::app::audit::LastCheck,
    /// What signs the audit log's checkpoints: the key (`audit-signing.key` in the data directory) and its
    /// record of the last one signed.
    pub audit_key: crate::signer::Signer,
    /// Reports already rendered as HTML.
    pub reports: crate::report_cache::ReportCache,
    /// Published cases' summaries (and cases without one: `None`), reused for 30 seconds so that anonymous
    /// readers cannot make the service read every run record of a case on each request.
    /// Each entry carries the plan version it was made from, and is used only while that version is in force.
    pub public_summaries: crate::cache::Ttl<String, (u64, Option<crate::exit::public::PublicSummary>)>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
