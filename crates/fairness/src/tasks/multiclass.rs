//! One of several categories (visitation levels none, light, medium, heavy): per group the accuracy, and per
//! class one-vs-rest the selection rate, TPR, FPR and precision, with their macro averages over the classes
//! where they are defined. Kept as a confusion matrix of counts per cell, which merges exactly.

use super::grouped::{CellStats, GroupColumns, Grouped};
use super::{AttributeOutcome, GroupOutcome, Series, TaskConfig, gap, reference_of};
use crate::cells::Value;
use crate::input::{Col, GroupCol, InputError, MissingGroups};
use crate::metric::NullReason;
use serde::{Deserialize, Serialize};

/// One chunk of rows of a multi-class model's output: class indices into the accumulator's classes.
#[derive(Debug, Clone)]
pub struct MulticlassBatch<'a> {
    /// The outcome's class.
    pub outcome: Col<'a, u32>,
    /// The predicted class.
    pub prediction: Col<'a, u32>,
    /// The group attributes.
    pub groups: Vec<GroupCol<'a>>,
}

/// A confusion matrix: `m[actual * k + predicted]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Confusion {
    k: usize,
    m: Vec<u64>,
}

impl Confusion {
    fn with(k: usize) -> Self {
        Self { k, m: vec![0; k * k] }
    }

    fn n(&self) -> u64 {
        self.m.iter().sum()
    }

    fn actual(&self, c: usize) -> u64 {
        self.m[c * self.k..(c + 1) * self.k].iter().sum()
    }

    fn predicted(&self, c: usize) -> u64 {
        (0..self.k).map(|a| self.m[a * self.k + c]).sum()
    }
}

impl CellStats for Confusion {
    fn merge(&mut self, o: &Self) {
        if self.k == 0 {
            *self = o.clone();
            return;
        }
        if o.k == 0 {
            return;
        }
        for (a, b) in self.m.iter_mut().zip(&o.m) {
            *a += b;
        }
    }

    fn count(&self) -> u64 {
        self.n()
    }
}

/// One class, one-vs-rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassMetrics {
    /// The class.
    pub class: String,
    /// Share predicted to be in it.
    pub selection_rate: Value,
    /// Of those in it, the share predicted to be.
    pub true_positive_rate: Value,
    /// Of those not in it, the share predicted to be.
    pub false_positive_rate: Value,
    /// Of those predicted to be in it, the share that are.
    pub precision: Value,
}

/// The metrics of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MulticlassMetrics {
    /// Share of rows whose predicted class is the outcome's.
    pub accuracy: Value,
    /// Per class, in the accumulator's order.
    pub classes: Vec<ClassMetrics>,
    /// Mean TPR over the classes where it is defined.
    pub macro_true_positive_rate: Value,
    /// Mean FPR over the classes where it is defined.
    pub macro_false_positive_rate: Value,
    /// Mean precision over the classes where it is defined.
    pub macro_precision: Value,
}

fn mean_defined(values: impl Iterator<Item = Value>, reason: NullReason) -> Value {
    let defined: Vec<f64> = values.filter_map(|v| v.value).collect();
    if defined.is_empty() {
        Value::null(reason)
    } else {
        Value::some(defined.iter().sum::<f64>() / defined.len() as f64)
    }
}

