//! A checked module as a [`Scenario`]: the population hooks, the dictionary, and a builder that
//! buffers a batch's rows and computes the module's columns at `finish`, column by column.

use super::Loaded;
use super::check::{OutcomeKind, VarType};
use super::eval::{Frame, eval};
use super::ir::Input;
use crate::bias::{BiasConfig, Direction};
use crate::dictionary::{ColumnDoc, categorical};
use crate::model::{Citizen, Employment, Origin};
use crate::paths::Recompute;
use crate::rng::{RowRng, Var};
use crate::scenario::{Outcome, Scenario, ScenarioColumns};
use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int16Array, Int32Array, StringArray,
    UInt8Array, UInt16Array, UInt32Array,
};
use arrow::datatypes::{DataType, Int16Type};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// A scenario defined by a module file (interned for the process's life, see [`super::load`]).
#[derive(Debug, Clone, Copy)]
pub struct ModuleScenario(pub(super) &'static Loaded);

/// The bit of the per-row mask that says the outcome is recomputed (variables take 0..120).
const P_TRUE_BIT: u32 = 127;

impl ModuleScenario {
    /// The module's SHA-256 (hex), as recorded in dataset specs.
    pub fn sha256(&self) -> &'static str {
        self.0.sha256
    }

    /// The summary in Danish.
    pub fn summary_da(&self) -> &'static str {
        self.0.summary_da
    }

    /// The module's source text.
    pub fn source(&self) -> &'static str {
        self.0.source
    }
}

