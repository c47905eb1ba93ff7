//! Bad input gets a clear error naming the column and the row.

use fairness::{Accumulator, Batch, Col, Config, GroupCol, MISSING, MetricName, MissingGroups, Report, encode_groups};

fn run(
    y: &[u8],
    pred: &[u8],
    score: Option<&[f64]>,
    groups: &[Option<&str>],
    missing: MissingGroups,
) -> Result<Report, String> {
    let (codes, valid, dict) = encode_groups(groups.iter().copied());
    let mut acc = Accumulator::new(&["origin"], score.is_some(), false, missing);
    acc.add(&Batch {
        label: Col {
            name: "outcome",
            values: y,
        },
        label_true: None,
        prediction: Col {
            name: "decision",
            values: pred,
        },
        score: score.map(|s| Col { name: "p", values: s }),
        weight: None,
        groups: vec![GroupCol {
            name: "origin",
            codes: &codes,
            valid: Some(&valid),
            dictionary: &dict,
        }],
    })
    .map_err(|e| e.to_string())?;
    Ok(Report::build(
        &acc,
        &Config {
            bootstrap: 0,
            min_group_size: 1.0,
            ..Config::default()
        },
    ))
}

#[test]
fn each_kind_of_bad_input_names_column_and_row() {
    let g = [Some("a"), Some("b"), Some("a")];
    let cases: Vec<(Result<Report, String>, &str)> = vec![
        (
            run(&[1, 0], &[1, 0, 1], None, &g, MissingGroups::Error),
            "column \"decision\" has 3 rows, expected 2",
        ),
        (
            run(&[1, 0, 2], &[1, 0, 1], None, &g, MissingGroups::Error),
            "column \"outcome\", row 2: 2 is not a binary label",
        ),
        (
            run(&[1, 0, 1], &[1, 7, 1], None, &g, MissingGroups::Error),
            "column \"decision\", row 1: 7",
        ),
        (
            run(&[1, 0, 1], &[1, 0, 1], Some(&[0.5, 1.5, 0.2]), &g, MissingGroups::Error),
            "column \"p\", row 1: score 1.5 is outside [0, 1]",
        ),
        (
            run(
                &[1, 0, 1],
                &[1, 0, 1],
                Some(&[0.5, f64::NAN, 0.2]),
                &g,
                MissingGroups::Error,
            ),
            "row 1: score NaN",
        ),
        (
            run(
                &[1, 0, 1],
                &[1, 0, 1],
                None,
                &[Some("a"), None, Some("b")],
                MissingGroups::Error,
            ),
            "group column \"origin\", row 1: value is missing",
        ),
    ];
    for (result, expected) in cases {
        let e = result
            .err()
            .unwrap_or_else(|| panic!("expected an error containing {expected:?}"));
        assert!(e.contains(expected), "{e}\nexpected: {expected}");
    }
}

#[test]
fn missing_group_values_can_form_their_own_group() {
    let r = run(
        &[1, 0, 1, 0],
        &[1, 0, 0, 0],
        None,
        &[Some("a"), None, Some("b"), None],
        MissingGroups::Group,
    )
    .unwrap();
    let a = r.attribute("origin").unwrap();
    let missing = a.group(MISSING).unwrap();
    assert_eq!(missing.count, 2.0);
    assert_eq!(missing.value(MetricName::SelectionRate), Some(0.0));
}
