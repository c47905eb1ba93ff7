//! Permutation importance on a model whose dependence is known by construction.

use arrow::array::{Float64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use explain::{ExplainError, Groups, ImportanceConfig, Outcomes, Scored, permutation_importance};
use std::sync::Arc;

/// 400 rows: `x` in [0, 1), `noise` unrelated, `town` a category; the outcome is `x > 0.5`
/// with every tenth row flipped, so no model is perfect.
fn rows() -> (RecordBatch, Vec<bool>, Vec<bool>, Groups) {
    let n = 400;
    let x: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64 / n as f64).collect();
    let noise: Vec<f64> = (0..n).map(|i| ((i * 91 + 13) % n) as f64 / n as f64).collect();
    let town: Vec<&str> = (0..n).map(|i| if i % 3 == 0 { "Aarhus" } else { "Odense" }).collect();
    let truth: Vec<bool> = x.iter().map(|&v| v > 0.5).collect();
    let recorded: Vec<bool> = truth.iter().enumerate().map(|(i, &t)| t != (i % 10 == 0)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("noise", DataType::Float64, false),
        Field::new("town", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(x)),
            Arc::new(Float64Array::from(noise)),
            Arc::new(StringArray::from(town.clone())),
        ],
    )
    .unwrap();
    let groups = Groups {
        attribute: "town".into(),
        values: vec!["Aarhus".into(), "Odense".into(), "Aalborg".into()],
        codes: town.iter().map(|&t| u32::from(t == "Odense")).collect(),
    };
    (batch, recorded, truth, groups)
}

/// A model that reads `x` only.
fn model(rows: &RecordBatch) -> Result<Scored, String> {
    let x = rows.column_by_name("x").ok_or("no x")?;
    let x = x.as_any().downcast_ref::<Float64Array>().ok_or("x is not f64")?;
    let score: Vec<f64> = x
        .values()
        .iter()
        .map(|&v| 1.0 / (1.0 + (-8.0 * (v - 0.5)).exp()))
        .collect();
    Ok(Scored {
        decision: score.iter().map(|&p| p >= 0.5).collect(),
        score: Some(score),
    })
}

#[test]
fn an_ignored_input_has_importance_exactly_zero_and_a_used_one_an_interval_above_zero() {
    let (batch, recorded, truth, groups) = rows();
    let outcomes = Outcomes {
        recorded: &recorded,
        truth: Some(&truth),
    };
    let mut scorer = model;
    let imp = permutation_importance(
        &batch,
        &["x", "noise", "town"],
        outcomes,
        std::slice::from_ref(&groups),
        &mut scorer,
        ImportanceConfig::default(),
    )
    .unwrap();
    assert_eq!(imp.rows, 400);
    let x = &imp.columns[0];
    for drops in std::iter::once(&x.overall).chain(x.groups.iter().map(|g| &g.drops)) {
        let [lo, _] = drops.decisions_changed.interval.unwrap();
        assert!(lo > 0.2, "permuting x changes many decisions: {drops:?}");
        for m in [&drops.recorded, drops.truth.as_ref().unwrap()] {
            for e in [&m.roc_auc, &m.accuracy, &m.log_loss] {
                let [lo, _] = e.as_ref().unwrap().interval.unwrap();
                assert!(lo > 0.0, "{m:?}");
            }
        }
    }
    // Against the true outcome the model is perfect, so it loses more there than against the
    // recorded one, where a tenth of the labels are flipped.
    let acc = |m: &explain::MetricDrops| m.accuracy.as_ref().unwrap().mean;
    assert!(acc(x.overall.truth.as_ref().unwrap()) > acc(&x.overall.recorded));
    for ignored in &imp.columns[1..] {
        for drops in std::iter::once(&ignored.overall).chain(ignored.groups.iter().map(|g| &g.drops)) {
            let zero = |e: &explain::Effect| e.mean == 0.0 && e.sd == 0.0 && e.interval == Some([0.0, 0.0]);
            assert!(zero(&drops.decisions_changed), "{}: {drops:?}", ignored.column);
            for m in [&drops.recorded, drops.truth.as_ref().unwrap()] {
                for e in [&m.roc_auc, &m.accuracy, &m.log_loss] {
                    assert!(zero(e.as_ref().unwrap()), "{}: {m:?}", ignored.column);
                }
            }
        }
    }
    // The empty group (Aalborg) is left out; the others are there with their sizes.
    let sizes: Vec<(&str, usize)> = x.groups.iter().map(|g| (g.value.as_str(), g.drops.rows)).collect();
    assert_eq!(sizes, [("Aarhus", 134), ("Odense", 266)]);
}

