//! The threshold sweep's disparities equal those of the decisions `score >= t` made explicit.

use fairness::{Accumulator, Batch, Col, Config, GroupCol, MissingGroups, RateMetric, Report, sweep_thresholds};

mod common;
use common::Rng;

fn report(y: &[u8], pred: &[u8], score: Option<&[f64]>, sex: &[u32], region: &[u32]) -> Report {
    let sexes = vec!["f".to_owned(), "m".to_owned()];
    let regions: Vec<String> = ["hovedstaden", "midtjylland", "nordjylland"].map(String::from).to_vec();
    let mut acc = Accumulator::new(&["sex", "region"], score.is_some(), false, MissingGroups::Error);
    acc.add(&Batch {
        label: Col { name: "y", values: y },
        label_true: None,
        prediction: Col {
            name: "pred",
            values: pred,
        },
        score: score.map(|s| Col { name: "p", values: s }),
        weight: None,
        groups: vec![
            GroupCol {
                name: "sex",
                codes: sex,
                valid: None,
                dictionary: &sexes,
            },
            GroupCol {
                name: "region",
                codes: region,
                valid: None,
                dictionary: &regions,
            },
        ],
    })
    .unwrap();
    Report::build(
        &acc,
        &Config {
            bootstrap: 0,
            min_group_size: 40.0,
            ..Config::default()
        },
    )
}

#[test]
fn sweep_disparities_match_explicit_decisions_at_each_threshold() {
    let mut rng = Rng(42);
    let n = 3000;
    let (mut y, mut score, mut sex, mut region) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let s = (rng.uniform() * 2.0) as u32;
        // Region 2 is small, so some intersections fall under the minimum size.
        let r = if i % 50 == 0 { 2 } else { (rng.uniform() * 2.0) as u32 };
        let p = (rng.uniform() * 0.8 + 0.1 * f64::from(s) + 0.05 * f64::from(r)).min(1.0);
        y.push(u8::from(rng.uniform() < p));
        // Scores on a 0.01 grid, so many rows sit exactly on a sweep threshold.
        score.push((p * 100.0).round() / 100.0);
        sex.push(s);
        region.push(r);
    }
    let at_half: Vec<u8> = score.iter().map(|&s| u8::from(s >= 0.5)).collect();
    let with_scores = report(&y, &at_half, Some(&score), &sex, &region);
    let thresholds = sweep_thresholds();
    let mut compared = 0;
    for (k, &t) in thresholds.iter().enumerate() {
        let pred: Vec<u8> = score.iter().map(|&s| u8::from(s >= t)).collect();
        let explicit = report(&y, &pred, None, &sex, &region);
        for (a, b) in with_scores.attributes.iter().zip(&explicit.attributes) {
            let point = &a.threshold_sweep[k];
            assert_eq!(point.threshold, t);
            for (s, d) in point.disparities.iter().zip(&b.disparities) {
                assert_eq!(s.metric, d.metric);
                for (x, y) in [
                    (s.difference_between_groups, d.difference_between_groups.value),
                    (s.ratio_between_groups, d.ratio_between_groups.value),
                    (s.difference_to_overall, d.difference_to_overall.value),
                    (s.ratio_to_overall, d.ratio_to_overall.value),
                ] {
                    assert_eq!(x, y, "{} {} at {t}", a.attribute, s.metric);
                    compared += usize::from(x.is_some());
                }
            }
            assert_eq!(
                point.equalized_odds_difference,
                b.combined.equalized_odds_difference.value
            );
            let di: Vec<f64> = b
                .combined
                .disparate_impact
                .iter()
                .filter_map(|c| c.ratio.value)
                .collect();
            assert_eq!(point.disparate_impact_min, di.iter().copied().reduce(f64::min));
            let rule: Vec<Option<bool>> = b.combined.four_fifths_rule.iter().map(|r| r.1).collect();
            let all = rule
                .iter()
                .all(Option::is_some)
                .then(|| rule.iter().all(|r| *r == Some(true)));
            assert_eq!(point.four_fifths_rule, if rule.is_empty() { None } else { all });
        }
    }
    assert!(compared > 1000, "{compared}");
    // At the decision threshold the sweep agrees with the report's own disparities.
    let k = thresholds.iter().position(|&t| t == 0.5).unwrap();
    let sex_attr = with_scores.attribute("sex").unwrap();
    assert_eq!(
        sex_attr.threshold_sweep[k].disparities[0].difference_between_groups,
        sex_attr
            .disparity(RateMetric::SelectionRate)
            .unwrap()
            .difference_between_groups
            .value
    );
}
