//! `unemployment-risk`: newly unemployed citizens aged 18–66 and whether they become long-term
//! unemployed (more than 26 weeks), like the profiling behind the Danish Asta tool.
//!
//! Causal model of the scenario (on top of the population's):
//!
//! ```text
//! age, education, origin ──> ui_member
//! age, education, origin, attachment* ──> months_employed_3y ──> previous_spells_5y
//! sex, education ──> sector
//! chronic_conditions ──> sick_leave_days_12m
//! age, months_employed_3y, previous_spells_5y ──> jobcentre_contacts_3m
//! age, education, months_employed_3y, previous_spells_5y, chronic_conditions,
//!   sick_leave_days_12m, ui_member, attachment*, drive* ──> p_true ──> outcome_true
//! outcome_true, label bias ──> outcome_recorded
//! (* latent, not in the data)
//! ```
//!
//! Origin has no direct arrow into `p_true`: any direct use of origin (or its proxy,
//! municipality) by a model beyond what the mediating features carry is learned bias.

use crate::bias::{BiasConfig, Direction, Group};
use crate::dictionary::{ColumnDoc, categorical};
use crate::model::{Citizen, Education, Employment, Origin};
use crate::paths::Recompute;
use crate::rng::{RowRng, Var, sigmoid};
use crate::scenario::{Outcome, Scenario, ScenarioColumns, held_var, observe};
use arrow::array::{ArrayRef, BooleanArray, DictionaryArray, Int16Array, StringArray, UInt8Array, UInt16Array};
use arrow::datatypes::{DataType, Int16Type};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// `unemployment-risk`: which newly unemployed citizens become long-term unemployed.
#[derive(Debug, Clone, Copy)]
pub struct UnemploymentRisk;

pub const SECTORS: &[&str] = &[
    "manufacturing",
    "construction",
    "retail_wholesale",
    "transport_logistics",
    "hospitality",
    "health_social",
    "education",
    "office_it_finance",
    "public_administration",
    "agriculture",
    "cleaning_services",
];

