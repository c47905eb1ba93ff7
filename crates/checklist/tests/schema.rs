//! The published JSON Schema (`crates/checklist/checklist.schema.json`) is the one the code
//! produces, the JSON the code writes is valid under it, and what the reader refuses the schema
//! refuses too.

mod common;

use std::path::PathBuf;
use std::process::Command;

use checklist::{from_json, json_schema, to_json};
use common::{Rng, tricky};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A change to the checklist's shape fails here until the schema is regenerated on purpose
/// (`UPDATE_SCHEMA=1 cargo test -p checklist --test schema`).
#[test]
fn committed_schema_matches_the_code() {
    let schema = json_schema();
    let path = dir().join("checklist.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("checklist.schema.json is committed");
    assert!(
        committed == schema,
        "checklist.schema.json is stale: regenerate it with UPDATE_SCHEMA=1"
    );
}

/// Documents the reader refuses, each one rule broken in the tricky checklist.
fn invalid_documents() -> Vec<(&'static str, Value)> {
    let base: Value = serde_json::from_str(&to_json(&tricky())).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    vec![
        (
            "evidenced-without-links",
            edit(&|v| v["items"][0]["evidence"] = json!([])),
        ),
        ("answered-blank", edit(&|v| v["items"][1]["answer"] = json!(" \n "))),
        ("unknown-id", edit(&|v| v["items"][2]["requirement"] = json!("fvl-99"))),
        ("bad-link", edit(&|v| v["items"][0]["evidence"] = json!(["run:a b"]))),
        (
            "bad-section",
            edit(&|v| v["items"][0]["evidence"] = json!(["section:r1#Fairness"])),
        ),
        (
            "duplicate-link",
            edit(&|v| v["items"][0]["evidence"] = json!(["run:a", "run:a"])),
        ),
        ("too-long", edit(&|v| v["items"][1]["answer"] = json!("x".repeat(4001)))),
        (
            "control-character",
            edit(&|v| v["items"][1]["answer"] = json!("a\u{1b}[2Kb")),
        ),
        ("unknown-status", edit(&|v| v["items"][1]["status"] = json!("done"))),
        ("other-version", edit(&|v| v["catalogue_version"] = json!("1999-1"))),
        ("extra-key", edit(&|v| v["items"][1]["note"] = json!("x"))),
        (
            "missing-key",
            edit(&|v| drop(v["items"][1].as_object_mut().unwrap().remove("evidence"))),
        ),
        (
            "missing-item",
            edit(&|v| drop(v["items"].as_array_mut().unwrap().pop())),
        ),
    ]
}

/// The checklists the code writes validate under the committed schema with an independent
/// validator, `jsonschema_rs` in the workspace's `.venv` (pinned in tests/api/requirements.txt,
/// installed by scripts/apitools.sh, which the test command runs first), and the documents the
/// reader refuses do not.
#[test]
fn produced_checklists_are_valid_under_the_schema_and_refused_ones_are_not() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checklist-schema");
    std::fs::create_dir_all(&out).unwrap();
    let mut rng = Rng::new(7);
    let mut valid = vec![
        ("blank".to_owned(), to_json(&checklist::Checklist::blank())),
        ("tricky".into(), to_json(&tricky())),
    ];
    for i in 0..20 {
        valid.push((format!("random-{i}"), to_json(&rng.checklist())));
    }
    let mut args = vec![dir().join("checklist.schema.json")];
    for (name, json) in &valid {
        let path = out.join(format!("{name}.json"));
        std::fs::write(&path, json).unwrap();
        args.push(path);
    }
    args.push("--".into());
    for (name, value) in invalid_documents() {
        let text = serde_json::to_string_pretty(&value).unwrap();
        assert!(from_json(&text).is_err(), "the reader accepts {name}");
        let path = out.join(format!("invalid-{name}.json"));
        std::fs::write(&path, text).unwrap();
        args.push(path);
    }

    let python = dir().join("../../.venv/bin/python");
    let run = Command::new(&python)
        .arg(dir().join("tests/validate_schema.py"))
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/apitools.sh", python.display()));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.contains("22 valid and 13 invalid documents checked, 0 failures"),
        "{stdout}"
    );
}
