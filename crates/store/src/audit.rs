//! The tamper-evident audit log: what an entry is, how it is chained, and how a chain is checked.
//!
//! Each entry's `hash` is the SHA-256 of an unambiguous encoding of all its other fields, `seq` and `prev_hash`
//! included; `prev_hash` is the previous entry's `hash` (64 zeros for the first). Editing, deleting, inserting or
//! reordering entries anywhere before the newest one therefore breaks the chain.
//!
//! Limit, inherent to an unkeyed chain: someone who can write the database can append forged entries at the end
//! or drop entries from the end and go unnoticed. Detecting that needs the head (`seq`, `hash`) to be recorded
//! somewhere the attacker can't write.
//!
//! Fields are plain strings (not validated types) on purpose: entries are read back from a database that may have
//! been tampered with, and a tampered row must still load so that [`verify`] can say which entry broke.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::hex;

/// The `prev_hash` of the first entry.
pub const GENESIS_PREV_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Versioned domain tag, so a hash of an audit entry can't be confused with any other SHA-256 in the system.
const DOMAIN: &[u8] = b"sandkasse-audit-v1\0";

/// One entry of the chain as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// 1 for the first entry, then consecutive.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub time: String,
    /// Who acted: a user id, or a fixed word for the service itself or an anonymous caller.
    pub actor: String,
    /// The actor's organisation at the time, kept so the entry stays true if the user moves.
    pub org: String,
    /// The actor's role at the time.
    pub role: String,
    /// What was done (`run.create`, `login`, ...).
    pub action: String,
    /// What it was done to (an id or a route).
    pub object: String,
    /// How it ended (`ok`, `denied`, an HTTP status).
    pub outcome: String,
    /// The request's id, to find the matching log lines.
    pub request_id: String,
    /// The case the action concerns, if any; kept so the log can be filtered by case.
    pub case_id: Option<String>,
    /// The `hash` of the entry before (zeros for the first), which makes the log a chain.
    pub prev_hash: String,
    /// SHA-256 over this entry's fields and `prev_hash`: an edit anywhere changes it.
    pub hash: String,
}

/// An entry before it is placed in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// RFC 3339 UTC.
    pub time: String,
    /// Who acted; see [`AuditEntry::actor`].
    pub actor: String,
    /// The actor's organisation at the time.
    pub org: String,
    /// The actor's role at the time.
    pub role: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub object: String,
    /// How it ended.
    pub outcome: String,
    /// The request's id.
    pub request_id: String,
    /// The case the action concerns, if any.
    pub case_id: Option<String>,
}

/// Places `new` after `prev` (or first, when `prev` is `None`).
pub fn chain(prev: Option<&AuditEntry>, new: NewEntry) -> AuditEntry {
    let NewEntry {
        time,
        actor,
        org,
        role,
        action,
        object,
        outcome,
        request_id,
        case_id,
    } = new;
    let mut entry = AuditEntry {
        seq: prev.map_or(1, |p| p.seq + 1),
        time,
        actor,
        org,
        role,
        action,
        object,
        outcome,
        request_id,
        case_id,
        prev_hash: prev.map_or_else(|| GENESIS_PREV_HASH.to_owned(), |p| p.hash.clone()),
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    entry
}

/// The hash an entry should carry: SHA-256 over the domain tag, `seq` as 8 big-endian bytes, then every text
/// field as an 8-byte big-endian length and its bytes, the optional case as a 0/1 tag byte before it.
///
/// Length prefixes make the encoding injective: moving bytes from one field to the next changes the hash.
pub fn entry_hash(e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(e.seq.to_be_bytes());
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    for s in [
        &e.time,
        &e.actor,
        &e.org,
        &e.role,
        &e.action,
        &e.object,
        &e.outcome,
        &e.request_id,
    ] {
        field(s);
    }
    match &e.case_id {
        None => h.update([0u8]),
        Some(c) => {
            h.update([1u8]);
            h.update((c.len() as u64).to_be_bytes());
            h.update(c.as_bytes());
        }
    }
    h.update((e.prev_hash.len() as u64).to_be_bytes());
    h.update(e.prev_hash.as_bytes());
    hex(&h.finalize())
}

/// How a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// An entry's content no longer matches its hash.
    Edited,
    /// One or more entries are missing (a gap in `seq`).
    Deleted,
    /// An entry appears that the chain does not link to (a duplicate `seq`, or a predecessor its successor was
    /// not chained to).
    Inserted,
    /// Entries appear out of order (`seq` goes backwards).
    Reordered,
}

