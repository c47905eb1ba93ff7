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

/// The fixture's rows as a CSV file (outcome, prediction, sex, region), classes by name when given.
fn task_csv(dir: &std::path::Path, fixture: &str, classes: Option<&[&str]>) -> (std::path::PathBuf, serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/fairness/fixtures")
        .join(format!("{fixture}.json"));
    let f: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let cell = |v: &serde_json::Value| match classes {
        Some(c) => c[v.as_u64().unwrap() as usize].to_owned(),
        None => v.to_string(),
    };
    let mut csv = String::from("outcome,predicted,sex,region\n");
    for i in 0..f["y_true"].as_array().unwrap().len() {
        csv += &format!(
            "{},{},{},{}\n",
            cell(&f["y_true"][i]),
            cell(&f["y_pred"][i]),
            f["groups"]["sex"][i].as_str().unwrap(),
            f["groups"]["region"][i].as_str().unwrap()
        );
    }
    let out = dir.join(format!("{fixture}.csv"));
    fs::write(&out, csv).unwrap();
    (out, f)
}

fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a["value"].as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn regression_and_multiclass_metrics_from_a_file_agree_with_fairlearn() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, f) = task_csv(dir.path(), "tasks_regression", None);
    let args = |task: &str, extra: &[&str]| {
        let mut a = vec![
            "metrics",
            "--task",
            task,
            "--input",
            csv.to_str().unwrap(),
            "--label",
            "outcome",
            "--prediction",
            "predicted",
            "--group",
            "sex",
            "--group",
            "region",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| sandkasse(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args("regression", &[]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let region = &r["attributes"][1];
    assert_eq!(region["attribute"], "region");
    for g in region["groups"].as_array().unwrap() {
        let want = &f["fairlearn"]["region"][g["group"].as_str().unwrap()];
        for m in ["mean_error", "mean_absolute_error", "root_mean_squared_error", "r2"] {
            assert!(
                close(&g["metrics"][m], &want[m]),
                "{} {m}: {} vs {}",
                g["group"],
                g["metrics"][m],
                want[m]
            );
        }
    }
    // Options of the binary task are refused by name, not ignored.
    let out = run(args("regression", &["--score", "predicted"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--score applies to --task binary only"));

    let classes = ["none", "light", "medium", "heavy"];
    let (csv_mc, f) = task_csv(dir.path(), "tasks_multiclass", Some(&classes));
    let mc = |extra: &[&str]| {
        let mut a = vec![
            "metrics",
            "--task",
            "multiclass",
            "--input",
            csv_mc.to_str().unwrap(),
            "--label",
            "outcome",
            "--prediction",
            "predicted",
            "--group",
            "sex",
            "--group",
            "region",
        ];
        a.extend_from_slice(extra);
        sandkasse(&a)
    };
    let out = mc(&["--classes", "none,light,medium,heavy"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for g in r["attributes"][0]["groups"].as_array().unwrap() {
        let want = &f["fairlearn"]["sex"][g["group"].as_str().unwrap()];
        for m in [
            "accuracy",
            "macro_true_positive_rate",
            "macro_false_positive_rate",
            "macro_precision",
        ] {
            assert!(close(&g["metrics"][m], &want[m]), "{} {m}", g["group"]);
        }
        assert!(close(
            &g["metrics"]["classes"][3]["precision"],
            &want["precision[heavy]"]
        ));
    }
    // A class the list does not have is named with its row.
    let out = mc(&["--classes", "none,light,medium"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"heavy\" is not one of the classes (none, light, medium)") && err.contains("row "),
        "{err}"
    );
}

/// The eldercare scenario's data, judged by `metrics`: the true need as the "prediction" of a
/// perfect model shows the recording's biases as mean errors, largest for the group whose needs
/// the default bias under-records; its levels view is judged as a multi-class outcome.
#[test]
fn eldercare_data_is_judged_as_a_number_and_as_levels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("eldercare.parquet");
    let out = sandkasse(&[
        "generate",
        "--quiet",
        "--scenario",
        "eldercare-visitation",
        "--rows",
        "60000",
        "--seed",
        "3",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let judge = |task: &str, label: &str, prediction: &str, extra: &[&str]| {
        let mut a = vec![
            "metrics",
            "--task",
            task,
            "--input",
            data.to_str().unwrap(),
            "--label",
            label,
            "--prediction",
            prediction,
            "--group",
            "origin",
        ];
        a.extend_from_slice(extra);
        let out = sandkasse(&a);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let r = judge("regression", "outcome_recorded", "outcome_true", &[]);
    let groups = r["attributes"][0]["groups"].as_array().unwrap();
    let relative = |name: &str| {
        let g = groups.iter().find(|g| g["group"] == name).unwrap();
        g["metrics"]["mean_error"]["value"].as_f64().unwrap()
            / g["metrics"]["mean_prediction"]["value"].as_f64().unwrap()
    };
    // Every group's need is recorded lower than it is (spouses, practice); non-Western citizens'
    // by a further 15 % of what is recorded.
    assert!(relative("danish") > 0.0);
    assert!(
        relative("immigrant_non_western") > relative("danish") + 0.08,
        "{} vs {}",
        relative("immigrant_non_western"),
        relative("danish")
    );
    let r = judge(
        "multiclass",
        "level_recorded",
        "level_true",
        &["--classes", "none,light,medium,heavy"],
    );
    let overall = &r["overall"];
    let accuracy = overall["accuracy"]["value"].as_f64().unwrap();
    assert!(accuracy > 0.5 && accuracy < 1.0, "{accuracy}");
}
