//! The exit report as one self-contained HTML document, in Danish or English, that reads on a screen and a
//! phone and prints to A4 (the run reports' stylesheet: `@page { size: A4 }`, tables that do not break inside a
//! row, headings kept with what follows). No script, nothing loaded from elsewhere; every string that came from a
//! participant (names, plan texts, findings, answers) is escaped by maud and shown with its hidden characters
//! made visible, isolated in `<bdi>` so right-to-left text cannot reorder what stands around it.

use super::*;
use crate::web::layout::{user, when};
use htmlreport::Lang;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Longest run of a participant's text shown in one place (plan entries, answers and findings are capped
/// where they are stored; this bounds the document even so).
const TEXT_CHARS: usize = 4000;
/// Longest name shown.
const NAME_CHARS: usize = 200;

/// What the exit report adds to the run reports' stylesheet: the checkpoint's note wraps instead of widening
/// the page.
const EXIT_CSS: &str = "pre.exit-note { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8em; background: #f7f8f9; padding: .6em; border: 1px solid #c4c8cc; }";

/// Text written by people, one paragraph per line.
fn prose(text: &str) -> Markup {
    html! {
        @for line in text.lines().filter(|l| !l.trim().is_empty()) {
            p { (user(line, TEXT_CHARS)) }
        }
    }
}

fn name(s: &str) -> Markup {
    user(s, NAME_CHARS)
}

fn hash(h: &str) -> Markup {
    html! { code.hash { (user(h, 200)) } }
}

fn verdict(l: Lang, v: Option<&str>) -> Markup {
    match v {
        Some("pass") => html! { span.verdict.v-pass { (l.t("Bestået", "Pass")) } },
        Some("fail") => html! { span.verdict.v-fail { (l.t("Ikke bestået", "Fail")) } },
        Some("inconclusive") => html! { span.verdict.v-inconclusive { (l.t("Uafklaret", "Inconclusive")) } },
        Some(other) => name(other),
        None => html! { span.muted { "—" } },
    }
}

fn state_word(l: Lang, s: &str) -> &'static str {
    match s {
        "queued" => l.t("i kø", "queued"),
        "running" => l.t("kører", "running"),
        "succeeded" => l.t("lykkedes", "succeeded"),
        "failed" => l.t("fejlede", "failed"),
        "cancelled" => l.t("annulleret", "cancelled"),
        _ => l.t("ukendt", "unknown"),
    }
}

fn severity_word(l: Lang, s: store::Severity) -> &'static str {
    match s {
        store::Severity::Note => l.t("note", "note"),
        store::Severity::Low => l.t("lav", "low"),
        store::Severity::Medium => l.t("middel", "medium"),
        store::Severity::High => l.t("høj", "high"),
    }
}

fn status_word(l: Lang, s: &str) -> &'static str {
    match s {
        "open" => l.t("Åben", "Open"),
        "answered" => l.t("Besvaret", "Answered"),
        "evidenced" => l.t("Dokumenteret", "Evidenced"),
        _ => l.t("ukendt", "unknown"),
    }
}

fn role_word(l: Lang, r: crate::app::plan::PlanRole) -> &'static str {
    use crate::app::plan::PlanRole::*;
    match r {
        Authority => l.t("myndighed", "authority"),
        Vendor => l.t("leverandør", "vendor"),
        Advisor => l.t("rådgiver", "advisor"),
        Other => l.t("andet", "other"),
    }
}

fn kind_word(l: Lang, k: &str) -> &'static str {
    match k {
        "vendor" => l.t("leverandør", "vendor"),
        "authority" => l.t("myndighed", "authority"),
        "advisor" => l.t("rådgiver", "advisor"),
        "operator" => l.t("drift", "operator"),
        _ => l.t("anden", "other"),
    }
}

fn which(l: Lang, lang_da_en: &[String; 2]) -> &str {
    match l {
        Lang::Da => &lang_da_en[0],
        Lang::En => &lang_da_en[1],
    }
}

/// A table that scrolls sideways inside itself on a phone and prints at the page's width.
fn table(caption: &str, head: &[&str], rows: Markup) -> Markup {
    html! {
        table {
            caption { (caption) }
            thead { tr { @for h in head { th scope="col" { (h) } } } }
            tbody { (rows) }
        }
    }
}

