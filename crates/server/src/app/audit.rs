//! The audit log: the filter of a listing, and verification of the whole chain.

use crate::cache::Ttl;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use serde::Deserialize;
use store::AuditFilter;
use store::{CaseId, Timestamp};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub case: Option<String>,
    pub actor: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Read as text and checked by [`filter`], so that a value out of range is refused by name and range
    /// rather than by the deserialiser's words (or, past the database's integers, as a 500).
    pub limit: Option<String>,
    pub offset: Option<String>,
    /// `oldest` (default) or `newest` first.
    pub order: Option<String>,
}

/// Most entries one page lists.
pub const MAX_LIMIT: u64 = 1000;
/// The largest offset the databases can hold (a signed 64-bit integer).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// A whole number query parameter in `min..=max`, or a 400 naming the parameter and the range.
fn number(v: Option<&str>, name: &str, min: u64, max: u64) -> ApiResult<Option<u64>> {
    let Some(v) = v else { return Ok(None) };
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::bad_request(format!(
            "`{name}` must be a whole number in {min}..={max}, got {:?}",
            v.chars().take(30).collect::<String>()
        ))),
    }
}

/// The store's filter for a query, refusing malformed values by name.
pub fn filter(q: &AuditQuery) -> ApiResult<AuditFilter> {
    if let Some(o) = q.order.as_deref()
        && o != "oldest"
        && o != "newest"
    {
        return Err(ApiError::bad_request(format!(
            "`order` must be oldest or newest, got {:?}",
            o.chars().take(20).collect::<String>()
        )));
    }
    let time = |s: &Option<String>, name: &str| {
        s.as_deref()
            .map(Timestamp::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")))
    };
    let limit = number(q.limit.as_deref(), "limit", 1, MAX_LIMIT)?.unwrap_or(100);
    let offset = number(q.offset.as_deref(), "offset", 0, MAX_OFFSET)?.unwrap_or(0);
    let filter = AuditFilter {
        case: q
            .case
            .as_deref()
            .map(CaseId::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("`case`: {e}")))?,
        actor: q.actor.clone(),
        from: time(&q.from, "from")?,
        to: time(&q.to, "to")?,
        limit: u32::try_from(limit).map_err(|_| ApiError::bad_request("`limit` is out of range"))?,
        offset,
        newest_first: q.order.as_deref() == Some("newest"),
    };
    Ok(filter)
}

/// What verifying the whole chain found.
#[derive(Debug, Clone)]
pub enum ChainStatus {
    /// Every hash and link holds, and the log extends every stored checkpoint that verified; `head` is the last
    /// entry's `(seq, hash)`, `root` the Merkle root over all entries.
    Intact {
        entries: u64,
        head: Option<(i64, String)>,
        root: store::merkle::Hash,
        /// How many checkpoints it was checked against (the signer's record and the stored ones of its key).
        checkpoints: u64,
        /// Stored checkpoints signed by another key, not checked against.
        foreign: u64,
    },
    Broken(store::ChainBreak),
    /// The chain holds, but it does not extend a checkpoint this sandbox signed.
    Diverges(store::merkle::Divergence),
    /// A stored checkpoint does not verify with this sandbox's key: the table was written by someone else.
    ForgedCheckpoint(String),
}

/// How many of the newest stored checkpoints a verification checks the log against. The newest one that holds
/// implies every older one (this sandbox only signs its own log's heads); more catch a table cut back too.
const PINS: u32 = 100;

/// Verifies every entry, a page at a time (constant memory), and the tree against the newest stored
/// checkpoints; the head is the last of the entries checked, so it cannot be one appended in between. A
/// checkpoint row that is not signed by this sandbox's key is reported, not skipped.
pub async fn chain_status(state: &AppState) -> ApiResult<ChainStatus> {
    let verifier = state.audit_key.verifier();
    // The signer's own record of what it signed last lives outside the database, so rows deleted from it (or
    // pushed out of the newest by rows of another key) do not let a rewritten log pass here.
    let mut pins: Vec<store::Checkpoint> = match state.audit_key.last() {
        Ok(last) => last.into_iter().collect(),
        Err(e) => return Ok(ChainStatus::ForgedCheckpoint(e.to_string())),
    };
    let foreign = match state.store.checkpoints_of(&verifier, PINS).await {
        Ok((stored, foreign)) => {
            pins.extend(stored);
            foreign
        }
        Err(store::StoreError::Corrupt {
            what: "audit checkpoint",
            detail,
        }) => return Ok(ChainStatus::ForgedCheckpoint(detail)),
        Err(e) => return Err(e.into()),
    };
    match state.store.check_audit_against(&pins).await {
        Ok(v) => Ok(ChainStatus::Intact {
            entries: v.entries,
            head: v.head,
            root: v.root,
            checkpoints: pins.len() as u64,
            foreign,
        }),
        Err(store::StoreError::ChainBroken(b)) => Ok(ChainStatus::Broken(b)),
        Err(store::StoreError::LogDiverges(d)) => Ok(ChainStatus::Diverges(d)),
        Err(e) => Err(e.into()),
    }
}

/// Signs the log's tree head now and stores the checkpoint. The request that asked for it is audited like any
/// other (after the checkpoint, which covers the log as it was when asked).
pub async fn take_checkpoint(state: &AppState) -> ApiResult<store::SignedCheckpoint> {
    Ok(state.audit_key.checkpoint(&state.store).await?)
}

/// The newest stored checkpoint that verifies, if any.
pub async fn latest_checkpoint(state: &AppState) -> ApiResult<Option<store::SignedCheckpoint>> {
    let verifier = state.audit_key.verifier();
    Ok(state.store.checkpoints(PINS).await?.into_iter().find_map(|text| {
        verifier
            .open(&text)
            .ok()
            .map(|checkpoint| store::SignedCheckpoint { text, checkpoint })
    }))
}

