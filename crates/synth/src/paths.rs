//! Path-specific counterfactual twins: which descendants of a changed attribute a twin recomputes.
//!
//! Today's twin (`total`) changes a protected attribute and recomputes everything it causes. A
//! path-specific twin recomputes only a chosen set of the attribute's descendants, from their
//! parents' values in the twin (changed where the parent is recomputed, the citizen's own where
//! it is held), with every random draw held fixed, and copies every other variable from the
//! citizen. Because each variable has its own random stream, "held fixed" is exact: the twin is the
//! same person, with only the chosen paths of influence switched on.
//!
//! A variable may be stored in several columns (a municipality as its code, name and region; an
//! education as its group and ISCED level; a household as its type and whether one lives alone;
//! the outcome as `p_true`, `outcome_true` and `outcome_recorded`). Naming any of them names the
//! variable. The CPR number always follows the twin (a twin needs a number of its own, and of
//! its sex).

use crate::SynthError;
use crate::dictionary::ColumnDoc;
use crate::spec::Counterfactual;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

/// Which of the attribute's descendants a twin recomputes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    /// Every descendant: today's twins.
    Total,
    /// Only the proxies: descendants that carry no legitimate information for the decision (the
    /// scenario's list, or the one given).
    Proxy,
    /// Every descendant but the proxies.
    Mediated,
    /// Only these columns (each a descendant of the attribute).
    Through(Vec<String>),
    /// Every descendant but these columns.
    Hold(Vec<String>),
}

impl Path {
    /// The name the record and the criteria use: `total`, `proxy`, `mediated`,
    /// `through:a+b` or `hold:a+b`.
    pub fn name(&self) -> String {
        match self {
            Path::Total => "total".into(),
            Path::Proxy => "proxy".into(),
            Path::Mediated => "mediated".into(),
            Path::Through(c) => format!("through:{}", c.join("+")),
            Path::Hold(c) => format!("hold:{}", c.join("+")),
        }
    }

    /// Reads a path by its name (the inverse of [`Path::name`]; `,` also separates columns).
    pub fn parse(s: &str) -> Result<Self, SynthError> {
        let columns = |rest: &str| -> Vec<String> {
            rest.split(['+', ','])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match s.trim() {
            "total" => Ok(Path::Total),
            "proxy" => Ok(Path::Proxy),
            "mediated" => Ok(Path::Mediated),
            other => match other.split_once(':') {
                Some(("through", rest)) => Ok(Path::Through(columns(rest))),
                Some(("hold", rest)) => Ok(Path::Hold(columns(rest))),
                _ => Err(SynthError::Path(format!(
                    "unknown path {:?}: a path is total, proxy, mediated, through:COLUMN+COLUMN or hold:COLUMN+COLUMN",
                    crate::error::shown(other)
                ))),
            },
        }
    }
}

/// The variables a twin recomputes (every other is copied from the citizen).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recompute(HashSet<&'static str>);

impl Recompute {
    /// Whether the twin recomputes `variable` (a variable's first column's name).
    pub(crate) fn has(&self, variable: &str) -> bool {
        self.0.contains(variable)
    }
}

/// A path resolved against a scenario's causal graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// What was asked.
    pub path: Path,
    /// The columns the twin recomputes, in the dataset's (causal) order.
    pub columns: Vec<&'static str>,
    pub(crate) recompute: Recompute,
}

/// The variable a column belongs to, named by the variable's first column.
pub(crate) fn variable_of(column: &str) -> &str {
    match column {
        "municipality_code" | "region" => "municipality",
        "education_isced" => "education",
        "living_alone" => "household_type",
        // The outcome's columns are one variable, named by the binary outcome's first column.
        "outcome_true" | "outcome_recorded" | "expected_true" | "level_true" | "level_recorded" => "p_true",
        other => other,
    }
}

/// The proxies a scenario names unless told otherwise: where a citizen lives and what they are
/// called, which tell a model a citizen's origin (and, for names, sex) without telling it anything
/// the decision may rest on.
pub const DEFAULT_PROXIES: &[&str] = &[
    "country_of_origin",
    "municipality_code",
    "municipality",
    "region",
    "first_name",
    "last_name",
];

