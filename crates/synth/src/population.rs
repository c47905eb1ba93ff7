//! The population model: who a synthetic citizen is, drawn through a documented causal DAG.
//!
//! ```text
//! identity slot ──> (age, sex, birth date, CPR)
//! age, sex ──> origin ──> country_of_origin ──> names
//!                │   └──> municipality ──> region          (proxy: municipality encodes origin)
//! age, sex, origin ──> education ──> chronic_conditions ──> hospital_days
//! age, sex, origin, education, chronic ──> employment ──> income
//! age, sex, origin ──> household ──> n_children, living_alone
//! ```
//!
//! Identity: the scenario's age-by-sex distribution is laid out as a space of *slots*, each
//! cohort (age, sex) getting slots in proportion to its weight, and each slot standing for one
//! (birth date, CPR serial) pair. Row `g` takes slot `perm(g)` of a keyed permutation, so
//! different rows always get different CPR numbers — uniqueness without shared state — and
//! ages follow the pyramid. The slot space is finite: [`PopulationModel::capacity`] is the
//! largest dataset the scenario can give, and asking for more is a clear error.

use crate::alias::AliasTable;
use crate::bias::BiasConfig;
use crate::cpr;
use crate::date::{civil_from_days, days_from_civil, years_before};
use crate::model::{Citizen, Education, Employment, Household, Origin};
use crate::names::NameTables;
use crate::paths::Recompute;
use crate::refdata::{self, RefData};
use crate::rng::{Permutation, RowRng, Var, mix64, sigmoid};
use crate::scenario::Scenario;

/// Ages are taken on this date (days since 1970): fixed, so that a dataset never depends on
/// the day it was generated.
pub const REFERENCE_DATE: (i32, u32, u32) = (2026, 1, 1);
/// The oldest age the model draws (DST's single-year table ends at 110).
pub const MAX_AGE: u8 = 110;

#[derive(Debug, Clone)]
struct Cohort {
    age: u8,
    male: bool,
    first_day: i32,
    ndays: u32,
    /// Serial indices available per birth date to original rows.
    serials: u32,
    slots: u64,
}

/// How the identity slots follow the scenario's age-by-sex distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every cohort has exactly its share of the slots.
    Exact,
    /// The dataset is larger than the exact capacity: the fullest cohorts are capped at the
    /// number of fictitious CPR numbers their birth dates have, the rest scaled up.
    Capped,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Exact => "exact",
            Layout::Capped => "capped: the fullest age cohorts are limited by the fictitious CPR numbers available",
        }
    }
}

/// What the counterfactual twin of a row changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intervention {
    /// The citizen as drawn.
    None,
    /// The other sex.
    FlipSex,
    /// Danish origin becomes non-Western immigrant; any other origin becomes Danish.
    FlipOrigin,
}

/// The population model of one dataset: reference data, scenario selection and bias, fixed.
#[derive(Debug)]
pub struct PopulationModel {
    cohorts: Vec<Cohort>,
    /// `cum[i]` = slots of cohorts before `i`.
    cum: Vec<u64>,
    perm: Permutation,
    layout: Layout,
    exact_capacity: u64,
    max_capacity: u64,
    /// Per age: distribution of [`Origin`].
    origin: Vec<AliasTable>,
    /// Municipality given Danish (0) or non-Danish (1) origin.
    municipality: [AliasTable; 2],
    /// Per non-Danish origin (index `origin - 1`): country indices and their table.
    countries: [(Vec<u16>, AliasTable); 4],
    /// Naming culture of each country.
    country_culture: Vec<usize>,
    names: &'static NameTables,
    fixed_employment: Option<Employment>,
}

/// The Western share of immigrants and of descendants, from the 2023 national shares.
fn western_fractions(d: &RefData) -> (f64, f64) {
    let o = d.origin_2023;
    (o[1] / (o[1] + o[2]), o[3] / (o[3] + o[4]))
}

/// Origin probabilities at `age` before any selection: `[danish, iw, inw, dw, dnw]`.
pub fn origin_probs(d: &RefData, age: u32) -> [f64; 5] {
    let band = d
        .origin_bands
        .iter()
        .find(|b| (b.age_min..=b.age_max).contains(&age))
        .unwrap_or_else(|| d.origin_bands.last().expect("origin bands"));
    let (wi, wd) = western_fractions(d);
    let (i, de) = (band.immigrant, band.descendant);
    [1.0 - i - de, i * wi, i * (1.0 - wi), de * wd, de * (1.0 - wd)]
}

