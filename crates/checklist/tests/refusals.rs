//! Each rule is refused with an error that says where (CSV line and column, JSON path, item
//! field), what was found and what would be right.

mod common;

use checklist::{
    CSV_HEADER, ChecklistError, EvidenceLink, Item, Location, MAX_ANSWER_CHARS, MAX_CSV_LINES, MAX_INPUT_BYTES,
    MAX_LINKS, Problem, Status, catalogue, from_csv, from_json, to_csv, to_json,
};
use common::{id, link, tricky};
use serde_json::{Value, json};

/// The tricky checklist's CSV with the cell `column` of `requirement`'s row replaced by
/// `value` (written raw). The tricky answers keep LFs inside quotes, so CRLF splits records.
fn csv_with(requirement: &str, column: usize, value: &str) -> (String, u64) {
    let csv = to_csv(&tricky());
    let mut records: Vec<String> = csv.split_terminator("\r\n").map(str::to_owned).collect();
    let mut line = 1;
    for record in records.iter_mut().skip(1) {
        line += 1;
        if record.starts_with(&format!("{requirement},")) {
            let mut cells = split_cells(record);
            cells[column] = value.to_owned();
            *record = cells.join(",");
            return (records.join("\r\n") + "\r\n", line);
        }
        line += record.matches('\n').count() as u64;
    }
    panic!("no row for {requirement}");
}

/// Splits one CSV record into raw cells (quotes kept), enough for the tests' records.
fn split_cells(record: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    for c in record.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cells.last_mut().unwrap().push(c);
            }
            ',' if !quoted => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    cells
}

fn json_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(&to_json(&tricky())).unwrap();
    edit(&mut value);
    serde_json::to_string_pretty(&value).unwrap()
}

fn cell(line: u64, column: &'static str) -> Location {
    Location::CsvCell { line, column }
}

fn path(p: &str) -> Location {
    Location::Json { path: p.to_owned() }
}

#[test]
fn an_unknown_requirement_is_named_with_the_valid_ids() {
    let (csv, line) = csv_with("fvl-22", 0, "fvl-99");
    let err = from_csv(&csv).unwrap_err();
    assert_eq!(err.at, cell(line, "requirement"));
    assert_eq!(err.problem, Problem::UnknownRequirement { found: "fvl-99".into() });
    let message = err.to_string();
    assert!(message.starts_with(&format!(
        "CSV line {line}, column `requirement`: unknown requirement \"fvl-99\""
    )));
    assert!(
        message.contains("fvl-22") && message.contains("etnisk-ligebehandling"),
        "{message}"
    );

    let json = json_with(|v| v["items"][3]["requirement"] = json!("ai-act-art-99"));
    let err = from_json(&json).unwrap_err();
    assert_eq!(err.at, path("$.items[3].requirement"));
    assert!(matches!(err.problem, Problem::UnknownRequirement { .. }));
}

#[test]
fn a_duplicate_requirement_names_both_places() {
    let json = json_with(|v| {
        let first = v["items"][0].clone();
        v["items"][5] = first;
    });
    let err = from_json(&json).unwrap_err();
    assert_eq!(err.at, path("$.items[5].requirement"));
    assert_eq!(
        err.problem,
        Problem::DuplicateRequirement {
            requirement: id("ai-act-art-9"),
            first: Box::new(path("$.items[0].requirement"))
        }
    );
    assert!(
        err.to_string().contains("first at JSON `$.items[0].requirement`"),
        "{err}"
    );

    // A row copied over another: the copy is refused where it stands, naming the original's
    // line. The tricky answers before these rows span several lines, so this also checks that
    // lines are counted as the file's, not as records.
    let csv = to_csv(&tricky());
    let records: Vec<&str> = csv.split_inclusive("\r\n").collect();
    let original = records.iter().position(|r| r.starts_with("fvl-22,")).unwrap();
    let mut copied = records.clone();
    copied[original + 1] = records[original];
    let csv = copied.concat();
    let err = from_csv(&csv).unwrap_err();
    let first = line_of(&csv, original);
    let again = line_of(&csv, original + 1);
    assert!(
        first > original as u64 + 1,
        "answers with newlines come before: {first}"
    );
    assert_eq!(err.at, cell(again, "requirement"));
    assert_eq!(
        err.problem,
        Problem::DuplicateRequirement {
            requirement: id("fvl-22"),
            first: Box::new(cell(first, "requirement"))
        }
    );
}