/// The first point at which a chain fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, schemars::JsonSchema)]
#[error("audit chain broken at entry {seq} ({kind:?}): {message}")]
pub struct ChainBreak {
    /// The `seq` of the first entry that does not fit.
    pub seq: i64,
    /// What kind of tampering the break looks like.
    pub kind: BreakKind,
    /// What exactly did not match, for the operator.
    pub message: String,
}

/// Checks a chain one entry at a time, holding only the last good entry's `seq` and `hash`, so a chain of any
/// length is verified in constant memory (read it in pages and [`Verifier::push`] each entry).
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    /// The last entry that verified: `(seq, hash)`.
    prev: Option<(i64, String)>,
    entries: u64,
}

impl Verifier {
    /// A verifier that has seen no entry yet; the first entry must then follow the genesis hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries have verified so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The last entry that verified, as `(seq, hash)`.
    pub fn head(&self) -> Option<(i64, &str)> {
        self.prev.as_ref().map(|(s, h)| (*s, h.as_str()))
    }

    /// Checks the next entry of a chain read in `seq` order (as the database gives it), where a missing `seq`
    /// can only be a deletion.
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        self.step(e, |_| false)
    }

    /// Checks the next entry; `comes_later(seq)` says whether an entry with that `seq` follows, which tells a
    /// reordering from a deletion.
    ///
    /// The entry is checked against itself first (its hash), then against the last good entry before it (`seq`
    /// and `prev_hash`).
    fn step(&mut self, e: &AuditEntry, comes_later: impl FnOnce(i64) -> bool) -> Result<(), ChainBreak> {
        let brk = |kind, message: String| {
            Err(ChainBreak {
                seq: e.seq,
                kind,
                message,
            })
        };
        let actual = entry_hash(e);
        if actual != e.hash {
            return brk(
                BreakKind::Edited,
                format!("content hashes to {actual} but the entry records {}", e.hash),
            );
        }
        let expected_seq = self.prev.as_ref().map_or(1, |(s, _)| s + 1);
        let expected_prev = self.prev.as_ref().map_or(GENESIS_PREV_HASH, |(_, h)| h.as_str());
        if e.seq > expected_seq {
            if comes_later(expected_seq) {
                return brk(
                    BreakKind::Reordered,
                    format!(
                        "entry {} stands where entry {expected_seq} should, which comes later",
                        e.seq
                    ),
                );
            }
            let missing = if e.seq - 1 == expected_seq {
                format!("entry {expected_seq} is missing")
            } else {
                format!("entries {expected_seq}..={} are missing", e.seq - 1)
            };
            return Err(ChainBreak {
                seq: expected_seq,
                kind: BreakKind::Deleted,
                message: missing,
            });
        }
        if let Some((p, _)) = &self.prev {
            if e.seq == *p {
                return brk(
                    BreakKind::Inserted,
                    format!("a second entry with seq {} follows the first", e.seq),
                );
            }
            if e.seq < *p {
                return brk(BreakKind::Reordered, format!("entry {} comes after entry {p}", e.seq));
            }
        }
        if e.prev_hash != expected_prev {
            // seq is consecutive and every hash so far is self-consistent, yet this entry was chained to a
            // different predecessor: the entry before it is not the original one.
            let (seq, message) = match &self.prev {
                Some((p, _)) => (*p, format!("entry {} was not chained to this entry {p}", e.seq)),
                None => (e.seq, "the first entry does not start from the genesis hash".to_owned()),
            };
            return Err(ChainBreak {
                seq,
                kind: BreakKind::Inserted,
                message,
            });
        }
        self.prev = Some((e.seq, e.hash.clone()));
        self.entries += 1;
        Ok(())
    }
}