/// Municipality weights given Danish / non-Danish origin at proxy strength `k`. The shares are
/// rescaled so that their population-weighted mean equals the model's national non-Danish
/// share `target`: then the municipality marginal reproduces DST's populations exactly at
/// `k = 1` and `k = 0`.
pub fn municipality_weights(d: &RefData, k: f64, target: f64) -> [Vec<f64>; 2] {
    let pop: f64 = d.municipalities.iter().map(|m| m.population as f64).sum();
    let mean: f64 = d
        .municipalities
        .iter()
        .map(|m| m.population as f64 * m.non_danish_share)
        .sum::<f64>()
        / pop;
    let shares: Vec<f64> = d
        .municipalities
        .iter()
        .map(|m| {
            let s = m.non_danish_share * target / mean;
            (target + k * (s - target)).clamp(0.002, 0.998)
        })
        .collect();
    let danish = d
        .municipalities
        .iter()
        .zip(&shares)
        .map(|(m, s)| m.population as f64 * (1.0 - s))
        .collect();
    let non = d
        .municipalities
        .iter()
        .zip(&shares)
        .map(|(m, s)| m.population as f64 * s)
        .collect();
    [danish, non]
}

/// The model's national non-Danish share (origin by age, weighted by the pyramid).
pub fn national_non_danish_share(d: &RefData) -> f64 {
    let (mut nd, mut all) = (0.0, 0.0);
    for (age, (m, f)) in d.pyramid.iter().enumerate() {
        let n = (m + f) as f64;
        nd += n * (1.0 - origin_probs(d, age as u32)[0]);
        all += n;
    }
    nd / all
}