/// Renders the exit report in `l`. The same report gives the same bytes.
pub fn render(r: &ExitReport, l: Lang) -> String {
    let title = format!("{}: {}", l.t("Slutrapport", "Exit report"), r.case.name);
    let succeeded = r.runs.iter().filter(|x| x.result.is_some()).count();
    let doc = html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content="sandkasse exit report";
                title { (crate::web::layout::plain(&title, 300)) }
                style { (PreEscaped(htmlreport::stylesheet())) (PreEscaped(EXIT_CSS)) }
            }
            body {
                main {
                    header {
                        h1 #exit-title { (l.t("Slutrapport", "Exit report")) ": " (name(&r.case.name)) }
                        p.sub {
                            (l.t("Sag", "Case")) " " code { (user(&r.case.id, 64)) } " · "
                            (l.t("oprettet af", "opened by")) " " (name(&r.case.opened_by)) " "
                            (when(&r.case.opened_at)) " · " (l.t("rapporten er lavet", "report made")) " " (when(&r.generated_at))
                            " · " (l.t("til", "for")) " " (name(&r.reader.name)) " (" (name(&r.reader.organisation)) ", " (r.reader.role) ")"
                        }
                        @if !r.complete {
                            p.note #exit-partial {
                                (l.t(
                                    "Rapporten viser kun det, læseren må se: en leverandør ser sit eget arbejde, ikke andre organisationers. Hele sagen står i myndighedens og rådgiverens rapport.",
                                    "The report shows only what its reader may see: a vendor sees its own work, not other organisations'. The whole case is in the authority's and the advisor's report."
                                ))
                                @if r.runs_not_listed > 0 {
                                    " " (r.runs_not_listed) " " (l.t("ældre kørsler er udeladt.", "older runs are left out."))
                                }
                            }
                        }
                    }
                    section.summary #exit-summary {
                        h2 { (l.t("Sammenfatning", "Summary")) }
                        ul {
                            li { (r.models.len()) " " (l.t("modeller", "models")) "; " (r.runs.len()) " " (l.t("kørsler, heraf", "runs, of which")) " " (succeeded) " " (l.t("lykkedes", "succeeded")) }
                            li { (r.comparisons.len()) " " (l.t("parvise sammenligninger", "paired comparisons")) "; " (r.findings.len()) " " (l.t("fund og noter", "findings and notes")) }
                            li {
                                (l.t("Tjekliste", "Checklist")) ": " (r.checklist.summary.evidenced) " " (l.t("dokumenteret", "evidenced")) ", "
                                (r.checklist.summary.answered) " " (l.t("besvaret", "answered")) ", " (r.checklist.summary.open) " " (l.t("åbne", "open"))
                            }
                            li { (l.t("Revisionslog: kontrolpunkt over", "Audit log: checkpoint over")) " " (r.checkpoint.size) " " (l.t("poster", "entries")) ", " (l.t("rod", "root")) " " (hash(&r.checkpoint.root)) }
                        }
                    }
                    (plan_section(r, l))
                    section #exit-participants {
                        h2 { (l.t("Deltagere", "Participants")) }
                        (table(l.t("Organisationer i sagen", "Organisations in the case"), &[l.t("Organisation", "Organisation"), l.t("Slags", "Kind")], html! {
                            @for p in &r.participants { tr { td { (name(&p.organisation)) } td { (kind_word(l, &p.kind)) } } }
                        }))
                    }
                    section #exit-criteria {
                        h2 { (l.t("Kriterier fastsat før test", "Criteria fixed before testing")) }
                        @if r.criteria.is_empty() { p.note { (l.t("Sagen har ingen kriterier.", "The case has no criteria.")) } }
                        ul { @for c in &r.criteria { li { (name(c)) } } }
                    }
                    (models_section(r, l))
                    (runs_section(r, l))
                    (isolation_section(r, l))
                    (leaderboard_section(r, l))
                    (comparisons_section(r, l))
                    (findings_section(r, l))
                    (checklist_section(r, l))
                    (checkpoint_section(r, l))
                    footer {
                        p { (l.t(
                            "Lavet af Sandkasse ud fra sagens registreringer. Filen er selvstændig: den indeholder ingen scripts og henter intet udefra. Hver kørsel, hvert dokument og hver revisionspost kan efterprøves i sagens bevispakke (sandkasse evidence export --case) mod kontrolpunktet ovenfor.",
                            "Made by Sandkasse from the case's records. The file is self-contained: it holds no scripts and loads nothing from elsewhere. Every run, document and audit entry can be checked in the case's evidence bundle (sandkasse evidence export --case) against the checkpoint above."
                        )) }
                    }
                }
            }
        }
    };
    doc.into_string()
}

