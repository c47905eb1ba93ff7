//! Tests of the rendered document on two real run records (`sandkasse evaluate --out`) and on
//! records with parts removed or replaced.

use evaluate::RunRecord;
use fairness::{GroupReport, MetricName};
use htmlreport::{Lang, Meta, render};
use inference::{Cause, PoolEvent};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;
use std::collections::BTreeSet;

const FIXTURES: [&str; 2] = ["unemployment-gbm.json", "rehabilitation-gbm.json"];
const LANGS: [Lang; 2] = [Lang::Da, Lang::En];

/// A fixture record, read as stored records are read (brought to the current schema version).
fn fixture(name: &str) -> RunRecord {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    RunRecord::from_json(&std::fs::read(path).unwrap()).unwrap()
}

/// A verdict's outcome as the record writes it (`pass`, `fail`, `inconclusive`).
fn outcome(v: &fairness::Verdict) -> String {
    serde_json::to_value(v.verdict).unwrap().as_str().unwrap().to_owned()
}

fn all_outputs() -> Vec<(String, Lang, String)> {
    let mut v = Vec::new();
    for f in FIXTURES {
        let rec = fixture(f);
        for l in LANGS {
            v.push((f.to_owned(), l, render(&rec, l, &Meta::default())));
        }
    }
    v
}

/// An element of the parsed document.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    /// Text directly inside, references resolved.
    text: String,
    /// All text inside, in document order (text inside `<bdi>` included where it stands).
    deep: String,
}

impl Node {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }

    fn walk<'a>(&'a self, out: &mut Vec<&'a Node>) {
        out.push(self);
        for c in &self.children {
            c.walk(out);
        }
    }

    fn all(&self) -> Vec<&Node> {
        let mut v = Vec::new();
        self.walk(&mut v);
        v
    }

    fn find(&self, name: &str) -> Vec<&Node> {
        self.all().into_iter().filter(|n| n.name == name).collect()
    }

    /// All text inside, in document order.
    fn deep_text(&self) -> String {
        self.deep.clone()
    }

    fn by_id(&self, id: &str) -> Option<&Node> {
        self.all().into_iter().find(|n| n.attr("id") == Some(id))
    }
}

/// Parses the whole document as XML (end tags checked, references restricted to XML's own),
/// panicking on any error.
fn parse(html: &str) -> Node {
    let mut reader = Reader::from_str(html);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut stack = vec![Node::default()];
    let mut roots = 0;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at byte {}: {e}", reader.error_position()))
        {
            Event::Start(s) => {
                stack.push(element(&s));
            }
            Event::Empty(s) => {
                let n = element(&s);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                if stack.len() == 1 {
                    roots += 1;
                }
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => {
                let t = t.into_inner();
                assert!(!t.contains('<'), "stray < in text");
                stack.last_mut().unwrap().text.push_str(&t);
                for n in &mut stack {
                    n.deep.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().unwrap().expect("a character reference")
                } else {
                    match &*r.into_inner() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("entity &{other}; is not XML's own"),
                    }
                };
                stack.last_mut().unwrap().text.push(c);
                for n in &mut stack {
                    n.deep.push(c);
                }
            }
            Event::CData(_) | Event::PI(_) => panic!("no CDATA or processing instructions expected"),
            Event::Comment(_) | Event::Decl(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    assert_eq!(roots, 1, "exactly one root element");
    let mut doc = stack.pop().unwrap();
    doc.children.pop().unwrap()
}

fn element(s: &quick_xml::events::BytesStart<'_>) -> Node {
    let name = s.name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.expect("well-formed attribute");
        let k = a.key.as_ref().to_owned();
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .expect("attribute value with valid references")
            .into_owned();
        assert!(!attrs.iter().any(|(x, _)| x == &k), "duplicate attribute {k}");
        attrs.push((k, v));
    }
    Node {
        name,
        attrs,
        ..Node::default()
    }
}

#[test]
fn no_script_and_nothing_loaded_from_outside() {
    for (f, l, html) in all_outputs() {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{f} {l:?}: script tag");
        assert!(!lower.contains("javascript:"), "{f} {l:?}");
        assert!(!lower.contains("@import") && !lower.contains("@font-face"), "{f} {l:?}");
        for needle in ["src=", "href=", "url(", "xlink:href", "srcset="] {
            for (i, _) in lower.match_indices(needle) {
                let rest = lower[i + needle.len()..].trim_start_matches(['"', '\'', ' ']);
                assert!(
                    !rest.starts_with("http://") && !rest.starts_with("https://") && !rest.starts_with("//"),
                    "{f} {l:?}: external reference at {i}: {}",
                    &lower[i..(i + 60).min(lower.len())]
                );
            }
        }
        // Only in-page links; no element that loads anything.
        let doc = parse(&html);
        for n in doc.all() {
            assert!(
                !matches!(
                    n.name.as_str(),
                    "script" | "link" | "img" | "iframe" | "object" | "embed" | "image" | "use" | "foreignObject"
                ),
                "{f} {l:?}: <{}>",
                n.name
            );
            if let Some(h) = n.attr("href") {
                assert!(h.starts_with('#'), "{f} {l:?}: link to {h}");
            }
            assert!(
                n.attrs.iter().all(|(k, _)| !k.starts_with("on")),
                "{f} {l:?}: event handler"
            );
        }
    }
}

#[test]
fn print_stylesheet_for_a4() {
    let html = render(&fixture(FIXTURES[0]), Lang::En, &Meta::default());
    assert!(html.contains("@page { size: A4; margin: 15mm; }"));
    assert!(html.contains("@media print"));
    assert!(html.contains("break-inside: avoid"));
    assert!(html.contains("system-ui"), "system font stack");
}

#[test]
fn well_formed_with_accessible_charts() {
    for (f, l, html) in all_outputs() {
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\""), "{f} {l:?}");
        let doc = parse(&html);
        assert_eq!(doc.name, "html");
        assert_eq!(doc.attr("lang"), Some(l.code()));
        // ids are unique, and every aria-labelledby points at ids that exist.
        let ids: Vec<&str> = doc.all().iter().filter_map(|n| n.attr("id")).collect();
        assert_eq!(
            ids.len(),
            ids.iter().collect::<BTreeSet<_>>().len(),
            "{f} {l:?}: duplicate id"
        );
        let svgs = doc.find("svg");
        // Per single attribute: rates, calibration, ROC, threshold sweep; plus the flip rates.
        let singles = fixture(&f)
            .report
            .binary()
            .unwrap()
            .attributes
            .iter()
            .filter(|a| a.columns.len() == 1)
            .count();
        assert_eq!(svgs.len(), 4 * singles + 1, "{f} {l:?}");
        for svg in svgs {
            assert_eq!(svg.attr("role"), Some("img"));
            assert!(svg.attr("viewBox").is_some());
            let first: Vec<&str> = svg.children.iter().take(2).map(|c| c.name.as_str()).collect();
            assert_eq!(first, ["title", "desc"], "{f} {l:?}");
            let title = svg.children[0].deep_text();
            assert!(!title.trim().is_empty() && !svg.children[1].deep_text().trim().is_empty());
            for id in svg.attr("aria-labelledby").unwrap().split(' ') {
                assert!(doc.by_id(id).is_some(), "{f} {l:?}: {id}");
            }
            let classes: BTreeSet<&str> = svg.find("text").iter().filter_map(|t| t.attr("class")).collect();
            for c in ["ct", "al", "tk", "lg"] {
                assert!(
                    classes.contains(c),
                    "{f} {l:?}: chart {title:?} lacks text of class {c}"
                );
            }
            // The visible title is the accessible one.
            assert!(svg.find("text").iter().any(|t| t.deep_text() == title));
            // Numbers in coordinates are finite.
            for n in svg.all() {
                for (k, v) in &n.attrs {
                    if matches!(
                        k.as_str(),
                        "x" | "y" | "x1" | "x2" | "y1" | "y2" | "cx" | "cy" | "width" | "height"
                    ) {
                        let x: f64 = v.parse().unwrap_or_else(|_| panic!("{k}={v}"));
                        assert!(x.is_finite());
                    }
                    assert!(!v.contains("NaN") && !v.contains("inf"), "{k}={v}");
                }
            }
        }
    }
}

