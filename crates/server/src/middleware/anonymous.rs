//! Callers without valid credentials: a token bucket per peer address, and their repeated
//! refusals counted instead of each written to the audit log.
//!
//! Why: every anonymous refusal of a change used to append one audit entry, so anyone could
//! grow the chain by thousands of entries a second. Now an address gets [`BURST`] requests at
//! once and [`RATE`] a second after that (then 429 with `Retry-After`, answered before any
//! handler runs); of its refusals of one action (`METHOD route`, a bounded set), the first in
//! each [`WINDOW`] is written in full as before, so the log still shows what was tried, and
//! the rest are counted in memory and written as one entry when the window closes (by
//! [`flush_due`], called from a background task, and by [`flush_all`] at shutdown). Nothing is
//! hidden: every refusal is either its own entry or counted in one.
//!
//! Both tables are bounded ([`MAX_PEERS`]): refilled buckets are dropped first, then the least
//! recently used; refusals from addresses beyond the bound are counted together as "other
//! addresses". An IPv6 caller is keyed by its /64, which one subscriber holds whole.

use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use store::NewEntry;
use store::Timestamp;

pub use crate::config::AnonymousLimit as Limit;

/// Sustained anonymous requests per second per address, by default.
pub const RATE: f64 = 10.0;
/// Anonymous requests an address may make at once, by default.
pub const BURST: f64 = 50.0;

/// Addresses tracked at once, in each table.
pub const MAX_PEERS: usize = 10_000;
/// How long an address's refusals are counted before they are written as one entry.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The action of a counted entry.
pub const ACTION: &str = "anonymous refusals";

/// Whom a bucket and a count belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    V4(std::net::Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Net(u64),
    /// The server was not given the peer's address (no `ConnectInfo`): all such callers share
    /// one bucket, which fails closed.
    Unknown,
}

impl Peer {
    pub fn of(addr: Option<SocketAddr>) -> Self {
        match addr.map(|a| a.ip()) {
            None => Self::Unknown,
            Some(IpAddr::V4(v4)) => Self::V4(v4),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Net((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4(a) => write!(f, "{a}"),
            Self::V6Net(net) => write!(f, "{}/64", std::net::Ipv6Addr::from_bits(u128::from(*net) << 64)),
            Self::Unknown => f.write_str("an unknown address"),
        }
    }
}

/// What to do with one anonymous refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Append its own entry, as for any refusal.
    Write,
    /// It was counted; its address's summary entry will include it.
    Counted,
}

/// The rate limiter and the refusal counts of one server process.
#[derive(Default)]
pub struct Anonymous {
    limit: Limit,
    buckets: Mutex<Buckets>,
    refusals: Mutex<Refusals>,
}

impl Anonymous {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Takes one request from `peer`'s bucket, or says how long until it may ask again.
    pub fn take(&self, peer: Peer) -> Result<(), Duration> {
        match self.buckets.lock() {
            Ok(mut b) => b.take(peer, Instant::now(), self.limit),
            // A poisoned lock is a bug elsewhere; refusing everyone anonymous fails closed.
            Err(_) => Err(Duration::from_secs(1)),
        }
    }

    /// How long until `peer` may ask again, if it is over its rate now; takes nothing. Lets the
    /// middleware refuse a flooding address before its credentials cost a database query.
    pub fn throttled(&self, peer: Peer) -> Option<Duration> {
        let b = self.buckets.lock().ok()?;
        let level = b.0.get(&peer)?.level(Instant::now(), self.limit);
        (level < 1.0).then(|| Duration::from_secs_f64((1.0 - level) / self.limit.rate.max(1e-3)))
    }

    /// Notes an anonymous refusal of `action` with `status`. 429s are only ever counted (their
    /// point is to cost nothing); any other refusal is written if it is the first of its
    /// address and action in its window.
    pub fn refused(&self, peer: Peer, action: &str, status: StatusCode) -> Note {
        match self.refusals.lock() {
            Ok(mut r) => r.note(peer, action, status, Instant::now()),
            Err(_) => Note::Write,
        }
    }

    /// The summary entries of windows that have closed (all windows if `all`), removed from
    /// the counts.
    pub fn take_due(&self, all: bool) -> Vec<NewEntry> {
        match self.refusals.lock() {
            Ok(mut r) => r.due(Instant::now(), all),
            Err(_) => Vec::new(),
        }
    }
}

/// The 429 answer, with `Retry-After` in whole seconds (at least 1).
pub fn too_many(wait: Duration) -> (crate::error::ApiError, HeaderValue) {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let e = crate::error::ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("too many requests without valid credentials from this address; retry in {secs} s"),
    );
    (e, HeaderValue::from(secs))
}

