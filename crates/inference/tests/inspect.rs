//! Inspection accepts the sample models with their manifests and rejects each hostile model
//! for the right reason, naming the node or tensor.

use inference::{Limits, Manifest, Rule, inspect};
use std::path::PathBuf;

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(models().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const SAMPLES: &[&str] = &[
    "unemployment-logreg",
    "unemployment-logreg-zipmap",
    "unemployment-gbm",
    "unemployment-mlp",
    "rehabilitation-logreg",
    "rehabilitation-gbm",
];

#[test]
fn sample_models_pass_with_their_manifests() {
    for name in SAMPLES {
        let i = inspect(&read(&format!("{name}.onnx")), &Limits::default());
        assert!(i.accepted(), "{name}: {:?}", i.findings);
        let m = Manifest::parse(&String::from_utf8(read(&format!("{name}.toml"))).unwrap()).unwrap();
        let f = m.check_against(&i.summary);
        assert!(f.is_empty(), "{name}: {f:?}");
        assert!(i.summary.parameters > 0 && i.summary.nodes > 0, "{name}");
        assert_eq!(i.summary.sha256.len(), 64);
        let text = i.summary.to_text();
        assert!(text.contains("skl2onnx") && text.contains("input"), "{text}");
    }
    // ZipMap's output is recognised as a sequence of maps.
    let z = inspect(&read("unemployment-logreg-zipmap.onnx"), &Limits::default());
    let p = z
        .summary
        .outputs
        .iter()
        .find(|p| p.name == "output_probability")
        .unwrap();
    assert!(p.is_sequence_of_maps(), "{}", p.r#type);
    assert_eq!(p.r#type, "seq(map(int64,tensor(float)))");
}

#[test]
fn hostile_models_are_rejected_naming_what_is_wrong() {
    for (file, rule, names) in [
        (
            "external_data_traversal",
            Rule::ExternalData,
            "../../../../../etc/passwd",
        ),
        ("mem_addr_marker", Rule::MemoryAddressMarker, "tensor \"w\""),
        ("custom_op_domain", Rule::Domain, "com.evil.ops"),
        ("truncated", Rule::NotOnnx, "protobuf"),
        ("huge_initializer", Rule::TensorSize, "[200000, 200000]"),
        ("many_nodes", Rule::NodeCount, "more than 20000 nodes"),
    ] {
        let i = inspect(&read(&format!("hostile/{file}.onnx")), &Limits::default());
        assert!(!i.accepted(), "{file} was accepted");
        let f = i
            .findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("{file}: no {rule:?} finding in {:?}", i.findings));
        let text = f.to_string();
        assert!(text.contains(names), "{file}: {text}");
    }
    // The runtime attacks are well-formed: inspection lets them through to the worker.
    for file in ["alloc_bomb", "cpu_bomb", "nan_output", "wrong_output_shape"] {
        let i = inspect(&read(&format!("hostile/{file}.onnx")), &Limits::default());
        assert!(i.accepted(), "{file}: {:?}", i.findings);
        let m = Manifest::parse(&String::from_utf8(read(&format!("hostile/{file}.toml"))).unwrap()).unwrap();
        assert!(m.check_against(&i.summary).is_empty(), "{file}");
    }
}

#[test]
fn caps_and_rules_are_configurable_and_named() {
    let bytes = read("unemployment-gbm.onnx");
    let tight = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    assert_eq!(inspect(&bytes, &tight).findings[0].rule, Rule::FileSize);
    let few = Limits {
        max_nodes: 3,
        ..Limits::default()
    };
    assert!(inspect(&bytes, &few).findings.iter().any(|f| f.rule == Rule::NodeCount));
    let old = Limits {
        onnx_opsets: (7, 10),
        ..Limits::default()
    };
    let f = inspect(&bytes, &old).findings;
    assert!(
        f.iter()
            .any(|f| f.rule == Rule::Opset && f.message.contains("outside the supported 7..=10")),
        "{f:?}"
    );
    // The marker is found wherever it hides, not only in tensors.
    let mut marked = read("unemployment-logreg.onnx");
    marked.extend_from_slice(b"\x52\x0e_ORT_MEM_ADDR_"); // field 10 (doc_string), length 14
    let f = inspect(&marked, &Limits::default()).findings;
    assert!(f.iter().any(|f| f.rule == Rule::MemoryAddressMarker), "{f:?}");
}

#[test]
fn a_manifest_that_does_not_fit_the_model_is_named() {
    let i = inspect(&read("unemployment-gbm.onnx"), &Limits::default());
    let text = String::from_utf8(read("unemployment-gbm.toml")).unwrap();
    // Drop a feature column: the width no longer matches.
    let fewer = text.replace("  { column = \"age\" },\n", "");
    let f = Manifest::parse(&fewer).unwrap().check_against(&i.summary);
    assert!(
        f.iter()
            .any(|f| f.location == "input \"features\"" && f.message.contains("declares 37 columns")),
        "{f:?}"
    );
    // Name an output the model lacks, and leave an input unmapped.
    let wrong = text
        .replace("probability = \"probabilities\"", "probability = \"probs\"")
        .replace("tensor = \"municipality\"", "tensor = \"kommune\"");
    let f = Manifest::parse(&wrong).unwrap().check_against(&i.summary);
    let msgs: Vec<String> = f.iter().map(ToString::to_string).collect();
    assert!(msgs.iter().any(|m| m.starts_with("output \"probs\"")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.starts_with("input \"kommune\"")), "{msgs:?}");
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("input \"municipality\"") && m.contains("does not say how")),
        "{msgs:?}"
    );
}