fn metrics(c: &Confusion, classes: &[String]) -> MulticlassMetrics {
    let c = if c.k == 0 {
        Confusion::with(classes.len())
    } else {
        c.clone()
    };
    let n = c.n() as f64;
    let rate = |num: u64, den: u64, reason: NullReason| {
        if n == 0.0 {
            Value::null(NullReason::EmptyGroup)
        } else {
            Value::ratio(num as f64, den as f64, reason)
        }
    };
    let per: Vec<ClassMetrics> = classes
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let tp = c.m[k * c.k + k];
            let (actual, predicted) = (c.actual(k), c.predicted(k));
            ClassMetrics {
                class: name.clone(),
                selection_rate: rate(predicted, c.n(), NullReason::EmptyGroup),
                true_positive_rate: rate(tp, actual, NullReason::NoActualPositives),
                false_positive_rate: rate(predicted - tp, c.n() - actual, NullReason::NoActualNegatives),
                precision: rate(tp, predicted, NullReason::NoPredictedPositives),
            }
        })
        .collect();
    let trace: u64 = (0..c.k).map(|k| c.m[k * c.k + k]).sum();
    let empty = if n == 0.0 {
        NullReason::EmptyGroup
    } else {
        NullReason::NoActualPositives
    };
    MulticlassMetrics {
        accuracy: rate(trace, c.n(), NullReason::EmptyGroup),
        macro_true_positive_rate: mean_defined(per.iter().map(|m| m.true_positive_rate), empty),
        macro_false_positive_rate: mean_defined(
            per.iter().map(|m| m.false_positive_rate),
            if n == 0.0 {
                NullReason::EmptyGroup
            } else {
                NullReason::NoActualNegatives
            },
        ),
        macro_precision: mean_defined(
            per.iter().map(|m| m.precision),
            if n == 0.0 {
                NullReason::EmptyGroup
            } else {
                NullReason::NoPredictedPositives
            },
        ),
        classes: per,
    }
}

/// Reads one metric of a group's metrics, for its disparity.
type Getter = Box<dyn Fn(&MulticlassMetrics) -> Value>;

/// A multi-class model's fairness, per group of each attribute and per intersection.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MulticlassReport {
    /// The classes, in order.
    pub classes: Vec<String>,
    /// Rows judged.
    pub rows: u64,
    /// The metrics of every row together.
    pub overall: MulticlassMetrics,
    /// Per attribute.
    pub attributes: Vec<AttributeOutcome<MulticlassMetrics>>,
    /// The intersection of all attributes, when there are two or more.
    pub intersection: Option<AttributeOutcome<MulticlassMetrics>>,
}

/// Streams multi-class batches into a confusion matrix per intersection cell.
#[derive(Debug, Clone)]
pub struct MulticlassAccumulator {
    classes: Vec<String>,
    grouped: Grouped<Confusion>,
    missing: MissingGroups,
}

/// Most classes a multi-class accumulator takes (its matrices are classes² counts per cell).
pub const MAX_CLASSES: usize = 256;

impl MulticlassAccumulator {
    /// Empty, for these classes (at least two, at most [`MAX_CLASSES`], distinct) and group attributes.
    pub fn new(classes: &[&str], attributes: &[&str], missing: MissingGroups) -> Result<Self, InputError> {
        let mut seen = std::collections::HashSet::new();
        if !(2..=MAX_CLASSES).contains(&classes.len()) || !classes.iter().all(|c| seen.insert(*c)) {
            return Err(InputError::Other(format!(
                "a multi-class outcome needs 2 to {MAX_CLASSES} distinct classes, got {:?}",
                classes.iter().take(20).collect::<Vec<_>>()
            )));
        }
        Ok(Self {
            classes: classes.iter().map(|c| (*c).to_owned()).collect(),
            grouped: Grouped::new(attributes),
            missing,
        })
    }

    /// The classes, in order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Checks a batch (lengths, class indices, groups) and adds it; nothing is added when it is refused.
    pub fn add(&mut self, b: &MulticlassBatch<'_>) -> Result<(), InputError> {
        let n = b.outcome.values.len();
        let k = self.classes.len();
        for c in [&b.outcome, &b.prediction] {
            if c.values.len() != n {
                return Err(InputError::Length {
                    column: c.name.to_owned(),
                    got: c.values.len(),
                    expected: n,
                    reference: b.outcome.name.to_owned(),
                });
            }
            if let Some(row) = c.values.iter().position(|&v| v as usize >= k) {
                return Err(InputError::Other(format!(
                    "column {:?}, row {row}: class {} is not one of the {k} classes (0 to {}: {})",
                    c.name,
                    c.values[row],
                    k - 1,
                    self.classes.join(", ")
                )));
            }
        }
        GroupColumns { groups: &b.groups }.validate(n, b.outcome.name, self.missing)?;
        let (y, p) = (b.outcome.values, b.prediction.values);
        self.grouped.add_rows(&b.groups, n, |s, i| {
            if s.k == 0 {
                *s = Confusion::with(k);
            }
            s.m[y[i] as usize * k + p[i] as usize] += 1;
        })
    }

