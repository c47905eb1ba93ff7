//! `sandkasse metrics` end to end: a generated dataset whose injected bias is known, judged
//! against criteria, and bad input named precisely.

use std::fs;
use std::process::{Command, Output};

fn sandkasse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sandkasse"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn recorded_outcomes_with_label_bias_fail_equal_opportunity() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rehab.parquet");
    let out = sandkasse(&[
        "generate",
        "--quiet",
        "--scenario",
        "rehabilitation-need",
        "--rows",
        "300000",
        "--seed",
        "3",
        "--bias",
        "none",
        "--bias",
        "label_rate=0.2",
        "--bias",
        "label_group=origin:non_western",
        "--bias",
        "label_direction=down",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let criteria = dir.path().join("criteria.toml");
    fs::write(
        &criteria,
        "[[criterion]]\nattribute = \"origin\"\nmetric = \"equal_opportunity_difference\"\nop = \"<=\"\nthreshold = 0.1\n\n\
         [[criterion]]\nattribute = \"sex\"\nmetric = \"equal_opportunity_difference\"\nop = \"<=\"\nthreshold = 0.1\n",
    )
    .unwrap();
    // The historical records, used as if they were a model's decisions, against the truth.
    let report_path = dir.path().join("report.json");
    let out = sandkasse(&[
        "metrics",
        "--input",
        data.to_str().unwrap(),
        "--label",
        "outcome_true",
        "--prediction",
        "outcome_recorded",
        "--score",
        "p_true",
        "--group",
        "origin",
        "--group",
        "sex",
        "--criteria",
        criteria.to_str().unwrap(),
        "--bootstrap",
        "200",
        "--out",
        report_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report_path).unwrap()).unwrap();
    let origin = r["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["attribute"] == "origin")
        .unwrap();
    for g in origin["groups"].as_array().unwrap() {
        let tpr = g["metrics"]["true_positive_rate"]["value"].as_f64().unwrap();
        let expected = if g["group"].as_str().unwrap().ends_with("non_western") {
            0.8
        } else {
            1.0
        };
        let [lo, hi] = [
            g["metrics"]["true_positive_rate"]["bootstrap_interval"][0]
                .as_f64()
                .unwrap(),
            g["metrics"]["true_positive_rate"]["bootstrap_interval"][1]
                .as_f64()
                .unwrap(),
        ];
        assert!((tpr - expected).abs() < 0.05, "{}: TPR {tpr}", g["group"]);
        assert!(lo <= tpr && tpr <= hi);
    }
    assert_eq!(r["verdicts"][0]["verdict"], "fail");
    // With a second label, the same disparities against it: a model that simply copied the
    // records looks perfectly fair against the records and shows the injected gap against
    // the truth only when judged the other way round.
    let out = sandkasse(&[
        "metrics",
        "--input",
        data.to_str().unwrap(),
        "--label",
        "outcome_recorded",
        "--label-true",
        "outcome_true",
        "--prediction",
        "outcome_recorded",
        "--group",
        "origin",
        "--bootstrap",
        "0",
        "--min-group-size",
        "100",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let origin = r2["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["attribute"] == "origin")
        .unwrap();
    let tpr = |key: &str| {
        origin[key]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["metric"] == "true_positive_rate")
            .unwrap()["difference_between_groups"]["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(
        tpr("disparities"),
        0.0,
        "decisions equal to the recorded label have TPR 1 everywhere"
    );
    assert!(
        (tpr("disparities_vs_label_true") - 0.2).abs() < 0.05,
        "the injected 20 % gap shows against the truth"
    );
    assert_eq!(r["verdicts"][1]["verdict"], "pass");
    // The same as Markdown.
    let out = sandkasse(&[
        "metrics",
        "--input",
        data.to_str().unwrap(),
        "--label",
        "outcome_true",
        "--prediction",
        "outcome_recorded",
        "--group",
        "origin",
        "--bootstrap",
        "0",
        "--format",
        "md",
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains("## origin") && md.contains("below four fifths") || md.contains("meets the four-fifths rule"),
        "{md}"
    );
    // A score model, the row bootstrap, Markdown: the sweep table and the scheme are named.
    let out = sandkasse(&[
        "metrics",
        "--input",
        data.to_str().unwrap(),
        "--label",
        "outcome_recorded",
        "--score",
        "p_true",
        "--group",
        "origin",
        "--bootstrap",
        "200",
        "--bootstrap-scheme",
        "rows",
        "--format",
        "md",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("over all rows"), "{md}");
    assert!(md.contains("At other thresholds") && md.contains("| 0.95 |"), "{md}");
    let out = sandkasse(&[
        "metrics",
        "--input",
        data.to_str().unwrap(),
        "--label",
        "outcome_recorded",
        "--score",
        "p_true",
        "--group",
        "origin",
        "--bootstrap-scheme",
        "cells",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bootstrap-scheme"));
}

#[test]
fn bad_input_is_named_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    fs::write(&csv, "y,pred,g,p\n1,1,a,0.9\n0,0,b,0.2\n1,2,a,0.7\n0,1,b,1.4\n").unwrap();
    let path = csv.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["--label", "y", "--prediction", "pred", "--group", "g"],
            "column \"pred\", row 2: 2 is not a binary label",
        ),
        (
            vec!["--label", "y", "--score", "p", "--group", "g"],
            "column \"p\", row 3: score 1.4 is outside [0, 1]",
        ),
        (
            vec!["--label", "y", "--prediction", "pred", "--group", "town"],
            "column \"town\" not found; the input has: y, pred, g, p",
        ),
        (
            vec!["--label", "yy", "--prediction", "pred", "--group", "g"],
            "column \"yy\" not found",
        ),
    ] {
        let mut full = vec!["metrics", "--input", path, "--bootstrap", "0"];
        full.extend(args);
        let o = sandkasse(&full);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expected), "{err}\nexpected: {expected}");
    }
}

#[test]
fn counterfactual_twins_show_decision_flips() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("twins.parquet");
    let out = sandkasse(&[
        "generate",
        "--quiet",
        "--scenario",
        "unemployment-risk",
        "--rows",
        "50000",
        "--seed",
        "8",
        "--counterfactual",
        "origin",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = dir.path().join("r.json");
    let out = sandkasse(&[
        "metrics",
        "--input",
        data.to_str().unwrap(),
        "--label",
        "outcome_true",
        "--prediction",
        "outcome_recorded",
        "--score",
        "p_true",
        "--group",
        "origin",
        "--twin-id",
        "twin_id",
        "--bootstrap",
        "0",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let cf = &r["counterfactual"];
    assert_eq!(cf["overall"]["pairs"], 50_000);
    assert_eq!(cf["unmatched_rows"], 0);
    // Group metrics count the citizens only, not their twins.
    assert_eq!(r["overall"]["count"], 50_000.0);
    let to_nw = cf["by_change"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["from"] == "danish")
        .unwrap();
    assert_eq!(to_nw["to"], "immigrant_non_western");
    // The default label bias records more long-term unemployment for non-Western citizens,
    // so decisions copied from the records flip towards positive only.
    assert!(to_nw["flip_rate"].as_f64().unwrap() > 0.05);
    assert_eq!(to_nw["flips_to_negative"], 0);
}
