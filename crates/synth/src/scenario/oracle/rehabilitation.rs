//! `rehabilitation-need`: citizens aged 65+ and whether they would benefit from rehabilitative
//! training (hverdagsrehabilitering, Serviceloven § 83 a).
//!
//! Causal model of the scenario (on top of the population's):
//!
//! ```text
//! age, chronic_conditions, frailty* ──> functional_score
//! hospital_days_12m ──> recent_discharge
//! functional_score, living_alone ──> home_care_hours_week
//! age, functional_score ──> falls_12m
//! recent_discharge, falls_12m, functional_score, age, living_alone, motivation* ──> p_true
//! outcome_true, label bias ──> outcome_recorded
//! (* latent, not in the data)
//! ```
//!
//! The benefit is highest at moderate functional loss: the fittest need no training and the
//! most impaired gain less from it. Origin has no direct arrow into `p_true`.

use crate::bias::{BiasConfig, Direction, Group};
use crate::dictionary::ColumnDoc;
use crate::model::Citizen;
use crate::paths::Recompute;
use crate::rng::{RowRng, Var, sigmoid};
use crate::scenario::{Outcome, Scenario, ScenarioColumns, held_var, observe};
use arrow::array::{ArrayRef, BooleanArray, Float32Array, UInt8Array};
use arrow::datatypes::DataType;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// `rehabilitation-need`: which citizens aged 65+ would benefit from rehabilitative training.
#[derive(Debug, Clone, Copy)]
pub struct RehabilitationNeed;

impl Scenario for RehabilitationNeed {
    fn name(&self) -> &'static str {
        "rehabilitation-need"
    }

    fn summary(&self) -> &'static str {
        "Citizens aged 65+ known to the municipality's elder care. Outcome: would benefit from \
         rehabilitative training (hverdagsrehabilitering). Default bias: non-Western citizens' \
         need is under-recorded (label bias down, 0.10: less often referred), they are \
         under-sampled (0.8), and their functional score is measured with more noise (sd 8 \
         points: assessments through an interpreter)."
    }

    fn ages(&self) -> RangeInclusive<u8> {
        65..=crate::population::MAX_AGE
    }

    fn cohort_weight(&self, age: u8, _male: bool) -> f64 {
        // Contact with elder care rises steeply with age.
        (1.0 + 0.06 * f64::from(age.saturating_sub(65))).min(3.0)
    }

    fn numeric_features(&self) -> &'static [&'static str] {
        &["functional_score", "home_care_hours_week", "falls_12m"]
    }

    fn recourse(&self) -> Option<crate::recourse::RecourseSpec> {
        use crate::recourse::{ActionDirection, Actionable, RecourseSpec};
        Some(RecourseSpec {
            unfavourable: false,
            why: "a citizen not found to benefit is not offered rehabilitative training",
            actions: vec![
                Actionable {
                    column: "functional_score",
                    direction: ActionDirection::Either,
                    min: 0.0,
                    max: 100.0,
                    unit: Some(1.0),
                    why: "a new assessment of the functional score",
                },
                Actionable {
                    column: "home_care_hours_week",
                    direction: ActionDirection::Either,
                    min: 0.0,
                    max: 40.0,
                    unit: Some(0.25),
                    why: "home care granted again, at most 40 hours a week",
                },
            ],
        })
    }

    fn measurement_errors(&self) -> Vec<crate::noise::ColumnError> {
        use crate::noise::{ColumnError, MeasurementError, normal};
        vec![
            normal(
                "functional_score",
                5.0,
                (0.0, 100.0),
                "two assessors score the same citizen about 5 points apart",
            ),
            ColumnError {
                column: "home_care_hours_week",
                error: MeasurementError::Relative {
                    sd: 0.1,
                    min: 0.0,
                    max: 168.0,
                },
                why: "visited hours differ from the hours granted by about 10 %",
            },
            normal("falls_12m", 0.5, (0.0, 20.0), "a fall not reported, or reported twice"),
        ]
    }

    fn default_bias(&self) -> BiasConfig {
        let nw = Group::parse("origin:non_western").expect("static selector");
        BiasConfig {
            label_rate: 0.10,
            label_group: nw.clone(),
            label_direction: Direction::Down,
            representation_factor: 0.8,
            representation_group: nw.clone(),
            measurement_sd: 8.0,
            measurement_group: nw,
            measurement_feature: Some("functional_score".into()),
            proxy_strength: 1.0,
        }
    }

    fn columns(&self) -> Vec<ColumnDoc> {
        let mut v = vec![
            ColumnDoc::new(
                "functional_score",
                DataType::Float32,
                "functional ability 0-100 (higher is better, Barthel-like), as assessed",
                &["age", "chronic_conditions", "frailty*", "measurement bias"],
            ),
            ColumnDoc::new(
                "recent_discharge",
                DataType::Boolean,
                "discharged from hospital in the last 3 months",
                &["hospital_days_12m"],
            ),
            ColumnDoc::new(
                "home_care_hours_week",
                DataType::Float32,
                "hours of home care per week",
                &["functional_score", "living_alone"],
            ),
            ColumnDoc::new(
                "falls_12m",
                DataType::UInt8,
                "falls in the last 12 months",
                &["age", "functional_score"],
            ),
        ];
        v.extend(Outcome::docs("would truly benefit from rehabilitative training"));
        v
    }

    fn builder(&self, capacity: usize) -> Box<dyn ScenarioColumns> {
        Box::new(Columns {
            last: Row::default(),
            score: Vec::with_capacity(capacity),
            discharge: Vec::with_capacity(capacity),
            care: Vec::with_capacity(capacity),
            falls: Vec::with_capacity(capacity),
            outcome: Outcome::with_capacity(capacity),
        })
    }
}