    /// Adds another accumulator's rows (same classes).
    pub fn merge(&mut self, other: &MulticlassAccumulator) -> Result<(), InputError> {
        if self.classes != other.classes {
            return Err(InputError::Other(format!(
                "accumulators for different classes cannot merge: {:?} and {:?}",
                self.classes, other.classes
            )));
        }
        self.grouped.merge(&other.grouped)
    }

    /// The report.
    pub fn report(&self, config: &TaskConfig) -> MulticlassReport {
        let overall = self.grouped.overall();
        let overall_metrics = metrics(&overall, &self.classes);
        let names = self.grouped.attributes().to_vec();
        let attributes = names
            .iter()
            .enumerate()
            .map(|(a, name)| {
                self.attribute(
                    name,
                    self.grouped
                        .groups(a)
                        .into_iter()
                        .filter(|(_, g)| !config.skip_empty_groups || g.count() > 0)
                        .collect(),
                    &overall_metrics,
                    config,
                )
            })
            .collect();
        let intersection = (names.len() >= 2).then(|| {
            self.attribute(
                &names.join(" & "),
                self.grouped.intersections(),
                &overall_metrics,
                config,
            )
        });
        MulticlassReport {
            classes: self.classes.clone(),
            rows: overall.n(),
            overall: overall_metrics,
            attributes,
            intersection,
        }
    }

