//! Signed checkpoints of the audit log: the tree head (size and root, see [`crate::merkle`]) signed with the
//! sandbox's Ed25519 key, in the formats the transparency-log ecosystem uses (C2SP `tlog-checkpoint` inside a
//! C2SP `signed-note`, as Go's checksum database and Sigstore's Rekor write them), so a checkpoint can be checked
//! by tools that are not Sandkasse's.
//!
//! A checkpoint kept outside the database (printed into an exit report, handed to the authority, filed with the
//! advisor) pins the first `size` entries of the log: if the database is later cut back, cut and continued with
//! forged entries, or replaced by an older copy, the log no longer extends the checkpoint, and
//! `sandkasse audit verify --checkpoint` says so.
//!
//! ```text
//! sandkasse/audit/8c1f5e0b2a9d4e71          <- origin: names the log (from the key, so two sandboxes differ)
//! 1234                                      <- size: entries covered
//! Pd3x...=                                  <- root hash, base64
//! time 2026-12-01T04:20:00.000000Z          <- extension line: when it was taken
//!
//! — sandkasse/audit/8c1f5e0b2a9d4e71 AbCd...   <- key id (4 bytes) and Ed25519 signature, base64
//! ```
//!
//! The key is created at first start and kept in the data directory with owner-only permissions, in Go's
//! `note` private-key format; its public half (`name+keyid+key`) is what verifiers are given.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::Timestamp;
use crate::merkle::Hash;

/// The largest signed checkpoint read; real ones are about 200 bytes.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// The signature algorithm byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;

/// Why a key or a checkpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// A key in text form is malformed.
    #[error("malformed {what}: {why}; expected {expected}")]
    BadKey {
        /// Which key.
        what: &'static str,
        /// What is wrong.
        why: String,
        /// What the right form is.
        expected: &'static str,
    },
    /// The key file can't be read, written, or is readable by others than its owner.
    #[error("audit signing key {path}: {why}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The note carries no signature by the key asked for (it may be another key's: another sandbox's, or
    /// another host's that does not share this one's key).
    #[error("not signed by {key}: no signature line by this key")]
    OtherKey {
        /// The verifier key's name and id.
        key: String,
    },
    /// The checkpoint text is not a signed note with a checkpoint in it.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature by the given key, or a signature that does not verify.
    #[error("checkpoint not signed by {key}: {why}")]
    Signature {
        /// The verifier key's name and id.
        key: String,
        /// What failed.
        why: String,
    },
}

fn bad_key(what: &'static str, expected: &'static str) -> impl Fn(String) -> CheckpointError {
    move |why| CheckpointError::BadKey { what, why, expected }
}

/// A tree head: what a checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name.
    pub origin: String,
    /// How many entries the tree covers.
    pub size: u64,
    /// The root hash of the tree over the first `size` entries.
    pub root: Hash,
    /// When it was taken.
    pub time: Timestamp,
}

impl Checkpoint {
    /// The checkpoint's text, the part the signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.size,
            B64.encode(self.root),
            self.time
        )
    }

    fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let bad = |s: &str| CheckpointError::Malformed(s.to_owned());
        let mut lines = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text does not end in a newline"))?
            .split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines.next().ok_or_else(|| bad("no size line"))?;
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(bad("the size line is not a decimal number without leading zeros"));
        }
        let size: u64 = size.parse().map_err(|_| bad("the size does not fit in 64 bits"))?;
        let root = lines.next().ok_or_else(|| bad("no root hash line"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the root hash line is not 32 bytes in base64"))?;
        let mut time = None;
        for ext in lines {
            if let Some(t) = ext.strip_prefix("time ") {
                if time.is_some() {
                    return Err(bad("two time lines"));
                }
                time =
                    Some(Timestamp::parse(t).map_err(|e| CheckpointError::Malformed(format!("the time line: {e}")))?);
            } else if ext.is_empty() {
                return Err(bad("an empty line inside the checkpoint"));
            }
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time: time.ok_or_else(|| bad("no time line"))?,
        })
    }
}

