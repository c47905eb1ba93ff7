//! Export and import lose nothing: CSV and JSON written, read and written again are the same
//! bytes, and a file written by hand reads to text that is then written without loss.

mod common;

use checklist::{
    CSV_HEADER, Checklist, EvidenceLink, Item, MAX_ANSWER_CHARS, MAX_CSV_LINES, MAX_INPUT_BYTES, MAX_LINKS, Status,
    catalogue, from_csv, from_json, to_csv, to_json,
};
use common::{Rng, TRICKY, id, tricky};

#[test]
fn csv_export_import_export_is_byte_identical() {
    let checklist = tricky();
    let csv = to_csv(&checklist);
    let back = from_csv(&csv).unwrap();
    assert_eq!(back, checklist);
    assert_eq!(to_csv(&back), csv);
}

#[test]
fn csv_is_crlf_utf8_without_bom_and_guards_formulas() {
    let csv = to_csv(&tricky());
    assert!(csv.starts_with(&format!("{CSV_HEADER}\r\n")));
    assert!(!csv.starts_with('\u{feff}'));
    assert!(csv.ends_with("\r\n"));
    // Every record ends in CRLF; a bare LF occurs only inside a quoted answer.
    assert_eq!(csv.matches("\r\n").count(), 1 + catalogue().len());
    // No cell starts as a formula: after a separator or a record start, possibly inside quotes.
    for cell_start in csv.split([',', '\n']).map(|c| c.trim_start_matches('"')) {
        assert!(
            !cell_start.starts_with(['=', '+', '-', '@', '\t']),
            "unguarded cell {cell_start:?}"
        );
    }
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http"));
    assert!(csv.contains(",''=1+1,"));
    assert!(csv.contains(",'''+cmd|"));
    assert!(csv.contains(",'-5 point"));
    assert!(
        csv.contains(",'bare et citationstegn,"),
        "a quote not before a formula is left alone"
    );
}

#[test]
fn json_export_import_export_is_byte_identical() {
    let checklist = tricky();
    let json = to_json(&checklist);
    assert!(json.ends_with("}\n"));
    let back = from_json(&json).unwrap();
    assert_eq!(back, checklist);
    assert_eq!(to_json(&back), json);
}

#[test]
fn every_tricky_answer_survives_both_formats_unchanged() {
    let checklist = tricky();
    let from_csv = from_csv(&to_csv(&checklist)).unwrap();
    let from_json = from_json(&to_json(&checklist)).unwrap();
    let answers: Vec<&str> = from_csv.items().iter().map(|i| i.answer()).collect();
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(*answer, TRICKY[i % TRICKY.len()]);
    }
    assert_eq!(from_json, from_csv);
}

/// A file written by hand (LF line ends, a BOM as Excel writes, an unguarded formula, a
/// doubled quote, links separated by a newline, rows in another order) reads to exactly the
/// text in its cells, and that text is then written and read back without loss.
#[test]
fn a_hand_written_csv_is_read_as_written_and_then_kept_exactly() {
    let mut rows: Vec<String> = catalogue()
        .iter()
        .map(|r| {
            format!(
                "{},{},\"{}\",\"{}\",open,,",
                r.id,
                r.source.as_str(),
                r.article.en,
                r.title.en
            )
        })
        .collect();
    rows[0] = "ai-act-art-9,ai_act,AI Act Art. 9,Risk management system,evidenced,\
               \"=SUM(1;2) and \"\"quoted\"\"\",\"run:r1\nfinding:f2\""
        .to_owned();
    rows[1] = "ai-act-art-10,ai_act,AI Act Art. 10,Data and data governance,answered,'=already guarded,".to_owned();
    rows.reverse();
    let text = format!("\u{feff}{CSV_HEADER}\n{}\n", rows.join("\n"));
    let imported = from_csv(&text).unwrap();
    let art9 = imported.get(id("ai-act-art-9"));
    assert_eq!(art9.answer(), "=SUM(1;2) and \"quoted\"");
    assert_eq!(art9.evidence(), [common::link("run:r1"), common::link("finding:f2")]);
    assert_eq!(imported.get(id("ai-act-art-10")).answer(), "=already guarded");
    let exported = to_csv(&imported);
    assert_eq!(from_csv(&exported).unwrap(), imported);
    assert_eq!(to_csv(&from_csv(&exported).unwrap()), exported);
}