/// The line record `index` (0 = the header) starts on, counting the LFs inside earlier records.
fn line_of(csv: &str, index: usize) -> u64 {
    1 + csv
        .split_inclusive("\r\n")
        .take(index)
        .map(|r| r.matches('\n').count() as u64)
        .sum::<u64>()
}

#[test]
fn missing_requirements_are_all_named_in_catalogue_order() {
    let csv = to_csv(&tricky());
    let kept: Vec<&str> = csv
        .split_inclusive("\r\n")
        .filter(|r| !r.starts_with("fvl-23,") && !r.starts_with("gdpr-art-35,"))
        .collect();
    let err = from_csv(&kept.concat()).unwrap_err();
    assert_eq!(err.at, Location::Input);
    assert_eq!(
        err.problem,
        Problem::MissingRequirements {
            requirements: vec![id("gdpr-art-35"), id("fvl-23")]
        }
    );
    assert!(err.to_string().contains("no item for `gdpr-art-35`, `fvl-23`"), "{err}");

    let json = json_with(|v| {
        v["items"].as_array_mut().unwrap().pop();
    });
    let err = from_json(&json).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::MissingRequirements {
            requirements: vec![id("etnisk-ligebehandling")]
        }
    );
}

#[test]
fn evidenced_without_links_is_refused_at_the_evidence() {
    // Item 0 of the tricky checklist is evidenced.
    let json = json_with(|v| v["items"][0]["evidence"] = json!([]));
    let err = from_json(&json).unwrap_err();
    assert_eq!(err.at, path("$.items[0].evidence"));
    assert_eq!(err.problem, Problem::EvidenceRequired);
    assert!(err.to_string().contains("or status `answered`"));

    let err = Item::new(id("fvl-24"), Status::Evidenced, "svar", vec![]).unwrap_err();
    assert_eq!(
        err.at,
        Location::Item {
            requirement: id("fvl-24"),
            field: "evidence"
        }
    );
}

#[test]
fn answered_without_text_is_refused_at_the_answer() {
    let (csv, line) = csv_with("ai-act-art-10", 5, "\"  \n \"");
    let err = from_csv(&csv).unwrap_err();
    assert_eq!(err.at, cell(line, "answer"));
    assert_eq!(err.problem, Problem::AnswerRequired { status: "answered" });

    let err = Item::new(id("gdpr-art-22"), Status::Evidenced, "", vec![link("run:r1")]).unwrap_err();
    assert_eq!(err.problem, Problem::AnswerRequired { status: "evidenced" });
    // Open may be empty.
    assert!(Item::new(id("gdpr-art-22"), Status::Open, "", vec![]).is_ok());
}

#[test]
fn an_answer_over_the_limit_is_refused_with_its_length() {
    let at_limit = "ø".repeat(MAX_ANSWER_CHARS);
    assert!(Item::new(id("fvl-22"), Status::Answered, at_limit, vec![]).is_ok());
    let err = Item::new(id("fvl-22"), Status::Answered, "ø".repeat(MAX_ANSWER_CHARS + 1), vec![]).unwrap_err();
    assert_eq!(
        err.at,
        Location::Item {
            requirement: id("fvl-22"),
            field: "answer"
        }
    );
    assert_eq!(
        err.problem,
        Problem::AnswerTooLong {
            chars: MAX_ANSWER_CHARS + 1
        }
    );
    assert!(err.to_string().contains("4001 characters; at most 4000"), "{err}");

    let json = json_with(|v| v["items"][2]["answer"] = json!("x".repeat(MAX_ANSWER_CHARS + 1)));
    assert_eq!(from_json(&json).unwrap_err().at, path("$.items[2].answer"));
}