impl Scenario for UnemploymentRisk {
    fn name(&self) -> &'static str {
        "unemployment-risk"
    }

    fn summary(&self) -> &'static str {
        "Newly unemployed citizens aged 18-66 registering at a job centre (like the profiling behind \
         the Asta tool). Outcome: long-term unemployment, i.e. still unemployed after 26 weeks. \
         Default bias: non-Western citizens' records over-state long-term unemployment (label \
         bias up, 0.10), they are under-sampled (0.8), and their months employed are under-measured \
         (foreign work history is missing from Danish registers: noise sd 4 months)."
    }

    fn ages(&self) -> RangeInclusive<u8> {
        18..=66
    }

    fn cohort_weight(&self, age: u8, _male: bool) -> f64 {
        // Inflow into unemployment falls with age until the late 50s, then rises slightly.
        let a = f64::from(age);
        (2.2 - 0.035 * (a - 18.0)).max(0.9) + if age >= 58 { 0.3 } else { 0.0 }
    }

    fn origin_weight(&self, origin: Origin) -> f64 {
        // The newly unemployed over-represent non-Western immigrants and descendants.
        match origin {
            Origin::ImmigrantNonWestern => 1.9,
            Origin::DescendantNonWestern => 1.5,
            Origin::ImmigrantWestern => 1.2,
            _ => 1.0,
        }
    }

    fn fixed_employment(&self) -> Option<Employment> {
        Some(Employment::Unemployed)
    }

    fn numeric_features(&self) -> &'static [&'static str] {
        &[
            "months_employed_3y",
            "sick_leave_days_12m",
            "jobcentre_contacts_3m",
            "previous_spells_5y",
        ]
    }

    fn recourse(&self) -> Option<crate::recourse::RecourseSpec> {
        use crate::recourse::{ActionDirection, Actionable, RecourseSpec};
        Some(RecourseSpec {
            unfavourable: true,
            why: "a citizen profiled as at risk of long-term unemployment is placed in a stricter track",
            actions: vec![
                Actionable {
                    column: "months_employed_3y",
                    direction: ActionDirection::Up,
                    min: 0.0,
                    max: 36.0,
                    unit: None,
                    why: "more months in work (a subsidised job or work trial counts), at most all 36",
                },
                Actionable {
                    column: "jobcentre_contacts_3m",
                    direction: ActionDirection::Up,
                    min: 0.0,
                    max: 12.0,
                    unit: None,
                    why: "more contacts with the job centre, at most one a week",
                },
            ],
        })
    }

    fn measurement_errors(&self) -> Vec<crate::noise::ColumnError> {
        use crate::noise::normal;
        vec![
            normal(
                "months_employed_3y",
                1.0,
                (0.0, 36.0),
                "employment register: a month counted on either side of a job's start or end",
            ),
            normal(
                "previous_spells_5y",
                0.5,
                (0.0, 255.0),
                "two spells joined or one split where a gap is a few days",
            ),
            normal(
                "jobcentre_contacts_3m",
                0.5,
                (0.0, 255.0),
                "a contact registered twice or not at all",
            ),
            normal(
                "sick_leave_days_12m",
                2.0,
                (0.0, 365.0),
                "sickness benefit register: the first days paid by the employer are not always reported",
            ),
        ]
    }

    fn default_bias(&self) -> BiasConfig {
        let nw = Group::parse("origin:non_western").expect("static selector");
        BiasConfig {
            label_rate: 0.10,
            label_group: nw.clone(),
            label_direction: Direction::Up,
            representation_factor: 0.8,
            representation_group: nw.clone(),
            measurement_sd: 4.0,
            measurement_group: nw,
            measurement_feature: Some("months_employed_3y".into()),
            proxy_strength: 1.0,
        }
    }

    fn columns(&self) -> Vec<ColumnDoc> {
        let mut v = vec![
            ColumnDoc::new(
                "ui_member",
                DataType::Boolean,
                "member of an unemployment insurance fund (a-kasse)",
                &["age", "education", "origin"],
            ),
            ColumnDoc::new(
                "months_employed_3y",
                DataType::UInt8,
                "months in employment during the last 3 years, as registers show it (0-36)",
                &["age", "education", "origin", "attachment*", "measurement bias"],
            ),
            ColumnDoc::new(
                "previous_spells_5y",
                DataType::UInt8,
                "earlier unemployment spells in the last 5 years",
                &["age", "education", "months_employed_3y"],
            ),
            ColumnDoc::new("sector", categorical(), "sector of the last job", &["sex", "education"])
                .with_values(SECTORS.iter().copied()),
            ColumnDoc::new(
                "jobcentre_contacts_3m",
                DataType::UInt8,
                "contacts with the job centre in the first 3 months",
                &["age", "months_employed_3y", "previous_spells_5y"],
            ),
            ColumnDoc::new(
                "sick_leave_days_12m",
                DataType::UInt16,
                "days of sick leave in the last 12 months",
                &["chronic_conditions"],
            ),
        ];
        v.extend(Outcome::docs(
            "true long-term unemployment: still unemployed after 26 weeks",
        ));
        v
    }

    fn builder(&self, capacity: usize) -> Box<dyn ScenarioColumns> {
        Box::new(Columns {
            last: Row::default(),
            ui: Vec::with_capacity(capacity),
            months: Vec::with_capacity(capacity),
            spells: Vec::with_capacity(capacity),
            sector: Vec::with_capacity(capacity),
            contacts: Vec::with_capacity(capacity),
            sick: Vec::with_capacity(capacity),
            outcome: Outcome::with_capacity(capacity),
        })
    }
}

struct Columns {
    /// The variables of the row last pushed without holding: what its twins copy.
    last: Row,
    ui: Vec<bool>,
    months: Vec<u8>,
    spells: Vec<u8>,
    sector: Vec<i16>,
    contacts: Vec<u8>,
    sick: Vec<u16>,
    outcome: Outcome,
}

/// One row's variables, true and observed: what a path-specific twin copies when it holds them.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    ui: bool,
    /// (true, observed)
    months: (f64, f64),
    spells: (f64, f64),
    sector: i16,
    sick: (f64, f64),
    contacts: (f64, f64),
}

