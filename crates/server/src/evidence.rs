//! Evidence bundles: everything about one case that a third party needs to check what was done, in one tar file
//! that verifies offline with nothing but itself and the sandbox's public key.
//!
//! ```text
//! MANIFEST.json              every other file with its SHA-256 and size; the case; the checkpoint's size
//! MANIFEST.sig               a signed note by the sandbox's key: the format and the SHA-256 of MANIFEST.json
//! case.json                  the case, its members, its criteria and its findings
//! models/<id>.json           each model as stored (its hashes, its inspection)
//! models/<id>.manifest       its manifest, as uploaded
//! runs/<id>.json             each run as stored (its parameters: dataset spec, seeds, bias; its state)
//! runs/<id>.record.json      its run record (report), for a run that succeeded
//! audit/entries.json         the case's audit entries up to the checkpoint
//! audit/proofs.json          each entry's RFC 9162 inclusion proof in the checkpoint's tree
//! audit/checkpoint.txt       the checkpoint, signed when the bundle was made
//! audit/key.txt              the public key (a verifier should use the one it got from the sandbox itself)
//! ```
//!
//! [`verify`] checks the manifest's signature, every file's hash and size, that nothing is missing or extra,
//! every entry's chain hash and inclusion proof, the checkpoint's signature, and that every record and
//! manifest is the one its run or model names by hash; it names the first file that fails.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::merkle::{self, Hash};
use store::{
    AuditEntry, AuditFilter, AuditKey, BlobStore, Case, CaseId, Criteria, Digest, Finding, Model, Org, Run, Store,
    Timestamp, VerifierKey,
};

/// What the first line of the manifest's signed note says.
pub const FORMAT: &str = "sandkasse-evidence-v1";
/// Most files a bundle may hold when verified.
pub const MAX_FILES: usize = 100_000;
/// Largest bundle read for verification.
pub const MAX_BUNDLE_BYTES: u64 = 4 << 30;

/// What is wrong, and in which file of the bundle.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file of the bundle does not verify.
    #[error("{file}: {what}")]
    File {
        /// The file's path in the bundle.
        file: String,
        /// What does not match.
        what: String,
    },
    /// The bundle could not be made.
    #[error("making the bundle: {0}")]
    Export(String),
}

fn bad(file: &str, what: impl Into<String>) -> EvidenceError {
    EvidenceError::File {
        file: file.to_owned(),
        what: what.into(),
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    case_id: CaseId,
    created_at: Timestamp,
    /// The audit checkpoint's size, which the entries' proofs are against.
    checkpoint_size: u64,
    files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    path: String,
    sha256: Digest,
    bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Case,
    members: Vec<Org>,
    criteria: Option<Criteria>,
    findings: Vec<Finding>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryProof {
    seq: i64,
    /// Hex, leaf to root.
    proof: Vec<String>,
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, EvidenceError> {
    serde_json::to_vec_pretty(v).map_err(|e| EvidenceError::Export(e.to_string()))
}

/// Makes the bundle of `case`: signs a checkpoint of the audit log now (stored like any other) and proves the
/// case's entries in it. Returns the tar file's bytes.
pub async fn export(
    store: &Store,
    blobs: &BlobStore,
    key: &AuditKey,
    case_id: &CaseId,
) -> Result<Vec<u8>, EvidenceError> {
    let ex = |e: store::StoreError| EvidenceError::Export(e.to_string());
    let case = store
        .case(case_id)
        .await
        .map_err(ex)?
        .ok_or_else(|| EvidenceError::Export(format!("no case {case_id}")))?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut members = Vec::new();
    for id in store.case_members(&case.id).await.map_err(ex)? {
        members.extend(store.org(&id).await.map_err(ex)?);
    }
    let blob = |d: &Digest| blobs.get(d).map_err(|e| EvidenceError::Export(e.to_string()));
    for m in store.list_models(&case.id).await.map_err(ex)? {
        files.insert(format!("models/{}.manifest", m.id), blob(&m.manifest_sha256)?);
        files.insert(format!("models/{}.json", m.id), json(&m)?);
    }
    for r in store.list_runs(&case.id).await.map_err(ex)? {
        if let Some(d) = &r.report_sha256 {
            files.insert(format!("runs/{}.record.json", r.id), blob(d)?);
        }
        files.insert(format!("runs/{}.json", r.id), json(&r)?);
    }
    let case_file = CaseFile {
        criteria: store.criteria(&case.id).await.map_err(ex)?,
        findings: store.list_findings(&case.id).await.map_err(ex)?,
        case: case.clone(),
        members,
    };
    files.insert("case.json".into(), json(&case_file)?);

    let signed = store.take_checkpoint(key).await.map_err(ex)?;
    let size = signed.checkpoint.size;
    let leaves = store.audit_leaves(Some(size)).await.map_err(ex)?;
    let mut entries: Vec<AuditEntry> = Vec::new();
    let mut offset = 0;
    loop {
        let page = store
            .list_audit(&AuditFilter {
                case: Some(case.id.clone()),
                limit: 1000,
                offset,
                ..AuditFilter::default()
            })
            .await
            .map_err(ex)?;
        let n = page.len();
        entries.extend(page.into_iter().filter(|e| e.seq >= 1 && e.seq as u64 <= size));
        if n < 1000 {
            break;
        }
        offset += 1000;
    }
    let mut proofs = Vec::with_capacity(entries.len());
    for e in &entries {
        let proof = merkle::inclusion_proof(&leaves, (e.seq - 1) as u64)
            .map_err(|err| EvidenceError::Export(err.to_string()))?;
        proofs.push(EntryProof {
            seq: e.seq,
            proof: proof.iter().map(merkle::to_hex).collect(),
        });
    }
    files.insert("audit/entries.json".into(), json(&entries)?);
    files.insert("audit/proofs.json".into(), json(&proofs)?);
    files.insert("audit/checkpoint.txt".into(), signed.text.into_bytes());
    files.insert("audit/key.txt".into(), format!("{}\n", key.verifier()).into_bytes());

    let manifest = Manifest {
        format: FORMAT.into(),
        case_id: case.id.clone(),
        created_at: Timestamp::now(),
        checkpoint_size: size,
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path: path.clone(),
                sha256: Digest::of(bytes),
                bytes: bytes.len() as u64,
            })
            .collect(),
    };
    let manifest = json(&manifest)?;
    let sig = key.sign_note(&format!("{FORMAT}\n{}\n", Digest::of(&manifest)));
    files.insert("MANIFEST.json".into(), manifest);
    files.insert("MANIFEST.sig".into(), sig.into_bytes());

    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, bytes.as_slice())
            .map_err(|e| EvidenceError::Export(e.to_string()))?;
    }
    tar.into_inner().map_err(|e| EvidenceError::Export(e.to_string()))
}

