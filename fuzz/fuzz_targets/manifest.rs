//! Manifest parsing, and checking a parsed manifest against a model's declared ports, must
//! never panic on any text.
#![no_main]

use inference::{Manifest, Port, Summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Manifest::parse(text) {
        let port = |name: &str, t: &str, elem: Option<&str>, shape: Option<Vec<&str>>| Port {
            name: name.to_owned(),
            r#type: t.to_owned(),
            elem_type: elem.map(str::to_owned),
            shape: shape.map(|s| s.into_iter().map(str::to_owned).collect()),
        };
        let summary = Summary {
            sha256: String::new(),
            file_bytes: 0,
            ir_version: 8,
            producer: String::new(),
            opsets: Default::default(),
            inputs: vec![
                port("features", "tensor(float)", Some("float"), Some(vec!["?", "37"])),
                port("municipality", "tensor(string)", Some("string"), Some(vec!["?", "1"])),
            ],
            outputs: vec![
                port("label", "tensor(int64)", Some("int64"), Some(vec!["?"])),
                port("probabilities", "tensor(float)", Some("float"), Some(vec!["?", "2"])),
                port("output_probability", "seq(map(int64,tensor(float)))", None, None),
            ],
            operators: Default::default(),
            nodes: 0,
            initializers: 0,
            parameters: 0,
        };
        let _ = m.check_against(&summary);
        let _ = m.columns();
        // What parses must serialise and parse back to the same manifest.
        let json = serde_json::to_string(&m).expect("a manifest serialises");
        assert_eq!(Manifest::parse(&json).ok().as_ref(), Some(&m));
    }
});