/// Checks `entries` (in stored order, e.g. an exported list) and returns the first break.
///
/// Note that a database ordered by `seq` can't show a reordering: swapping two rows means rewriting their `seq`
/// (covered by the hash), so it is reported as `Edited`. `Reordered` is what an exported list in the wrong order
/// gives. The store verifies page by page with [`Verifier`]; this whole-list form is for the tests.
#[cfg(test)]
pub fn verify(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut v = Verifier::new();
    for (i, e) in entries.iter().enumerate() {
        v.step(e, |seq| entries[i + 1..].iter().any(|later| later.seq == seq))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(i: usize) -> NewEntry {
        NewEntry {
            time: format!("2026-01-01T00:00:{i:02}.000000Z"),
            actor: format!("user{i}"),
            org: "org".into(),
            role: "vendor".into(),
            action: "model.upload".into(),
            object: format!("model/{i}"),
            outcome: "ok".into(),
            request_id: format!("req{i}"),
            case_id: i.is_multiple_of(2).then(|| "case".to_owned()),
        }
    }

    fn chain_of(n: usize) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let e = chain(out.last(), new(i));
            out.push(e);
        }
        out
    }

    fn kind_at(entries: &[AuditEntry]) -> (BreakKind, i64) {
        let b = verify(entries).unwrap_err();
        (b.kind, b.seq)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain_of(6);
        assert_eq!(c[0].seq, 1);
        assert_eq!(c[0].prev_hash, GENESIS_PREV_HASH);
        assert_eq!(c[3].prev_hash, c[2].hash);
        verify(&c).unwrap();
        verify(&[]).unwrap();
    }

    #[test]
    fn pushing_one_at_a_time_finds_what_the_whole_list_does() {
        let c = chain_of(7);
        let mut v = Verifier::new();
        for e in &c {
            v.push(e).unwrap();
        }
        assert_eq!((v.entries(), v.head()), (7, Some((7, c[6].hash.as_str()))));
        let mut c = chain_of(7);
        c[4].object = "model/other".into();
        let mut v = Verifier::new();
        let err = c.iter().find_map(|e| v.push(e).err()).unwrap();
        assert_eq!((err.kind, err.seq), (BreakKind::Edited, 5));
        assert_eq!(v.entries(), 4);
    }

    #[test]
    fn encoding_is_unambiguous() {
        let mut a = chain(None, new(1));
        let mut b = a.clone();
        a.actor = "ab".into();
        a.org = "c".into();
        b.actor = "a".into();
        b.org = "bc".into();
        assert_ne!(entry_hash(&a), entry_hash(&b));
        a.case_id = None;
        b = a.clone();
        b.case_id = Some(String::new());
        assert_ne!(entry_hash(&a), entry_hash(&b));
    }

    #[test]
    fn edited_field_detected() {
        let mut c = chain_of(5);
        c[2].outcome = "denied".into();
        assert_eq!(kind_at(&c), (BreakKind::Edited, 3));
        let mut c = chain_of(5);
        c[1].case_id = Some("other".into());
        assert_eq!(kind_at(&c), (BreakKind::Edited, 2));
        // Re-hashing the edited entry moves the break to its successor, which no longer links to it.
        let mut c = chain_of(5);
        c[2].outcome = "denied".into();
        c[2].hash = entry_hash(&c[2]);
        assert_eq!(kind_at(&c), (BreakKind::Inserted, 3));
    }

    #[test]
    fn deleted_entry_detected() {
        let mut c = chain_of(5);
        c.remove(2);
        let b = verify(&c).unwrap_err();
        assert_eq!((b.kind, b.seq), (BreakKind::Deleted, 3));
        let mut c = chain_of(5);
        c.drain(1..3);
        assert_eq!(kind_at(&c), (BreakKind::Deleted, 2));
        let mut c = chain_of(3);
        c.remove(0);
        assert_eq!(kind_at(&c), (BreakKind::Deleted, 1));
    }

    #[test]
    fn inserted_entry_detected() {
        // A forged entry that is internally consistent and claims a valid predecessor.
        let mut c = chain_of(5);
        let forged = chain(Some(&c[1]), new(99));
        c.insert(2, forged);
        assert_eq!(kind_at(&c), (BreakKind::Inserted, 3));
        // A forged entry replacing a real one.
        let mut c = chain_of(5);
        c[2] = chain(Some(&c[1]), new(99));
        assert_eq!(kind_at(&c), (BreakKind::Inserted, 3));
        // A forged first entry.
        let mut c = chain_of(3);
        let mut fake = chain(None, new(42));
        fake.prev_hash = "1".repeat(64);
        fake.hash = entry_hash(&fake);
        c[0] = fake;
        assert_eq!(kind_at(&c), (BreakKind::Inserted, 1));
    }

    #[test]
    fn reordering_detected() {
        let mut c = chain_of(5);
        c.swap(1, 3);
        // 1, 4, 3, 2, 5: entry 4 stands where 2 should be, and 2 comes later.
        assert_eq!(kind_at(&c), (BreakKind::Reordered, 4));
        let mut c = chain_of(5);
        c.swap(2, 3);
        assert_eq!(kind_at(&c), (BreakKind::Reordered, 4));
        let mut c = chain_of(5);
        let moved = c.remove(1);
        c.push(moved);
        assert_eq!(kind_at(&c), (BreakKind::Reordered, 3));
        // A step backwards to an entry already seen is a reordering too.
        let mut c = chain_of(3);
        let first = c[0].clone();
        c.push(first);
        assert_eq!(kind_at(&c), (BreakKind::Reordered, 1));
    }
}