/// The sandbox's signing key.
pub struct AuditKey {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private half.
        f.debug_struct("AuditKey")
            .field("verifier", &self.verifier().to_string())
            .finish()
    }
}

/// The 4-byte key id of signed notes: the start of SHA-256(name, newline, algorithm, public key).
fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key name as signed notes allow it: non-empty, printable, no spaces and no `+`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 256 {
        return Err("the name is empty or longer than 256 bytes".into());
    }
    if name.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control()) {
        return Err("the name contains a '+', a space or a control character".into());
    }
    Ok(())
}

impl AuditKey {
    /// A new key from the operating system's random numbers; its name (and so the log's origin) carries a digest
    /// of the public key, so two sandboxes' logs are never confused.
    pub fn generate() -> Result<Self, CheckpointError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| CheckpointError::KeyFile {
            path: "(new key)".into(),
            why: format!("no random numbers from the operating system: {e}"),
        })?;
        let key = SigningKey::from_bytes(&seed);
        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let name = format!("sandkasse/audit/{}", &crate::digest::hex(&digest)[..16]);
        Ok(Self { name, key })
    }

    /// The key in `path`, or a new one written there (owner-only, never overwriting) if there is none. Refuses a
    /// key file others can read, or one that is malformed: a sandbox that signs with a key it can't trust
    /// proves nothing.
    pub fn load_or_create(path: &Path) -> Result<Self, CheckpointError> {
        let err = |why: String| CheckpointError::KeyFile {
            path: path.display().to_string(),
            why,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    let mode = std::fs::metadata(path)
                        .map_err(|e| err(e.to_string()))?
                        .permissions()
                        .mode();
                    if mode & 0o077 != 0 {
                        return Err(err(format!(
                            "readable or writable by others (mode {:o}); run chmod 600 on it, and replace the key if \
                             someone else may have read it",
                            mode & 0o777
                        )));
                    }
                }
                Self::from_private(text.trim_end())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    opts.mode(0o600);
                }
                use std::io::Write as _;
                let mut f = opts.open(path).map_err(|e| err(format!("can't be created: {e}")))?;
                f.write_all(format!("{}\n", key.private_text()).as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| err(format!("can't be written: {e}")))?;
                Ok(key)
            }
            Err(e) => Err(err(format!("can't be read: {e}"))),
        }
    }

    /// Reads Go's `note` private-key text: `PRIVATE+KEY+name+keyid+base64(0x01 || seed)`.
    pub fn from_private(text: &str) -> Result<Self, CheckpointError> {
        const EXPECTED: &str = "PRIVATE+KEY+<name>+<8 hex digits>+<base64 of 0x01 and a 32-byte seed>";
        let bad = bad_key("audit signing key", EXPECTED);
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("no PRIVATE+KEY+ prefix".into()))?;
        // Standard base64 may itself contain '+': the key is everything after the second separator.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("not three '+'-separated parts after the prefix".into()));
        };
        check_name(name).map_err(&bad)?;
        let data = B64
            .decode(data)
            .map_err(|e| bad(format!("the key is not base64: {e}")))?;
        let seed: [u8; 32] = match data.split_first() {
            Some((&ALG_ED25519, seed)) => seed.try_into().map_err(|_| bad("the seed is not 32 bytes".into()))?,
            _ => return Err(bad("not an Ed25519 key (algorithm byte 0x01)".into())),
        };
        let key = SigningKey::from_bytes(&seed);
        if id != hex4(key_id(name, &key.verifying_key())) {
            return Err(bad("the key id does not match the key".into()));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The private key as text, for the key file.
    fn private_text(&self) -> String {
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex4(key_id(&self.name, &self.key.verifying_key())),
            B64.encode(data)
        )
    }

    /// The log's origin, which is the key's name.
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// The public half, for verifiers.
    pub fn verifier(&self) -> VerifierKey {
        let key = self.key.verifying_key();
        VerifierKey {
            id: key_id(&self.name, &key),
            name: self.name.clone(),
            key,
        }
    }

    /// The signed note of a tree head of this key's log, taken at `time`.
    pub fn sign(&self, size: u64, root: Hash, time: Timestamp) -> SignedCheckpoint {
        let checkpoint = Checkpoint {
            origin: self.name.clone(),
            size,
            root,
            time,
        };
        SignedCheckpoint {
            text: self.sign_note(&checkpoint.body()),
            checkpoint,
        }
    }

    /// `text` (which must end in a newline) as a C2SP signed note by this key: what checkpoints are, and what
    /// an evidence bundle's manifest is signed as.
    pub fn sign_note(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let sig = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

fn hex4(id: [u8; 4]) -> String {
    crate::digest::hex(&id)
}

/// A public key that checks checkpoints: `name+keyid+base64(0x01 || key)`, Go's `note` verifier-key text.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex4(self.id), B64.encode(data))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = CheckpointError;

    fn from_str(text: &str) -> Result<Self, CheckpointError> {
        let bad = bad_key(
            "audit verifier key",
            "<name>+<8 hex digits>+<base64 of 0x01 and a 32-byte Ed25519 key>",
        );
        let text = text.trim();
        if text.len() > 1024 {
            return Err(bad("longer than 1024 bytes".into()));
        }
        // Standard base64 may itself contain '+': the key is everything after the second separator.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("not three '+'-separated parts".into()));
        };
        check_name(name).map_err(&bad)?;
        let data = B64
            .decode(data)
            .map_err(|e| bad(format!("the key is not base64: {e}")))?;
        let key: [u8; 32] = match data.split_first() {
            Some((&ALG_ED25519, key)) => key.try_into().map_err(|_| bad("the key is not 32 bytes".into()))?,
            _ => return Err(bad("not an Ed25519 key (algorithm byte 0x01)".into())),
        };
        let key = VerifyingKey::from_bytes(&key).map_err(|e| bad(format!("not a valid Ed25519 point: {e}")))?;
        let want = key_id(name, &key);
        if id != hex4(want) {
            return Err(bad("the key id does not match the key".into()));
        }
        Ok(Self {
            name: name.to_owned(),
            id: want,
            key,
        })
    }
}

