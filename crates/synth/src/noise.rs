//! Measurement error: how far each recorded column can plausibly be from the truth, stated per
//! scenario. The robustness perturbation (issue 16) moves a model's inputs by exactly this much
//! and reports what that does to its decisions; the measurement-bias knob adds a group's extra
//! error on top of it when the data is drawn.
//!
//! Columns the registers record exactly (age and sex from the CPR number, origin, household and
//! children from the CPR register, the booleans of the case files) have no error here and are
//! never perturbed.

use crate::model::Education;

/// How one column's recorded value can be off.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementError {
    /// `value + sd·z`, rounded for integer columns, within `[min, max]`.
    Normal {
        /// Standard deviation in the column's unit.
        sd: f64,
        /// Smallest possible value.
        min: f64,
        /// Largest possible value.
        max: f64,
    },
    /// `value·(1 + sd·z)`: an error proportional to the value, within `[min, max]`.
    Relative {
        /// Standard deviation of the relative error.
        sd: f64,
        /// Smallest possible value.
        min: f64,
        /// Largest possible value.
        max: f64,
    },
    /// Recorded as a neighbouring category for a share `rate` of the citizens; the columns
    /// recorded beside it follow.
    Neighbours {
        /// The share of citizens whose value is recorded as a neighbour's.
        rate: f64,
        /// Each value with its plausible neighbours.
        neighbours: Vec<(String, Vec<String>)>,
        /// Columns determined by this one: `(column, [(value, its value there)])`.
        linked: Vec<(&'static str, Vec<(String, String)>)>,
    },
}

/// One column's measurement error, with where its scale comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnError {
    /// The column.
    pub column: &'static str,
    /// Its error.
    pub error: MeasurementError,
    /// Why this scale, for the reader of a report.
    pub why: &'static str,
}

impl ColumnError {
    /// Every column the error changes: its own and its linked columns.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut c = vec![self.column];
        if let MeasurementError::Neighbours { linked, .. } = &self.error {
            c.extend(linked.iter().map(|(l, _)| *l));
        }
        c
    }
}

/// `value + sd·z` within `[min, max]`.
pub(crate) fn normal(column: &'static str, sd: f64, (min, max): (f64, f64), why: &'static str) -> ColumnError {
    ColumnError {
        column,
        error: MeasurementError::Normal { sd, min, max },
        why,
    }
}

