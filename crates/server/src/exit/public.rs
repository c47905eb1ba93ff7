//! The public summary of a case: what anyone may read once the authority has published it, in the fields
//! transparency registers ask for, and the sandbox's result in counts and verdicts.
//!
//! It is built from the whole case (not one reader's view) but only from what is safe to show: the authority's
//! own publication texts from the plan, organisation names, the models' names and versions, the criteria in
//! words and each model's verdicts, counts of runs, citizens, findings and checklist answers, and the newest
//! signed checkpoint's size and root (so a bundle handed out later can be checked against what was published).
//! No run or model id, no hash of a vendor's file, no finding's text, no person's name, no dataset seed.

use super::build::MAX_RUNS;
use crate::app;
use crate::app::plan::{Plan, SystemStatus};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use maud::{DOCTYPE, PreEscaped, html};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::{Case, DocumentKind, RunState};

/// What the first field of every public summary says.
pub const FORMAT: &str = "sandkasse-public-summary-v1";

/// A case's public summary.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicSummary {
    /// [`FORMAT`].
    pub format: String,
    /// Whether the authority has published it; a draft (`false`) is shown only to the case's participants.
    pub published: bool,
    /// The case's name.
    pub case: String,
    /// The public authority that would use the system (the deployer; Annex VIII section C point 1).
    pub authority: String,
    /// The organisations whose models were tested (the providers; Annex VIII section A point 1).
    pub providers: Vec<String>,
    /// The system's status at the authority (Annex VIII section A point 8).
    pub status: Option<SystemStatus>,
    /// What it is for (Annex VIII section A point 5).
    pub intended_purpose: String,
    /// How it works: data and logic (Annex VIII section A point 6).
    pub how_it_works: String,
    /// The legal basis of the processing.
    pub legal_basis: String,
    /// Human oversight and how to contest a decision.
    pub human_oversight: String,
    /// Where to ask.
    pub contact: String,
    /// Each model version tested, with its latest verdicts (Annex VIII section A point 4: trade name).
    pub systems: Vec<SystemTested>,
    /// What the sandbox did and found, in counts.
    pub sandbox: SandboxResult,
    /// The newest signed audit checkpoint when the summary was made.
    pub checkpoint: Option<PublicCheckpoint>,
    /// Which register field each part fills.
    pub registers: Vec<RegisterField>,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
}

/// A model version the sandbox tested.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemTested {
    /// Its name and version.
    pub name: String,
    /// Its provider.
    pub provider: String,
    /// Its succeeded runs.
    pub runs: usize,
    /// Criteria its latest run passed.
    pub passed: usize,
    /// Criteria its latest run failed.
    pub failed: usize,
    /// Criteria its latest run could not decide.
    pub inconclusive: usize,
}

/// The sandbox's work on the case, in counts.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxResult {
    /// The case opened (RFC 3339, UTC).
    pub opened_at: String,
    /// The first succeeded run finished.
    pub first_run_at: Option<String>,
    /// The last succeeded run finished.
    pub last_run_at: Option<String>,
    /// Succeeded runs.
    pub runs: usize,
    /// Synthetic citizens scored, all runs together.
    pub citizens_scored: u64,
    /// The criteria fixed before testing, in words.
    pub criteria: Vec<String>,
    /// Findings in force (not superseded), by severity.
    pub findings: BTreeMap<String, usize>,
    /// The requirements checklist: items at each status.
    pub checklist: checklist::Summary,
}

/// A checkpoint's public part.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicCheckpoint {
    /// The log's name.
    pub origin: String,
    /// Entries covered.
    pub size: u64,
    /// The Merkle root (hex).
    pub root: String,
    /// When it was signed.
    pub time: String,
}

/// Where one field of the summary goes in a register.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterField {
    /// `eu-ai-database` (AI Act Art. 71, Annex VIII) or `offentlig-ai` (the Danish overview of public-sector AI).
    pub register: String,
    /// The register's field.
    pub field: String,
    /// The summary's field that fills it.
    pub from: String,
}