fn plan_section(r: &ExitReport, l: Lang) -> Markup {
    html! {
        section #exit-plan {
            h2 { (l.t("Sandkasseplan", "Sandbox plan")) }
            @match &r.plan {
                None => p.note { (l.t("Sagen har ingen plan.", "The case has no plan.")) },
                Some(p) => {
                    p.sub { (l.t("Version", "Version")) " " (p.version) ", " (l.t("gemt", "saved")) " " (when(&p.saved_at)) ", SHA-256 " (hash(&p.sha256)) }
                    h3 { (l.t("Formål", "Objectives")) }
                    ul { @for o in &p.plan.objectives { li { (prose(o)) } } }
                    @if !p.plan.legal_questions.is_empty() {
                        h3 { (l.t("Juridiske spørgsmål", "Legal questions")) }
                        ul { @for q in &p.plan.legal_questions { li { (prose(q)) } } }
                    }
                    @if !p.plan.models_in_scope.is_empty() {
                        h3 { (l.t("Modeller omfattet", "Models in scope")) }
                        ul { @for m in &p.plan.models_in_scope {
                            li { (r.models.iter().find(|x| &x.id == m).map_or_else(|| name(m), |x| name(&x.name))) }
                        } }
                    }
                    @if !p.plan.participants.is_empty() {
                        (table(l.t("Deltagere og roller", "Participants and roles"), &[l.t("Organisation", "Organisation"), l.t("Rolle", "Role"), l.t("Ansvar", "Responsibilities")], html! {
                            @for x in &p.plan.participants { tr { td { (name(&x.organisation)) } td { (role_word(l, x.role)) } td { (prose(&x.responsibilities)) } } }
                        }))
                    }
                    @if !p.plan.milestones.is_empty() {
                        (table(l.t("Milepæle", "Milestones"), &[l.t("Milepæl", "Milestone"), l.t("Dato", "Due"), l.t("Status", "Status")], html! {
                            @for m in &p.plan.milestones { tr { td { (name(&m.title)) } td { (name(&m.due)) } td { @if m.done { (l.t("nået", "done")) } @else { (l.t("åben", "open")) } } } }
                        }))
                    }
                }
            }
        }
    }
}

fn models_section(r: &ExitReport, l: Lang) -> Markup {
    html! {
        section #exit-models {
            h2 { (l.t("Modeller", "Models")) }
            (table(l.t("Uploadede modeller", "Models uploaded"), &[l.t("Model", "Model"), l.t("Organisation", "Organisation"), l.t("Scenarie", "Scenario"), l.t("Modellens SHA-256", "Model SHA-256")], html! {
                @for m in &r.models { tr.exit-model { td { (name(&m.name)) br; code { (user(&m.id, 64)) } } td { (name(&m.organisation)) } td { (name(&m.scenario)) } td { (hash(&m.model_sha256)) } } }
            }))
        }
    }
}