    fn attribute(
        &self,
        name: &str,
        groups: Vec<(String, Confusion)>,
        overall: &MulticlassMetrics,
        config: &TaskConfig,
    ) -> AttributeOutcome<MulticlassMetrics> {
        let reference = reference_of(name, &groups, Confusion::n, config);
        let outcomes: Vec<GroupOutcome<MulticlassMetrics>> = groups
            .iter()
            .map(|(g, c)| GroupOutcome {
                group: g.clone(),
                count: c.n(),
                small: c.n() < config.min_group_size,
                metrics: metrics(c, &self.classes),
            })
            .collect();
        let mut series: Vec<(String, Getter)> = vec![
            ("accuracy".into(), Box::new(|m| m.accuracy)),
            (
                "macro_true_positive_rate".into(),
                Box::new(|m| m.macro_true_positive_rate),
            ),
            (
                "macro_false_positive_rate".into(),
                Box::new(|m| m.macro_false_positive_rate),
            ),
            ("macro_precision".into(), Box::new(|m| m.macro_precision)),
        ];
        for (k, class) in self.classes.iter().enumerate() {
            type Pick = fn(&ClassMetrics) -> Value;
            let picks: [(&str, Pick); 4] = [
                ("selection_rate", |c| c.selection_rate),
                ("true_positive_rate", |c| c.true_positive_rate),
                ("false_positive_rate", |c| c.false_positive_rate),
                ("precision", |c| c.precision),
            ];
            for (metric, pick) in picks {
                series.push((format!("{metric}[{class}]"), Box::new(move |m| pick(&m.classes[k]))));
            }
        }
        let disparities = series
            .iter()
            .map(|(metric, get)| {
                gap(
                    Series {
                        metric: metric.clone(),
                        non_negative: true,
                        overall: get(overall),
                        groups: outcomes
                            .iter()
                            .map(|o| (o.group.as_str(), o.small, get(&o.metrics)))
                            .collect(),
                    },
                    reference.as_deref(),
                )
            })
            .collect();
        AttributeOutcome {
            attribute: name.to_owned(),
            reference,
            groups: outcomes,
            disparities,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::encode;

    #[test]
    fn hand_computed_one_vs_rest_rates_and_exact_merges() {
        // Classes none/light/heavy. Group a: (y,p) = (0,0) (1,1) (1,2) (2,2); group b: (0,1) (0,1).
        let y = [0u32, 1, 1, 2, 0, 0];
        let p = [0u32, 1, 2, 2, 1, 1];
        let g = ["a", "a", "a", "a", "b", "b"];
        let (codes, _, dict) = encode(g.iter().map(|s| Some(*s)));
        let batch = |lo: usize, hi: usize| MulticlassBatch {
            outcome: Col {
                name: "level",
                values: &y[lo..hi],
            },
            prediction: Col {
                name: "predicted",
                values: &p[lo..hi],
            },
            groups: vec![GroupCol {
                name: "g",
                codes: &codes[lo..hi],
                valid: None,
                dictionary: &dict,
            }],
        };
        let classes = ["none", "light", "heavy"];
        let mut whole = MulticlassAccumulator::new(&classes, &["g"], MissingGroups::Error).unwrap();
        whole.add(&batch(0, 6)).unwrap();
        let mut parts = MulticlassAccumulator::new(&classes, &["g"], MissingGroups::Error).unwrap();
        parts.add(&batch(3, 6)).unwrap();
        let mut first = MulticlassAccumulator::new(&classes, &["g"], MissingGroups::Error).unwrap();
        first.add(&batch(0, 3)).unwrap();
        parts.merge(&first).unwrap();
        let config = TaskConfig {
            min_group_size: 1,
            ..Default::default()
        };
        let r = whole.report(&config);
        let a = &r.attributes[0].groups[0].metrics;
        assert_eq!(a.accuracy, Value::some(0.75));
        let light = &a.classes[1];
        assert_eq!(light.true_positive_rate, Value::some(0.5));
        assert_eq!(light.false_positive_rate, Value::some(0.0));
        assert_eq!(light.precision, Value::some(1.0));
        assert_eq!(a.classes[2].precision, Value::some(0.5));
        let b = &r.attributes[0].groups[1].metrics;
        assert_eq!(b.accuracy, Value::some(0.0));
        assert_eq!(
            b.classes[1].true_positive_rate.null_reason,
            Some(NullReason::NoActualPositives)
        );
        assert_eq!(
            b.classes[0].precision.null_reason,
            Some(NullReason::NoPredictedPositives)
        );
        assert_eq!(
            b.macro_true_positive_rate,
            Value::some(0.0),
            "only `none` has actual members"
        );
        let merged = parts.report(&config);
        assert_eq!(
            serde_json::to_string(&merged).unwrap(),
            serde_json::to_string(&r).unwrap(),
            "counts merge exactly"
        );
        let d = r.attributes[0]
            .disparities
            .iter()
            .find(|d| d.metric == "selection_rate[light]")
            .unwrap();
        assert_eq!(d.difference_between_groups, Value::some(0.75));
    }

    #[test]
    fn a_class_outside_the_list_is_refused_naming_it() {
        let mut acc = MulticlassAccumulator::new(&["no", "yes"], &["g"], MissingGroups::Error).unwrap();
        let (codes, _, dict) = encode(["a"].iter().map(|s| Some(*s)));
        let e = acc
            .add(&MulticlassBatch {
                outcome: Col {
                    name: "level",
                    values: &[2],
                },
                prediction: Col {
                    name: "p",
                    values: &[0],
                },
                groups: vec![GroupCol {
                    name: "g",
                    codes: &codes,
                    valid: None,
                    dictionary: &dict,
                }],
            })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "column \"level\", row 0: class 2 is not one of the 2 classes (0 to 1: no, yes)"
        );
        assert!(MulticlassAccumulator::new(&["x", "x"], &["g"], MissingGroups::Error).is_err());
    }
}