/// Largest log a proof is made over in one request: 32 bytes a leaf are held while it is made.
pub const MAX_PROOF_LEAVES: u64 = 10_000_000;

/// The size a proof is asked for: at most the log's, which is read first.
async fn tree_size(state: &AppState, size: Option<u64>) -> ApiResult<u64> {
    let have = state.store.audit_head().await?.map_or(0, |h| h.seq.max(0) as u64);
    match size {
        None => Ok(have),
        Some(s) if s <= have => Ok(s),
        Some(s) => Err(ApiError::bad_request(format!(
            "`size` {s} is beyond the log, which has {have} entries"
        ))),
    }
}

/// Proofs being made at once: each reads and hashes the log, so a caller looping on them waits its turn
/// instead of taking every core.
static PROOFS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The kept tree of the first `size` entries (read and verified, then hashed off the async threads), refusing a
/// log too long to prove from in one request.
async fn tree(state: &AppState, size: u64) -> ApiResult<store::merkle::Tree> {
    if size > MAX_PROOF_LEAVES {
        return Err(ApiError::bad_request(format!(
            "proofs are made over at most {MAX_PROOF_LEAVES} entries; ask for a smaller `size`"
        )));
    }
    let leaves = state.store.audit_leaves(Some(size)).await?;
    if (leaves.len() as u64) < size {
        return Err(ApiError::bad_request(format!(
            "the log has {} entries, not {size}",
            leaves.len()
        )));
    }
    tokio::task::spawn_blocking(move || store::merkle::Tree::new(leaves))
        .await
        .map_err(|e| ApiError::internal(format!("hashing the audit log: {e}")))
}

/// An inclusion proof of entry `seq` (1-based, as entries are numbered) in the tree of `size` entries.
pub struct Inclusion {
    pub size: u64,
    pub leaf: store::merkle::Hash,
    pub root: store::merkle::Hash,
    pub proof: Vec<store::merkle::Hash>,
}

pub async fn inclusion(state: &AppState, seq: u64, size: Option<u64>) -> ApiResult<Inclusion> {
    let size = tree_size(state, size).await?;
    if seq == 0 || seq > size {
        return Err(ApiError::bad_request(format!(
            "`seq` must be in 1..={size} (the entries of the tree asked for), got {seq}"
        )));
    }
    let _turn = PROOFS.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let tree = tree(state, size).await?;
    let proof = tree
        .inclusion_proof(seq - 1, size)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let bad = |e: store::merkle::ProofError| ApiError::bad_request(e.to_string());
    Ok(Inclusion {
        size,
        leaf: tree
            .leaf(seq - 1)
            .ok_or_else(|| ApiError::bad_request("no such entry"))?,
        root: tree.root(size).map_err(bad)?,
        proof,
    })
}

/// A consistency proof from the tree of `from` entries to the tree of `to` (the whole log by default).
pub struct Consistency {
    pub to: u64,
    pub from_root: store::merkle::Hash,
    pub to_root: store::merkle::Hash,
    pub proof: Vec<store::merkle::Hash>,
}

pub async fn consistency(state: &AppState, from: u64, to: Option<u64>) -> ApiResult<Consistency> {
    let to = tree_size(state, to).await?;
    if from > to {
        return Err(ApiError::bad_request(format!(
            "`from` must be at most `to` ({to}), got {from}"
        )));
    }
    let _turn = PROOFS.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let tree = tree(state, to).await?;
    let bad = |e: store::merkle::ProofError| ApiError::bad_request(e.to_string());
    Ok(Consistency {
        to,
        from_root: tree.root(from).map_err(bad)?,
        to_root: tree.root(to).map_err(bad)?,
        proof: tree.consistency_proof(from, to).map_err(bad)?,
    })
}

/// The audit page's last full verification, reused for [`LastCheck::MAX_AGE`] so that a busy
/// page does not verify a long chain on every view. The page says when it was checked and
/// can ask for a check now; the API's `/audit/verify` and `sandkasse audit verify` always
/// check in full.
pub struct LastCheck(Ttl<(), (ChainStatus, String)>);

impl Default for LastCheck {
    fn default() -> Self {
        Self(Ttl::new(Self::MAX_AGE, 1))
    }
}

impl LastCheck {
    pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

    /// The status and when it was found (RFC 3339): reused if young enough and not `fresh`.
    pub async fn status(&self, state: &AppState, fresh: bool) -> ApiResult<(ChainStatus, String)> {
        if !fresh && let Some(last) = self.0.get(&()) {
            return Ok(last);
        }
        let status = chain_status(state).await?;
        let when = Timestamp::now().as_str().to_owned();
        self.0.put((), (status.clone(), when.clone()));
        Ok((status, when))
    }
}

/// Signs a checkpoint at start and then every `every` when the log has grown since the newest one, until the
/// process ends. A failure is logged and tried again next time: the log itself is unaffected.
pub fn spawn_checkpoints(state: &AppState, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let grown = async {
                let size = state.store.audit_head().await?.map_or(0, |h| h.seq.max(0) as u64);
                let last = latest_checkpoint(&state).await?.map(|c| c.checkpoint.size);
                ApiResult::Ok(last != Some(size))
            };
            match grown.await {
                Ok(false) => {}
                Ok(true) => match take_checkpoint(&state).await {
                    Ok(c) => tracing::info!(size = c.checkpoint.size, "audit checkpoint signed"),
                    Err(e) => tracing::error!(error = ?e, "signing an audit checkpoint failed"),
                },
                Err(e) => tracing::error!(error = ?e, "reading the audit log for a checkpoint failed"),
            }
        }
    })
}