/// One model of `models/hostile/external/` and the refusal it must get (`expected.json`,
/// written by `make_external_data.py` from where it put the tensor).
#[derive(serde::Deserialize)]
struct Expected {
    file: String,
    rule: Rule,
    path: String,
}

fn expected_external() -> Vec<Expected> {
    #[derive(serde::Deserialize)]
    struct File {
        model: Vec<Expected>,
    }
    serde_json::from_slice::<File>(&read("hostile/external/expected.json"))
        .unwrap()
        .model
}

#[test]
fn a_tensor_with_external_data_is_refused_wherever_it_sits_naming_the_path() {
    let all = expected_external();
    assert!(all.len() >= 15, "{} models", all.len());
    for e in &all {
        let bytes = read(&format!("hostile/external/{}", e.file));
        for findings in [
            inspect(&bytes, &Limits::default()).findings,
            // What the worker calls before it hands the bytes to ONNX Runtime.
            inference::external_data_findings(&bytes, &Limits::default()),
        ] {
            assert!(
                findings.iter().any(|f| f.rule == e.rule && f.location == e.path),
                "{}: no {:?} finding at {}: {findings:#?}",
                e.file,
                e.rule,
                e.path
            );
            if e.rule == Rule::ExternalData {
                let f = findings.iter().find(|f| f.location == e.path).unwrap();
                if e.file != "data_location_only.onnx" {
                    assert!(f.message.contains("../../../etc/shadow"), "{}: {f}", e.file);
                } else {
                    assert!(f.message.contains("data_location = EXTERNAL"), "{}: {f}", e.file);
                }
            }
        }
    }
    // The sample models have no such finding, nor any field the schema does not know.
    for name in SAMPLES {
        let f = inference::external_data_findings(&read(&format!("{name}.onnx")), &Limits::default());
        assert!(f.is_empty(), "{name}: {f:?}");
    }
}

#[test]
fn a_hostile_name_in_the_path_is_escaped_and_shortened() {
    let mut bytes = read("hostile/external/constant_sparse_value.onnx");
    // Rename the node "const_w" to seven bytes with a terminal escape and a newline.
    let at = bytes.windows(7).position(|w| w == b"const_w").unwrap();
    bytes[at..at + 7].copy_from_slice(b"\x1b[2J\nok");
    let f = inspect(&bytes, &Limits::default()).findings;
    let f = f.iter().find(|f| f.rule == Rule::ExternalData).unwrap();
    assert!(
        f.location.contains(r#"node[0] "\u{1b}[2J\nok" (Constant)"#),
        "{}",
        f.location
    );
    assert!(!f.location.contains('\n') && !f.location.contains('\x1b'));
}

/// As the ONNX checker has it: a domain is imported when a node uses it. onnxmltools writes
/// tree ensembles as ai.onnx.ml operators only, with no default-domain opset; such a model is
/// accepted, and one whose default-domain node has no import is refused naming the operator.
#[test]
fn a_domain_must_be_imported_only_when_a_node_uses_it() {
    use inference::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};
    use prost::Message;
    let node = |op: &str, domain: &str| NodeProto {
        op_type: Some(op.into()),
        domain: Some(domain.into()),
        input: vec!["x".into()],
        output: vec!["y".into()],
        ..Default::default()
    };
    let model = |node: NodeProto, opsets: &[(&str, i64)]| {
        ModelProto {
            ir_version: Some(8),
            opset_import: opsets
                .iter()
                .map(|(d, v)| OperatorSetIdProto {
                    domain: Some((*d).into()),
                    version: Some(*v),
                })
                .collect(),
            graph: Some(GraphProto {
                name: Some("g".into()),
                node: vec![node],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let ml_only = inspect(
        &model(node("Normalizer", "ai.onnx.ml"), &[("ai.onnx.ml", 3)]),
        &Limits::default(),
    );
    assert!(ml_only.accepted(), "{:?}", ml_only.findings);
    let missing = inspect(&model(node("Relu", ""), &[("ai.onnx.ml", 3)]), &Limits::default());
    let f = missing
        .findings
        .iter()
        .find(|f| f.rule == Rule::Opset)
        .unwrap_or_else(|| panic!("no opset finding in {:?}", missing.findings));
    assert!(f.to_string().contains("\"Relu\" is of domain \"ai.onnx\""), "{f}");
    let ml_missing = inspect(
        &model(node("Normalizer", "ai.onnx.ml"), &[("", 17)]),
        &Limits::default(),
    );
    assert!(
        ml_missing.findings.iter().any(|f| f.rule == Rule::Opset),
        "{:?}",
        ml_missing.findings
    );
}