fn runs_section(r: &ExitReport, l: Lang) -> Markup {
    html! {
        section #exit-runs {
            h2 { (l.t("Kørsler", "Runs")) }
            @if r.runs.is_empty() { p.note { (l.t("Ingen kørsler.", "No runs.")) } }
            @for run in &r.runs {
                table.keep.exit-run {
                    caption { (l.t("Kørsel", "Run")) " " code { (user(&run.id, 64)) } ": " (name(&run.model)) " — " (state_word(l, &run.state)) }
                    tbody {
                        tr { th { (l.t("Startet af", "Started by")) } td { (name(&run.started_by)) ", " (when(&run.created_at)) @if let Some(f) = &run.finished_at { " → " (when(f)) } } }
                        tr { th { (l.t("Datasæt", "Dataset")) } td { (name(&run.scenario)) ", " (l.count(run.rows as f64)) " " (l.t("borgere", "citizens")) ", seed " (run.seed) } }
                        tr { th { (l.t("Planversion", "Plan version")) } td { @match run.plan_version { Some(v) => (v), None => span.muted { "—" } } } }
                        @if let Some(c) = &run.cause { tr { th { (l.t("Årsag", "Cause")) } td { (prose(c)) } } }
                        @if let Some(h) = &run.record_sha256 { tr { th { (l.t("Registreringens SHA-256", "Record SHA-256")) } td { (hash(h)) } } }
                        @if let Some(res) = &run.result {
                            tr { th { (l.t("Modellens SHA-256", "Model SHA-256")) } td { (hash(&res.model_sha256)) } }
                            tr { th { (l.t("Datasættets SHA-256", "Dataset SHA-256")) } td { (hash(&res.dataset_sha256)) } }
                            tr { th { (l.t("Versioner", "Versions")) } td { "Sandkasse " (name(&res.sandbox_version)) ", ONNX Runtime " (name(&res.onnxruntime_version)) } }
                            tr { th { (l.t("Isolation", "Isolation")) } td { (res.isolation_active.join(", ")) @if !res.isolation_missing.is_empty() { br; span.bad { (l.t("Mangler: ", "Missing: ")) (name(&res.isolation_missing.join("; "))) } } } }
                            @for v in &res.verdicts { tr { th { (name(&v.criterion)) } td { (verdict(l, Some(&v.verdict))) } } }
                        }
                    }
                }
            }
        }
    }
}

fn isolation_section(r: &ExitReport, l: Lang) -> Markup {
    let i = &r.isolation;
    html! {
        section #exit-isolation {
            h2 { (l.t("Isolation", "Isolation")) }
            p { (l.t("Lag i kraft i alle lykkede kørsler: ", "Layers in force in every succeeded run: ")) @if i.in_every_run.is_empty() { "—" } @else { (i.in_every_run.join(", ")) } }
            @if i.missing.is_empty() {
                p.ok { (l.t("Intet lag manglede i nogen kørsel.", "No layer was missing in any run.")) }
            } @else {
                ul { @for m in &i.missing { li.bad { (name(&m.layer)) ": " (l.t("manglede i", "missing in")) " " (m.runs) " " (l.t("kørsler", "runs")) } } }
            }
            @if i.operator_allowed_missing {
                p.bad { (l.t("Driften tillod, at et isolationslag manglede (--allow-missing-isolation); det står i den enkelte kørsels registrering.", "The operator allowed an isolation layer to be missing (--allow-missing-isolation); each run's record says so.")) }
            }
        }
    }
}

fn leaderboard_section(r: &ExitReport, l: Lang) -> Markup {
    let b = &r.leaderboard;
    let mut head: Vec<&str> = vec![
        l.t("Model", "Model"),
        l.t("Bestået", "Passed"),
        l.t("Ikke bestået", "Failed"),
    ];
    head.extend(b.criteria.iter().map(String::as_str));
    html! {
        section #exit-leaderboard {
            h2 { (l.t("Modeller mod kriterierne", "Models against the criteria")) }
            @if b.rows.is_empty() { p.note { (l.t("Ingen lykkede kørsler.", "No succeeded runs.")) } }
            @else {
                (table(l.t("Hver lykket kørsel, flest beståede kriterier først", "Every succeeded run, most criteria passed first"), &head, html! {
                    @for row in &b.rows { tr {
                        td { (name(&row.model)) br; code { (user(&row.run, 64)) } }
                        td.n { (row.passed) } td.n { (row.failed) }
                        @for v in &row.verdicts { td { (verdict(l, v.as_deref())) } }
                    } }
                }))
            }
        }
    }
}