impl VerifierKey {
    /// The log's origin this key signs for.
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// Checks a signed checkpoint: it must be a signed note with a valid signature by this key (other
    /// signatures are ignored, as cosigners may add theirs), holding a checkpoint of this key's log.
    pub fn open(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let body = self.open_note(note)?;
        let checkpoint = Checkpoint::parse_body(body)?;
        if checkpoint.origin != self.name {
            return Err(CheckpointError::Malformed(format!(
                "the checkpoint is of log {:?}, not of {:?}",
                checkpoint.origin, self.name
            )));
        }
        Ok(checkpoint)
    }

    /// The text of a signed note, if this key signed it (see [`AuditKey::sign_note`]).
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, CheckpointError> {
        let bad = |s: &str| CheckpointError::Malformed(s.to_owned());
        if note.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::Malformed(format!(
                "{} bytes, more than the {MAX_NOTE_BYTES} a checkpoint may have",
                note.len()
            )));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures"))?;
        let (body, sigs) = (&note[..=split], &note[split + 2..]);
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or_else(|| bad("the signatures do not end in a newline"))?;
        let who = format!("{}+{}", self.name, hex4(self.id));
        let refuse = |why: &str| CheckpointError::Signature {
            key: who.clone(),
            why: why.to_owned(),
        };
        let mut found = false;
        for line in sigs.split('\n') {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad("a signature line does not start with an em dash and a space"))?;
            let (name, sig) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line has no signature"))?;
            let sig = B64.decode(sig).map_err(|_| bad("a signature is not base64"))?;
            if name != self.name || sig.len() < 4 || sig[..4] != self.id {
                continue;
            }
            let sig = Signature::from_slice(&sig[4..]).map_err(|_| refuse("the signature is not 64 bytes"))?;
            self.key
                .verify(body.as_bytes(), &sig)
                .map_err(|_| refuse("the signature does not verify"))?;
            found = true;
        }
        if !found {
            return Err(CheckpointError::OtherKey { key: who });
        }
        Ok(body)
    }
}