#[test]
fn languages_render_and_differ() {
    let rec = fixture(FIXTURES[0]);
    let da = render(&rec, Lang::Da, &Meta::default());
    let en = render(&rec, Lang::En, &Meta::default());
    assert_ne!(da, en);
    assert!(da.contains("<html lang=\"da\">") && en.contains("<html lang=\"en\">"));
    assert!(da.contains("Sammenfatning") && da.contains("Oprindelse") && da.contains("Gennemløb"));
    assert!(en.contains("Summary") && en.contains("Provenance") && en.contains("Throughput"));
    // Numbers per language: overall accuracy 0.74005, interval bounds, counts.
    let acc = rec
        .report
        .binary()
        .unwrap()
        .overall
        .value(MetricName::Accuracy)
        .unwrap();
    assert_eq!(format!("{:.1}", acc * 100.0), "74.0");
    assert!(da.contains("74,0\u{a0}%"), "Danish percentage");
    assert!(en.contains("74.0%"), "English percentage");
    assert!(da.contains("20.000") && en.contains("20,000"), "thousands separators");
    let di = rec.verdicts[0].value.unwrap();
    assert!(da.contains(&format!("{di:.3}").replace('.', ",")));
    assert!(en.contains(&format!("{di:.3}")));
}

#[test]
fn every_verdict_appears_with_text_and_colour() {
    for f in FIXTURES {
        let rec = fixture(f);
        let verdicts = &rec.verdicts;
        assert!(!verdicts.is_empty());
        for l in LANGS {
            let doc = parse(&render(&rec, l, &Meta::default()));
            let section = doc.by_id("criteria").unwrap();
            let rows: Vec<&Node> = section
                .find("tr")
                .into_iter()
                .filter(|r| r.attr("class").is_some())
                .collect();
            assert_eq!(rows.len(), verdicts.len(), "{f} {l:?}");
            for (row, v) in rows.iter().zip(verdicts) {
                let verdict = outcome(v);
                let verdict = verdict.as_str();
                let badge = row
                    .find("span")
                    .into_iter()
                    .find(|s| s.attr("class").is_some_and(|c| c.starts_with("verdict ")))
                    .unwrap_or_else(|| panic!("{f} {l:?}: no badge"));
                assert_eq!(badge.attr("class"), Some(format!("verdict v-{verdict}").as_str()));
                let word = match (l, verdict) {
                    (Lang::Da, "pass") => "✓ Bestået",
                    (Lang::Da, "fail") => "✗ Ikke bestået",
                    (Lang::Da, _) => "? Uafklaret",
                    (Lang::En, "pass") => "✓ Pass",
                    (Lang::En, "fail") => "✗ Fail",
                    (Lang::En, _) => "? Inconclusive",
                };
                assert_eq!(badge.deep_text(), word, "{f} {l:?}");
                // The record's own explanation is there in both languages.
                let text = row.deep_text();
                assert!(text.contains(&v.explanation), "{f} {l:?}: {text}");
                let t = v.criterion.threshold;
                let t = if l == Lang::Da {
                    format!("{t}").replace('.', ",")
                } else {
                    format!("{t}")
                };
                assert!(text.contains(&t), "{f} {l:?}: threshold {t} in {text}");
            }
        }
    }
    // The two fixtures cover all three outcomes.
    let outcomes: BTreeSet<String> = FIXTURES
        .iter()
        .flat_map(|f| fixture(f).verdicts.iter().map(outcome).collect::<Vec<_>>())
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
}