struct Columns {
    /// The variables of the row last pushed without holding: what its twins copy.
    last: Row,
    score: Vec<f32>,
    discharge: Vec<bool>,
    care: Vec<f32>,
    falls: Vec<u8>,
    outcome: Outcome,
}

/// One row's variables, true and observed: what a path-specific twin copies when it holds them.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// (true, observed)
    score: (f64, f32),
    recent: bool,
    care: (f64, f32),
    falls: (f64, u8),
}

impl ScenarioColumns for Columns {
    fn push(&mut self, c: &Citizen, rng: &RowRng, bias: &BiasConfig, held: Option<&Recompute>) {
        let held = held.map(|r| (self.last, r));
        let a = f64::from(c.age);
        let chronic = f64::from(c.chronic_conditions);
        let frailty = rng.normal(Var::Latent, 0);
        let motivation = rng.normal(Var::Latent, 1);

        let (score, score_obs) = held_var!(held, "functional_score", score, {
            let t = (96.0 - 0.9 * (a - 65.0) - 5.5 * chronic - 9.0 * frailty).clamp(0.0, 100.0);
            (
                t,
                observe(t, "functional_score", 0, c, rng, bias)
                    .clamp(0.0, 100.0)
                    .round() as f32,
            )
        });
        let recent = held_var!(
            held,
            "recent_discharge",
            recent,
            c.hospital_days > 0 && rng.bernoulli(Var::ScenarioA, 0, 0.45)
        );
        let (care, care_obs) = held_var!(held, "home_care_hours_week", care, {
            let t = if score >= 80.0 {
                0.0
            } else {
                let base = (80.0 - score) / 7.0 * if c.living_alone() { 1.3 } else { 1.0 };
                base * (0.35 * rng.normal(Var::ScenarioB, 0)).exp()
            };
            (
                t,
                ((observe(t, "home_care_hours_week", 1, c, rng, bias).max(0.0)) * 4.0).round() as f32 / 4.0,
            )
        });
        let (falls, falls_obs) = held_var!(held, "falls_12m", falls, {
            let t = f64::from(
                rng.poisson(
                    Var::ScenarioC,
                    0,
                    (-1.6 + 0.03 * (a - 75.0) + 0.025 * (70.0 - score)).exp(),
                )
                .min(20),
            );
            (
                t,
                observe(t, "falls_12m", 2, c, rng, bias).round().clamp(0.0, 50.0) as u8,
            )
        });

        let logit = -1.1 + 1.3 * f64::from(u8::from(recent)) + 0.45 * falls.min(3.0) - 0.0012 * (score - 58.0).powi(2)
            + 0.5
            - 0.06 * (a - 85.0).max(0.0)
            + if c.living_alone() { 0.25 } else { 0.0 }
            + 0.6 * motivation;
        let p = sigmoid(logit);

        if held.is_none() {
            self.last = Row {
                score: (score, score_obs),
                recent,
                care: (care, care_obs),
                falls: (falls, falls_obs),
            };
        }
        self.score.push(score_obs);
        self.discharge.push(recent);
        self.care.push(care_obs);
        self.falls.push(falls_obs);
        self.outcome.push(p, c, rng, bias, held.map(|(_, r)| r));
    }

    fn finish(self: Box<Self>) -> Vec<ArrayRef> {
        let mut out: Vec<ArrayRef> = vec![
            Arc::new(Float32Array::from(self.score)),
            Arc::new(BooleanArray::from(self.discharge)),
            Arc::new(Float32Array::from(self.care)),
            Arc::new(UInt8Array::from(self.falls)),
        ];
        self.outcome.finish(&mut out);
        out
    }
}
