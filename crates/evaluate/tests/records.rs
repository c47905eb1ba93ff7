//! Stored records load typed, whatever release wrote them, and lose nothing on the way.

use evaluate::{RunRecord, SCHEMA_VERSION};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/records");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 2, "{out:?}");
    out
}

/// Every field of `a` is in `b` with the same value (numbers compared as numbers).
fn same(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            assert_eq!(kx, ky, "{path}: fields differ");
            for (k, v) in x {
                same(v, &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: lengths differ");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                same(v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            assert_eq!(x.as_f64(), y.as_f64(), "{path}");
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn records_of_schema_version_1_load_typed_and_keep_every_field_and_their_markdown() {
    for (name, stored) in fixtures() {
        let old = &stored["record"];
        assert!(old.get("schema_version").is_none(), "{name}: a version 1 fixture");
        let record = RunRecord::from_value(old.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(record.schema_version, SCHEMA_VERSION);
        // Upgraded: the verdicts moved out of the report, which says it judged a yes/no model;
        // nothing else changed.
        let mut expected = old.clone();
        let verdicts = expected["report"].as_object_mut().unwrap().remove("verdicts").unwrap();
        expected["report"]["schema_version"] = fairness::SCHEMA_VERSION.into();
        expected["report"]["task"] = "binary".into();
        expected["verdicts"] = verdicts;
        expected["schema_version"] = SCHEMA_VERSION.into();
        let written = serde_json::to_value(&record).unwrap();
        same(&written, &expected, &name);
        // The Markdown of the typed record is the Markdown that release stored, but for the
        // debug text it printed for the split and the twins (issue 13), now their names.
        let old_md = stored["markdown"]
            .as_str()
            .unwrap()
            .replace("split Test", "split test")
            .replace("counterfactual Some(Origin)", "counterfactual twins by origin")
            .replace("counterfactual None", "no counterfactual twins");
        assert_eq!(record.to_markdown(), old_md, "{name}: the Markdown changed");
        assert!(!record.to_markdown().contains("Some("), "{name}: debug text");
        // And a record written now reads back to itself.
        let again = RunRecord::from_json(&serde_json::to_vec(&record).unwrap()).unwrap();
        same(&serde_json::to_value(&again).unwrap(), &written, &name);
    }
}

#[test]
fn a_record_of_an_unknown_version_or_shape_is_refused_by_name() {
    let (_, stored) = fixtures().remove(0);
    let mut future = stored["record"].clone();
    future["schema_version"] = 99.into();
    let e = RunRecord::from_value(future).unwrap_err().to_string();
    assert!(e.contains("schema version 99") && e.contains("versions 1 to"), "{e}");
    let mut broken = stored["record"].clone();
    broken["throughput"]["rows"] = "many".into();
    let e = RunRecord::from_value(broken).unwrap_err().to_string();
    assert!(e.contains("schema version 1") && e.contains("does not match"), "{e}");
    assert!(
        RunRecord::from_json(b"{not json")
            .unwrap_err()
            .to_string()
            .contains("not JSON")
    );
}

/// The run record's published JSON Schema (`crates/evaluate/record.schema.json`) is the one the
/// code produces: a change to any part of the record fails here until the schema is regenerated
/// on purpose (`UPDATE_SCHEMA=1 cargo test -p evaluate --test records`).
#[test]
fn committed_record_schema_matches_the_code() {
    let schema = serde_json::to_string_pretty(&schemars::schema_for!(RunRecord)).unwrap() + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("record.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("record.schema.json is committed");
    assert!(
        committed == schema,
        "record.schema.json is stale: regenerate it with UPDATE_SCHEMA=1"
    );
}

/// A record from before `--allow-missing-isolation` existed carries no allowance: it loads, and
/// neither the record nor its Markdown claims that the operator allowed nothing.
#[test]
fn a_record_from_before_the_isolation_allowance_claims_none() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../htmlreport/tests/fixtures/unemployment-gbm.json");
    let record = RunRecord::from_json(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(record.provenance.isolation_allowed_missing, None);
    let written = serde_json::to_value(&record).unwrap();
    assert!(written["provenance"].get("isolation_allowed_missing").is_none());
    assert!(
        record
            .to_markdown()
            .contains("by the operator (--allow-missing-isolation): not recorded")
    );
}

/// Records written while the weak slices sat under `explanations` read with them in their own
/// place, nothing lost, and are written back there.
#[test]
fn slices_written_under_the_explanations_are_read_in_their_own_place() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../htmlreport/tests/fixtures/unemployment-gbm.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let slices = serde_json::json!({
        "config": { "q": 0.05, "min_size": 100, "top": 10, "confidence": 0.95 },
        "rows": 8000, "columns": ["age"], "tested": 12, "significant": 0, "top": []
    });
    let explanations = serde_json::json!({
        "rows": { "taken": "first", "count": 10 }, "seconds": 0.1,
        "importance": { "config": { "repeats": 2, "seed": 1, "confidence": 0.95 }, "rows": 10, "columns": [] },
        "slices": slices
    });
    v.as_object_mut().unwrap().insert("explanations".into(), explanations);
    let record = RunRecord::from_value(v).unwrap();
    let lifted = record.slices.as_ref().expect("the slices, lifted");
    assert_eq!((lifted.rows, lifted.tested), (8000, 12));
    let written = serde_json::to_value(&record).unwrap();
    assert_eq!(written["slices"]["rows"], 8000);
    assert!(written["explanations"].get("slices").is_none());
    assert!(record.to_markdown().contains("### Weak slices"));
}

/// A replay compares findings, not circumstances: a record compared with itself is identical
/// even when another release ran it somewhere else, more slowly; one changed measurement is
/// named by its path with both values.
#[test]
fn a_replay_names_the_first_changed_finding_and_shows_changed_versions() {
    let (_, fixture) = fixtures().into_iter().find(|(n, _)| n.contains("criteria")).unwrap();
    let stored = RunRecord::from_value(fixture["record"].clone()).unwrap();
    let same = evaluate::compare(&stored, &stored);
    assert!(same.identical && same.first_difference.is_none() && same.changed.is_empty());
    assert_eq!(same.stored_findings_sha256, same.replayed_findings_sha256);

    let mut elsewhere = stored.clone();
    elsewhere.provenance.sandbox_version = "9.9.9".into();
    elsewhere.provenance.started = "2031-01-01T00:00:00Z".into();
    elsewhere.throughput.score_seconds *= 3.0;
    let c = evaluate::compare(&stored, &elsewhere);
    assert!(c.identical, "{c:?}");
    assert_eq!(c.changed.len(), 1);
    assert_eq!(
        (c.changed[0].what.as_str(), c.changed[0].replayed.as_str()),
        ("sandbox_version", "9.9.9")
    );

    let mut v = serde_json::to_value(&stored).unwrap();
    let rows = v["provenance"]["dataset_rows"].as_u64().unwrap();
    v["provenance"]["dataset_rows"] = (rows + 1).into();
    let other = RunRecord::from_value(v).unwrap();
    let c = evaluate::compare(&stored, &other);
    assert!(!c.identical);
    assert_ne!(c.stored_findings_sha256, c.replayed_findings_sha256);
    let d = c.first_difference.unwrap();
    assert_eq!(d.path, "dataset_rows");
    assert_eq!(d.stored, Some(rows.to_string()));
    assert_eq!(d.replayed, Some((rows + 1).to_string()));

    // The model's inspection is a finding too (a function of its bytes and the inspector).
    let mut v = serde_json::to_value(&stored).unwrap();
    let nodes = v["inspection"]["nodes"].as_u64().unwrap();
    v["inspection"]["nodes"] = (nodes + 1).into();
    let c = evaluate::compare(&stored, &RunRecord::from_value(v).unwrap());
    assert_eq!(c.first_difference.unwrap().path, "inspection.nodes");

    let mut v = serde_json::to_value(&stored).unwrap();
    let verdicts = v["verdicts"].as_array().unwrap().len();
    assert!(verdicts > 0, "the fixture judges criteria");
    v["verdicts"].as_array_mut().unwrap().pop();
    let c = evaluate::compare(&stored, &RunRecord::from_value(v).unwrap());
    assert_eq!(c.first_difference.unwrap().path, format!("verdicts[{}]", verdicts - 1));
}
