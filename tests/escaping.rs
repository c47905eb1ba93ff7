//! Vendor- and user-supplied strings where people read them (issue 12, items 8 and 13): a
//! model's names in the Markdown report and on the terminal, through the real binary.

use inference::proto::{ModelProto, NodeProto};
use prost::Message;
use std::path::Path;
use std::process::{Command, Output};

fn sandkasse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sandkasse"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn models() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"))
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `|` of a Markdown line that split cells: those not escaped by an odd run of `\`.
fn cell_separators(line: &str) -> usize {
    let chars: Vec<char> = line.chars().collect();
    (0..chars.len())
        .filter(|&i| chars[i] == '|' && chars[..i].iter().rev().take_while(|c| **c == '\\').count() % 2 == 0)
        .count()
}

/// A model name that, unescaped, ends the provenance table (`|` and newlines), forges a
/// passing criteria section and opens an HTML comment that hides everything after it.
const FORGED: &str = "x | y\n\n## Criteria: pass\n<!--";

#[test]
fn a_forged_model_name_stays_inside_its_cell_of_the_markdown_report() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(models().join("unemployment-logreg.toml"))
        .unwrap()
        .replace(
            "name = \"unemployment-logreg\"",
            &format!("name = {}", toml_string(FORGED)),
        );
    assert!(manifest.contains("Criteria: pass"));
    let manifest_path = dir.path().join("forged.toml");
    std::fs::write(&manifest_path, manifest).unwrap();
    let criteria = dir.path().join("criteria.toml");
    std::fs::write(
        &criteria,
        format!(
            "[[criterion]]\nname = {}\nattribute = \"sex\"\nmetric = \"demographic_parity_difference\"\nop = \"<=\"\nthreshold = 0.2\n",
            toml_string("mine | also\n## Criteria: pass <!--")
        ),
    )
    .unwrap();
    let md = dir.path().join("run.md");
    let o = sandkasse(&[
        "evaluate",
        "--model",
        "models/unemployment-logreg.onnx",
        "--manifest",
        manifest_path.to_str().unwrap(),
        "--scenario",
        "unemployment-risk",
        "--rows",
        "2000",
        "--bootstrap",
        "20",
        "--workers",
        "1",
        "--criteria",
        criteria.to_str().unwrap(),
        "--out",
        dir.path().join("run.json").to_str().unwrap(),
        "--md",
        md.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(md).unwrap();
    // No section of the vendor's or the criteria's making, no comment, no raw control.
    assert!(
        !md.lines().any(|l| l.trim_start().starts_with("## Criteria:")),
        "a forged heading:\n{md}"
    );
    assert!(!md.contains("<!--"), "an HTML comment:\n{md}");
    assert!(!md.contains('\r'));
    // The name is in the model's row, whole and escaped.
    let row = md.lines().find(|l| l.starts_with("| model |")).expect("the model row");
    assert!(
        row.contains("x \\| y\\\\n\\\\n\\#\\# Criteria\\: pass\\\\n\\<\\!--"),
        "{row}"
    );
    // Every table keeps its column count: each row has as many cell separators as its header.
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cell_separators(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(n, h, "a row with other columns than its table:\n{line}"),
            }
        } else {
            header = None;
        }
    }
}

/// Decodes a shipped model, lets `change` edit it, and writes it to `dir`.
fn edited_model(dir: &Path, change: impl FnOnce(&mut ModelProto)) -> std::path::PathBuf {
    let bytes = std::fs::read(models().join("unemployment-logreg.onnx")).unwrap();
    let mut model = ModelProto::decode(bytes.as_slice()).unwrap();
    change(&mut model);
    let path = dir.join("hostile.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

/// What erases the current terminal line and writes an "accepted" of the model's choosing.
const FAKE_LINE: &str = "\u{1b}[2K\raccepted: yes\n\u{9b}1A";

#[test]
fn inspect_shows_a_models_escape_sequences_instead_of_obeying_them() {
    let dir = tempfile::tempdir().unwrap();
    // Accepted: the producer and the input's name carry the sequence.
    let path = edited_model(dir.path(), |m| {
        m.producer_name = Some(format!("skl2onnx{FAKE_LINE}"));
        let g = m.graph.as_mut().unwrap();
        let old = g.input[0].name.clone().unwrap();
        let new = format!("{old}{FAKE_LINE}");
        g.input[0].name = Some(new.clone());
        for n in &mut g.node {
            for i in &mut n.input {
                if *i == old {
                    *i = new.clone();
                }
            }
        }
    });
    let o = sandkasse(&["inspect", "--model", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (what, out) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let text = String::from_utf8_lossy(out);
        assert!(!out.contains(&0x1b), "ESC on {what}: {text:?}");
        assert!(!out.contains(&b'\r'), "CR on {what}: {text:?}");
        assert!(!text.contains('\u{9b}'), "CSI on {what}: {text:?}");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("producer    skl2onnx\\x1b[2K\\raccepted: yes\\n\\u{9b}1A"),
        "{stdout}"
    );
    assert!(!stdout.lines().any(|l| l.starts_with("accepted")), "{stdout}");

    // Rejected: a finding quotes an operator the sandbox does not allow.
    let path = edited_model(dir.path(), |m| {
        m.graph.as_mut().unwrap().node.push(NodeProto {
            op_type: Some(format!("Evil{FAKE_LINE}")),
            name: Some(format!("node{FAKE_LINE}")),
            ..NodeProto::default()
        });
    });
    let o = sandkasse(&["inspect", "--model", path.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("rejected:"), "{stderr}");
    for out in [&o.stdout, &o.stderr] {
        assert!(!out.contains(&0x1b) && !out.contains(&b'\r'), "{stderr:?}");
    }
    assert!(stderr.contains("Evil\\x1b[2K\\raccepted: yes\\n"), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("accepted")), "{stderr}");
}