#[test]
fn numbers_depend_on_the_seed_only_not_on_which_other_columns_are_asked() {
    let (batch, recorded, _, groups) = rows();
    let outcomes = Outcomes {
        recorded: &recorded,
        truth: None,
    };
    let config = ImportanceConfig {
        repeats: 4,
        seed: 11,
        confidence: 0.9,
    };
    let run = |cols: &[&str], config| {
        let mut scorer = model;
        permutation_importance(
            &batch,
            cols,
            outcomes,
            std::slice::from_ref(&groups),
            &mut scorer,
            config,
        )
        .unwrap()
    };
    let both = run(&["noise", "x"], config);
    let alone = run(&["x"], config);
    assert_eq!(both.columns[1], alone.columns[0]);
    assert_eq!(run(&["x"], config), alone);
    let other = run(&["x"], ImportanceConfig { seed: 12, ..config });
    assert_ne!(other.columns[0].overall, alone.columns[0].overall);
    assert!(alone.columns[0].overall.truth.is_none());
}

#[test]
fn bad_input_is_refused_with_what_was_wrong() {
    let (batch, recorded, _, groups) = rows();
    let outcomes = Outcomes {
        recorded: &recorded,
        truth: None,
    };
    let mut scorer = model;
    let e = permutation_importance(
        &batch,
        &["agee"],
        outcomes,
        &[],
        &mut scorer,
        ImportanceConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ExplainError::UnknownColumn { .. }));
    assert_eq!(
        e.to_string(),
        "column \"agee\" is not in the rows; they have: x, noise, town"
    );
    let short = Outcomes {
        recorded: &recorded[..10],
        truth: None,
    };
    let e = permutation_importance(&batch, &["x"], short, &[], &mut scorer, ImportanceConfig::default()).unwrap_err();
    assert_eq!(e.to_string(), "the recorded outcome has 10 values for 400 rows");
    let one = ImportanceConfig {
        repeats: 1,
        ..Default::default()
    };
    let e = permutation_importance(&batch, &["x"], outcomes, &[], &mut scorer, one).unwrap_err();
    assert!(e.to_string().contains("repeats must be 2 to 1000"), "{e}");
    let mut bad_groups = groups.clone();
    bad_groups.codes[5] = 9;
    let e = permutation_importance(
        &batch,
        &["x"],
        outcomes,
        &[bad_groups],
        &mut scorer,
        ImportanceConfig::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("coded 9 but only 3 values"), "{e}");
    let mut liar = |rows: &RecordBatch| -> Result<Scored, String> {
        Ok(Scored {
            decision: vec![true; rows.num_rows() - 1],
            score: None,
        })
    };
    let e = permutation_importance(&batch, &["x"], outcomes, &[], &mut liar, ImportanceConfig::default()).unwrap_err();
    assert!(e.to_string().contains("399 decisions and 0 scores for 400 rows"), "{e}");
    // A score that is not a probability (NaN would also stall a ranking) is refused.
    let mut nan = |rows: &RecordBatch| -> Result<Scored, String> {
        Ok(Scored {
            decision: vec![true; rows.num_rows()],
            score: Some(vec![f64::NAN; rows.num_rows()]),
        })
    };
    let e = permutation_importance(&batch, &["x"], outcomes, &[], &mut nan, ImportanceConfig::default()).unwrap_err();
    assert!(e.to_string().contains("a score must be a probability in [0, 1]"), "{e}");
}