#[test]
fn every_group_of_every_single_attribute_is_in_the_tables() {
    for f in FIXTURES {
        let rec = fixture(f);
        for l in LANGS {
            let doc = parse(&render(&rec, l, &Meta::default()));
            let section = doc.by_id("groups").unwrap();
            let row_heads: BTreeSet<String> = section
                .find("tr")
                .iter()
                .filter_map(|r| r.children.first())
                .filter(|c| c.name == "th" && c.attr("scope") == Some("row"))
                .map(|c| c.deep_text())
                .collect();
            for a in &rec.report.binary().unwrap().attributes {
                for g in &a.groups {
                    // Each value by its label in the report's language where it has one.
                    let columns: Vec<&str> = a.attribute.split('&').collect();
                    let name = g
                        .group
                        .split('|')
                        .enumerate()
                        .map(|(i, v)| match synth::value_names(columns[i], v) {
                            Some((da, en)) => (if l == Lang::Da { da } else { en }).to_owned(),
                            None => v.to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join(" | ");
                    assert!(
                        row_heads.contains(&name),
                        "{f} {l:?}: group {} ({name}) missing",
                        g.group
                    );
                }
            }
        }
    }
}

#[test]
fn small_and_empty_groups_are_flagged_in_words() {
    let rec = fixture("rehabilitation-gbm.json");
    let empty: Vec<&str> = rec.report.binary().unwrap().attributes[1]
        .groups
        .iter()
        .filter(|g| g.empty)
        .map(|g| g.group.as_str())
        .collect();
    assert!(!empty.is_empty(), "the fixture has empty age bands");
    for (l, word) in [(Lang::Da, "tom"), (Lang::En, "empty")] {
        let doc = parse(&render(&rec, l, &Meta::default()));
        for row in doc.by_id("groups").unwrap().find("tr") {
            let Some(head) = row.children.first() else { continue };
            if empty.contains(&head.deep_text().as_str()) {
                assert_eq!(row.attr("class"), Some("flagged"));
                assert!(row.deep_text().contains(&format!("⚑ {word}")));
            }
        }
        let summary = doc.by_id("summary").unwrap().deep_text();
        assert!(summary.contains(empty[0]), "{l:?}: summary names the flagged groups");
    }
}

#[test]
fn summary_is_generated_from_the_numbers() {
    let rec = fixture(FIXTURES[0]);
    let doc = parse(&render(&rec, Lang::En, &Meta::default()));
    let s = doc.by_id("summary").unwrap();
    let sentences = s.find("p");
    assert!((3..=6).contains(&sentences.len()), "{}", sentences.len());
    let text = s.deep_text();
    assert!(
        text.contains("74.0%") && text.contains("against the true outcome"),
        "{text}"
    );
    assert!(text.contains("1 pass, 1 fail and 0 are inconclusive"), "{text}");
    // The largest selection-rate gap is by origin (immigrant_non_western against
    // descendant_western), each group named by its label (issue 13: values are labelled).
    assert!(text.contains("by origin: immigrant, non-Western"), "{text}");
    assert!(text.contains("descendant, Western"), "{text}");
    let flip = rec
        .report
        .binary()
        .unwrap()
        .counterfactual
        .as_ref()
        .unwrap()
        .overall
        .flip_rate
        .unwrap();
    assert!(text.contains(&format!("{:.1}%", flip * 100.0)), "{text}");
}

#[test]
fn record_strings_are_escaped() {
    let mut rec = fixture(FIXTURES[0]);
    let evil = "<script>alert(1)</script>";
    rec.provenance.manifest.name = evil.into();
    rec.provenance.manifest.description = "\"><img src=x onerror=alert(1)> & 'quotes'".into();
    rec.provenance.model_file = "</code><iframe src=\"https://evil.example/\">".into();
    rec.report.binary_mut().unwrap().attributes[0].groups[0].group = "<b>F</b> & co".into();
    rec.verdicts[0].explanation = "</td><script>x()</script>".into();
    rec.report
        .binary_mut()
        .unwrap()
        .counterfactual
        .as_mut()
        .unwrap()
        .by_change[0]
        .from = "a<b".into();
    rec.provenance.isolation[0].detail = "<style>body{display:none}</style>".into();
    let meta = Meta {
        run_id: Some("<i>run</i>".into()),
        requested_by: Some("\"quoted\" & <tagged>".into()),
        case_name: Some("'case'".into()),
    };
    for l in LANGS {
        let html = render(&rec, l, &meta);
        assert!(!html.contains("<script"), "{l:?}");
        assert!(
            !html.contains("<img") && !html.contains("<iframe") && !html.contains("<i>run"),
            "{l:?}"
        );
        assert_eq!(html.matches("<style>").count(), 1, "{l:?}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{l:?}");
        assert!(html.contains("&lt;b&gt;F&lt;/b&gt; &amp; co"), "{l:?}");
        // The document still parses, and the text comes back as it was.
        let doc = parse(&html);
        let title = doc.find("title")[0].deep_text();
        assert!(title.ends_with(&format!("{evil} 1.0.0")), "{title}");
        let all = doc.deep_text();
        for s in [
            evil,
            "\"><img src=x onerror=alert(1)> & 'quotes'",
            "<b>F</b> & co",
            "\"quoted\" & <tagged>",
        ] {
            assert!(all.contains(s), "{l:?}: {s}");
        }
        // Chart titles and descriptions carry group names too.
        assert!(doc.find("desc").iter().any(|d| d.deep_text().contains("<b>F</b> & co")));
    }
}

#[test]
fn bidi_controls_and_control_characters_are_shown_not_obeyed() {
    let mut rec = fixture(FIXTURES[0]);
    rec.provenance.manifest.name = "gbm\u{202e}gpj.exe".into();
    rec.report.binary_mut().unwrap().attributes[0].groups[0].group = "F\u{202e}\u{2066}x\u{1b}[2K".into();
    rec.worker_events = vec![PoolEvent {
        worker: 0,
        cause: Cause::Crash,
        detail: "long\u{202e}".repeat(1000),
        respawned: true,
    }];
    let meta = Meta {
        run_id: None,
        requested_by: Some("\u{2067}Anna".into()),
        case_name: Some("Sag \u{202e}1".into()),
    };
    for l in LANGS {
        let html = render(&rec, l, &meta);
        for c in ['\u{202e}', '\u{2066}', '\u{2067}', '\u{1b}'] {
            assert!(!html.contains(c), "{l:?}: a raw U+{:04X}", c as u32);
        }
        // Each name is shown, its controls visible, isolated where it stands in text.
        for shown in [
            "<bdi>gbm\\u{202e}gpj.exe 1.0.0</bdi>",
            "<bdi>Sag \\u{202e}1</bdi>",
            "<bdi>\\u{2067}Anna</bdi>",
            "<bdi>F\\u{202e}\\u{2066}x\\x1b[2K</bdi>",
        ] {
            assert!(html.contains(shown), "{l:?}: {shown}");
        }
        // The summary's sentence isolates the model's name too.
        assert!(html.contains("<bdi>gbm\\u{202e}gpj.exe 1.0.0</bdi> "), "{l:?}");
        // A worker's long error is cut for the table, with more of it in the title.
        assert!(html.contains("(1001 more characters)"), "{l:?}");
        assert!(
            html.matches("long\\u{202e}").count() < 1000,
            "{l:?}: the whole error is shown"
        );
        // Still well-formed.
        parse(&html);
    }
}

#[test]
fn deterministic() {
    for f in FIXTURES {
        let rec = fixture(f);
        let meta = Meta {
            run_id: Some("r1".into()),
            ..Meta::default()
        };
        for l in LANGS {
            let a = render(&rec, l, &meta);
            let b = render(&rec, l, &meta);
            assert_eq!(a, b);
            // A fresh parse of the same bytes gives the same output.
            let again = RunRecord::from_json(serde_json::to_string(&rec).unwrap().as_bytes()).unwrap();
            assert_eq!(a, render(&again, l, &meta));
        }
    }
}

#[test]
fn meta_is_shown_only_when_given() {
    let rec = fixture(FIXTURES[0]);
    let meta = Meta {
        run_id: Some("run-2026-0042".into()),
        requested_by: Some("Jens Jensen, Datatilsynet".into()),
        case_name: Some("Sag 26/01234".into()),
    };
    for l in LANGS {
        let with = parse(&render(&rec, l, &meta));
        let prov = with.by_id("provenance").unwrap().deep_text();
        for s in ["run-2026-0042", "Jens Jensen, Datatilsynet", "Sag 26/01234"] {
            assert!(prov.contains(s), "{l:?}: {s}");
        }
        let without = render(&rec, l, &Meta::default());
        assert!(!without.contains(l.code_label_run_id()));
    }
}

trait RunIdLabel {
    fn code_label_run_id(self) -> &'static str;
}

impl RunIdLabel for Lang {
    fn code_label_run_id(self) -> &'static str {
        match self {
            Lang::Da => "Kørsels-id",
            Lang::En => "Run id",
        }
    }
}

#[test]
fn provenance_lists_hashes_versions_and_isolation() {
    let rec = fixture(FIXTURES[0]);
    let doc = parse(&render(&rec, Lang::En, &Meta::default()));
    let prov = doc.by_id("provenance").unwrap().deep_text();
    let p = &rec.provenance;
    for (k, v) in [
        ("model_sha256", &p.model_sha256),
        ("manifest_sha256", &p.manifest_sha256),
        ("dataset_sha256", &p.dataset_sha256),
        ("onnxruntime_version", &p.onnxruntime_version),
        ("started", &p.started),
        ("model_file", &p.model_file),
    ] {
        assert!(prov.contains(v.as_str()), "{k}");
    }
    for layer in &p.isolation {
        assert!(prov.contains(&layer.layer));
    }
    assert!(
        prov.contains("label_group") && prov.contains("origin:non_western"),
        "bias knobs"
    );
    assert!(prov.contains("counterfactual twin Origin"));
    // Provenance comes before criteria, criteria before accuracy, and so on.
    let html = render(&rec, Lang::En, &Meta::default());
    let order: Vec<usize> = [
        "id=\"summary\"",
        "id=\"provenance\"",
        "id=\"criteria\"",
        "id=\"accuracy\"",
        "id=\"groups\"",
        "id=\"charts\"",
        "id=\"throughput\"",
    ]
    .iter()
    .map(|s| html.find(s).unwrap_or_else(|| panic!("{s}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn throughput_is_reported() {
    let rec = fixture(FIXTURES[0]);
    let doc = parse(&render(&rec, Lang::Da, &Meta::default()));
    let t = doc.by_id("throughput").unwrap().deep_text();
    let p99 = rec.throughput.batch_latency_ms_p99;
    assert!(t.contains(&format!("{p99:.1} ms").replace('.', ",")), "{t}");
    assert!(t.contains("MiB") && t.contains("Rækker pr. sekund"));
}

/// Removes every part of the record that a run may lack. (The dataset's bias knobs are not
/// among them: every dataset has them, and the typed record requires them.)
fn strip_optional(rec: &mut RunRecord) {
    let report = rec.report.binary_mut().unwrap();
    report.counterfactual = None;
    let strip_group = |g: &mut GroupReport| {
        g.calibration.clear();
        g.threshold_sweep.clear();
        g.roc_curve.clear();
        g.metrics_vs_label_true = None;
        for k in [
            MetricName::RocAuc,
            MetricName::AveragePrecision,
            MetricName::Brier,
            MetricName::LogLoss,
            MetricName::ExpectedCalibrationError,
        ] {
            g.metrics.remove(&k);
        }
    };
    strip_group(&mut report.overall);
    for a in &mut report.attributes {
        a.threshold_sweep.clear();
        a.disparities_vs_label_true.clear();
        for g in &mut a.groups {
            strip_group(g);
        }
    }
    rec.verdicts.clear();
    rec.provenance.dataset.counterfactual = None;
}

#[test]
fn record_without_optional_parts_still_renders() {
    let mut rec = fixture(FIXTURES[0]);
    strip_optional(&mut rec);
    for l in LANGS {
        let html = render(&rec, l, &Meta::default());
        let doc = parse(&html);
        let singles = 2;
        assert_eq!(doc.find("svg").len(), singles, "{l:?}: only the rate charts are left");
        assert_eq!(doc.by_id("criteria").unwrap().find("table").len(), 0);
        let crit = doc.by_id("criteria").unwrap().deep_text();
        assert!(crit.contains(l.code_no_criteria()), "{l:?}: {crit}");
        assert!(doc.by_id("counterfactual").is_none());
        let summary = doc.by_id("summary").unwrap();
        assert!(summary.find("p").len() >= 3);
        assert!(!summary.deep_text().contains("true outcome"));
    }
}

trait NoCriteria {
    fn code_no_criteria(self) -> &'static str;
}

impl NoCriteria for Lang {
    fn code_no_criteria(self) -> &'static str {
        match self {
            Lang::Da => "ingen kriterier",
            Lang::En => "No criteria",
        }
    }
}

#[test]
fn lang_parse() {
    assert_eq!(Lang::parse("da"), Some(Lang::Da));
    assert_eq!(Lang::parse("en"), Some(Lang::En));
    assert_eq!(Lang::parse(" DA "), Some(Lang::Da));
    assert_eq!(Lang::parse("de"), None);
    assert_eq!(Lang::parse(""), None);
    assert_eq!("en".parse::<Lang>(), Ok(Lang::En));
    assert!("fr".parse::<Lang>().is_err());
}

#[test]
fn fixtures_are_small() {
    for f in FIXTURES {
        let len = std::fs::metadata(format!("{}/tests/fixtures/{f}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .len();
        assert!(len < 1 << 20, "{f}: {len} bytes");
    }
}

/// The run reports the service stored before the typed record (schema version 1, in
/// `tests/fixtures/records`) still load and render, every verdict in its row.
#[test]
fn stored_reports_of_schema_version_1_render() {
    let dir = format!("{}/../../tests/fixtures/records", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().extension().is_none_or(|x| x != "json") {
            continue;
        }
        let stored: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        let record = RunRecord::from_value(stored["record"].clone()).unwrap();
        for l in LANGS {
            let doc = parse(&render(&record, l, &Meta::default()));
            let rows = doc
                .by_id("criteria")
                .unwrap()
                .find("tr")
                .into_iter()
                .filter(|r| r.attr("class").is_some())
                .count();
            assert_eq!(rows, record.verdicts.len(), "{:?} {l:?}", e.path());
            assert!(doc.by_id("throughput").is_some());
        }
        seen += 1;
    }
    assert!(seen >= 2, "{seen} stored reports");
}

/// The Danish report names groups in Danish, the English one in English; the values as the
/// data has them stay in the record (and in the tables' keys), not in the text people read.
#[test]
fn group_values_are_shown_by_their_labels_in_the_reports_language() {
    let rec = fixture(FIXTURES[0]);
    let da = parse(&render(&rec, Lang::Da, &Meta::default()))
        .by_id("groups")
        .unwrap()
        .deep_text();
    let en = parse(&render(&rec, Lang::En, &Meta::default()))
        .by_id("groups")
        .unwrap()
        .deep_text();
    for (text, words) in [
        (&da, ["kvinde", "mand", "dansk oprindelse", "indvandrer, ikke-vestlig"]),
        (&en, ["female", "male", "Danish origin", "immigrant, non-Western"]),
    ] {
        for w in words {
            assert!(text.contains(w), "{w} in {text}");
        }
        assert!(!text.contains("immigrant_non_western"), "a raw value in {text}");
    }
    assert!(
        rec.report
            .binary()
            .unwrap()
            .attributes
            .iter()
            .any(|a| a.groups.iter().any(|g| g.group == "immigrant_non_western"))
    );
}

/// An effect over repeats, as the explanation stage records it.
fn effect(mean: f64, half: f64) -> explain::Effect {
    explain::Effect {
        mean,
        sd: half / 2.0,
        interval: Some([mean - half, mean + half]),
    }
}

/// The explanations of a run: its section, chart and table in both languages, with the
/// vendor's column names escaped, numbers as the record has them, and nothing when absent.
#[test]
fn explanations_are_shown_with_their_intervals_and_escaped_names() {
    let mut rec = fixture(FIXTURES[0]);
    let before = rec.clone();
    let drops = |changed: f64| explain::Drops {
        rows: 3000,
        decisions_changed: effect(changed, 0.002),
        recorded: explain::MetricDrops {
            roc_auc: Some(effect(0.0421, 0.003)),
            accuracy: Some(effect(0.0123, 0.001)),
            log_loss: None,
        },
        truth: None,
    };
    let group = |attribute: &str, value: &str, drops| explain::GroupImportance {
        attribute: attribute.into(),
        value: value.into(),
        drops,
    };
    let evil = "<script>x()</script>";
    rec.explanations = Some(evaluate::Explanations {
        rows: evaluate::ExplainedRows {
            taken: "first".into(),
            count: 3000,
        },
        seconds: 0.5,
        importance: explain::Importance {
            config: explain::ImportanceConfig {
                repeats: 5,
                seed: 7,
                confidence: 0.95,
            },
            rows: 3000,
            columns: vec![
                explain::ColumnImportance {
                    column: "months_employed_3y".into(),
                    overall: drops(0.25),
                    groups: vec![
                        group("origin", "danish", drops(0.1875)),
                        group("origin", "non_western", drops(0.4125)),
                        group("sex", "<em>x</em>", drops(0.3333)),
                    ],
                },
                explain::ColumnImportance {
                    column: evil.into(),
                    overall: drops(0.0),
                    groups: Vec::new(),
                },
            ],
        },
        flip_contributions: Some(explain::FlipContributions {
            pairs: 3000,
            flipped: 42,
            columns: vec![explain::FlipContribution {
                column: "<i>municipality</i>".into(),
                pairs_differing: 40,
                mean_score_change: -0.1234,
                mean_abs_score_change: 0.2,
                reverses: 17,
            }],
            examples: Vec::new(),
        }),
        partial_dependence: vec![
            explain::PartialDependence {
                column: "months_employed_3y".into(),
                grid_kind: explain::GridKind::Percentiles,
                grid: vec![explain::GridValue::Number(3.0), explain::GridValue::Number(30.0)],
                mean_score: vec![0.61, 0.2345],
                decision_rate: vec![0.7, 0.1],
                groups: vec![explain::GroupCurve {
                    attribute: "origin".into(),
                    value: "danish".into(),
                    rows: 2500,
                    mean_score: vec![0.6, 0.2],
                }],
                ice: Vec::new(),
            },
            explain::PartialDependence {
                column: "municipality".into(),
                grid_kind: explain::GridKind::Categories,
                grid: vec![explain::GridValue::Category("<b>Aarhus</b>".into())],
                mean_score: vec![0.5],
                decision_rate: vec![0.5],
                groups: Vec::new(),
                ice: Vec::new(),
            },
        ],
    });
    rec.slices = Some(explain::Slices {
        config: explain::SliceConfig::default(),
        rows: 60000,
        columns: vec!["municipality".into(), "age".into()],
        tested: 900,
        significant: 3,
        top: vec![explain::Slice {
            conditions: vec![
                explain::Condition {
                    column: "municipality".into(),
                    value: "<u>Lolland</u>".into(),
                },
                explain::Condition {
                    column: "age".into(),
                    value: "≥ 60".into(),
                },
            ],
            rows: 412,
            measure: explain::SliceMeasure::ErrorTrue,
            rate: 0.31,
            rate_rest: 0.12,
            difference: 0.19,
            interval: [0.145, 0.235],
            p_value: 1e-12,
            learned_bias: true,
        }],
    });
    for l in LANGS {
        let html = render(&rec, l, &Meta::default());
        assert!(!html.contains("<script"), "{l:?}");
        let doc = parse(&html);
        let section = doc
            .all()
            .into_iter()
            .find(|n| n.attr("id") == Some("explanations"))
            .expect("an explanations section");
        let text = section.deep_text();
        let (title, seed) = match l {
            Lang::Da => ("Hvorfor modellen beslutter, som den gør", "seed 7"),
            Lang::En => ("Why the model decides as it does", "seed 7"),
        };
        assert!(text.contains(title) && text.contains(seed), "{l:?}: {text}");
        assert!(text.contains(evil), "{l:?}: the name comes back as it was");
        let auc = match l {
            Lang::Da => "0,0421 [0,0391; 0,0451]",
            Lang::En => "0.0421 [0.0391, 0.0451]",
        };
        assert!(text.contains(auc), "{l:?}: {text}");
        // The importance chart, one per group attribute (origin, sex), and one line chart for
        // the numeric column's partial dependence.
        assert_eq!(section.find("svg").len(), 4, "{l:?}");
        let (danish, non_western) = match l {
            Lang::Da => ("18,75\u{a0}%", "41,25\u{a0}%"),
            Lang::En => ("18.75%", "41.25%"),
        };
        assert!(text.contains(danish) && text.contains(non_western), "{l:?}: {text}");
        assert!(text.contains("<em>x</em>") && !html.contains("<em>x"), "{l:?}");
        // Importance: a header and a row per column; flips: a header and a row; dependence: a
        // header and a row per value.
        // Slices: a header and a row.
        assert_eq!(section.find("tr").len(), 3 + 2 + 2 + 3 + 2, "{l:?}");
        assert!(text.contains("<u>Lolland</u>") && !html.contains("<u>Lolland"), "{l:?}");
        let (diff, yes) = match l {
            Lang::Da => ("0,190 [0,145; 0,235]", "Lært skævhed"),
            Lang::En => ("0.190 [0.145, 0.235]", "Learned bias"),
        };
        assert!(text.contains(diff) && text.contains(yes), "{l:?}: {text}");
        assert!(
            text.contains("<i>municipality</i>") && !html.contains("<i>municipality"),
            "{l:?}"
        );
        let change = match l {
            Lang::Da => "-0,1234",
            Lang::En => "-0.1234",
        };
        assert!(text.contains(change), "{l:?}: {text}");
        assert!(text.contains("<b>Aarhus</b>") && !html.contains("<b>Aarhus"), "{l:?}");
        let mean = match l {
            Lang::Da => "0,2345",
            Lang::En => "0.2345",
        };
        assert!(text.contains(mean), "{l:?}");
        // Without explanations the section is absent.
        assert!(!render(&before, l, &Meta::default()).contains("id=\"explanations\""));
    }
}

/// An estimate with a symmetric interval.
fn estimate(value: f64, half: f64) -> explain::Estimate {
    explain::Estimate {
        value,
        interval: Some([value - half, value + half]),
    }
}

/// A path's effect on one change of value (`from` and `to` empty: all pairs).
fn path_effect(from: &str, to: &str, flip: f64) -> explain::PathEffect {
    explain::PathEffect {
        from: from.into(),
        to: to.into(),
        pairs: 3000,
        flip_rate: estimate(flip, 0.002),
        flips_to_positive: estimate(flip * 0.75, 0.001),
        flips_to_negative: estimate(flip * 0.25, 0.001),
        mean_score_change: Some(estimate(-0.0321, 0.004)),
        mean_abs_score_change: Some(estimate(0.0456, 0.003)),
    }
}

/// The path-specific twins of a run: their section, table and chart in both languages, with the
/// record's path, value and column names escaped, and nothing when the record has no paths.
#[test]
fn paths_are_shown_with_their_intervals_and_escaped_names() {
    let mut rec = fixture(FIXTURES[0]);
    let before = rec.clone();
    let evil = "<script>alert(1)</script>";
    let report = |path: &str, flip: f64| explain::PathReport {
        path: path.into(),
        recomputed: vec!["municipality".into()],
        overall: path_effect("", "", flip),
        by_change: vec![path_effect("danish", evil, flip), path_effect(evil, "danish", flip)],
    };
    rec.paths = Some(evaluate::Paths {
        spec: rec.provenance.dataset.clone(),
        proxies: vec!["municipality".into(), "<i>proxy</i>".into()],
        seconds: 1.5,
        effects: explain::PathEffects {
            attribute: "origin".into(),
            citizens: 3000,
            confidence: 0.95,
            paths: vec![report("total", 0.0123), report("proxy", 0.0045), report(evil, 0.5)],
            decomposition: vec![explain::GapDecomposition {
                from: "danish".into(),
                to: evil.into(),
                citizens: [2500, 500],
                gap: estimate(0.0812, 0.01),
                proxy: estimate(0.0234, 0.005),
                mediated: estimate(-0.0111, 0.004),
                remainder: estimate(0.0689, 0.012),
                total: Some(estimate(0.0150, 0.006)),
                interaction: Some(estimate(0.0027, 0.002)),
            }],
            resamples: 1000,
            seed: 11,
        },
    });
    for l in LANGS {
        let html = render(&rec, l, &Meta::default());
        assert!(!html.contains("<script"), "{l:?}");
        assert!(!html.contains("<i>proxy"), "{l:?}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{l:?}");
        let doc = parse(&html);
        let section = doc.by_id("paths").expect("a paths section");
        let text = section.deep_text();
        let (title, sub) = match l {
            Lang::Da => (
                "Hvorfor grupperne behandles forskelligt: kausale stier",
                "Forskellen i udvælgelse, delt efter sti",
            ),
            Lang::En => (
                "Why groups are treated differently: causal paths",
                "The selection gap, split by path",
            ),
        };
        assert!(section.find("h2")[0].deep_text() == title, "{l:?}: {text}");
        assert!(text.contains(sub) && text.contains("seed 11"), "{l:?}: {text}");
        // The names come back as they were.
        assert!(text.contains(evil) && text.contains("<i>proxy</i>"), "{l:?}: {text}");
        let (flip, change, gap) = match l {
            Lang::Da => (
                "1,23\u{a0}% (1,03–1,43\u{a0}%)",
                "-0,0321 [-0,0361; -0,0281]",
                "0,0812 [0,0712; 0,0912]",
            ),
            Lang::En => (
                "1.23% (1.03–1.43%)",
                "-0.0321 [-0.0361, -0.0281]",
                "0.0812 [0.0712, 0.0912]",
            ),
        };
        assert!(text.contains(flip), "{l:?}: {text}");
        assert!(text.contains(change), "{l:?}: {text}");
        assert!(text.contains(gap), "{l:?}: {text}");
        // One chart, the decomposition's, naming the hostile value in its description.
        let svgs = section.find("svg");
        assert_eq!(svgs.len(), 1, "{l:?}");
        assert!(svgs[0].find("desc")[0].deep_text().contains(evil), "{l:?}");
        // Paths: a header and three rows per path; decomposition: a header and a row.
        assert_eq!(section.find("tr").len(), 1 + 3 * 3 + 1 + 1, "{l:?}");
        // After the explanations' place, before the throughput.
        let (p, t) = (html.find("id=\"paths\"").unwrap(), html.find("id=\"throughput\""));
        assert!(t.is_none_or(|t| p < t), "{l:?}");
        // Without paths the section is absent.
        assert!(!render(&before, l, &Meta::default()).contains("id=\"paths\""), "{l:?}");
    }
}

/// The stability verdict: its own section (linked from the contents), the verdict marked as a
/// failure, each check's row, the unstable rows with their person_id, and a summary sentence;
/// a stable model gets the pass mark and no list; an old record has no section.
#[test]
fn the_stability_verdict_is_shown_with_its_checks_and_unstable_rows() {
    let mut rec = fixture(FIXTURES[0]);
    let before = rec.clone();
    let check = |check, rows, batch_rows, differing: usize| evaluate::CheckResult {
        check,
        rows,
        batch_rows,
        max_difference: if differing > 0 { 0.4123 } else { 0.0 },
        rows_differing: differing,
        decisions_changed: differing / 2,
        examples: (0..differing.min(2) as u64)
            .map(|row| evaluate::UnstableRow {
                row,
                person_id: Some(9000 + row),
                twin: row == 1,
                probability: 0.912345,
                again: 0.5,
            })
            .collect(),
        error: None,
    };
    rec.robustness = Some(evaluate::Robustness {
        stability: evaluate::Stability {
            stable: false,
            tolerance: 1e-6,
            seed: 77,
            checks: vec![
                check(evaluate::StabilityCheck::Repeated, 3000, 3000, 0),
                check(evaluate::StabilityCheck::Permuted, 3000, 3000, 0),
                check(evaluate::StabilityCheck::SingleRows, 64, 1, 61),
            ],
            seconds: 0.2,
        },
        perturbation: None,
        recourse: None,
        shift: None,
    });
    for l in LANGS {
        let html = render(&rec, l, &Meta::default());
        let doc = parse(&html);
        let section = doc
            .all()
            .into_iter()
            .find(|n| n.attr("id") == Some("robustness"))
            .expect("a robustness section");
        let text = section.deep_text();
        let (verdict, single, row) = match l {
            Lang::Da => (
                "Ustabil.",
                "Én række ad gangen",
                "række 1 (person_id 9001), tvilling: 0,912345 i kørslen, 0,500000 igen",
            ),
            Lang::En => (
                "Unstable.",
                "One row at a time",
                "row 1 (person_id 9001), twin: 0.912345 in the run, 0.500000 again",
            ),
        };
        assert!(
            text.contains(verdict) && text.contains(single) && text.contains(row),
            "{l:?}: {text}"
        );
        assert!(html.contains("class=\"verdict v-fail\""), "{l:?}");
        // A header and one row per check; two example rows.
        assert_eq!(section.find("tr").len(), 4, "{l:?}");
        assert_eq!(section.find("li").len(), 2, "{l:?}");
        assert!(html.contains("href=\"#robustness\""), "{l:?}");
        let summary = match l {
            Lang::Da => "Modellen er ustabil",
            Lang::En => "The model is unstable",
        };
        assert!(html.contains(summary), "{l:?}");
        assert!(!render(&before, l, &Meta::default()).contains("id=\"robustness\""));
    }
    let mut stable = rec.clone();
    if let Some(r) = stable.robustness.as_mut() {
        r.stability.stable = true;
        r.stability.checks.truncate(2);
    }
    let html = render(&stable, Lang::En, &Meta::default());
    assert!(html.contains("class=\"verdict v-pass\"") && html.contains("The model was stable on the 3,000 rows"));
    assert!(!html.contains("Rows where the model was unstable"));
}

/// The perturbation shows inside the robustness section: a bar chart of the share of decisions
/// that flip per input with its interval, the noise of each input, the inputs recorded exactly,
/// and all at once per group; then recourse per input and group, the gap between groups and what
/// the first citizens could be told. Group values and texts from the record are escaped.
#[test]
fn perturbation_and_recourse_show_each_input_and_each_group_escaped() {
    let mut rec = fixture(FIXTURES[0]);
    let est = |v: f64| explain::Estimate {
        value: v,
        interval: Some([v * 0.8, v * 1.2]),
    };
    let sens = |rows: u64, flips: f64| explain::Sensitivity {
        rows,
        changed: rows,
        flip_rate: est(flips),
        flips_to_positive: est(flips / 2.0),
        flips_to_negative: est(flips / 2.0),
        mean_abs_score_change: Some(est(0.0123)),
    };
    let column = |c: &str, flips: f64| explain::PerturbedColumn {
        column: c.into(),
        overall: sens(4000, flips),
        groups: vec![explain::GroupSensitivity {
            attribute: "origin".into(),
            value: "<em>x</em>".into(),
            sensitivity: sens(100, 0.25),
        }],
    };
    let noise = explain::ColumnNoise {
        column: "months_employed_3y".into(),
        noise: explain::Noise::Normal {
            sd: 1.0,
            min: 0.0,
            max: 36.0,
        },
        why: "a month <b>either</b> side".into(),
    };
    let stability = evaluate::Stability {
        stable: true,
        tolerance: 1e-6,
        seed: 1,
        checks: Vec::new(),
        seconds: 0.1,
    };
    rec.robustness = Some(evaluate::Robustness {
        stability,
        perturbation: Some(evaluate::Perturbation {
            config: explain::PerturbConfig {
                seed: 5,
                scale: 1.0,
                confidence: 0.95,
            },
            rows: 4000,
            noise: vec![noise],
            exact: vec!["age".into()],
            columns: vec![column("months_employed_3y", 0.0185)],
            all: Some(column("all", 0.0865)),
            seconds: 0.3,
        }),
        recourse: Some(recourse()),
        shift: None,
    });
    for l in LANGS {
        let html = render(&rec, l, &Meta::default());
        let doc = parse(&html);
        let section = doc
            .all()
            .into_iter()
            .find(|n| n.attr("id") == Some("robustness"))
            .expect("a robustness section");
        let text = section.deep_text();
        let (heading, all, flipped) = match l {
            Lang::Da => ("Målefejl i input", "alle på én gang", "8,65"),
            Lang::En => ("Measurement error in the inputs", "all at once", "8.65"),
        };
        assert!(
            text.contains(heading) && text.contains(all) && text.contains(flipped),
            "{l:?}: {text}"
        );
        assert_eq!(section.find("svg").len(), 1, "{l:?}");
        // The stability checks; one row per input and one for all at once; one per group; and
        // recourse per input and per group.
        assert_eq!(section.find("table").len(), 5, "{l:?}");
        assert!(text.contains("<em>x</em>") && !html.contains("<em>x</em>"), "{l:?}");
        assert!(!html.contains("<b>either</b>"), "{l:?}");
        assert!(text.contains("age"), "{l:?}");
        let (heading, told) = match l {
            Lang::Da => (
                "Hvad der kunne ændre afgørelsen",
                "Række 7: months_employed_3y +5; eller ingen ændring af",
            ),
            Lang::En => (
                "What would change the decision",
                "Row 7: months_employed_3y +5; or no change of",
            ),
        };
        assert!(text.contains(heading) && text.contains(told), "{l:?}: {text}");
        assert!(
            !html.contains("<i>stricter</i>") && text.contains("<i>stricter</i>"),
            "{l:?}"
        );
        // The two groups' gap is named with its interval.
        assert!(text.contains("12") && text.contains("<em>x</em>"), "{l:?}");
    }
}

fn recourse() -> evaluate::Recourse {
    let est = |v: f64| explain::Estimate {
        value: v,
        interval: Some([v - 0.05, v + 0.05]),
    };
    let summary = |citizens: u64, any: f64| explain::RecourseSummary {
        citizens,
        any: est(any),
        actions: vec![
            explain::ActionSummary {
                column: "months_employed_3y".into(),
                share: est(any),
                median_change: Some(5.0),
            },
            explain::ActionSummary {
                column: "jobcentre_contacts_3m".into(),
                share: est(0.0),
                median_change: None,
            },
        ],
    };
    let action = |c: &str| explain::Action {
        column: c.into(),
        direction: explain::Direction::Up,
        min: 0.0,
        max: 36.0,
        unit: None,
        why: "more work".into(),
    };
    evaluate::Recourse {
        rows: 1500,
        why: "<i>stricter</i> track".into(),
        result: explain::RecourseResult {
            config: explain::RecourseConfig::default(),
            actions: vec![action("months_employed_3y"), action("jobcentre_contacts_3m")],
            overall: summary(279, 0.867),
            groups: vec![
                explain::GroupRecourse {
                    attribute: "origin".into(),
                    value: "danish".into(),
                    summary: summary(198, 0.843),
                },
                explain::GroupRecourse {
                    attribute: "origin".into(),
                    value: "<em>x</em>".into(),
                    summary: summary(62, 0.963),
                },
            ],
            gaps: vec![explain::RecourseGap {
                attribute: "origin".into(),
                highest: "<em>x</em>".into(),
                lowest: "danish".into(),
                gap: est(0.12),
                pairs: 1,
                excluded: vec!["<b>few</b>: 3 citizens, fewer than 20".into()],
            }],
            citizens: vec![explain::CitizenRecourse {
                row: 7,
                changes: vec![Some(5.0), None],
            }],
            check: explain::RecourseCheck {
                changed_rows: 242,
                changed_disagreeing: 0,
                own_rows: 1500,
                own_disagreeing: 0,
            },
        },
        every_citizen_listed: true,
        seconds: 0.4,
    }
}

/// Two criteria on the same metric and attribute that bound different causal paths are told
/// apart wherever a verdict is named: the HTML report and the Markdown of the run.
#[test]
fn a_criterion_on_a_causal_path_is_named_with_its_path() {
    let mut rec = fixture(FIXTURES[0]);
    let verdict = |path: &str| {
        let criterion: fairness::Criterion = serde_json::from_value(serde_json::json!({
            "attribute": "origin", "metric": "flip_rate", "op": "<=", "threshold": 0.01, "path": path
        }))
        .unwrap();
        fairness::Verdict {
            criterion,
            verdict: fairness::Outcome::Pass,
            value: Some(0.0),
            interval: None,
            group: None,
            explanation: String::new(),
            excluded: Vec::new(),
        }
    };
    rec.verdicts = vec![verdict("proxy"), verdict("total")];
    for (l, word) in [(Lang::Da, "sti"), (Lang::En, "path")] {
        let html = render(&rec, l, &Meta::default());
        assert!(html.contains(&format!("{word} proxy)")), "{l:?}");
        assert!(html.contains(&format!("{word} total)")), "{l:?}");
    }
    let md = fairness::render_markdown(rec.report.binary().unwrap(), &rec.verdicts);
    assert!(
        md.contains("flip\\_rate on origin along path proxy") && md.contains("flip\\_rate on origin along path total"),
        "{md}"
    );
}

/// The shift grid renders a table per axis with its paired changes, marks the run's own setting,
/// and escapes a point's region name (a stored record is read as data, not trusted as markup).
#[test]
fn the_shift_grid_renders_per_axis_with_paired_changes_and_escapes_names() {
    let mut rec = fixture("unemployment-gbm.json");
    let est = |v: f64| explain::Estimate {
        value: v,
        interval: Some([v - 0.003, v + 0.003]),
    };
    let spec = rec.provenance.dataset.clone();
    let di = |v: f64| evaluate::PointMeasure {
        metric: fairness::CriterionMetric::DisparateImpact,
        attribute: "origin".into(),
        against: fairness::Against::Reference,
        value: Some(v),
        interval: Some([v - 0.1, v + 0.1]),
        group: Some("descendant_western".into()),
    };
    let point = |axis: fairness::ShiftAxis, value: fairness::GridValue, baseline: bool| evaluate::ShiftPoint {
        axis,
        value,
        baseline,
        spec: spec.clone(),
        rows: 20000,
        accuracy: Some(est(0.7409)),
        accuracy_true: Some(est(0.7481)),
        selection_rate: Some(est(0.1946)),
        disparate_impact: vec![di(0.5154)],
        criteria: Vec::new(),
        change: None,
    };
    let mut moved = point(
        fairness::ShiftAxis::ProxyStrength,
        fairness::GridValue::Number(2.0),
        false,
    );
    moved.change = Some(evaluate::PointChange {
        from: fairness::GridValue::Number(0.0),
        decisions_changed: 205,
        accuracy: est(0.0001),
        accuracy_true: est(0.0001),
        selection_rate: est(-0.0001),
        disparate_impact: vec![evaluate::GroupChange {
            attribute: "origin".into(),
            group: "immigrant_non_western".into(),
            reference: "danish".into(),
            from: 1.6516,
            to: 1.6601,
            change: est(0.0085),
        }],
    });
    let stability = evaluate::Stability {
        stable: true,
        tolerance: 1e-6,
        seed: 1,
        checks: Vec::new(),
        seconds: 0.1,
    };
    rec.robustness = Some(evaluate::Robustness {
        stability,
        perturbation: None,
        recourse: None,
        shift: Some(evaluate::Shift {
            rows: 20000,
            bootstrap: 500,
            points: vec![
                point(
                    fairness::ShiftAxis::ProxyStrength,
                    fairness::GridValue::Number(0.0),
                    true,
                ),
                moved,
                point(
                    fairness::ShiftAxis::Region,
                    fairness::GridValue::Name("all".into()),
                    true,
                ),
                point(
                    fairness::ShiftAxis::Region,
                    fairness::GridValue::Name("<script>x</script>".into()),
                    false,
                ),
            ],
            seconds: 1.0,
        }),
    });
    for l in LANGS {
        let html = render(&rec, l, &Meta::default());
        let doc = parse(&html);
        let section = doc
            .all()
            .into_iter()
            .find(|n| n.attr("id") == Some("robustness"))
            .expect("a robustness section");
        let text = section.deep_text();
        let (heading, all, change, group) = match l {
            Lang::Da => (
                "Skift i befolkningen",
                "alle regioner *",
                "+0,0085",
                "indvandrer, ikke-vestlig",
            ),
            Lang::En => ("Population shift", "all regions *", "+0.0085", "immigrant, non-western"),
        };
        for want in [heading, all, change, "<script>x</script>"] {
            assert!(text.contains(want), "{l:?}: {want} in {text}");
        }
        assert!(text.to_lowercase().contains(group), "{l:?}: {group} in {text}");
        assert!(!html.contains("<script>"), "{l:?}");
        // The stability checks; proxy strength, its paired changes and per-group changes; regions.
        assert_eq!(section.find("table").len(), 5, "{l:?}");
    }
}
