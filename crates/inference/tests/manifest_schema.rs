//! The manifest's published JSON Schema (`crates/inference/manifest.schema.json`) is the one
//! the code accepts: regenerate on purpose with `UPDATE_SCHEMA=1 cargo test -p inference
//! --test manifest_schema`.

use inference::Manifest;
use std::path::Path;

#[test]
fn committed_schema_matches_the_code() {
    let schema = serde_json::to_string_pretty(&schemars::schema_for!(Manifest)).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("manifest.schema.json is committed");
    assert!(
        committed == schema,
        "manifest.schema.json is stale: regenerate it with UPDATE_SCHEMA=1"
    );
}

#[test]
fn every_sample_manifest_names_only_fields_the_schema_declares() {
    let schema: serde_json::Value = serde_json::to_value(schemars::schema_for!(Manifest)).unwrap();
    let top: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let m = Manifest::parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let v = serde_json::to_value(&m).unwrap();
            for k in v.as_object().unwrap().keys() {
                assert!(top.contains(&k), "{}: {k} is not in the schema", p.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 6);
    // The schema forbids unknown fields, as the parser does.
    assert_eq!(schema["additionalProperties"], false);
}