/// Partial dependence of the model that reads `x` only: at each grid value every row has the
/// same score, sigmoid(8 (v − 0.5)), so the curve, every group's curve and every ICE curve are
/// exactly that; for `noise` and `town` the curve is flat at the mean score of the rows.
#[test]
fn partial_dependence_equals_the_hand_computed_curve() {
    let (batch, _, _, groups) = rows();
    let mut scorer = model;
    let pd = explain::partial_dependence(
        &batch,
        &["x", "noise", "town"],
        std::slice::from_ref(&groups),
        &mut scorer,
    )
    .unwrap();
    let x = &pd[0];
    assert_eq!(x.grid_kind, explain::GridKind::Percentiles);
    assert_eq!(x.grid.len(), explain::NUMERIC_GRID_POINTS);
    // The 5th and 95th percentiles of 0/400 .. 399/400, linearly interpolated.
    let number = |g: &explain::GridValue| match g {
        explain::GridValue::Number(v) => *v,
        other => panic!("{other:?}"),
    };
    assert!((number(&x.grid[0]) - 19.95 / 400.0).abs() < 1e-15);
    assert!((number(&x.grid[19]) - 379.05 / 400.0).abs() < 1e-15);
    for (k, g) in x.grid.iter().enumerate() {
        let want = 1.0 / (1.0 + (-8.0 * (number(g) - 0.5)).exp());
        assert!((x.mean_score[k] - want).abs() < 1e-12, "{k}");
        assert_eq!(x.decision_rate[k], if want >= 0.5 { 1.0 } else { 0.0 });
        for c in &x.groups {
            assert!((c.mean_score[k] - want).abs() < 1e-12);
        }
        for c in &x.ice {
            assert_eq!(c.score[k], x.ice[0].score[k]);
        }
    }
    assert_eq!(x.ice.len(), explain::ICE_ROWS);
    assert_eq!(x.groups.iter().map(|g| g.rows).sum::<usize>(), 400);
    let base = model(&batch).unwrap().score.unwrap();
    let mean = base.iter().sum::<f64>() / base.len() as f64;
    for flat in &pd[1..] {
        assert!(
            flat.mean_score.iter().all(|&m| (m - mean).abs() < 1e-12),
            "{}",
            flat.column
        );
    }
    assert_eq!(pd[2].grid_kind, explain::GridKind::Categories);
    assert_eq!(
        pd[2].grid,
        [
            explain::GridValue::Category("Aarhus".into()),
            explain::GridValue::Category("Odense".into())
        ]
    );
    // The row's own curve for a column the model ignores is its own score at every value.
    for c in &pd[1].ice {
        assert!(c.score.iter().all(|&s| s == base[c.row]));
    }
}

/// Twins of the rows of [`rows`]: `x` moved by +0.3 in every third row, `noise` changed in every
/// row. The model reads `x` only, so a pair flips exactly when the move crosses 0.5, `x` alone
/// reverses every flip, and `noise` differs in every flipped pair but changes nothing.
#[test]
fn flip_contributions_name_the_input_that_flips_the_decision() {
    let (batch, _, _, _) = rows();
    let x = batch.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
    let moved: Vec<f64> = x
        .values()
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % 3 == 0 { v + 0.3 } else { v })
        .collect();
    let noise: Vec<f64> = (0..400).map(|i| i as f64).collect();
    let twins = RecordBatch::try_new(
        batch.schema(),
        vec![
            std::sync::Arc::new(Float64Array::from(moved.clone())),
            std::sync::Arc::new(Float64Array::from(noise)),
            batch.column(2).clone(),
        ],
    )
    .unwrap();
    let mut scorer = model;
    let f = explain::flip_contributions(&batch, &twins, &["x", "noise", "town"], &mut scorer).unwrap();
    let p = |v: f64| 1.0 / (1.0 + (-8.0 * (v - 0.5)).exp());
    let want: Vec<usize> = (0..400)
        .filter(|&i| (p(x.value(i)) >= 0.5) != (p(moved[i]) >= 0.5))
        .collect();
    assert!(!want.is_empty());
    assert_eq!((f.pairs, f.flipped), (400, want.len()));
    assert_eq!(f.columns.len(), 2, "town never differs: {:?}", f.columns);
    let xc = &f.columns[0];
    assert_eq!(
        (xc.column.as_str(), xc.pairs_differing, xc.reverses),
        ("x", want.len(), want.len())
    );
    let mean: f64 = want.iter().map(|&i| p(moved[i]) - p(x.value(i))).sum::<f64>() / want.len() as f64;
    assert!((xc.mean_score_change - mean).abs() < 1e-12);
    let nc = &f.columns[1];
    assert_eq!(
        (nc.column.as_str(), nc.pairs_differing, nc.reverses),
        ("noise", want.len(), 0)
    );
    assert_eq!((nc.mean_score_change, nc.mean_abs_score_change), (0.0, 0.0));
    assert_eq!(f.examples.len(), want.len().min(explain::FLIP_EXAMPLES));
    assert_eq!(f.examples[0].pair, want[0]);
    assert_eq!(f.examples[0].changes.len(), 2);
    let short = batch.slice(0, 10);
    assert!(explain::flip_contributions(&batch, &short, &["x"], &mut scorer).is_err());
}