/// What a bundle that verified holds.
#[derive(Debug)]
pub struct Verified {
    pub case_id: CaseId,
    pub files: usize,
    pub runs: usize,
    pub entries: usize,
    pub checkpoint_size: u64,
}

/// Reads a tar file's regular files, refusing links, absolute or climbing paths, duplicates and excess.
fn read_tar(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, EvidenceError> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes);
    let entries = archive
        .entries()
        .map_err(|e| bad("(the bundle)", format!("not a tar file: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad("(the bundle)", format!("not a tar file: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad("(the bundle)", format!("an entry's path is not readable: {e}")))?
            .to_string_lossy()
            .into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(bad(&path, "is not a regular file; a bundle holds only files"));
        }
        if path.starts_with('/') || path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            return Err(bad(&path, "is not a plain relative path"));
        }
        if out.len() >= MAX_FILES {
            return Err(bad("(the bundle)", format!("more than {MAX_FILES} files")));
        }
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).map_err(|e| bad(&path, format!("unreadable: {e}")))?;
        if out.insert(path.clone(), data).is_some() {
            return Err(bad(&path, "appears twice"));
        }
    }
    Ok(out)
}

fn parse<'a, T: Deserialize<'a>>(files: &'a BTreeMap<String, Vec<u8>>, path: &str) -> Result<T, EvidenceError> {
    let bytes = files.get(path).ok_or_else(|| bad(path, "is missing"))?;
    serde_json::from_slice(bytes).map_err(|e| bad(path, format!("does not read: {e}")))
}