/// Appends the summaries of closed windows; for a background task.
pub async fn flush_due(state: &AppState) {
    append(state, state.anonymous.take_due(false)).await;
}

/// Appends every pending count, closed or not; at shutdown, so no count is lost.
pub async fn flush_all(state: &AppState) {
    append(state, state.anonymous.take_due(true)).await;
}

async fn append(state: &AppState, entries: Vec<NewEntry>) {
    for e in entries {
        if let Err(err) = state.store.append_audit(e).await {
            tracing::error!(error = %err, "appending the count of anonymous refusals failed");
            state.metrics.audit_failure(ACTION);
        }
    }
}

/// Flushes closed windows every few seconds until the process ends.
pub fn spawn_flusher(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            flush_due(&state).await;
        }
    })
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn level(&self, now: Instant, limit: Limit) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * limit.rate).min(limit.burst)
    }
}

#[derive(Default)]
struct Buckets(HashMap<Peer, Bucket>);

impl Buckets {
    fn take(&mut self, peer: Peer, now: Instant, limit: Limit) -> Result<(), Duration> {
        if !self.0.contains_key(&peer) && self.0.len() >= MAX_PEERS {
            self.make_room(now, limit);
        }
        let b = self.0.entry(peer).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        let level = b.level(now, limit);
        if level >= 1.0 {
            *b = Bucket {
                tokens: level - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *b = Bucket { tokens: level, at: now };
            Err(Duration::from_secs_f64((1.0 - level) / limit.rate.max(1e-3)))
        }
    }

    /// Drops refilled buckets (the same as absent); if none, the least recently used.
    fn make_room(&mut self, now: Instant, limit: Limit) {
        self.0.retain(|_, b| b.level(now, limit) < limit.burst);
        if self.0.len() >= MAX_PEERS
            && let Some(oldest) = self.0.iter().min_by_key(|(_, b)| b.at).map(|(p, _)| *p)
        {
            self.0.remove(&oldest);
        }
    }
}

/// Who is counted: one address asking for one action, or every request beyond the table's
/// bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Peer(Peer, String),
    Others,
}

struct Window {
    opened: Instant,
    /// Refusals counted (not written) by status.
    counts: BTreeMap<u16, u64>,
    first: Option<String>,
    last: String,
}

impl Window {
    fn summary(&self, source: &Source) -> Option<NewEntry> {
        let first = self.first.clone()?;
        let total: u64 = self.counts.values().sum();
        let by_status = self
            .counts
            .iter()
            .map(|(s, n)| format!("{s} x{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let from = match source {
            Source::Peer(p, action) => format!("{p} to {action}"),
            Source::Others => "other addresses".to_owned(),
        };
        Some(NewEntry {
            time: Timestamp::now().as_str().to_owned(),
            actor: "anonymous".into(),
            org: String::new(),
            role: String::new(),
            action: ACTION.into(),
            object: format!(
                "{total} refused requests from {from} ({by_status}) between {first} and {}",
                self.last
            ),
            outcome: "counted".into(),
            request_id: store::RunId::generate().as_str().to_owned(),
            case_id: None,
        })
    }
}

#[derive(Default)]
struct Refusals {
    open: HashMap<Source, Window>,
    /// Summaries of windows closed by a refusal that opened the next one, not yet written.
    closed: Vec<NewEntry>,
}

impl Refusals {
    fn note(&mut self, peer: Peer, action: &str, status: StatusCode, now: Instant) -> Note {
        let mut source = Source::Peer(peer, action.chars().take(200).collect());
        if !self.open.contains_key(&source) && self.open.len() >= MAX_PEERS {
            self.close_due(now);
            if self.open.len() >= MAX_PEERS {
                source = Source::Others;
            }
        }
        if let Some(w) = self.open.get(&source)
            && now.saturating_duration_since(w.opened) >= WINDOW
            && let Some(w) = self.open.remove(&source)
        {
            self.closed.extend(w.summary(&source));
        }
        let fresh = !self.open.contains_key(&source);
        let others = source == Source::Others;
        let w = self.open.entry(source).or_insert_with(|| Window {
            opened: now,
            counts: BTreeMap::new(),
            first: None,
            last: String::new(),
        });
        if fresh && !others && status != StatusCode::TOO_MANY_REQUESTS {
            return Note::Write;
        }
        *w.counts.entry(status.as_u16()).or_default() += 1;
        let at = Timestamp::now().as_str().to_owned();
        if w.first.is_none() {
            w.first = Some(at.clone());
        }
        w.last = at;
        Note::Counted
    }