impl Scenario for ModuleScenario {
    fn name(&self) -> &'static str {
        self.0.name
    }

    fn summary(&self) -> &'static str {
        self.0.summary_en
    }

    fn ages(&self) -> RangeInclusive<u8> {
        self.0.checked.ages.0..=self.0.checked.ages.1
    }

    fn cohort_weight(&self, age: u8, male: bool) -> f64 {
        self.0.cohort[usize::from(male)][usize::from(age)]
    }

    fn origin_weight(&self, origin: Origin) -> f64 {
        self.0.checked.origin_weights[origin as usize]
    }

    fn fixed_employment(&self) -> Option<Employment> {
        self.0.checked.employment
    }

    fn has_outcome(&self) -> bool {
        self.0.checked.outcome.is_some()
    }

    fn outcome_kind(&self) -> crate::scenario::OutcomeKind {
        use crate::scenario::OutcomeKind as K;
        match self.0.checked.outcome.as_ref().map(|o| &o.kind) {
            None => K::None,
            Some(OutcomeKind::Binary { .. }) => K::Binary,
            Some(OutcomeKind::Numeric { count: true, .. }) => K::Count,
            Some(OutcomeKind::Numeric { count: false, .. }) => K::Continuous,
        }
    }

    fn numeric_features(&self) -> &'static [&'static str] {
        self.0.measurable
    }

    fn default_bias(&self) -> BiasConfig {
        self.0.default_bias.clone()
    }

    fn columns(&self) -> Vec<ColumnDoc> {
        self.0.columns.clone()
    }

    fn proxies(&self) -> &'static [&'static str] {
        self.0.proxies
    }

    fn measurement_errors(&self) -> Vec<crate::noise::ColumnError> {
        self.0.errors.clone()
    }

    fn recourse(&self) -> Option<crate::recourse::RecourseSpec> {
        self.0.recourse.clone()
    }

    fn builder(&self, capacity: usize) -> Box<dyn ScenarioColumns> {
        Box::new(Rows {
            m: self.0,
            bias: None,
            rngs: Vec::with_capacity(capacity),
            inputs: self
                .0
                .inputs
                .iter()
                .map(|used| {
                    if *used {
                        Vec::with_capacity(capacity)
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            in_measurement: Vec::with_capacity(capacity),
            in_label: Vec::with_capacity(capacity),
            source: Vec::with_capacity(capacity),
            recompute: Vec::with_capacity(capacity),
            last: 0,
        })
    }
}

/// A batch's rows as the module needs them, evaluated at `finish`.
struct Rows {
    m: &'static Loaded,
    bias: Option<BiasConfig>,
    rngs: Vec<RowRng>,
    /// Population inputs the module reads, by [`Input`] as index (empty when unused).
    inputs: Vec<Vec<f64>>,
    in_measurement: Vec<bool>,
    in_label: Vec<bool>,
    /// The row a twin copies what it does not recompute from (a row's own index otherwise).
    source: Vec<u32>,
    /// Which variables (bit = index) and whether the outcome (bit 127) the row computes itself.
    recompute: Vec<u128>,
    last: u32,
}

fn input_value(i: usize, c: &Citizen) -> f64 {
    const INPUTS: [Input; 15] = [
        Input::Age,
        Input::Male,
        Input::Origin,
        Input::NonWestern,
        Input::Education,
        Input::EducationScore,
        Input::ChronicConditions,
        Input::Employment,
        Input::Income,
        Input::Household,
        Input::NChildren,
        Input::LivingAlone,
        Input::HospitalDays,
        Input::Municipality,
        Input::Region,
    ];
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match INPUTS[i] {
        Input::Age => f64::from(c.age),
        Input::Male => b(c.male),
        Input::Origin => f64::from(c.origin as u8),
        Input::NonWestern => b(c.origin.is_non_western()),
        Input::Education => f64::from(c.education as u8),
        Input::EducationScore => c.education.score(),
        Input::ChronicConditions => f64::from(c.chronic_conditions),
        Input::Employment => f64::from(c.employment as u8),
        Input::Income => f64::from(c.income_dkk),
        Input::Household => f64::from(c.household as u8),
        Input::NChildren => f64::from(c.n_children),
        Input::LivingAlone => b(c.living_alone()),
        Input::HospitalDays => f64::from(c.hospital_days),
        Input::Municipality => f64::from(c.municipality),
        Input::Region => {
            let d = crate::refdata::get();
            let code = d.municipalities[usize::from(c.municipality)].region_code;
            d.regions.iter().position(|(r, _)| *r == code).unwrap_or(0) as f64
        }
    }
}

impl ScenarioColumns for Rows {
    fn push(&mut self, c: &Citizen, rng: &RowRng, bias: &BiasConfig, held: Option<&Recompute>) {
        if self.bias.is_none() {
            self.bias = Some(bias.clone());
        }
        let index = self.rngs.len() as u32;
        self.rngs.push(*rng);
        for (i, column) in self.inputs.iter_mut().enumerate() {
            if self.m.inputs[i] {
                column.push(input_value(i, c));
            }
        }
        self.in_measurement
            .push(bias.measurement_sd > 0.0 && bias.measurement_group.contains(c));
        self.in_label
            .push(bias.label_rate > 0.0 && bias.label_group.contains(c));
        match held {
            None => {
                self.last = index;
                self.source.push(index);
                self.recompute.push(u128::MAX);
            }
            Some(r) => {
                let mut mask = 0u128;
                for (j, v) in self.m.checked.vars.iter().enumerate() {
                    if r.has(&v.name) {
                        mask |= 1 << j;
                    }
                }
                if r.has("p_true") {
                    mask |= 1 << P_TRUE_BIT;
                }
                self.source.push(self.last);
                self.recompute.push(mask);
            }
        }
    }

    fn finish(self: Box<Self>) -> Vec<ArrayRef> {
        let n = self.rngs.len();
        let m = self.m;
        let bias = self.bias.unwrap_or_else(|| BiasConfig::none(None));
        let vars = &m.checked.vars;
        let mut truth: Vec<Vec<f64>> = vec![Vec::new(); vars.len()];
        // `None`: recorded as it is true.
        let mut observed: Vec<Option<Vec<f64>>> = vec![None; vars.len()];
        let any_held = self.source.iter().enumerate().any(|(i, s)| *s as usize != i);
        let copy_held = |col: &mut [f64], bit: u32| {
            if !any_held {
                return;
            }
            for i in 0..n {
                if self.recompute[i] & (1 << bit) == 0 {
                    col[i] = col[self.source[i] as usize];
                }
            }
        };
        for &j in &m.checked.order {
            let v = &vars[j];
            let mut t = {
                let frame = Frame {
                    n,
                    inputs: &self.inputs,
                    vars: &truth,
                    measured: None,
                    expected: None,
                    rngs: &self.rngs,
                    tables: &m.checked.tables,
                };
                eval(&v.value, &frame).into_vec(n)
            };
            copy_held(&mut t, j as u32);
            if !v.latent {
                let targeted = v.noise_draw.filter(|_| {
                    bias.measurement_sd > 0.0 && bias.measurement_feature.as_deref() == Some(v.name.as_str())
                });
                let biased: Option<Vec<f64>> = targeted.map(|k| {
                    t.iter()
                        .zip(&self.rngs)
                        .zip(&self.in_measurement)
                        .map(|((x, g), inside)| {
                            if *inside {
                                x + bias.measurement_sd * g.normal(Var::MeasurementNoise, k)
                            } else {
                                *x
                            }
                        })
                        .collect()
                });
                let mut o = match &v.observed {
                    None => biased,
                    Some(expr) => {
                        let frame = Frame {
                            n,
                            inputs: &self.inputs,
                            vars: &truth,
                            measured: Some(biased.as_deref().unwrap_or(&t)),
                            expected: None,
                            rngs: &self.rngs,
                            tables: &m.checked.tables,
                        };
                        Some(eval(expr, &frame).into_vec(n))
                    }
                };
                if let Some(o) = &mut o {
                    copy_held(o, j as u32);
                }
                observed[j] = o;
            }
            truth[j] = t;
        }
        let mut out: Vec<ArrayRef> = Vec::new();
        for (j, v) in vars.iter().enumerate() {
            if v.latent {
                continue;
            }
            let o = observed[j].as_ref().unwrap_or(&truth[j]);
            out.push(match v.ty {
                VarType::Bool => Arc::new(BooleanArray::from(o.iter().map(|x| *x != 0.0).collect::<Vec<_>>())),
                VarType::U8 => Arc::new(UInt8Array::from(o.iter().map(|x| *x as u8).collect::<Vec<_>>())),
                VarType::U16 => Arc::new(UInt16Array::from(o.iter().map(|x| *x as u16).collect::<Vec<_>>())),
                VarType::U32 => Arc::new(UInt32Array::from(o.iter().map(|x| *x as u32).collect::<Vec<_>>())),
                VarType::I32 => Arc::new(Int32Array::from(o.iter().map(|x| *x as i32).collect::<Vec<_>>())),
                VarType::F32 => Arc::new(Float32Array::from(o.iter().map(|x| *x as f32).collect::<Vec<_>>())),
                VarType::F64 => Arc::new(Float64Array::from(o.to_vec())),
                VarType::Category => {
                    let values = Arc::new(StringArray::from(v.values.clone()));
                    let keys = Int16Array::from(o.iter().map(|x| *x as i16).collect::<Vec<_>>());
                    Arc::new(
                        DictionaryArray::<Int16Type>::try_new(keys, values)
                            .expect("a categorical draw gives an index of its values"),
                    )
                }
            });
        }
        let frame = Frame {
            n,
            inputs: &self.inputs,
            vars: &truth,
            measured: None,
            expected: None,
            rngs: &self.rngs,
            tables: &m.checked.tables,
        };
        match m.checked.outcome.as_ref().map(|o| &o.kind) {
            None => {}
            Some(OutcomeKind::Binary { p_true }) => {
                let p = eval(p_true, &frame);
                let mut outcome = Outcome::with_capacity(n);
                for i in 0..n {
                    let held = (self.source[i] as usize != i).then_some(self.recompute[i] & (1 << P_TRUE_BIT) != 0);
                    outcome.push_row(p.at(i), self.in_label[i], &self.rngs[i], &bias, held);
                }
                outcome.finish(&mut out);
            }
            Some(OutcomeKind::Numeric {
                count,
                expected,
                value,
                recorded,
                bounds,
                levels,
                ..
            }) => {
                let mut e = eval(expected, &frame).into_vec(n);
                copy_held(&mut e, P_TRUE_BIT);
                let with_expected = Frame {
                    expected: Some(&e),
                    ..frame
                };
                let whole = |x: f64| if *count { x.round() } else { x };
                let mut t = eval(value, &with_expected).into_vec(n);
                t.iter_mut().for_each(|x| *x = whole(x.clamp(bounds.0, bounds.1)));
                copy_held(&mut t, P_TRUE_BIT);
                let mut r = match recorded {
                    None => t.clone(),
                    Some(node) => eval(
                        node,
                        &Frame {
                            measured: Some(&t),
                            ..with_expected
                        },
                    )
                    .into_vec(n),
                };
                // Label bias scales the recorded outcome of the targeted group: down by the
                // rate (needs under-recorded), or up by it.
                let factor = match bias.label_direction {
                    Direction::Down => 1.0 - bias.label_rate,
                    Direction::Up => 1.0 + bias.label_rate,
                };
                for (x, inside) in r.iter_mut().zip(&self.in_label) {
                    let biased = if *inside { *x * factor } else { *x };
                    *x = whole(biased.clamp(bounds.0, bounds.1));
                }
                copy_held(&mut r, P_TRUE_BIT);
                out.push(Arc::new(Float64Array::from(e)));
                let level_columns = levels.as_ref().map(|(classes, from)| {
                    let values: ArrayRef = Arc::new(StringArray::from(classes.clone()));
                    [&t, &r].map(|col| {
                        let keys = Int16Array::from(
                            col.iter()
                                .map(|x| from.iter().take_while(|f| **f <= *x).count() as i16)
                                .collect::<Vec<_>>(),
                        );
                        Arc::new(
                            DictionaryArray::<Int16Type>::try_new(keys, values.clone())
                                .expect("a level is an index of the classes (one more class than thresholds)"),
                        ) as ArrayRef
                    })
                });
                for col in [t, r] {
                    out.push(if *count {
                        Arc::new(UInt32Array::from(col.iter().map(|x| *x as u32).collect::<Vec<_>>()))
                    } else {
                        Arc::new(Float64Array::from(col))
                    });
                }
                if let Some(levels) = level_columns {
                    out.extend(levels);
                }
            }
        }
        out
    }
}

/// The dictionary entry of a module's observed variable.
pub(super) fn column_doc(v: &super::check::VarDef, leak: &mut impl FnMut(&str) -> &'static str) -> ColumnDoc {
    let data_type = match v.ty {
        VarType::Bool => DataType::Boolean,
        VarType::U8 => DataType::UInt8,
        VarType::U16 => DataType::UInt16,
        VarType::U32 => DataType::UInt32,
        VarType::I32 => DataType::Int32,
        VarType::F32 => DataType::Float32,
        VarType::F64 => DataType::Float64,
        VarType::Category => categorical(),
    };
    let parents: Vec<&'static str> = v.parents.iter().map(|p| leak(p)).collect();
    let mut doc = ColumnDoc::new(leak(&v.name), data_type, leak(&v.meaning), &parents);
    if v.ty == VarType::Category {
        doc = doc.with_values(v.values.iter().map(|x| leak(x)).collect::<Vec<_>>());
    }
    doc
}