/// Checks a bundle with the sandbox's public key; names the first file that does not verify.
pub fn verify(bundle: &[u8], key: &VerifierKey) -> Result<Verified, EvidenceError> {
    let files = read_tar(bundle)?;
    // The manifest is what the signature covers, and it covers every other file by hash.
    let manifest_bytes = files
        .get("MANIFEST.json")
        .ok_or_else(|| bad("MANIFEST.json", "is missing"))?;
    let sig = files
        .get("MANIFEST.sig")
        .ok_or_else(|| bad("MANIFEST.sig", "is missing"))?;
    let sig = std::str::from_utf8(sig).map_err(|_| bad("MANIFEST.sig", "is not text"))?;
    let body = key.open_note(sig).map_err(|e| bad("MANIFEST.sig", e.to_string()))?;
    if body != format!("{FORMAT}\n{}\n", Digest::of(manifest_bytes)) {
        return Err(bad(
            "MANIFEST.json",
            "is not the manifest the signature covers (its SHA-256 differs)",
        ));
    }
    let manifest: Manifest = parse(&files, "MANIFEST.json")?;
    if manifest.format != FORMAT {
        return Err(bad(
            "MANIFEST.json",
            format!("format {:?}, expected {FORMAT}", manifest.format),
        ));
    }
    let mut listed = std::collections::BTreeSet::new();
    for f in &manifest.files {
        let data = files
            .get(&f.path)
            .ok_or_else(|| bad(&f.path, "is listed in the manifest but missing"))?;
        if data.len() as u64 != f.bytes || Digest::of(data) != f.sha256 {
            return Err(bad(
                &f.path,
                format!(
                    "has SHA-256 {} ({} bytes); the manifest says {} ({} bytes)",
                    Digest::of(data),
                    data.len(),
                    f.sha256,
                    f.bytes
                ),
            ));
        }
        listed.insert(f.path.as_str());
    }
    if let Some(extra) = files
        .keys()
        .find(|p| !listed.contains(p.as_str()) && *p != "MANIFEST.json" && *p != "MANIFEST.sig")
    {
        return Err(bad(extra, "is in the bundle but not in the manifest"));
    }

    // The audit entries: each one's own hash, its inclusion in the signed tree, nothing left unproven.
    let cp_text = files
        .get("audit/checkpoint.txt")
        .ok_or_else(|| bad("audit/checkpoint.txt", "is missing"))?;
    let cp_text = std::str::from_utf8(cp_text).map_err(|_| bad("audit/checkpoint.txt", "is not text"))?;
    let cp = key
        .open(cp_text)
        .map_err(|e| bad("audit/checkpoint.txt", e.to_string()))?;
    if cp.size != manifest.checkpoint_size {
        return Err(bad(
            "audit/checkpoint.txt",
            "covers another size than the manifest names",
        ));
    }
    let entries: Vec<AuditEntry> = parse(&files, "audit/entries.json")?;
    let proofs: Vec<EntryProof> = parse(&files, "audit/proofs.json")?;
    if proofs.len() != entries.len() {
        return Err(bad(
            "audit/entries.json",
            format!(
                "{} entries for {} proofs: an entry was removed or added",
                entries.len(),
                proofs.len()
            ),
        ));
    }
    for (e, p) in entries.iter().zip(&proofs) {
        let at = format!("audit/entries.json (entry {})", e.seq);
        if store::entry_hash(e) != e.hash {
            return Err(bad(&at, "its content does not match its hash"));
        }
        if e.case_id.as_deref() != Some(manifest.case_id.as_str()) {
            return Err(bad(&at, "is not about the bundle's case"));
        }
        if p.seq != e.seq || e.seq < 1 {
            return Err(bad(
                "audit/proofs.json",
                format!("proof of entry {} stands where entry {}'s should", p.seq, e.seq),
            ));
        }
        let path: Option<Vec<Hash>> = p.proof.iter().map(|h| merkle::from_hex(h)).collect();
        let leaf = merkle::audit_leaf(&e.hash);
        let ok = match (path, leaf) {
            (Some(path), Some(leaf)) => merkle::verify_inclusion(&leaf, (e.seq - 1) as u64, cp.size, &path, &cp.root),
            _ => false,
        };
        if !ok {
            return Err(bad(&at, "its inclusion proof does not lead to the checkpoint's root"));
        }
    }

    // Records and manifests are the ones their runs and models name by hash.
    let case_file: CaseFile = parse(&files, "case.json")?;
    if case_file.case.id != manifest.case_id {
        return Err(bad("case.json", "is another case than the manifest names"));
    }
    let mut runs = 0;
    for path in files.keys() {
        if let Some(id) = path.strip_prefix("models/").and_then(|p| p.strip_suffix(".json")) {
            let m: Model = parse(&files, path)?;
            let manifest_path = format!("models/{id}.manifest");
            let bytes = files
                .get(&manifest_path)
                .ok_or_else(|| bad(&manifest_path, "is missing"))?;
            if Digest::of(bytes) != m.manifest_sha256 || m.case_id != manifest.case_id {
                return Err(bad(&manifest_path, "is not the manifest its model names"));
            }
        }
        if let Some(id) = path.strip_prefix("runs/").and_then(|p| p.strip_suffix(".json")) {
            if id.ends_with(".record") {
                continue;
            }
            let r: Run = parse(&files, path)?;
            if r.case_id != manifest.case_id {
                return Err(bad(path, "is a run of another case"));
            }
            if let Some(d) = &r.report_sha256 {
                let record = format!("runs/{id}.record.json");
                let bytes = files.get(&record).ok_or_else(|| bad(&record, "is missing"))?;
                if Digest::of(bytes) != *d {
                    return Err(bad(&record, "is not the record its run names"));
                }
            }
            runs += 1;
        }
    }
    Ok(Verified {
        case_id: manifest.case_id,
        files: files.len(),
        runs,
        entries: entries.len(),
        checkpoint_size: cp.size,
    })
}