fn comparisons_section(r: &ExitReport, l: Lang) -> Markup {
    html! {
        section #exit-comparisons {
            h2 { (l.t("Parvise sammenligninger", "Paired comparisons")) }
            p { (l.t(
                "Kørsler på samme datasæt (samme SHA-256) sammenlignes borger for borger: forskellen i hver rate med et parret bootstrap-interval (borgerne trækkes samlet for begge kørsler).",
                "Runs on the same dataset (the same SHA-256) are compared citizen by citizen: the difference of each rate with a paired bootstrap interval (citizens resampled jointly for both runs)."
            )) }
            @if r.comparisons.is_empty() { p.note { (l.t("Ingen sammenligninger.", "No comparisons.")) } }
            @for c in &r.comparisons {
                h3 { (l.t("Datasæt", "Dataset")) " " (hash(&c.dataset_sha256)) }
                p.sub { (l.count(c.citizens as f64)) " " (l.t("borgere", "citizens")) ", " (c.resamples) " " (l.t("gentrækninger", "resamples")) ", " (l.pct(c.confidence, 0)) " " (l.t("intervaller", "intervals")) }
                (table(l.t("Kriterier side om side", "Criteria side by side"), &std::iter::once(l.t("Kriterium", "Criterion")).chain(c.runs.iter().map(|x| x.model.as_str())).collect::<Vec<_>>(), html! {
                    @for row in &c.criteria { tr { td { (name(&row.criterion)) } @for v in &row.verdicts { td { (verdict(l, v.as_deref())) } } } }
                }))
                @for pair in &c.pairs {
                    @let (a, b) = (&c.runs[pair.first.min(c.runs.len() - 1)], &c.runs[pair.second.min(c.runs.len() - 1)]);
                    (table(&format!("{} → {}: {} {}", a.model, b.model, l.count(pair.decisions_differ as f64), l.t("afgørelser er forskellige", "decisions differ")),
                        &[l.t("Rate (alle borgere)", "Rate (everyone)"), l.t("Udfald", "Outcome"), l.t("Første", "First"), l.t("Anden", "Second"), l.t("Forskel [parret interval]", "Difference [paired interval]")], html! {
                        @for rate in pair.rates.iter().filter(|x| x.attribute.is_none()) {
                            @if let Some(ch) = &rate.change { tr {
                                td { (rate.rate.as_str()) } td { (rate.outcome.as_str()) }
                                td.n { (l.dec(ch.first, 4)) } td.n { (l.dec(ch.second, 4)) }
                                td.n { (l.dec(ch.difference, 4)) @if let Some([lo, hi]) = ch.paired { span.ci { "[" (l.dec(lo, 4)) (l.t("; ", ", ")) (l.dec(hi, 4)) "]" } } }
                            } }
                        }
                    }))
                }
            }
            @if !r.not_compared.is_empty() {
                ul { @for n in &r.not_compared { li.note { (name(n)) } } }
            }
        }
    }
}