    /// Moves windows that have closed into `closed`.
    fn close_due(&mut self, now: Instant) {
        let due: Vec<Source> = self
            .open
            .iter()
            .filter(|(_, w)| now.saturating_duration_since(w.opened) >= WINDOW)
            .map(|(s, _)| s.clone())
            .collect();
        for s in due {
            if let Some(w) = self.open.remove(&s) {
                self.closed.extend(w.summary(&s));
            }
        }
    }

    fn due(&mut self, now: Instant, all: bool) -> Vec<NewEntry> {
        if all {
            for (s, w) in self.open.drain() {
                self.closed.extend(w.summary(&s));
            }
        } else {
            self.close_due(now);
        }
        std::mem::take(&mut self.closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "POST /api/v1/cases";

    fn v4(last: u8) -> Peer {
        Peer::V4(std::net::Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let mut b = Buckets::default();
        let t0 = Instant::now();
        for _ in 0..50 {
            assert!(b.take(v4(1), t0, Limit::default()).is_ok());
        }
        let wait = b.take(v4(1), t0, Limit::default()).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(
            b.take(v4(2), t0, Limit::default()).is_ok(),
            "another address has its own bucket"
        );
        // A second later, RATE more.
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..10 {
            assert!(b.take(v4(1), t1, Limit::default()).is_ok());
        }
        assert!(b.take(v4(1), t1, Limit::default()).is_err());
    }

    #[test]
    fn the_table_of_buckets_is_bounded() {
        let mut b = Buckets::default();
        let t0 = Instant::now();
        for i in 0..(MAX_PEERS as u32 + 10) {
            let _ = b.take(Peer::V4(std::net::Ipv4Addr::from_bits(i)), t0, Limit::default());
        }
        assert!(b.0.len() <= MAX_PEERS);
    }

    #[test]
    fn ipv6_callers_share_a_bucket_per_64() {
        let a: SocketAddr = "[2001:db8:1:2::1]:1".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:ffff::9]:2".parse().unwrap();
        let c: SocketAddr = "[2001:db8:1:3::1]:1".parse().unwrap();
        assert_eq!(Peer::of(Some(a)), Peer::of(Some(b)));
        assert_ne!(Peer::of(Some(a)), Peer::of(Some(c)));
        assert_eq!(Peer::of(Some(a)).to_string(), "2001:db8:1:2::/64");
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:1".parse().unwrap();
        assert_eq!(Peer::of(Some(mapped)), v4(7));
    }

    #[test]
    fn the_first_refusal_in_a_window_is_written_and_the_rest_counted_into_one_entry() {
        let mut r = Refusals::default();
        let t0 = Instant::now();
        assert_eq!(r.note(v4(1), POST, StatusCode::UNAUTHORIZED, t0), Note::Write);
        for _ in 0..5 {
            assert_eq!(r.note(v4(1), POST, StatusCode::UNAUTHORIZED, t0), Note::Counted);
        }
        for _ in 0..3 {
            assert_eq!(r.note(v4(1), POST, StatusCode::TOO_MANY_REQUESTS, t0), Note::Counted);
        }
        assert!(r.due(t0 + Duration::from_secs(1), false).is_empty(), "still open");
        let out = r.due(t0 + WINDOW, false);
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .object
                .starts_with("8 refused requests from 192.0.2.1 to POST /api/v1/cases (401 x5, 429 x3) between "),
            "{}",
            out[0].object
        );
        assert_eq!(out[0].action, ACTION);
        // Another action from the same address is written once too.
        assert_eq!(
            r.note(v4(1), "POST /ui/login", StatusCode::UNAUTHORIZED, t0),
            Note::Write
        );
        // A new window: written in full again.
        assert_eq!(r.note(v4(1), POST, StatusCode::UNAUTHORIZED, t0 + WINDOW), Note::Write);
        // A lone refusal leaves no summary.
        assert!(r.due(t0 + WINDOW, true).is_empty());
    }

    #[test]
    fn a_429_is_never_written_on_its_own() {
        let mut r = Refusals::default();
        assert_eq!(
            r.note(v4(3), POST, StatusCode::TOO_MANY_REQUESTS, Instant::now()),
            Note::Counted
        );
        assert_eq!(r.due(Instant::now(), true).len(), 1);
    }
}