impl ScenarioColumns for Columns {
    fn push(&mut self, c: &Citizen, rng: &RowRng, bias: &BiasConfig, held: Option<&Recompute>) {
        let held = held.map(|r| (self.last, r));
        let a = f64::from(c.age);
        let edu = c.education.score();
        let nw = if c.origin.is_non_western() { 1.0 } else { 0.0 };
        let young = if c.age < 25 { 1.0 } else { 0.0 };
        let attachment = rng.normal(Var::Latent, 0);
        let drive = rng.normal(Var::Latent, 1);

        let ui = held_var!(
            held,
            "ui_member",
            ui,
            rng.bernoulli(
                Var::ScenarioA,
                0,
                sigmoid(1.4 + 0.35 * edu - 0.9 * nw - 1.1 * young + 0.01 * (a - 30.0)),
            )
        );
        let (months_true, months_obs) = held_var!(held, "months_employed_3y", months, {
            let t = (36.0 * sigmoid(0.9 + 0.3 * edu - 0.5 * nw + 0.9 * attachment - 0.6 * young)).round();
            (
                t,
                observe(t, "months_employed_3y", 0, c, rng, bias)
                    .round()
                    .clamp(0.0, 36.0),
            )
        });
        let (spells_true, spells_obs) = held_var!(held, "previous_spells_5y", spells, {
            let t = f64::from(rng.poisson(
                Var::ScenarioB,
                0,
                (-0.2 + 0.8 * (months_true < 18.0) as u8 as f64 - 0.15 * edu + 0.3 * young).exp(),
            ));
            (
                t,
                observe(t, "previous_spells_5y", 1, c, rng, bias)
                    .round()
                    .clamp(0.0, 30.0),
            )
        });
        let sector = held_var!(held, "sector", sector, {
            let u = rng.uniform(Var::ScenarioC, 0);
            // Weights by sex and education, in SECTORS order.
            let mut w = [14.0, 10.0, 15.0, 9.0, 8.0, 12.0, 5.0, 10.0, 6.0, 3.0, 8.0];
            if c.male {
                for (i, f) in [(0, 1.5), (1, 2.5), (3, 1.6), (5, 0.4), (6, 0.6), (10, 0.7)] {
                    w[i] *= f;
                }
            } else {
                for (i, f) in [(1, 0.2), (3, 0.5), (5, 2.0), (6, 1.5), (10, 1.3)] {
                    w[i] *= f;
                }
            }
            if edu >= 3.0 {
                for (i, f) in [(6, 3.0), (7, 3.0), (8, 2.5), (0, 0.5), (1, 0.3), (4, 0.4), (10, 0.2)] {
                    w[i] *= f;
                }
            } else if c.education == Education::Basic {
                for (i, f) in [(4, 2.0), (10, 2.0), (7, 0.3), (8, 0.3), (6, 0.3)] {
                    w[i] *= f;
                }
            }
            let total: f64 = w.iter().sum();
            let mut acc = 0.0;
            let mut s = SECTORS.len() - 1;
            for (i, wi) in w.iter().enumerate() {
                acc += wi / total;
                if u < acc {
                    s = i;
                    break;
                }
            }
            s as i16
        });
        let (sick_true, sick_obs) = held_var!(held, "sick_leave_days_12m", sick, {
            let t = if rng.bernoulli(Var::ScenarioD, 0, sigmoid(-0.6 + 0.6 * f64::from(c.chronic_conditions))) {
                (-(rng.uniform(Var::ScenarioD, 1).ln()) * (6.0 + 8.0 * f64::from(c.chronic_conditions))).min(365.0)
            } else {
                0.0
            };
            (
                t,
                observe(t, "sick_leave_days_12m", 2, c, rng, bias)
                    .round()
                    .clamp(0.0, 365.0),
            )
        });
        let (contacts_true, contacts_obs) = held_var!(held, "jobcentre_contacts_3m", contacts, {
            let t = f64::from(rng.poisson(
                Var::ScenarioE,
                0,
                2.0 + 0.3 * spells_true + 0.5 * (months_true < 12.0) as u8 as f64 + 0.4 * young,
            ));
            (
                t,
                observe(t, "jobcentre_contacts_3m", 3, c, rng, bias)
                    .round()
                    .clamp(0.0, 60.0),
            )
        });

        // True risk of long-term unemployment, on the true feature values.
        let logit = -1.35
            + 0.035 * (a - 40.0)
            + 0.00045 * (a - 40.0).powi(2)
            + if c.education == Education::Basic { 0.45 } else { 0.0 }
            - 0.18 * edu
            - 0.05 * (months_true - 24.0)
            + 0.22 * spells_true
            + 0.3 * f64::from(c.chronic_conditions)
            + 0.012 * sick_true
            + if ui { 0.0 } else { 0.35 }
            - 0.35 * attachment
            - 0.5 * drive;
        let p = sigmoid(logit);

        if held.is_none() {
            self.last = Row {
                ui,
                months: (months_true, months_obs),
                spells: (spells_true, spells_obs),
                sector,
                sick: (sick_true, sick_obs),
                contacts: (contacts_true, contacts_obs),
            };
        }
        self.ui.push(ui);
        self.months.push(months_obs as u8);
        self.spells.push(spells_obs as u8);
        self.sector.push(sector);
        self.contacts.push(contacts_obs as u8);
        self.sick.push(sick_obs as u16);
        self.outcome.push(p, c, rng, bias, held.map(|(_, r)| r));
    }

    fn finish(self: Box<Self>) -> Vec<ArrayRef> {
        let sectors = Arc::new(StringArray::from(SECTORS.to_vec()));
        let mut out: Vec<ArrayRef> = vec![
            Arc::new(BooleanArray::from(self.ui)),
            Arc::new(UInt8Array::from(self.months)),
            Arc::new(UInt8Array::from(self.spells)),
            Arc::new(
                DictionaryArray::<Int16Type>::try_new(Int16Array::from(self.sector), sectors)
                    .expect("sector keys are in range by construction"),
            ),
            Arc::new(UInt8Array::from(self.contacts)),
            Arc::new(UInt16Array::from(self.sick)),
        ];
        self.outcome.finish(&mut out);
        out
    }
}