fn findings_section(r: &ExitReport, l: Lang) -> Markup {
    html! {
        section #exit-findings {
            h2 { (l.t("Fund og noter", "Findings and notes")) }
            @if r.findings.is_empty() { p.note { (l.t("Ingen fund.", "No findings.")) } }
            @for f in &r.findings {
                div.exit-finding.keep {
                    h3 {
                        (severity_word(l, f.finding.severity)) " · "
                        @match &f.finding.target {
                            store::FindingTarget::Case => (l.t("sagen", "the case")),
                            store::FindingTarget::Model(m) => { (l.t("model", "model")) " " code { (user(m.as_str(), 64)) } },
                            store::FindingTarget::Run(x) => { (l.t("kørsel", "run")) " " code { (user(x.as_str(), 64)) } },
                        }
                    }
                    p.sub {
                        (name(&f.author)) " (" (name(&f.organisation)) "), " (when(f.finding.created_at.as_str())) " · " code { (user(f.finding.id.as_str(), 64)) }
                        @if let Some(old) = &f.finding.supersedes { " · " (l.t("retter", "corrects")) " " code { (user(old.as_str(), 64)) } }
                        @if let Some(new) = &f.superseded_by { " · " strong { (l.t("erstattet af", "superseded by")) } " " code { (user(new, 64)) } }
                    }
                    (prose(&f.finding.body))
                    @if !f.finding.links.is_empty() {
                        p.sub { (l.t("Dokumentation: ", "Evidence: "))
                            @for (i, link) in f.finding.links.iter().enumerate() {
                                @if i > 0 { ", " }
                                @match &link.target {
                                    store::FindingTarget::Case => (l.t("sagen", "the case")),
                                    store::FindingTarget::Model(m) => { "model " code { (user(m.as_str(), 64)) } },
                                    store::FindingTarget::Run(x) => { "run " code { (user(x.as_str(), 64)) } },
                                }
                                @if let Some(s) = &link.section { " §" (name(s)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn checklist_section(r: &ExitReport, l: Lang) -> Markup {
    let c = &r.checklist;
    html! {
        section #exit-checklist {
            h2 { (l.t("Tjekliste over krav", "Requirements checklist")) }
            p.sub {
                (l.t("Version", "Version")) " " (c.version) ", " (l.t("katalog", "catalogue")) " " (name(&c.catalogue_version))
                @if let Some(h) = &c.sha256 { ", SHA-256 " (hash(h)) }
            }
            (table(l.t("Krav og svar", "Requirements and answers"), &[l.t("Bestemmelse", "Provision"), l.t("Krav", "Requirement"), l.t("Status", "Status"), l.t("Svar og dokumentation", "Answer and evidence")], html! {
                @for item in &c.items { tr.exit-item {
                    td { (which(l, &item.article)) } td { (which(l, &item.title)) }
                    td.status { (status_word(l, &item.status)) }
                    td { (prose(&item.answer)) @if !item.evidence.is_empty() { p.sub { (name(&item.evidence.join(", "))) } } }
                } }
            }))
        }
    }
}

fn checkpoint_section(r: &ExitReport, l: Lang) -> Markup {
    let c = &r.checkpoint;
    html! {
        section #exit-checkpoint {
            h2 { (l.t("Revisionslogens kontrolpunkt", "The audit log's checkpoint")) }
            p { (l.t(
                "Kontrolpunktet er underskrevet (Ed25519) af sandkassens nøgle og dækker revisionslogens første poster. Gem det uden for sandkassen: sandkasse audit verify --checkpoint FIL afslører, hvis loggen senere afkortes, rulles tilbage eller omskrives.",
                "The checkpoint is signed (Ed25519) by the sandbox's key and covers the audit log's first entries. Keep it outside the sandbox: sandkasse audit verify --checkpoint FILE detects a later truncation, rollback or rewrite of the log."
            ))
            " "
            @if c.case_entries_up_to.is_some() {
                (l.t("Det dækker alle sagens poster skrevet før rapporten.", "It covers every entry of the case written before the report."))
            } @else {
                (l.t("Det er det nyeste kontrolpunkt, da rapporten blev lavet; sagens seneste poster kan ligge efter det.", "It is the newest checkpoint when the report was made; the case's latest entries may follow it."))
            }
            }
            table.kv.keep {
                tbody {
                    tr { th { (l.t("Log", "Log")) } td { (name(&c.origin)) } }
                    tr { th { (l.t("Poster", "Entries")) } td { (c.size) } }
                    tr { th { (l.t("Sagens nyeste post", "The case's newest entry")) } td { @match c.case_entries_up_to { Some(s) => (s), None => "—" } } }
                    tr { th { (l.t("Merkle-rod", "Merkle root")) } td { (hash(&c.root)) } }
                    tr { th { (l.t("Tidspunkt", "Time")) } td { (when(&c.time)) } }
                    tr { th { (l.t("Offentlig nøgle", "Public key")) } td { (hash(&c.public_key)) } }
                }
            }
            // The signed note line by line (each made visible on its own, so its line breaks stay line breaks),
            // wrapping on a narrow screen: the signature is one long base64 word.
            pre.exit-note {
                @for (i, line) in c.note.lines().take(20).enumerate() {
                    @if i > 0 { "\n" }
                    (crate::web::layout::plain(line, 400))
                }
            }
        }
    }
}