/// A checkpoint with its signed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The signed note, as written to a file or returned by the API.
    pub text: String,
    /// What it says.
    pub checkpoint: Checkpoint,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::generate().unwrap()
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_and_only_with_it() {
        let k = key();
        let t = Timestamp::parse("2026-12-01T04:20:00.000000Z").unwrap();
        let s = k.sign(42, [7; 32], t.clone());
        let v: VerifierKey = k.verifier().to_string().parse().unwrap();
        assert_eq!(v, k.verifier());
        let c = v.open(&s.text).unwrap();
        assert_eq!(
            (c.size, c.root, c.time, c.origin.as_str()),
            (42, [7; 32], t, k.origin())
        );
        assert!(s.text.starts_with(&format!("{}\n42\n", k.origin())));
        // Another key, even under the same name, refuses it.
        let other = key();
        assert!(matches!(
            other.verifier().open(&s.text),
            Err(CheckpointError::OtherKey { .. })
        ));
        // This key's name and id on a text it did not sign is refused as a bad signature.
        let forged = s.text.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(v.open(&forged), Err(CheckpointError::Signature { .. })));
        // Any byte of the body changed: refused.
        for (i, _) in s
            .text
            .char_indices()
            .take_while(|(i, _)| *i < s.text.find("\n\n").unwrap())
        {
            let mut bytes = s.text.clone().into_bytes();
            bytes[i] ^= 0x01;
            let Ok(t) = String::from_utf8(bytes) else { continue };
            assert!(v.open(&t).is_err(), "byte {i} changed and still verified");
        }
    }

    #[test]
    fn keys_round_trip_and_malformed_ones_are_named() {
        let k = key();
        let back = AuditKey::from_private(&k.private_text()).unwrap();
        assert_eq!(back.verifier(), k.verifier());
        let text = k.verifier().to_string();
        for bad in [
            String::new(),
            text.replace('+', "-"),
            format!("{text}+x"),
            text.replace(&text[..text.find('+').unwrap()], "a b"),
            text.replacen(&text[text.find('+').unwrap() + 1..][..8], "00000000", 1),
            format!("{}+{}", &text[..text.rfind('+').unwrap()], B64.encode([1u8; 10])),
        ] {
            let e = bad.parse::<VerifierKey>().unwrap_err();
            assert!(matches!(e, CheckpointError::BadKey { .. }), "{bad:?}: {e}");
        }
        assert!(AuditKey::from_private(&text).is_err());
        // Debug never shows the private half.
        assert!(!format!("{k:?}").contains(&k.private_text()[30..]));
    }

    #[test]
    fn the_key_file_is_created_once_owner_only_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let a = AuditKey::load_or_create(&path).unwrap();
        let b = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(a.verifier(), b.verifier());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = AuditKey::load_or_create(&path).unwrap_err();
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
    }

    #[test]
    fn malformed_checkpoints_are_refused_with_the_reason() {
        let k = key();
        let v = k.verifier();
        let t = Timestamp::parse("2026-12-01T04:20:00.000000Z").unwrap();
        let good = k.sign(3, [1; 32], t).text;
        assert!(v.open(&good.replace("\n\n", "\n")).is_err());
        assert!(v.open(&"x".repeat(MAX_NOTE_BYTES + 1)).is_err());
        assert!(v.open(good.trim_end()).is_err());
        // A body another log signed, with a valid signature by that log's key, is not this log's.
        let e = v.open(&key().sign(3, [1; 32], Timestamp::now()).text).unwrap_err();
        assert!(matches!(e, CheckpointError::OtherKey { .. }), "{e}");
    }
}