#[test]
fn control_characters_other_than_newline_and_tab_are_refused() {
    let err = Item::new(id("fvl-22"), Status::Answered, "ok\tok\nbell\u{7}", vec![]).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::ControlCharacter {
            code_point: 7,
            position: 11
        }
    );
    assert!(err.to_string().contains("U+0007 at character 11"));
    let (csv, line) = csv_with("fvl-22", 5, "\"a\r\nb\"");
    let err = from_csv(&csv).unwrap_err();
    assert_eq!(err.at, cell(line, "answer"));
    assert_eq!(
        err.problem,
        Problem::ControlCharacter {
            code_point: 13,
            position: 2
        }
    );
}

#[test]
fn bad_link_shapes_are_refused_with_the_reason() {
    let cases = [
        ("run", "there is no `:` after the kind"),
        ("walk:r1", "the kind is not run, finding, model or section"),
        ("run:", "the id is empty"),
        ("model:gbm.onnx", "the id has a character outside A-Z a-z 0-9 _ -"),
        ("finding:æ", "the id has a character outside A-Z a-z 0-9 _ -"),
        ("section:r1", "a section link has no `#`"),
        ("section:r1#Fairness", "the section has a character outside a-z 0-9 _ -"),
        ("section:r1#", "the section is empty"),
    ];
    for (text, reason) in cases {
        assert_eq!(
            EvidenceLink::parse(text).unwrap_err(),
            Problem::BadLink {
                found: text.into(),
                reason
            },
            "{text}"
        );
    }
    let long = format!("run:{}", "a".repeat(65));
    assert!(matches!(
        EvidenceLink::parse(&long),
        Err(Problem::BadLink {
            reason: "the id is longer than 64 characters",
            ..
        })
    ));
    assert!(EvidenceLink::parse(&format!("run:{}", "a".repeat(64))).is_ok());

    let (csv, line) = csv_with("ai-act-art-9", 6, "run:ok run:not/ok");
    let err = from_csv(&csv).unwrap_err();
    assert_eq!(err.at, cell(line, "evidence"));
    assert!(matches!(&err.problem, Problem::BadLink { found, .. } if found == "run:not/ok"));
    let json = json_with(|v| v["items"][0]["evidence"] = json!(["run:a", 7]));
    let err = from_json(&json).unwrap_err();
    assert_eq!(err.at, path("$.items[0].evidence[1]"));
    assert_eq!(err.problem, Problem::WrongType { expected: "a string" });
}

#[test]
fn too_many_and_duplicate_links_are_refused() {
    let links: Vec<EvidenceLink> = (0..=MAX_LINKS).map(|i| link(&format!("run:r{i}"))).collect();
    let err = Item::new(id("fvl-22"), Status::Evidenced, "svar", links).unwrap_err();
    assert_eq!(err.problem, Problem::TooManyLinks { count: MAX_LINKS + 1 });
    let err = Item::new(
        id("fvl-22"),
        Status::Evidenced,
        "svar",
        vec![link("run:a"), link("model:a"), link("run:a")],
    )
    .unwrap_err();
    assert_eq!(err.problem, Problem::DuplicateLink { link: "run:a".into() });
}

#[test]
fn informational_csv_cells_must_match_the_catalogue() {
    let (csv, line) = csv_with("gdpr-art-22", 1, "ai_act");
    let err = from_csv(&csv).unwrap_err();
    assert_eq!(err.at, cell(line, "source"));
    assert_eq!(
        err.problem,
        Problem::CatalogueMismatch {
            requirement: id("gdpr-art-22"),
            found: "ai_act".into(),
            expected: "gdpr"
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "CSV line {line}, column `source`: \"ai_act\" does not match the catalogue for `gdpr-art-22`, which has \"gdpr\""
        )
    );
    let (csv, line) = csv_with("gdpr-art-22", 2, "GDPR Art. 23");
    assert_eq!(from_csv(&csv).unwrap_err().at, cell(line, "article"));
    let (csv, line) = csv_with("gdpr-art-22", 3, "Profiling");
    assert_eq!(from_csv(&csv).unwrap_err().at, cell(line, "title_en"));
}

#[test]
fn an_unknown_status_lists_the_valid_ones() {
    let (csv, line) = csv_with("fvl-24", 4, "Answered");
    let err = from_csv(&csv).unwrap_err();
    assert_eq!(err.at, cell(line, "status"));
    assert!(
        err.to_string()
            .ends_with("unknown status \"Answered\"; expected open, answered or evidenced"),
        "{err}"
    );
}