/// The columns that descend from `attribute` in the dictionary's causal graph, in dictionary order.
/// The CPR number (identity) is left out: it always follows the twin.
pub fn descendants(columns: &[ColumnDoc], attribute: Counterfactual) -> Vec<&'static str> {
    let mut reached: BTreeSet<&str> = BTreeSet::from([attribute.as_str()]);
    // The dictionary lists columns in causal order, so one pass in order reaches every descendant;
    // loop until nothing changes anyway, so a dictionary out of order is still right.
    loop {
        let before = reached.len();
        for c in columns {
            if c.parents.iter().any(|p| reached.contains(p)) {
                reached.insert(c.name);
            }
        }
        if reached.len() == before {
            break;
        }
    }
    // The outcome is caused by the scenario's features ("scenario features" in its parents): it
    // descends from the attribute when any of them does.
    let has_outcome = columns.iter().any(|c| c.name == "p_true" || c.name == "expected_true");
    let feature_descends = columns
        .iter()
        .any(|c| reached.contains(c.name) && !["cpr", attribute.as_str()].contains(&c.name));
    columns
        .iter()
        .map(|c| c.name)
        .filter(|&c| c != "cpr" && c != attribute.as_str())
        .filter(|&c| {
            reached.contains(c) || (has_outcome && feature_descends && crate::scenario::OUTCOME_COLUMNS.contains(&c))
        })
        .collect()
}

/// Resolves `path` for `attribute` against the dataset's columns. `proxies` replaces the
/// scenario's proxy list when given. Every named column must be a column of the dataset and a
/// descendant of the attribute; the error says which are.
pub fn resolve(
    columns: &[ColumnDoc],
    attribute: Counterfactual,
    path: &Path,
    proxies: &[&str],
) -> Result<ResolvedPath, SynthError> {
    let descendants = descendants(columns, attribute);
    let check = |named: &[&str], what: &str| -> Result<Vec<&'static str>, SynthError> {
        if named.is_empty() {
            return Err(SynthError::Path(format!("{} names no column", path_label(what))));
        }
        named
            .iter()
            .map(|&c| {
                let known = columns.iter().find(|d| d.name == c).map(|d| d.name).ok_or_else(|| {
                    SynthError::Path(format!(
                        "{}: {:?} is not a column of the dataset; the columns that descend from {} are {}",
                        path_label(what),
                        crate::error::shown(c),
                        attribute.as_str(),
                        descendants.join(", ")
                    ))
                })?;
                if descendants.contains(&known) {
                    Ok(known)
                } else {
                    Err(SynthError::Path(format!(
                        "{}: {known} does not descend from {} in the scenario's causal graph, so changing {} cannot \
                         reach it; the columns that do are {}",
                        path_label(what),
                        attribute.as_str(),
                        attribute.as_str(),
                        descendants.join(", ")
                    )))
                }
            })
            .collect()
    };
    let proxy_set = || -> Result<Vec<&'static str>, SynthError> {
        // The scenario's default list may name columns that do not descend from this attribute
        // (municipality does not descend from sex): those are simply not its proxies. A list the
        // caller gives is checked like any other.
        if proxies == DEFAULT_PROXIES {
            Ok(descendants
                .iter()
                .copied()
                .filter(|c| DEFAULT_PROXIES.contains(c))
                .collect())
        } else {
            check(proxies, "the proxies")
        }
    };
    let chosen: Vec<&'static str> = match path {
        Path::Total => descendants.clone(),
        Path::Proxy => proxy_set()?,
        Path::Mediated => {
            let p = variables(&proxy_set()?);
            descendants
                .iter()
                .copied()
                .filter(|c| !p.contains(variable_of(c)))
                .collect()
        }
        Path::Through(c) => check(&c.iter().map(String::as_str).collect::<Vec<_>>(), "through")?,
        Path::Hold(c) => {
            let held = variables(&check(&c.iter().map(String::as_str).collect::<Vec<_>>(), "hold")?);
            descendants
                .iter()
                .copied()
                .filter(|c| !held.contains(variable_of(c)))
                .collect()
        }
    };
    // Naming one column of a variable names all of its columns.
    let vars = variables(&chosen);
    let columns: Vec<&'static str> = descendants
        .iter()
        .copied()
        .filter(|c| vars.contains(variable_of(c)))
        .collect();
    Ok(ResolvedPath {
        path: path.clone(),
        columns,
        recompute: Recompute(vars),
    })
}

fn variables(columns: &[&'static str]) -> HashSet<&'static str> {
    columns.iter().map(|&c| variable_of_static(c)).collect()
}

fn variable_of_static(column: &'static str) -> &'static str {
    match variable_of(column) {
        "municipality" => "municipality",
        "education" => "education",
        "household_type" => "household_type",
        "p_true" => "p_true",
        _ => column,
    }
}

fn path_label(what: &str) -> String {
    match what {
        "through" => "--through".into(),
        "hold" => "--hold".into(),
        other => other.to_owned(),
    }
}
