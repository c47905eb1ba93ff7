//! The Report's published JSON Schema (`crates/fairness/report.schema.json`) is the one the
//! code produces: a change to the report's fields fails here until the schema is regenerated
//! on purpose (`UPDATE_SCHEMA=1 cargo test -p fairness --test schema`).

use fairness::{Accumulator, Batch, Col, Config, GroupCol, MissingGroups, Report};
use std::path::Path;

#[test]
fn committed_schema_matches_the_code() {
    let schema = serde_json::to_string_pretty(&schemars::schema_for!(Report)).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("report.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("report.schema.json is committed");
    assert!(
        committed == schema,
        "report.schema.json is stale: regenerate it with UPDATE_SCHEMA=1"
    );
}

#[test]
fn a_real_report_uses_only_fields_the_schema_declares() {
    let schema: serde_json::Value = serde_json::to_value(schemars::schema_for!(Report)).unwrap();
    let mut acc = Accumulator::new(&["g"], true, true, MissingGroups::Error);
    let dict = vec!["a".to_owned(), "b".to_owned()];
    acc.add(&Batch {
        label: Col {
            name: "y",
            values: &[1, 0, 1, 0, 1, 1],
        },
        label_true: Some(Col {
            name: "t",
            values: &[1, 0, 1, 1, 1, 0],
        }),
        prediction: Col {
            name: "p",
            values: &[1, 0, 0, 1, 1, 1],
        },
        score: Some(Col {
            name: "s",
            values: &[0.9, 0.1, 0.4, 0.6, 0.8, 0.7],
        }),
        weight: None,
        groups: vec![GroupCol {
            name: "g",
            codes: &[0, 0, 0, 1, 1, 1],
            valid: None,
            dictionary: &dict,
        }],
    })
    .unwrap();
    let report = Report::build(
        &acc,
        &Config {
            min_group_size: 1.0,
            bootstrap: 50,
            ..Config::default()
        },
    );
    let json = serde_json::to_value(&report).unwrap();
    let declared = |def: &serde_json::Value| -> Vec<String> {
        def["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    for key in json.as_object().unwrap().keys() {
        assert!(declared(&schema).contains(key), "top-level {key} not in the schema");
    }
    let group_def = &schema["$defs"]["GroupReport"];
    for key in json["attributes"][0]["groups"][0].as_object().unwrap().keys() {
        assert!(declared(group_def).contains(key), "group field {key} not in the schema");
    }
}