impl PopulationModel {
    /// Builds the model. `key` is the dataset key (seed and scenario); `twins` halves the
    /// serial space so that every twin gets a CPR number of its own; `rows_needed` is the number
    /// of global rows the dataset uses (it only matters beyond the exact capacity).
    pub fn new(scenario: &dyn Scenario, bias: &BiasConfig, key: u64, twins: bool, rows_needed: u64) -> Self {
        let d = refdata::get();
        let (ry, rm, rd) = REFERENCE_DATE;
        let reference_day = days_from_civil(ry, rm, rd);

        // Identity slots: one cohort per (age, sex), weighted by pyramid x scenario selection
        // (x representation bias when it targets a sex).
        let mut cohorts = Vec::new();
        let mut weights = Vec::new();
        for age in scenario.ages() {
            let Some(&(m, f)) = d.pyramid.get(usize::from(age)) else {
                continue;
            };
            for (male, n) in [(false, f), (true, m)] {
                let mut w = n as f64 * scenario.cohort_weight(age, male);
                if bias.representation_group.sex() == Some(male) {
                    w *= bias.representation_factor;
                }
                if w <= 0.0 {
                    continue;
                }
                let last = years_before(reference_day, i32::from(age));
                let first = years_before(reference_day, i32::from(age) + 1) + 1;
                let years = [civil_from_days(first).0, civil_from_days(last).0];
                let full = years.iter().map(|&y| cpr::serial_capacity(y)).min().unwrap_or(0);
                let serials = if twins { full / 2 } else { full };
                cohorts.push(Cohort {
                    age,
                    male,
                    first_day: first,
                    ndays: (last - first + 1) as u32,
                    serials,
                    slots: 0,
                });
                weights.push(w);
            }
        }
        let total_w: f64 = weights.iter().sum();
        let caps: Vec<u64> = cohorts
            .iter()
            .map(|c| u64::from(c.ndays) * u64::from(c.serials))
            .collect();
        let max_capacity: u64 = caps.iter().sum();
        // The largest total that keeps every cohort within its own capacity at its exact share.
        let exact_scale = caps
            .iter()
            .zip(&weights)
            .map(|(&cap, w)| cap as f64 * total_w / w)
            .fold(f64::INFINITY, f64::min);
        let slots_at = |scale: f64| -> Vec<u64> {
            caps.iter()
                .zip(&weights)
                .map(|(&cap, w)| (((w / total_w) * scale).floor() as u64).min(cap))
                .collect()
        };
        let exact_slots = slots_at(exact_scale);
        let exact_capacity: u64 = exact_slots.iter().sum();
        // Beyond the exact capacity (only for very large datasets) the fullest cohorts are
        // capped at their CPR capacity and the rest scaled up ("water-filling"). Datasets within
        // the exact capacity never see this, so their rows do not depend on `rows_needed`.
        let (layout, slots) = if rows_needed <= exact_capacity || rows_needed > max_capacity {
            (Layout::Exact, exact_slots)
        } else {
            let (mut lo, mut hi) = (
                exact_scale,
                caps.iter()
                    .zip(&weights)
                    .map(|(&c, w)| c as f64 * total_w / w)
                    .fold(0.0, f64::max)
                    + 1.0,
            );
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if slots_at(mid).iter().sum::<u64>() >= rows_needed {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            (Layout::Capped, slots_at(hi))
        };
        let mut cum = Vec::with_capacity(cohorts.len());
        let mut total = 0u64;
        for (c, n) in cohorts.iter_mut().zip(slots) {
            c.slots = n;
            cum.push(total);
            total += n;
        }

        // Origin given age, with scenario selection and representation bias.
        let origin = (0..=u32::from(MAX_AGE))
            .map(|age| {
                let p = origin_probs(d, age);
                let w: Vec<f64> = Origin::ALL
                    .iter()
                    .map(|&o| {
                        let mut w = p[o as usize] * scenario.origin_weight(o);
                        if bias.representation_group.contains_origin(o) {
                            w *= bias.representation_factor;
                        }
                        w
                    })
                    .collect();
                AliasTable::new(&w)
            })
            .collect();

        let [danish, non] = municipality_weights(d, bias.proxy_strength, national_non_danish_share(d));
        let names = NameTables::get();
        let countries = [
            Origin::ImmigrantWestern,
            Origin::ImmigrantNonWestern,
            Origin::DescendantWestern,
            Origin::DescendantNonWestern,
        ]
        .map(|o| {
            let (idx, w): (Vec<u16>, Vec<f64>) = d
                .countries
                .iter()
                .enumerate()
                .filter(|(_, c)| c.western != o.is_non_western())
                .map(|(i, c)| {
                    (
                        i as u16,
                        if o.is_immigrant() {
                            c.immigrant_weight
                        } else {
                            c.descendant_weight
                        },
                    )
                })
                .unzip();
            let table = AliasTable::new(&w);
            (idx, table)
        });
        let country_culture = d
            .countries
            .iter()
            .map(|c| names.culture_index(&c.name_culture))
            .collect();

        Self {
            cohorts,
            cum,
            perm: Permutation::new(total.max(1), mix64(key ^ 0x5107_5107)),
            layout,
            exact_capacity,
            max_capacity,
            origin,
            municipality: [AliasTable::new(&danish), AliasTable::new(&non)],
            countries,
            country_culture,
            names,
            fixed_employment: scenario.fixed_employment(),
        }
    }

    /// The rows (global row indices) this model's layout gives distinct CPR numbers.
    pub fn capacity(&self) -> u64 {
        self.perm.len()
    }

    /// The most rows with an exact age-by-sex distribution.
    pub fn exact_capacity(&self) -> u64 {
        self.exact_capacity
    }

    /// The most rows with distinct fictitious CPR numbers at all.
    pub fn max_capacity(&self) -> u64 {
        self.max_capacity
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Draws citizen `g` (a global row index below [`capacity`](Self::capacity)).
    pub fn citizen(&self, g: u64, rng: &RowRng, intervention: Intervention) -> Citizen {
        self.citizen_held(g, rng, intervention, None)
    }

    /// Draws citizen `g`; with `held`, as a path-specific twin of `held.0` (drawn from the same
    /// `g` and `rng` without intervention): every variable not in `held.1` is copied from it, so
    /// the variables that are recomputed see the citizen's own values of the held ones.
    pub fn citizen_held(
        &self,
        g: u64,
        rng: &RowRng,
        intervention: Intervention,
        held: Option<(&Citizen, &Recompute)>,
    ) -> Citizen {
        // The value of a variable: the citizen's own when held, else drawn here.
        macro_rules! var {
            ($name:literal, $field:ident, $draw:expr) => {
                match held {
                    Some((o, r)) if !r.has($name) => o.$field,
                    _ => $draw,
                }
            };
        }
        // Identity.
        let slot = self.perm.apply(g);
        let ci = self.cum.partition_point(|&start| start <= slot) - 1;
        let co = &self.cohorts[ci];
        let local = slot - self.cum[ci];
        let birth = co.first_day + (local % u64::from(co.ndays)) as i32;
        let mut serial = (local / u64::from(co.ndays)) as u32;
        let mut male = co.male;
        if intervention != Intervention::None {
            // Twins use the upper half of the serial space, so they never collide with an
            // original (which uses the lower half) nor with each other.
            serial += co.serials;
        }
        if intervention == Intervention::FlipSex {
            male = !male;
        }
        let mut cpr_buf = [0u8; 11];
        cpr::format_into(birth, male, serial, &mut cpr_buf);
        let age = co.age;
        let a = f64::from(age);

        // Origin and geography.
        let mut origin = Origin::ALL[self.origin[usize::from(age)].sample(rng.uniform(Var::Origin, 0))];
        if intervention == Intervention::FlipOrigin {
            origin = if origin.is_danish() {
                Origin::ImmigrantNonWestern
            } else {
                Origin::Danish
            };
        }
        let country = var!(
            "country_of_origin",
            country,
            (!origin.is_danish()).then(|| {
                let (idx, table) = &self.countries[origin as usize - 1];
                idx[table.sample(rng.uniform(Var::Country, 0))]
            })
        );
        let municipality = var!(
            "municipality",
            municipality,
            self.municipality[usize::from(!origin.is_danish())].sample(rng.uniform(Var::Municipality, 0)) as u8
        );

        // Names.
        let culture = country.map_or(0, |c| self.country_culture[usize::from(c)]);
        let danish_first_p = match origin {
            Origin::Danish => 1.0,
            Origin::DescendantWestern => 0.4,
            Origin::DescendantNonWestern => 0.12,
            _ => 0.02,
        };
        let first_culture = if rng.uniform(Var::FirstName, 1) < danish_first_p {
            0
        } else {
            culture
        };
        let first_name = var!(
            "first_name",
            first_name,
            self.names.cultures[first_culture].first[usize::from(male)].sample(rng.uniform(Var::FirstName, 0))
        );
        let last_name = var!(
            "last_name",
            last_name,
            self.names.cultures[culture].surnames[usize::from(male)].sample(rng.uniform(Var::LastName, 0))
        );

        // Education: an ordinal latent with age, sex and origin effects, capped by what can be
        // completed at a given age.
        let education = var!(
            "education",
            education,
            if age < 16 {
                Education::InSchool
            } else {
                let shift = match origin {
                    Origin::Danish => 0.0,
                    Origin::ImmigrantWestern => 0.25,
                    Origin::ImmigrantNonWestern => -0.55,
                    Origin::DescendantWestern => 0.1,
                    Origin::DescendantNonWestern => -0.3,
                };
                let z = rng.normal(Var::Education, 0) + shift + if male { -0.12 } else { 0.12 }
                    - 0.012 * (a - 45.0).max(0.0)
                    + 0.008 * (45.0 - a).clamp(0.0, 20.0);
                // Cut points give roughly DST's 25-64 distribution: 20 % basic, 8 % upper
                // secondary, 35 % vocational, 5 % short cycle, 17 % bachelor, 15 % master/PhD.
                let full = if z < -0.84 {
                    Education::Basic
                } else if z < -0.58 {
                    Education::UpperSecondary
                } else if z < 0.33 {
                    Education::Vocational
                } else if z < 0.47 {
                    Education::ShortCycle
                } else if z < 1.04 {
                    Education::Bachelor
                } else {
                    Education::MasterPhd
                };
                let cap = match age {
                    16..=18 => Education::Basic,
                    19..=20 => Education::Vocational,
                    21..=22 => Education::ShortCycle,
                    23..=24 => Education::Bachelor,
                    _ => Education::MasterPhd,
                };
                full.min(cap)
            }
        );
        let low_edu = education == Education::Basic;

        // Health.
        let lambda = (0.12 + 0.032 * (a - 25.0).max(0.0)) * if low_edu { 1.25 } else { 1.0 };
        let chronic_conditions = var!(
            "chronic_conditions",
            chronic_conditions,
            rng.poisson(Var::Chronic, 0, lambda).min(12) as u8
        );
        let chronic = f64::from(chronic_conditions);
        let hospital_days = var!("hospital_days_12m", hospital_days, {
            let admitted = rng.bernoulli(Var::Hospital, 0, sigmoid(-3.2 + 0.45 * chronic + 0.025 * (a - 50.0)));
            if admitted {
                (1.0 - rng.uniform(Var::HospitalDays, 0).ln() * (2.0 + 1.0 * chronic)).min(365.0) as u16
            } else {
                0
            }
        });

        // Main activity.
        let employment = var!(
            "employment_status",
            employment,
            self.fixed_employment.unwrap_or_else(|| {
                let u = rng.uniform(Var::Employment, 0);
                let origin_effect = match origin {
                    Origin::ImmigrantNonWestern => -1.0,
                    Origin::DescendantNonWestern => -0.45,
                    Origin::ImmigrantWestern => -0.2,
                    _ => 0.0,
                };
                let p_emp = sigmoid(
                    1.45 + 0.35 * education.score() - 0.45 * chronic + origin_effect + if male { 0.25 } else { 0.0 }
                        - 0.12 * (a - 59.0).max(0.0),
                );
                match age {
                    0..=15 => Employment::Child,
                    16..=24 if rng.uniform(Var::Employment, 1) < 0.55 => Employment::Student,
                    67.. if u > 0.08 * (72.0 - a).max(0.0) / 5.0 => Employment::Retired,
                    _ if u < p_emp => Employment::Employed,
                    _ if u < p_emp + (1.0 - p_emp) * 0.35 => Employment::Unemployed,
                    _ => Employment::OutsideLabourForce,
                }
            })
        );

        // Income: log-normal around a level set by activity, with education, age, sex and
        // origin effects.
        let noise = rng.normal(Var::Income, 0);
        let immigrant_gap = if origin.is_immigrant() { -0.12 } else { 0.0 };
        let log_income = match employment {
            Employment::Child => None,
            Employment::Student => Some(11.4 + 0.3 * noise),
            Employment::Employed => Some(
                12.7 + 0.13 * education.score() + 0.022 * (a.min(50.0) - 25.0) - if male { 0.0 } else { 0.12 }
                    + immigrant_gap
                    + 0.35 * noise,
            ),
            Employment::Unemployed => Some(12.2 + 0.05 * education.score() + 0.2 * noise),
            Employment::OutsideLabourForce => Some(12.05 + 0.25 * noise),
            Employment::Retired => Some(12.2 + 0.1 * education.score() + immigrant_gap + 0.3 * noise),
        };
        let income_dkk = var!(
            "income_dkk",
            income_dkk,
            log_income.map_or(0, |l| l.exp().min(2.0e9) as i32)
        );

        // Household.
        let household = var!("household_type", household, self.household(rng, age, male, origin));
        let n_children = var!(
            "n_children",
            n_children,
            match household {
                Household::CoupleWithChildren | Household::SingleParent => {
                    let extra = if origin.is_non_western() { 1.1 } else { 0.75 };
                    (1 + rng.poisson(Var::Children, 0, extra)).min(9) as u8
                }
                _ => 0,
            }
        );

        Citizen {
            birth,
            age,
            male,
            cpr: cpr_buf,
            origin,
            country,
            municipality,
            first_name,
            last_name,
            education,
            chronic_conditions,
            employment,
            income_dkk,
            household,
            n_children,
            hospital_days,
        }
    }

    /// The household type, from age, sex and origin.
    fn household(&self, rng: &RowRng, age: u8, male: bool, origin: Origin) -> Household {
        let u = rng.uniform(Var::Household, 0);
        let mut w: [f64; 6] = match age {
            0..=17 => [0.0, 0.0, 0.0, 0.0, 0.97, 0.03],
            18..=24 => [0.35, 0.15, 0.03, 0.02, 0.42, 0.03],
            25..=34 => [0.25, 0.30, 0.35, 0.06, 0.0, 0.04],
            35..=49 => [0.15, 0.10, 0.58, 0.12, 0.0, 0.05],
            50..=64 => [0.22, 0.50, 0.20, 0.03, 0.0, 0.05],
            65..=79 => [0.30, 0.63, 0.02, 0.0, 0.0, 0.05],
            _ => [0.55, 0.35, 0.0, 0.0, 0.0, 0.10],
        };
        if origin.is_non_western() {
            w[2] *= 1.3;
        }
        if !male && age >= 65 {
            w[0] *= 1.35;
        }
        if !male && (25..=49).contains(&age) {
            w[3] *= 1.6;
        }
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let mut household = Household::Other;
        for (i, wi) in w.iter().enumerate() {
            acc += wi / total;
            if u < acc {
                household = Household::ALL[i];
                break;
            }
        }
        household
    }
}