/// Items may come in any order: a spreadsheet sorted by status is the same checklist, and is
/// written back in catalogue order.
#[test]
fn rows_in_another_order_are_put_back_in_catalogue_order() {
    let checklist = tricky();
    let csv = to_csv(&checklist);
    let mut lines: Vec<&str> = csv.split_inclusive("\r\n").collect();
    let body = &mut lines[1..];
    body.sort_by_key(|l| std::cmp::Reverse(l.to_owned()));
    let shuffled: String = lines.concat();
    assert_ne!(shuffled, csv);
    // The tricky answers have LFs inside quotes only, so lines split on CRLF are whole records.
    assert_eq!(from_csv(&shuffled).unwrap(), checklist);

    let mut value: serde_json::Value = serde_json::from_str(&to_json(&checklist)).unwrap();
    value["items"].as_array_mut().unwrap().reverse();
    assert_eq!(from_json(&value.to_string()).unwrap(), checklist);
}

/// Property: for many random checklists (random text over the characters that matter to CSV,
/// JSON and spreadsheets, random links and statuses), CSV and JSON export→import is the
/// identity and export→import→export is byte-identical.
#[test]
fn random_checklists_round_trip_through_csv_and_json() {
    let mut rng = Rng::new(0x5eed_c5f0_2026);
    for case in 0..400 {
        let checklist = rng.checklist();
        let csv = to_csv(&checklist);
        let back = from_csv(&csv).unwrap_or_else(|e| panic!("case {case}: {e}\n{csv}"));
        assert_eq!(back, checklist, "case {case}");
        assert_eq!(to_csv(&back), csv, "case {case}");
        let json = to_json(&checklist);
        let back = from_json(&json).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(to_json(&back), json, "case {case}");
    }
}

/// Property: any cell text a person types (here: random text with unguarded formulas) is read
/// as typed, and the checklist read is then written and read again without loss.
#[test]
fn random_hand_typed_answers_are_read_as_typed() {
    let mut rng = Rng::new(42);
    let r = &catalogue()[0];
    for case in 0..2000 {
        let answer: String = rng.text(30).replace('\r', "");
        let quoted = format!("\"{}\"", answer.replace('"', "\"\""));
        let mut rows = vec![CSV_HEADER.to_owned()];
        for (i, req) in catalogue().iter().enumerate() {
            let cell = if i == 0 { quoted.as_str() } else { "" };
            rows.push(format!(
                "{},{},\"{}\",\"{}\",open,{cell},",
                req.id,
                req.source.as_str(),
                req.article.en,
                req.title.en
            ));
        }
        let typed = rows.join("\r\n");
        let imported = from_csv(&typed).unwrap_or_else(|e| panic!("case {case}: {e}"));
        // What is read is what was typed, except one `'` taken off a guarded cell.
        let read = imported.get(r.id).answer();
        let unguarded = answer.strip_prefix('\'').filter(|rest| {
            rest.trim_start_matches('\'')
                .starts_with(['=', '+', '-', '@', '\t', '\r'])
        });
        assert_eq!(read, unguarded.unwrap_or(&answer), "case {case}");
        let exported = to_csv(&imported);
        assert_eq!(from_csv(&exported).unwrap(), imported, "case {case}");
    }
}

/// The largest checklist the rules allow (every answer at the length limit in 4-byte
/// characters, every item with the most links of the longest shape) fits both formats' input
/// limit and round trips; so does the one with the most lines.
#[test]
fn the_largest_valid_checklists_fit_the_input_limits() {
    let mut checklist = Checklist::blank();
    let long = "x".repeat(64);
    let links: Vec<EvidenceLink> = (0..MAX_LINKS)
        .map(|i| common::link(&format!("section:{}{i:02}#{}", &long[..62], &long[..64])))
        .collect();
    for r in catalogue() {
        let answer = "🧪".repeat(MAX_ANSWER_CHARS);
        checklist.set(Item::new(r.id, Status::Evidenced, answer, links.clone()).unwrap());
    }
    let csv = to_csv(&checklist);
    let json = to_json(&checklist);
    // Under half the limit, as MAX_INPUT_BYTES's documentation says.
    assert!(csv.len() <= MAX_INPUT_BYTES / 2, "{} bytes", csv.len());
    assert!(json.len() <= MAX_INPUT_BYTES / 2, "{} bytes", json.len());
    assert_eq!(from_csv(&csv).unwrap(), checklist);
    assert_eq!(from_json(&json).unwrap(), checklist);

    let mut lines = Checklist::blank();
    for r in catalogue() {
        lines.set(Item::new(r.id, Status::Open, "\n".repeat(MAX_ANSWER_CHARS), vec![]).unwrap());
    }
    let csv = to_csv(&lines);
    assert_eq!(csv.matches('\n').count(), MAX_CSV_LINES);
    assert_eq!(from_csv(&csv).unwrap(), lines);
}

#[test]
fn summary_counts_each_status() {
    let summary = tricky().summary();
    assert_eq!(summary.total(), catalogue().len());
    assert_eq!((summary.open, summary.answered, summary.evidenced), (8, 8, 8));
    let blank = Checklist::blank().summary();
    assert_eq!((blank.open, blank.answered, blank.evidenced), (catalogue().len(), 0, 0));
}