/// The register fields the summary fills, and from which of its fields.
const REGISTERS: &[(&str, &str, &str)] = &[
    ("eu-ai-database", "Annex VIII A.1 provider", "providers"),
    ("eu-ai-database", "Annex VIII A.4 trade name", "systems[].name"),
    ("eu-ai-database", "Annex VIII A.5 intended purpose", "intended_purpose"),
    (
        "eu-ai-database",
        "Annex VIII A.6 data and operating logic",
        "how_it_works",
    ),
    ("eu-ai-database", "Annex VIII A.8 status", "status"),
    ("eu-ai-database", "Annex VIII C.1 deployer", "authority"),
    ("offentlig-ai", "myndighed", "authority"),
    ("offentlig-ai", "løsningens navn", "systems[].name"),
    ("offentlig-ai", "formål", "intended_purpose"),
    ("offentlig-ai", "data og metode", "how_it_works"),
    ("offentlig-ai", "hjemmel", "legal_basis"),
    ("offentlig-ai", "menneskelig kontrol", "human_oversight"),
    ("offentlig-ai", "status", "status"),
    ("offentlig-ai", "kontakt", "contact"),
];

/// The public summary of `case` as it stands; `None` when `only_published` and the authority has not
/// published it.
pub async fn summarize(state: &AppState, case: &Case, only_published: bool) -> ApiResult<Option<PublicSummary>> {
    let store = &state.store;
    let plan: Option<Plan> = match store.document(&case.id, DocumentKind::Plan, None).await? {
        Some(s) => Some(
            serde_json::from_str(&s.body)
                .map_err(|e| ApiError::internal(format!("the stored plan version {} does not read: {e}", s.version)))?,
        ),
        None => None,
    };
    // Only the models the plan puts in scope, which their vendors agreed to with the authority: a vendor's
    // model outside the plan is not published, whatever ran in the case.
    let in_scope: std::collections::HashSet<String> = plan
        .as_ref()
        .map(|p| p.models_in_scope.iter().map(|m| m.to_string()).collect())
        .unwrap_or_default();
    let publication = plan.and_then(|p| p.publication);
    let published = publication.as_ref().is_some_and(|p| p.published);
    if only_published && !published {
        return Ok(None);
    }
    let authority = match store.user(&case.created_by).await? {
        Some(u) => store.org(&u.org_id).await?.map(|o| o.name).unwrap_or_default(),
        None => String::new(),
    };
    let mut org_names: BTreeMap<String, String> = BTreeMap::new();
    let models: Vec<store::Model> = store
        .list_models(&case.id)
        .await?
        .into_iter()
        .filter(|m| in_scope.contains(m.id.as_str()))
        .collect();
    for m in &models {
        if !org_names.contains_key(m.org_id.as_str()) {
            let n = store.org(&m.org_id).await?.map(|o| o.name).unwrap_or_default();
            org_names.insert(m.org_id.to_string(), n);
        }
    }
    let mut runs: Vec<store::Run> = store
        .list_runs(&case.id)
        .await?
        .into_iter()
        .filter(|r| r.state == RunState::Succeeded && in_scope.contains(r.model_id.as_str()))
        .collect();
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    runs.truncate(MAX_RUNS);
    // Per model: (runs, verdicts of the newest run).
    let mut per_model: BTreeMap<String, (usize, [usize; 3])> = BTreeMap::new();
    let mut citizens = 0u64;
    let mut finished: Vec<String> = Vec::new();
    for run in &runs {
        let record = app::runs::load_report(state, run).await?.record;
        citizens += record.provenance.dataset_rows;
        if let Some(t) = &run.finished_at {
            finished.push(t.to_string());
        }
        let entry = per_model.entry(run.model_id.to_string()).or_insert((0, [0; 3]));
        if entry.0 == 0 {
            for v in &record.verdicts {
                let k = match v.verdict.as_str() {
                    "pass" => 0,
                    "fail" => 1,
                    _ => 2,
                };
                entry.1[k] += 1;
            }
        }
        entry.0 += 1;
    }
    finished.sort();
    let systems: Vec<SystemTested> = models
        .iter()
        .filter_map(|m| {
            per_model.get(m.id.as_str()).map(|(runs, [p, f, i])| SystemTested {
                name: format!("{} {}", m.name, m.version),
                provider: org_names.get(m.org_id.as_str()).cloned().unwrap_or_default(),
                runs: *runs,
                passed: *p,
                failed: *f,
                inconclusive: *i,
            })
        })
        .collect();
    let mut providers: Vec<String> = models
        .iter()
        .filter(|m| per_model.contains_key(m.id.as_str()))
        .filter_map(|m| org_names.get(m.org_id.as_str()).cloned())
        .collect();
    providers.sort();
    providers.dedup();

    let findings = store.list_findings(&case.id).await?;
    let superseded: std::collections::HashSet<String> = findings
        .iter()
        .filter_map(|f| f.supersedes.as_ref().map(|s| s.to_string()))
        .collect();
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    for f in findings.iter().filter(|f| !superseded.contains(f.id.as_str())) {
        *by_severity.entry(f.severity.as_str().to_owned()).or_default() += 1;
    }
    let checklist = match store.document(&case.id, DocumentKind::Checklist, None).await? {
        Some(s) => checklist::from_json(&s.body)
            .map_err(|e| ApiError::internal(format!("the stored checklist version {} does not read: {e}", s.version)))?
            .summary(),
        None => checklist::Checklist::blank().summary(),
    };
    let criteria = app::cases::criteria_of(state, case)
        .await?
        .iter()
        .map(|c| c.describe_with_bound())
        .collect();
    let checkpoint = app::audit::latest_checkpoint(state).await?.map(|c| PublicCheckpoint {
        origin: c.checkpoint.origin.clone(),
        size: c.checkpoint.size,
        root: store::merkle::to_hex(&c.checkpoint.root),
        time: c.checkpoint.time.to_string(),
    });
    let p = publication;
    let text = |f: fn(&crate::app::plan::Publication) -> &String| p.as_ref().map(f).cloned().unwrap_or_default();
    Ok(Some(PublicSummary {
        format: FORMAT.to_owned(),
        published,
        case: case.name.clone(),
        authority,
        providers,
        status: p.as_ref().map(|p| p.status),
        intended_purpose: text(|p| &p.intended_purpose),
        how_it_works: text(|p| &p.how_it_works),
        legal_basis: text(|p| &p.legal_basis),
        human_oversight: text(|p| &p.human_oversight),
        contact: text(|p| &p.contact),
        systems,
        sandbox: SandboxResult {
            opened_at: case.created_at.to_string(),
            first_run_at: finished.first().cloned(),
            last_run_at: finished.last().cloned(),
            runs: runs.len(),
            citizens_scored: citizens,
            criteria,
            findings: by_severity,
            checklist,
        },
        checkpoint,
        registers: REGISTERS
            .iter()
            .map(|(register, field, from)| RegisterField {
                register: (*register).to_owned(),
                field: (*field).to_owned(),
                from: (*from).to_owned(),
            })
            .collect(),
        generated_at: store::Timestamp::now().to_string(),
    }))
}

