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
    /// Every hash and link holds; `head` is the last entry's `(seq, hash)`.
    Intact {
        entries: u64,
        head: Option<(i64, String)>,
    },
    Broken(store::ChainBreak),
}

/// Verifies every entry, a page at a time (constant memory); the head is the last of the
/// entries checked, so it cannot be one appended in between.
pub async fn chain_status(state: &AppState) -> ApiResult<ChainStatus> {
    match state.store.check_audit().await {
        Ok(v) => Ok(ChainStatus::Intact {
            entries: v.entries,
            head: v.head,
        }),
        Err(store::StoreError::ChainBroken(b)) => Ok(ChainStatus::Broken(b)),
        Err(e) => Err(e.into()),
    }
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