#[test]
fn files_over_the_size_or_line_limit_are_refused_before_parsing() {
    let big = format!("{CSV_HEADER}\r\n{}", "x".repeat(MAX_INPUT_BYTES));
    let err = from_csv(&big).unwrap_err();
    assert_eq!(err.at, Location::Input);
    assert_eq!(
        err.problem,
        Problem::TooLarge {
            bytes: big.len(),
            max: MAX_INPUT_BYTES
        }
    );
    let err = from_json(&" ".repeat(MAX_INPUT_BYTES + 1)).unwrap_err();
    assert!(matches!(err.problem, Problem::TooLarge { .. }));

    let lines = format!("{CSV_HEADER}\n{}", "\n".repeat(MAX_CSV_LINES));
    assert!(lines.len() < MAX_INPUT_BYTES);
    let err = from_csv(&lines).unwrap_err();
    assert_eq!(
        err.problem,
        Problem::TooManyLines {
            lines: MAX_CSV_LINES + 1,
            max: MAX_CSV_LINES
        }
    );
}

#[test]
fn more_rows_than_requirements_are_refused_at_the_first_extra_row() {
    let csv = to_csv(&tricky());
    let first_row = csv.split_inclusive("\r\n").nth(1).unwrap();
    let csv = format!("{csv}{first_row}");
    let err = from_csv(&csv).unwrap_err();
    assert!(matches!(err.at, Location::CsvLine { .. }));
    assert_eq!(
        err.problem,
        Problem::TooManyItems {
            expected: catalogue().len()
        }
    );
}

#[test]
fn malformed_csv_is_refused_at_its_line() {
    let err = from_csv("requirement,source\r\n").unwrap_err();
    assert_eq!(err.at, Location::CsvLine { line: 1 });
    assert!(matches!(
        err.problem,
        Problem::Header {
            expected: CSV_HEADER,
            ..
        }
    ));
    assert!(matches!(from_csv("").unwrap_err().problem, Problem::Header { .. }));

    let err = from_csv(&format!("{CSV_HEADER}\r\nfvl-22,forvaltningsloven\r\n")).unwrap_err();
    assert_eq!(err.at, Location::CsvLine { line: 2 });
    assert_eq!(err.problem, Problem::CellCount { found: 2, expected: 7 });
}

#[test]
fn json_of_the_wrong_shape_is_refused_at_its_path() {
    let err = from_json("{\"items\": [").unwrap_err();
    assert!(matches!(err.at, Location::JsonText { line: 1, .. }));
    assert!(matches!(err.problem, Problem::Syntax { format: "JSON", .. }));

    let err = from_json(&json_with(|v| v["catalogue_version"] = json!("1999-1"))).unwrap_err();
    assert_eq!(err.at, path("$.catalogue_version"));
    assert_eq!(err.problem, Problem::CatalogueVersion { found: "1999-1".into() });

    let err = from_json(&json_with(|v| v["items"][1]["note"] = json!("x"))).unwrap_err();
    assert_eq!(err.at, path("$.items[1]"));
    assert!(matches!(&err.problem, Problem::UnknownKey { found, .. } if found == "note"));

    let err = from_json(&json_with(|v| {
        v["items"][1].as_object_mut().unwrap().remove("answer");
    }))
    .unwrap_err();
    assert_eq!(err.problem, Problem::MissingKey { key: "answer" });

    let err = from_json(&json_with(|v| v["items"][4]["status"] = json!(true))).unwrap_err();
    assert_eq!(err.at, path("$.items[4].status"));
    assert_eq!(err.problem, Problem::WrongType { expected: "a string" });
}

/// Quoted user text is capped, so a 1 MiB cell does not come back as a 1 MiB message.
#[test]
fn quoted_text_in_errors_is_capped_at_100_characters() {
    let (csv, _) = csv_with("fvl-24", 4, &"å".repeat(5000));
    let err: ChecklistError = from_csv(&csv).unwrap_err();
    let Problem::UnknownStatus { found } = &err.problem else {
        panic!("{err:?}")
    };
    assert_eq!(found.chars().count(), 101);
    assert!(found.ends_with('…'));
    assert!(err.to_string().len() < 400);
}
