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
//! exit-report.json           the case's exit report as the operator reads it (the whole case)
//! exit-report.da.html        the same in Danish, as HTML that prints to A4
//! exit-report.en.html        the same in English
//! ```
//!
//! [`verify`] checks the manifest's signature, every file's hash and size, that nothing is missing or extra,
//! every entry's chain hash and inclusion proof, the checkpoint's signature, that every record and manifest is
//! the one its run or model names by hash, and that the exit report lists exactly the bundle's runs with their
//! records' hashes, stands on a checkpoint the key signed, and that its HTML is what it renders to; it names the
//! first file that fails.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::merkle::{self, Hash};
use store::{
    AuditEntry, AuditFilter, BlobStore, Case, CaseId, Criteria, Digest, Finding, Model, Org, Run, Store, Timestamp,
    VerifierKey,
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

/// The exit report's files in a bundle.
const EXIT_JSON: &str = "exit-report.json";
const EXIT_HTML: [(&str, htmlreport::Lang); 2] = [
    ("exit-report.da.html", htmlreport::Lang::Da),
    ("exit-report.en.html", htmlreport::Lang::En),
];

/// Longest file name quoted in an error: names come from the bundle, which may be anyone's.
const MAX_NAME_CHARS: usize = 200;

fn bad(file: &str, what: impl Into<String>) -> EvidenceError {
    EvidenceError::File {
        file: file.chars().take(MAX_NAME_CHARS).collect(),
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

/// Makes the bundle of a case in the data directory (SQLite there, or the PostgreSQL database named), with its
/// exit report as the operator reads it. Returns the tar file's bytes.
pub async fn export_case(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    case_id: &CaseId,
) -> Result<Vec<u8>, EvidenceError> {
    let state = crate::offline_state(data_dir, database_url)
        .await
        .map_err(|e| EvidenceError::Export(e.to_string()))?;
    let bundle = async {
        // The exit report first: it signs a checkpoint when none covers the case yet, which the bundle's own
        // checkpoint then extends.
        let exit = crate::exit::build::for_operator(&state, case_id)
            .await
            .map_err(|e| EvidenceError::Export(format!("the exit report: {}", e.message)))?;
        export(&state.store, &state.blobs, &state.audit_key, case_id, Some(&exit)).await
    }
    .await;
    state.store.close().await;
    bundle
}

/// Makes the bundle of `case`: signs a checkpoint of the audit log now (stored like any other) and proves the
/// case's entries in it; adds the exit report given, in JSON and as HTML in both languages. Returns the tar
/// file's bytes.
pub async fn export(
    store: &Store,
    blobs: &BlobStore,
    signer: &crate::signer::Signer,
    case_id: &CaseId,
    exit: Option<&crate::exit::ExitReport>,
) -> Result<Vec<u8>, EvidenceError> {
    let key = signer.key();
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
    // Every saved version of the case's plan and checklist, as stored (their canonical JSON).
    for kind in [store::DocumentKind::Plan, store::DocumentKind::Checklist] {
        let newest = store
            .document(&case.id, kind, None)
            .await
            .map_err(ex)?
            .map_or(0, |d| d.version);
        for v in 1..=newest {
            if let Some(d) = store.document(&case.id, kind, Some(v)).await.map_err(ex)? {
                files.insert(format!("documents/{}-v{v}.json", kind.as_str()), d.body.into_bytes());
            }
        }
    }
    let case_file = CaseFile {
        criteria: store.criteria(&case.id).await.map_err(ex)?,
        findings: store.list_findings(&case.id).await.map_err(ex)?,
        case: case.clone(),
        members,
    };
    files.insert("case.json".into(), json(&case_file)?);

    let signed = signer.checkpoint(store).await.map_err(ex)?;
    let size = signed.checkpoint.size;
    let leaves = store.audit_leaves(Some(size)).await.map_err(ex)?;
    let tree = tokio::task::spawn_blocking(move || merkle::Tree::new(leaves))
        .await
        .map_err(|e| EvidenceError::Export(e.to_string()))?;
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
        let proof = tree
            .inclusion_proof((e.seq - 1) as u64, size)
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
    if let Some(exit) = exit {
        files.insert(EXIT_JSON.into(), json(exit)?);
        for (path, lang) in EXIT_HTML {
            files.insert(path.into(), crate::exit::html::render(exit, lang).into_bytes());
        }
    }

    pack(files, key, &case.id, size)
}

/// The tar of `files` with their manifest, signed by `key`: deterministic (sorted paths, fixed times and modes).
fn pack(
    mut files: BTreeMap<String, Vec<u8>>,
    key: &store::AuditKey,
    case_id: &CaseId,
    checkpoint_size: u64,
) -> Result<Vec<u8>, EvidenceError> {
    let manifest = Manifest {
        format: FORMAT.into(),
        case_id: case_id.clone(),
        created_at: Timestamp::now(),
        checkpoint_size,
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

    // Records and manifests are the ones their runs and models name by hash, under their own ids; nothing
    // stands in the bundle that no run or model claims; every finding is the case's.
    let case_file: CaseFile = parse(&files, "case.json")?;
    if case_file.case.id != manifest.case_id {
        return Err(bad("case.json", "is another case than the manifest names"));
    }
    if let Some(f) = case_file.findings.iter().find(|f| f.case_id != manifest.case_id) {
        return Err(bad("case.json", format!("finding {} is another case's", f.id)));
    }
    let mut claimed = std::collections::BTreeSet::new();
    let mut runs = 0;
    for path in files.keys() {
        // A plan or checklist version is the one whose save the log records with its hash.
        if let Some(name) = path.strip_prefix("documents/") {
            let (kind, version) =
                document_name(name).ok_or_else(|| bad(path, "is not named plan-vN.json or checklist-vN.json"))?;
            let saved = document_entry(kind, &manifest.case_id, version, &Digest::of(&files[path]));
            if !entries.iter().any(|e| e.object == saved && e.outcome.starts_with('2')) {
                return Err(bad(path, "is not the version whose save the audit log records"));
            }
        }
        if let Some(id) = path.strip_prefix("models/").and_then(|p| p.strip_suffix(".json")) {
            let m: Model = parse(&files, path)?;
            if m.id.as_str() != id || m.case_id != manifest.case_id {
                return Err(bad(path, "is not the model its name says, or not of the bundle's case"));
            }
            let manifest_path = format!("models/{id}.manifest");
            let bytes = files
                .get(&manifest_path)
                .ok_or_else(|| bad(&manifest_path, "is missing"))?;
            if Digest::of(bytes) != m.manifest_sha256 {
                return Err(bad(&manifest_path, "is not the manifest its model names"));
            }
            claimed.insert(manifest_path);
        } else if let Some(id) = path.strip_prefix("runs/").and_then(|p| p.strip_suffix(".json"))
            && !id.ends_with(".record")
        {
            let r: Run = parse(&files, path)?;
            if r.id.as_str() != id || r.case_id != manifest.case_id {
                return Err(bad(path, "is not the run its name says, or not of the bundle's case"));
            }
            if let Some(d) = &r.report_sha256 {
                let record = format!("runs/{id}.record.json");
                let bytes = files.get(&record).ok_or_else(|| bad(&record, "is missing"))?;
                if Digest::of(bytes) != *d {
                    return Err(bad(&record, "is not the record its run names"));
                }
                claimed.insert(record);
            }
            runs += 1;
        }
    }
    // Every save of a document the log records is in the bundle.
    for e in entries.iter().filter(|e| e.outcome.starts_with('2')) {
        for kind in [store::DocumentKind::Plan, store::DocumentKind::Checklist] {
            let kind = kind.as_str();
            let Some(rest) = e
                .object
                .strip_prefix(&format!("{kind} of case {} version ", manifest.case_id))
            else {
                continue;
            };
            let Some((version, _)) = rest.split_once(" sha256 ") else {
                continue;
            };
            let path = format!("documents/{kind}-v{version}.json");
            if !files.contains_key(&path) {
                return Err(bad(
                    &path,
                    format!("is missing: audit entry {} records its save", e.seq),
                ));
            }
        }
    }
    check_exit_report(&files, &manifest, key, cp.size, runs)?;
    if let Some(orphan) = files
        .keys()
        .find(|p| (p.ends_with(".record.json") || p.ends_with(".manifest")) && !claimed.contains(*p))
    {
        return Err(bad(orphan, "is named by no run or model of the bundle"));
    }
    Ok(Verified {
        case_id: manifest.case_id,
        files: files.len(),
        runs,
        entries: entries.len(),
        checkpoint_size: cp.size,
    })
}

/// The exit report, when the bundle holds one: about the bundle's case and the whole of it, listing exactly the
/// bundle's runs with the hashes of their records, standing on a checkpoint the key signed that the bundle's
/// checkpoint extends; and its HTML in both languages exactly what it renders to.
fn check_exit_report(
    files: &BTreeMap<String, Vec<u8>>,
    manifest: &Manifest,
    key: &VerifierKey,
    checkpoint_size: u64,
    runs_in_bundle: usize,
) -> Result<(), EvidenceError> {
    let Some(_) = files.get(EXIT_JSON) else {
        if let Some((path, _)) = EXIT_HTML.iter().find(|(p, _)| files.contains_key(*p)) {
            return Err(bad(
                path,
                format!("stands without {EXIT_JSON}, whose rendering it would be"),
            ));
        }
        return Ok(());
    };
    let exit: crate::exit::ExitReport = parse(files, EXIT_JSON)?;
    let at = |what: String| bad(EXIT_JSON, what);
    if exit.format != crate::exit::FORMAT {
        return Err(at(format!(
            "format {:?}, expected {}",
            exit.format,
            crate::exit::FORMAT
        )));
    }
    if exit.case.id != manifest.case_id.as_str() {
        return Err(at(format!(
            "is the report of case {}, not of the bundle's case",
            exit.case.id
        )));
    }
    if !exit.complete {
        return Err(at("is not the whole case (it was read by a vendor)".into()));
    }
    if exit.runs_not_listed != 0 || exit.runs.len() != runs_in_bundle {
        return Err(at(format!(
            "lists {} runs (and leaves {} out); the bundle holds {runs_in_bundle}, and its report lists every one",
            exit.runs.len(),
            exit.runs_not_listed
        )));
    }
    let mut listed = std::collections::HashSet::new();
    for r in &exit.runs {
        if !listed.insert(r.id.as_str()) {
            return Err(at(format!("lists run {} twice", r.id)));
        }
        let path = format!("runs/{}.json", r.id);
        if !files.contains_key(&path) {
            return Err(at(format!("lists run {}, which is not in the bundle", r.id)));
        }
        let run: Run = parse(files, &path)?;
        let stored = run.report_sha256.as_ref().map(|d| d.to_string());
        if stored != r.record_sha256 {
            return Err(at(format!(
                "gives run {} the record {:?}; the run names {:?}",
                r.id, r.record_sha256, stored
            )));
        }
        if run.state.as_str() != r.state {
            return Err(at(format!(
                "gives run {} the state {}; it is {}",
                r.id,
                r.state,
                run.state.as_str()
            )));
        }
        if run.model_id.as_str() != r.model_id || run.total_rows != r.rows {
            return Err(at(format!("gives run {} another model or size than the run has", r.id)));
        }
        // What the report says of the run's result (hashes, versions, isolation, verdicts) is what its record
        // holds.
        let from_record = match &run.report_sha256 {
            Some(_) => {
                let record = format!("runs/{}.record.json", r.id);
                let bytes = files.get(&record).ok_or_else(|| bad(&record, "is missing"))?;
                let stored = crate::runner::StoredReport::from_slice(bytes)
                    .map_err(|e| bad(&record, format!("does not read as a run record: {e}")))?;
                Some(crate::exit::build::result_of(&stored.record))
            }
            None => None,
        };
        if serde_json::to_value(&from_record).ok() != serde_json::to_value(&r.result).ok() {
            return Err(at(format!(
                "gives run {} a result (hashes, versions, isolation or verdicts) that its record does not hold",
                r.id
            )));
        }
    }
    let c = &exit.checkpoint;
    let signed = key
        .open(&c.note)
        .map_err(|e| at(format!("its checkpoint does not verify: {e}")))?;
    if signed.size != c.size || merkle::to_hex(&signed.root) != c.root {
        return Err(at(
            "its checkpoint's size or root is not what its signed note says".into()
        ));
    }
    if c.size > checkpoint_size || c.case_entries_up_to.is_some_and(|n| n > c.size) {
        return Err(at(format!(
            "its checkpoint (size {}, case entries up to {:?}) is not covered by the bundle's (size {checkpoint_size})",
            c.size, c.case_entries_up_to
        )));
    }
    for (path, lang) in EXIT_HTML {
        let html = files.get(path).ok_or_else(|| bad(path, "is missing"))?;
        if *html != crate::exit::html::render(&exit, lang).into_bytes() {
            return Err(bad(path, format!("is not what {EXIT_JSON} renders to")));
        }
    }
    Ok(())
}

/// The kind and version of a document's file name (`plan-v3.json`), only in that form (no leading zeros).
fn document_name(name: &str) -> Option<(store::DocumentKind, u64)> {
    let (kind, version) = name.strip_suffix(".json")?.rsplit_once("-v")?;
    let kind = match kind {
        "plan" => store::DocumentKind::Plan,
        "checklist" => store::DocumentKind::Checklist,
        _ => return None,
    };
    let ok = !version.is_empty() && !version.starts_with('0') && version.bytes().all(|b| b.is_ascii_digit());
    Some((kind, version.parse().ok().filter(|_| ok)?))
}

/// The audit object of a document's save (`app::plan::save_document` writes it; [`verify`] looks for it).
pub fn document_entry(
    kind: store::DocumentKind,
    case: &impl std::fmt::Display,
    version: u64,
    sha256: &Digest,
) -> String {
    format!("{} of case {case} version {version} sha256 {sha256}", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{NewEntry, NewModel, NewRun, OrgKind, Role};

    /// A case with a model, a finished run, a finding and audit entries, exported; the store's directory, the
    /// signer and the bundle.
    async fn exported() -> (tempfile::TempDir, crate::signer::Signer, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("s.db")).await.unwrap();
        let blobs = BlobStore::open(dir.path().join("blobs")).unwrap();
        let signer = crate::signer::Signer::open(dir.path()).unwrap();
        let org = store.create_org("Nordlys", OrgKind::Vendor).await.unwrap();
        let (user, _) = store.create_user(&org.id, "n", Role::Vendor).await.unwrap();
        let case = store.create_case("c", &user.id).await.unwrap();
        store.add_case_member(&case.id, &org.id).await.unwrap();
        let manifest = blobs.put(b"name = \"m\"").unwrap();
        let model = store
            .create_model(NewModel {
                case_id: case.id.clone(),
                org_id: org.id.clone(),
                name: "m".into(),
                version: "1".into(),
                scenario: "unemployment-risk".into(),
                model_sha256: Digest::of(b"onnx"),
                manifest_sha256: manifest,
                inspection: serde_json::json!({}),
            })
            .await
            .unwrap();
        let run = store
            .create_run(NewRun {
                case_id: case.id.clone(),
                model_id: model.id,
                org_id: org.id.clone(),
                created_by: user.id.clone(),
                params: serde_json::json!({"rows": 10, "seed": 1}),
                total_rows: 10,
            })
            .await
            .unwrap();
        store.claim_next_queued(10).await.unwrap().unwrap();
        store
            .finish_run(&run.id, &blobs.put(b"{\"record\": 1}").unwrap())
            .await
            .unwrap();
        for i in 0..5 {
            store
                .append_audit(NewEntry {
                    time: Timestamp::now().to_string(),
                    actor: user.id.to_string(),
                    org: org.id.to_string(),
                    role: "vendor".into(),
                    action: "POST /api/v1/runs".into(),
                    object: format!("run/{i}"),
                    outcome: "201".into(),
                    request_id: format!("r{i}"),
                    case_id: (i % 2 == 0).then(|| case.id.to_string()),
                })
                .await
                .unwrap();
        }
        store
            .save_document_audited(&case.id, store::DocumentKind::Plan, "{}\n", &user.id, |d| NewEntry {
                time: Timestamp::now().to_string(),
                actor: user.id.to_string(),
                org: org.id.to_string(),
                role: "authority".into(),
                action: "PUT /api/v1/cases/{case}/plan".into(),
                object: document_entry(store::DocumentKind::Plan, &case.id, d.version, &d.sha256),
                outcome: "200".into(),
                request_id: "plan".into(),
                case_id: Some(case.id.to_string()),
            })
            .await
            .unwrap();
        let bundle = export(&store, &blobs, &signer, &case.id, None).await.unwrap();
        store.close().await;
        (dir, signer, bundle)
    }

    /// The bundle with `change` applied to its files and the manifest made and signed again with the same key:
    /// what only the key's holder could do, so that the checks behind the manifest are reached.
    fn resigned(
        bundle: &[u8],
        signer: &crate::signer::Signer,
        change: impl FnOnce(&mut BTreeMap<String, Vec<u8>>),
    ) -> Vec<u8> {
        let mut files = read_tar(bundle).unwrap();
        let m: Manifest = parse(&files, "MANIFEST.json").unwrap();
        files.remove("MANIFEST.json");
        files.remove("MANIFEST.sig");
        change(&mut files);
        pack(files, signer.key(), &m.case_id, m.checkpoint_size).unwrap()
    }

    fn fails(bundle: &[u8], signer: &crate::signer::Signer, file: &str, words: &str) {
        match verify(bundle, &signer.verifier()) {
            Err(EvidenceError::File { file: f, what }) => {
                assert_eq!(f, file, "{what}");
                assert!(what.contains(words), "{file}: {what}");
            }
            other => panic!("expected {file} to fail, got {other:?}"),
        }
    }

    fn edit_json(files: &mut BTreeMap<String, Vec<u8>>, path: &str, f: impl FnOnce(&mut serde_json::Value)) {
        let mut v: serde_json::Value = serde_json::from_slice(&files[path]).unwrap();
        f(&mut v);
        files.insert(path.into(), serde_json::to_vec_pretty(&v).unwrap());
    }

    /// An exit report of the fixture's case, as `export_case` would add it, over the bundle's files.
    fn exit_report_of(files: &BTreeMap<String, Vec<u8>>, signer: &crate::signer::Signer) -> crate::exit::ExitReport {
        let m: Manifest = parse(files, "MANIFEST.json").unwrap();
        let run_path = files
            .keys()
            .find(|p| p.starts_with("runs/") && !p.ends_with(".record.json"))
            .unwrap();
        let run: Run = parse(files, run_path).unwrap();
        let note = String::from_utf8(files["audit/checkpoint.txt"].clone()).unwrap();
        let cp = signer.verifier().open(&note).unwrap();
        serde_json::from_value(serde_json::json!({
            "format": crate::exit::FORMAT, "case": {"id": m.case_id.as_str(), "name": "c", "opened_by": "Nordlys", "opened_at": "2026-12-01T00:00:00Z"},
            "generated_at": "2026-12-01T00:00:00Z", "reader": {"name": "op", "organisation": "Sandkasse", "role": "admin"},
            "complete": true, "sandbox_version": "0.1.0", "participants": [], "criteria": [], "models": [],
            "runs": [{"id": run.id.as_str(), "model_id": run.model_id.as_str(), "model": "m 1", "state": run.state.as_str(),
                "started_by": "n", "created_at": "2026-12-01T00:00:00Z", "rows": 10, "scenario": "unemployment-risk", "seed": 1,
                "record_sha256": run.report_sha256.as_ref().map(|d| d.to_string())}],
            "runs_not_listed": 0, "isolation": {"in_every_run": [], "missing": [], "operator_allowed_missing": false},
            "leaderboard": {"criteria": [], "rows": []}, "comparisons": [], "not_compared": [], "findings": [],
            "checklist": {"version": 0, "catalogue_version": "x", "summary": {"open": 0, "answered": 0, "evidenced": 0}, "items": []},
            "checkpoint": {"origin": "o", "size": cp.size, "root": merkle::to_hex(&cp.root), "time": "t", "case_entries_up_to": 1,
                "note": note, "public_key": signer.verifier().to_string()}
        }))
        .unwrap()
    }

    fn with_exit(files: &mut BTreeMap<String, Vec<u8>>, exit: &crate::exit::ExitReport) {
        files.insert(EXIT_JSON.into(), json(exit).unwrap());
        for (path, lang) in EXIT_HTML {
            files.insert(path.into(), crate::exit::html::render(exit, lang).into_bytes());
        }
    }

    #[tokio::test]
    async fn the_exit_report_in_a_bundle_must_list_its_runs_stand_on_a_signed_checkpoint_and_render_to_its_html() {
        let (_dir, signer, bundle) = exported().await;
        let files = read_tar(&bundle).unwrap();
        let good = exit_report_of(&files, &signer);
        // The fixture's record is not a real run record, so the report that lists its run is refused when its
        // result is read (after every check of the listing); the checks behind it are tried on the bundle
        // without the run.
        let run_files: Vec<String> = files.keys().filter(|p| p.starts_with("runs/")).cloned().collect();
        let without_run = |f: &mut BTreeMap<String, Vec<u8>>| {
            for p in &run_files {
                f.remove(p);
            }
        };
        let mut runless = good.clone();
        runless.runs.clear();
        let b = resigned(&bundle, &signer, |f| {
            without_run(f);
            with_exit(f, &runless);
        });
        assert_eq!(verify(&b, &signer.verifier()).unwrap().runs, 0);
        let record = run_files.iter().find(|p| p.ends_with(".record.json")).unwrap();
        let b = resigned(&bundle, &signer, |f| with_exit(f, &good));
        fails(&b, &signer, record, "does not read as a run record");
        type Edit = fn(&mut crate::exit::ExitReport);
        let listing: [(Edit, &str); 5] = [
            (|e| e.runs[0].record_sha256 = Some("0".repeat(64)), "the record"),
            (|e| e.runs.clear(), "lists 0 runs"),
            (
                |e| e.runs[0].id = "0123456789abcdef0123456789abcdef".into(),
                "not in the bundle",
            ),
            (|e| e.runs[0].rows += 1, "another model or size"),
            (|e| e.runs[0].state = "failed".into(), "the state failed"),
        ];
        for (edit, words) in listing {
            let mut e = good.clone();
            edit(&mut e);
            fails(
                &resigned(&bundle, &signer, |f| with_exit(f, &e)),
                &signer,
                EXIT_JSON,
                words,
            );
        }
        let whole: [(Edit, &str); 6] = [
            (|e| e.runs_not_listed = 1, "leaves 1 out"),
            (
                |e| e.case.id = "0123456789abcdef0123456789abcdef".into(),
                "not of the bundle's case",
            ),
            (|e| e.complete = false, "not the whole case"),
            (|e| e.checkpoint.size += 1, "signed note"),
            (
                |e| e.checkpoint.note = e.checkpoint.note.replace("\n\n", "\n\nx"),
                "does not verify",
            ),
            (
                |e| e.checkpoint.case_entries_up_to = Some(e.checkpoint.size + 1),
                "not covered",
            ),
        ];
        for (edit, words) in whole {
            let mut e = runless.clone();
            edit(&mut e);
            let b = resigned(&bundle, &signer, |f| {
                without_run(f);
                with_exit(f, &e);
            });
            fails(&b, &signer, EXIT_JSON, words);
        }
        // The HTML says what the JSON says, in both languages; neither stands alone.
        let b = resigned(&bundle, &signer, |f| {
            without_run(f);
            with_exit(f, &runless);
            let mut other = runless.clone();
            other.case.name = "another name".into();
            f.insert(
                "exit-report.en.html".into(),
                crate::exit::html::render(&other, htmlreport::Lang::En).into_bytes(),
            );
        });
        fails(
            &b,
            &signer,
            "exit-report.en.html",
            "is not what exit-report.json renders to",
        );
        let b = resigned(&bundle, &signer, |f| {
            without_run(f);
            with_exit(f, &runless);
            f.remove("exit-report.da.html");
        });
        fails(&b, &signer, "exit-report.da.html", "is missing");
        let b = resigned(&bundle, &signer, |f| {
            without_run(f);
            with_exit(f, &runless);
            f.remove(EXIT_JSON);
        });
        fails(&b, &signer, "exit-report.da.html", "stands without");
    }
    #[tokio::test]
    async fn checks_behind_the_signed_manifest_each_name_their_file() {
        let (_dir, signer, bundle) = exported().await;
        let v = verify(&bundle, &signer.verifier()).unwrap();
        assert_eq!((v.runs, v.entries), (1, 4));
        // A document version the log does not record, one it records left out, and a file under another name.
        let b = resigned(&bundle, &signer, |f| {
            f.insert("documents/plan-v1.json".into(), b"{\"other\": 1}\n".to_vec());
        });
        fails(&b, &signer, "documents/plan-v1.json", "is not the version whose save");
        let b = resigned(&bundle, &signer, |f| {
            f.remove("documents/plan-v1.json");
        });
        fails(&b, &signer, "documents/plan-v1.json", "is missing");
        for name in [
            "documents/notes.txt",
            "documents/plan-v01.json",
            "documents/minutes-v1.json",
        ] {
            let b = resigned(&bundle, &signer, |f| {
                f.insert(name.into(), b"{}\n".to_vec());
            });
            fails(&b, &signer, name, "is not named");
        }
        // An entry taken out, its proof left: the counts differ.
        let b = resigned(&bundle, &signer, |f| {
            edit_json(f, "audit/entries.json", |v| {
                v.as_array_mut().unwrap().remove(1);
            })
        });
        fails(&b, &signer, "audit/entries.json", "an entry was removed");
        // An entry taken out with its proof: the others still prove, and the entry's absence is what the
        // signature over the manifest (made by the sandbox at export) is for; so the two are removed together
        // only by the key's holder. An edited entry fails its own hash; an edited and re-hashed one its proof.
        let b = resigned(&bundle, &signer, |f| {
            edit_json(f, "audit/entries.json", |v| {
                v[0]["outcome"] = "403".into();
            })
        });
        fails(&b, &signer, "audit/entries.json (entry 1)", "does not match its hash");
        let b = resigned(&bundle, &signer, |f| {
            edit_json(f, "audit/entries.json", |v| {
                let mut e: AuditEntry = serde_json::from_value(v[0].clone()).unwrap();
                e.outcome = "403".into();
                e.hash = store::entry_hash(&e);
                v[0] = serde_json::to_value(e).unwrap();
            })
        });
        fails(&b, &signer, "audit/entries.json (entry 1)", "inclusion proof");
        // A record that is not the run's; a record under another name; a finding of another case.
        let record = read_tar(&bundle)
            .unwrap()
            .keys()
            .find(|p| p.ends_with(".record.json"))
            .unwrap()
            .clone();
        let b = resigned(&bundle, &signer, |f| {
            f.insert(record.clone(), b"{\"record\": 2}".to_vec());
        });
        fails(&b, &signer, &record, "is not the record its run names");
        let b = resigned(&bundle, &signer, |f| {
            f.insert(
                "runs/0123456789abcdef0123456789abcdef.record.json".into(),
                b"{}".to_vec(),
            );
        });
        fails(
            &b,
            &signer,
            "runs/0123456789abcdef0123456789abcdef.record.json",
            "named by no run",
        );
        let b = resigned(&bundle, &signer, |f| {
            edit_json(f, "case.json", |v| {
                v["findings"] = serde_json::json!([{"id": "0123456789abcdef0123456789abcdef", "case_id": "fedcba9876543210fedcba9876543210",
                "target": {"kind": "case"}, "severity": "low", "body": "x", "links": [], "author": v["case"]["created_by"].clone(),
                "org_id": "0123456789abcdef0123456789abcdef", "role": "advisor", "created_at": v["case"]["created_at"].clone(), "supersedes": null}]);
            })
        });
        fails(&b, &signer, "case.json", "another case's");
    }
}