/// The summary as one self-contained page in `l`, readable on a phone and printable.
pub fn render(s: &PublicSummary, l: htmlreport::Lang) -> String {
    use crate::web::layout::{user, when};
    let da = l == htmlreport::Lang::Da;
    let name = |x: &str| user(x, 200);
    let prose = |x: &str| {
        html! { @for line in x.lines().filter(|t| !t.trim().is_empty()) { p { (user(line, 4000)) } } }
    };
    let title = format!("{}: {}", l.t("Offentligt resumé", "Public summary"), s.case);
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (crate::web::layout::plain(&title, 300)) }
                style { (PreEscaped(htmlreport::stylesheet())) }
            }
            body { main {
                h1 #public-title { (l.t("Offentligt resumé", "Public summary")) ": " (name(&s.case)) }
                @if !s.published {
                    p.bad #public-draft { (l.t("Udkast: myndigheden har ikke offentliggjort resuméet. Kun sagens deltagere kan se det.", "Draft: the authority has not published the summary. Only the case's participants can see it.")) }
                }
                table.kv.keep { tbody {
                    tr { th { (l.t("Myndighed", "Authority")) } td { (name(&s.authority)) } }
                    tr { th { (l.t("Leverandører", "Providers")) } td { (name(&s.providers.join(", "))) } }
                    tr { th { (l.t("Status", "Status")) } td { @match s.status { Some(st) => (st.label(da)), None => "—" } } }
                    tr { th { (l.t("Kontakt", "Contact")) } td { (name(&s.contact)) } }
                } }
                h2 { (l.t("Formål", "Intended purpose")) }
                (prose(&s.intended_purpose))
                h2 { (l.t("Sådan virker løsningen", "How it works")) }
                (prose(&s.how_it_works))
                h2 { (l.t("Hjemmel", "Legal basis")) }
                (prose(&s.legal_basis))
                h2 { (l.t("Menneskelig kontrol", "Human oversight")) }
                (prose(&s.human_oversight))
                h2 { (l.t("Afprøvning i sandkassen", "Testing in the sandbox")) }
                p {
                    (s.sandbox.runs) " " (l.t("lykkede kørsler på", "succeeded runs on")) " " (l.count(s.sandbox.citizens_scored as f64)) " "
                    (l.t("syntetiske borgere", "synthetic citizens"))
                    @if let (Some(a), Some(b)) = (&s.sandbox.first_run_at, &s.sandbox.last_run_at) { ", " (when(a)) " – " (when(b)) }
                    "."
                }
                @if !s.sandbox.criteria.is_empty() {
                    h3 { (l.t("Kriterier fastsat før test", "Criteria fixed before testing")) }
                    ul { @for c in &s.sandbox.criteria { li { (name(c)) } } }
                }
                table #public-systems {
                    caption { (l.t("Afprøvede modelversioner (seneste kørsel)", "Model versions tested (latest run)")) }
                    thead { tr { th { (l.t("Model", "Model")) } th { (l.t("Leverandør", "Provider")) } th { (l.t("Kørsler", "Runs")) } th { (l.t("Bestået", "Passed")) } th { (l.t("Ikke bestået", "Failed")) } th { (l.t("Uafklaret", "Inconclusive")) } } }
                    tbody { @for x in &s.systems { tr { td { (name(&x.name)) } td { (name(&x.provider)) } td.n { (x.runs) } td.n { (x.passed) } td.n { (x.failed) } td.n { (x.inconclusive) } } } }
                }
                p {
                    (l.t("Fund i kraft", "Findings in force")) ": "
                    @if s.sandbox.findings.is_empty() { "0" }
                    @for (i, (sev, n)) in s.sandbox.findings.iter().enumerate() { @if i > 0 { ", " } (n) " " (name(sev)) }
                    ". " (l.t("Tjekliste", "Checklist")) ": " (s.sandbox.checklist.evidenced) " " (l.t("dokumenteret", "evidenced")) ", "
                    (s.sandbox.checklist.answered) " " (l.t("besvaret", "answered")) ", " (s.sandbox.checklist.open) " " (l.t("åbne", "open")) "."
                }
                @if let Some(c) = &s.checkpoint {
                    p.sub { (l.t("Revisionslogens kontrolpunkt", "Audit log checkpoint")) ": " (name(&c.origin)) ", " (c.size) " " (l.t("poster", "entries")) ", " (l.t("rod", "root")) " " code.hash { (name(&c.root)) } ", " (when(&c.time)) }
                }
                footer { p { (l.t(
                    "Resuméet indeholder intet fortroligt: ingen personer, ingen kørsels- eller model-id'er, ingen fund i ordlyd. Felterne svarer til EU-databasen for højrisiko-AI (AI-forordningen art. 71 og bilag VIII) og oversigten over offentlig AI.",
                    "The summary holds nothing confidential: no persons, no run or model ids, no findings' texts. Its fields follow the EU database for high-risk AI (AI Act Art. 71 and Annex VIII) and the Danish overview of public-sector AI."
                )) } }
            } }
        }
    }
    .into_string()
}