/// The population's columns that registers record with error.
pub(crate) fn population() -> Vec<ColumnError> {
    let d = crate::refdata::get();
    // Education: recorded one level off (a foreign degree placed at the adjacent level, an
    // unfinished one counted). Levels by the causal model's score; ISCED follows.
    let levels: Vec<Education> = Education::ALL
        .iter()
        .copied()
        .filter(|e| *e != Education::InSchool)
        .collect();
    let education = levels
        .iter()
        .map(|e| {
            let near = levels
                .iter()
                .filter(|o| (o.score() - e.score()).abs() == 1.0)
                .map(|o| o.label().to_owned())
                .collect();
            (e.label().to_owned(), near)
        })
        .collect();
    let isced = Education::ALL
        .iter()
        .map(|e| (e.label().to_owned(), e.isced().to_string()))
        .collect();
    // Municipality: the address registered in a neighbouring municipality of the same region (a
    // move not yet recorded); its code follows, the region stays.
    let municipality = d
        .municipalities
        .iter()
        .map(|m| {
            let near = d
                .municipalities
                .iter()
                .filter(|o| o.region_code == m.region_code && o.code != m.code)
                .map(|o| o.name.clone())
                .collect();
            (m.name.clone(), near)
        })
        .collect();
    let codes = d
        .municipalities
        .iter()
        .map(|m| (m.name.clone(), m.code.to_string()))
        .collect();
    vec![
        ColumnError {
            column: "education",
            error: MeasurementError::Neighbours {
                rate: 0.1,
                neighbours: education,
                linked: vec![("education_isced", isced)],
            },
            why: "the education register places about one degree in ten one level off (foreign or unfinished); ISCED follows",
        },
        normal(
            "chronic_conditions",
            0.5,
            (0.0, 12.0),
            "a diagnosis missing from or added to the national patient register",
        ),
        ColumnError {
            column: "income_dkk",
            error: MeasurementError::Relative {
                sd: 0.05,
                min: 0.0,
                max: f64::from(i32::MAX),
            },
            why: "income register: late corrections and income abroad, about 5 %",
        },
        normal(
            "hospital_days_12m",
            1.0,
            (0.0, 365.0),
            "admission and discharge days counted differently between regions",
        ),
        ColumnError {
            column: "municipality",
            error: MeasurementError::Neighbours {
                rate: 0.05,
                neighbours: municipality,
                linked: vec![("municipality_code", codes)],
            },
            why: "about one citizen in twenty has moved within the region and is not yet re-registered; the code follows",
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn neighbours_are_adjacent_levels_and_municipalities_of_the_same_region() {
        let errors = super::population();
        let education = errors.iter().find(|e| e.column == "education").unwrap();
        let super::MeasurementError::Neighbours { neighbours, linked, .. } = &education.error else {
            panic!("education switches to a neighbour")
        };
        let of = |v: &str| neighbours.iter().find(|(k, _)| k == v).map(|(_, n)| n.clone()).unwrap();
        assert_eq!(of("basic"), ["upper_secondary", "vocational"]);
        assert_eq!(of("short_cycle"), ["upper_secondary", "vocational", "bachelor"]);
        assert_eq!(of("master_phd"), ["bachelor"]);
        assert!(linked[0].1.contains(&("bachelor".into(), "6".into())));
        let municipality = errors.iter().find(|e| e.column == "municipality").unwrap();
        let super::MeasurementError::Neighbours { neighbours, .. } = &municipality.error else {
            panic!("a municipality switches to a neighbour")
        };
        let d = crate::refdata::get();
        let region = |name: &str| d.municipalities.iter().find(|m| m.name == name).unwrap().region_code;
        assert_eq!(neighbours.len(), 98);
        for (m, near) in neighbours {
            assert!(!near.is_empty() && !near.contains(m), "{m}");
            assert!(near.iter().all(|n| region(n) == region(m)), "{m}");
        }
    }
}

#[cfg(test)]
mod scenario_tests {
    use super::MeasurementError;

    /// Every scenario's noise names columns its dictionary has, numeric noise numeric columns,
    /// neighbours categorical columns with their own values, and linked columns that exist.
    #[test]
    fn every_error_fits_its_scenarios_dictionary() {
        for scenario in crate::scenario::names() {
            let columns = crate::scenario::columns(scenario).unwrap();
            let doc = |c: &str| columns.iter().find(|d| d.name == c);
            for e in crate::scenario::measurement_errors(scenario).unwrap() {
                let Some(d) = doc(e.column) else {
                    // The population scenario has no scenario columns, but every population column.
                    panic!("{scenario}: {} is not in its dictionary", e.column);
                };
                assert!(!e.why.is_empty(), "{scenario}: {}", e.column);
                match &e.error {
                    MeasurementError::Normal { sd, min, max } | MeasurementError::Relative { sd, min, max } => {
                        assert!(
                            d.data_type.is_integer() || d.data_type.is_floating(),
                            "{scenario}: {} is {}",
                            e.column,
                            d.data_type
                        );
                        assert!(*sd > 0.0 && min < max, "{scenario}: {}", e.column);
                    }
                    MeasurementError::Neighbours {
                        neighbours,
                        linked,
                        rate,
                    } => {
                        assert!(*rate > 0.0 && *rate <= 1.0, "{scenario}: {}", e.column);
                        assert!(d.is_categorical(), "{scenario}: {}", e.column);
                        for (v, near) in neighbours {
                            for x in std::iter::once(v).chain(near) {
                                assert!(
                                    d.values.iter().any(|k| k == x),
                                    "{scenario}: {} has no value {x}",
                                    e.column
                                );
                            }
                        }
                        for (l, _) in linked {
                            assert!(doc(l).is_some(), "{scenario}: linked {l}");
                        }
                    }
                }
            }
        }
    }
}
