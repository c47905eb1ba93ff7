//! Scenario modules: a scenario written as one TOML file instead of Rust.
//!
//! A module names who is drawn from the population, its own variables in causal order (each an
//! expression over its parents and random draws), what is recorded of each, its outcome, its
//! default bias, proxies, measurement error and recourse. [`load`] reads and checks it — every
//! error with the file, line and column — and compiles its expressions to columnar code
//! ([`eval`]); the result is a [`Scenario`](crate::scenario::Scenario) like the Rust ones, with
//! the same guarantees: every draw a pure function of (seed, scenario, row, variable), twins by
//! recomputing descendants with the draws held, every bias knob working.
//!
//! A loaded module is interned for the life of the process, keyed by its SHA-256: the data
//! dictionary and the path machinery hold `&'static str` names, and a module's strings become
//! those. Memory is bounded by the distinct modules a process ever loads, each at most
//! [`MAX_MODULE_BYTES`].

mod check;
mod eval;
mod expr;
mod file;
mod ir;
mod scenario;
#[cfg(test)]
mod tests;

pub use file::FORMAT;
pub use scenario::ModuleScenario;

use crate::bias::BiasConfig;
use crate::dictionary::ColumnDoc;
use crate::noise::{ColumnError, MeasurementError};
use crate::recourse::{ActionDirection, Actionable, RecourseSpec};
use check::Checked;
use file::ModuleFile;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// The largest module file read (bytes). The shipped modules are under 12 KiB.
pub const MAX_MODULE_BYTES: usize = 256 * 1024;

/// A module that could not be loaded: every problem found, each with where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ModuleError {
    /// The file as the caller named it.
    pub file: String,
    /// Each problem: line and column (1-based, columns in characters) and what is wrong.
    pub problems: Vec<Problem>,
}

/// One problem of a module.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.message)?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` of `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut o = offset;
    while !source.is_char_boundary(o) {
        o -= 1;
    }
    let before = &source[..o];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Problems found in `source` as a [`ModuleError`] naming `file` and each line and column.
fn placed(file: &str, source: &str, problems: Vec<(std::ops::Range<usize>, String)>) -> ModuleError {
    ModuleError {
        file: file.to_owned(),
        problems: problems
            .into_iter()
            .map(|(span, message)| {
                let (line, column) = line_col(source, span.start);
                Problem { line, column, message }
            })
            .collect(),
    }
}

/// A checked module with everything the [`Scenario`](crate::scenario::Scenario) trait hands out.
#[derive(Debug)]
pub struct Loaded {
    pub(crate) checked: Checked,
    pub(crate) name: &'static str,
    pub(crate) summary_en: &'static str,
    pub(crate) summary_da: &'static str,
    pub(crate) sha256: &'static str,
    pub(crate) source: &'static str,
    /// Cohort weight by `[male][age]`.
    pub(crate) cohort: Vec<Vec<f64>>,
    pub(crate) measurable: &'static [&'static str],
    pub(crate) proxies: &'static [&'static str],
    pub(crate) default_bias: BiasConfig,
    pub(crate) columns: Vec<ColumnDoc>,
    pub(crate) errors: Vec<ColumnError>,
    pub(crate) recourse: Option<RecourseSpec>,
    /// Which population inputs the expressions read, by [`ir::Input`] as index.
    pub(crate) inputs: Vec<bool>,
}

/// Loaded modules by SHA-256, with the order they were loaded in.
fn registry() -> &'static Mutex<HashMap<String, (u64, &'static Loaded)>> {
    static R: OnceLock<Mutex<HashMap<String, (u64, &'static Loaded)>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Bytes of text interned so far (what [`interned_bytes`] reports).
static INTERNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Interns a string for the life of the process (see the module docs for why that is bounded).
fn leak(s: &str) -> &'static str {
    INTERNED.fetch_add(s.len(), std::sync::atomic::Ordering::Relaxed);
    Box::leak(s.to_owned().into_boxed_str())
}

/// The bytes of text modules have interned in this process: a module refused, however often it
/// is tried, adds nothing (tested).
#[doc(hidden)]
pub fn interned_bytes() -> usize {
    INTERNED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Reads, checks and compiles a module; `file` names it in messages. The same text loads once
/// per process and is shared after.
pub fn load(file: &str, source: &str) -> Result<ModuleScenario, ModuleError> {
    let fail = |problems| placed(file, source, problems);
    if source.len() > MAX_MODULE_BYTES {
        return Err(fail(vec![(
            0..0,
            format!("the module is {} bytes; at most {MAX_MODULE_BYTES}", source.len()),
        )]));
    }
    let sha256 = hex(&Sha256::digest(source.as_bytes()));
    if let Some((_, m)) = registry().lock().unwrap_or_else(|e| e.into_inner()).get(&sha256) {
        return Ok(ModuleScenario(m));
    }
    let parsed: ModuleFile = toml::from_str(source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        fail(vec![(span, e.message().trim().to_owned())])
    })?;
    let checked = check::check(source, &parsed).map_err(fail)?;
    // Built under the lock, so two threads loading the same new module intern it once.
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = reg.get(&sha256) {
        return Ok(ModuleScenario(m));
    }
    let loaded = build(checked, &parsed, source, sha256.clone()).map_err(fail)?;
    let next = reg.len() as u64;
    let (_, m) = *reg.entry(sha256).or_insert_with(|| (next, Box::leak(Box::new(loaded))));
    Ok(ModuleScenario(m))
}

/// The JSON Schema of a module file (TOML read as JSON), for editors and reviewers.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(file::ModuleFile)
}

/// Checks a module and evaluates every expression of it over `rows` made-up citizens, without
/// keeping anything (nothing is interned): what the fuzz target drives. Returns the values
/// computed.
#[doc(hidden)]
pub fn check_and_evaluate(source: &str, rows: usize) -> Result<usize, ModuleError> {
    let fail = |problems| placed("fuzz", source, problems);
    if source.len() > MAX_MODULE_BYTES {
        return Err(fail(vec![(0..0, "too long".into())]));
    }
    let parsed: ModuleFile =
        toml::from_str(source).map_err(|e| fail(vec![(e.span().unwrap_or(0..0), e.message().to_owned())]))?;
    let c = check::check(source, &parsed).map_err(fail)?;
    // Inputs spread over their ranges; categories over their values.
    let inputs: Vec<Vec<f64>> = (0..15)
        .map(|k| (0..rows).map(|i| ((i * (k + 3)) % 7) as f64).collect())
        .collect();
    let rngs: Vec<crate::rng::RowRng> = (0..rows as u64).map(|i| crate::rng::RowRng::new(7, i)).collect();
    let mut truth: Vec<Vec<f64>> = vec![vec![0.0; rows]; c.vars.len()];
    let mut count = 0;
    for &j in &c.order {
        let v = &c.vars[j];
        let frame = eval::Frame {
            n: rows,
            inputs: &inputs,
            vars: &truth,
            measured: None,
            expected: None,
            rngs: &rngs,
            tables: &c.tables,
        };
        let t = eval::eval(&v.value, &frame).into_vec(rows);
        if let Some(o) = &v.observed {
            let frame = eval::Frame {
                measured: Some(&t),
                expected: None,
                ..frame
            };
            count += eval::eval(o, &frame).into_vec(rows).len();
        }
        count += t.len();
        truth[j] = t;
    }
    if let Some(o) = &c.outcome {
        // A numeric outcome's `value` and `recorded` read `expected` and `truth`; any column
        // exercises the evaluator's paths.
        let fill = vec![0.0; rows];
        let frame = eval::Frame {
            n: rows,
            inputs: &inputs,
            vars: &truth,
            measured: Some(&fill),
            expected: Some(&fill),
            rngs: &rngs,
            tables: &c.tables,
        };
        for node in o.nodes() {
            count += eval::eval(node, &frame).into_vec(rows).len();
        }
    }
    Ok(count)
}

/// A module already loaded in this process, by its SHA-256.
pub fn loaded(sha256: &str) -> Option<ModuleScenario> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(sha256)
        .map(|(_, m)| ModuleScenario(m))
}

/// The module loaded last in this process under `name`.
pub fn loaded_by_name(name: &str) -> Option<ModuleScenario> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|(_, m)| m.name == name)
        .max_by_key(|(order, _)| *order)
        .map(|(_, m)| ModuleScenario(m))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything derived from a checked module: the hooks' tables, the dictionary, the bias.
fn build(
    c: Checked,
    f: &ModuleFile,
    source: &str,
    sha256: String,
) -> Result<Loaded, Vec<(std::ops::Range<usize>, String)>> {
    let mut problems = Vec::new();
    // Cohort weights over every age and sex, evaluated as two columns.
    let ages = usize::from(crate::population::MAX_AGE) + 1;
    let cohort = match &c.cohort_weight {
        None => vec![vec![1.0; ages]; 2],
        Some(node) => (0..2)
            .map(|male| {
                let mut inputs = vec![Vec::new(); 15];
                inputs[ir::Input::Age as usize] = (0..ages).map(|a| a as f64).collect();
                inputs[ir::Input::Male as usize] = vec![f64::from(male as u8); ages];
                let frame = eval::Frame {
                    n: ages,
                    inputs: &inputs,
                    vars: &[],
                    measured: None,
                    expected: None,
                    rngs: &[],
                    tables: &c.tables,
                };
                eval::eval(node, &frame).into_vec(ages)
            })
            .collect(),
    };
    let (lo, hi) = (usize::from(c.ages.0), usize::from(c.ages.1));
    let in_range = || cohort.iter().flat_map(|w| w[lo..=hi].iter());
    if in_range().any(|w| !w.is_finite() || *w < 0.0) || !in_range().any(|w| *w > 0.0) {
        let span = f.population.cohort_weight.as_ref().map_or(0..0, |e| e.span());
        problems.push((
            span,
            format!(
                "cohort_weight must be finite and 0 or more at every age in [{lo}, {hi}], and above 0 at one at least"
            ),
        ));
    }
    // Everything that can be wrong is found before anything is interned: a module refused
    // leaves nothing behind, however often it is tried.
    let mut default_bias = BiasConfig::none(c.measurable.first().map(String::as_str));
    {
        let measurable: Vec<&str> = c.measurable.iter().map(String::as_str).collect();
        for (k, v) in &c.default_bias {
            if let Err(e) = default_bias.set(k, v, &measurable, c.outcome.is_some()) {
                problems.push((c.default_bias_span.clone(), format!("bias.default: {e}")));
            }
        }
    }
    let observed: Vec<&str> = c.vars.iter().filter(|v| !v.latent).map(|v| v.name.as_str()).collect();
    let mut error_kinds = Vec::new();
    for e in &f.measurement_error {
        let column = e.column.get_ref();
        if !observed.contains(&column.as_str()) {
            problems.push((
                e.column.span(),
                format!("measurement_error names {column:?}, not an observed variable of the module"),
            ));
            continue;
        }
        if !(e.sd.is_finite() && e.sd >= 0.0 && e.min.is_finite() && e.max.is_finite() && e.min < e.max) {
            problems.push((
                e.column.span(),
                "measurement_error needs sd ≥ 0 and finite min < max".into(),
            ));
            continue;
        }
        let error = match e.kind.get_ref().as_str() {
            "normal" => MeasurementError::Normal {
                sd: e.sd,
                min: e.min,
                max: e.max,
            },
            "relative" => MeasurementError::Relative {
                sd: e.sd,
                min: e.min,
                max: e.max,
            },
            other => {
                problems.push((
                    e.kind.span(),
                    format!("measurement_error kind {other:?}: `normal` or `relative`"),
                ));
                continue;
            }
        };
        error_kinds.push((column, error, &e.why));
    }
    if let (Some(r), Some(o)) = (&f.recourse, &c.outcome)
        && !matches!(o.kind, check::OutcomeKind::Binary { .. })
    {
        let span = r.action.first().map_or(0..0, |a| a.column.span());
        problems.push((
            span,
            "recourse is for a yes/no outcome (a decision to change); this module's outcome is a number".into(),
        ));
    }
    let mut actions = Vec::new();
    for a in f.recourse.iter().flat_map(|r| &r.action) {
        let column = a.column.get_ref();
        let numeric = c.vars.iter().any(|v| {
            v.name == *column && !v.latent && !matches!(v.ty, check::VarType::Bool | check::VarType::Category)
        });
        let direction = match a.direction.as_str() {
            "up" => ActionDirection::Up,
            "down" => ActionDirection::Down,
            "either" => ActionDirection::Either,
            other => {
                problems.push((a.column.span(), format!("direction {other:?}: up, down or either")));
                continue;
            }
        };
        if !numeric
            || !a.min.is_finite()
            || !a.max.is_finite()
            || a.min.partial_cmp(&a.max) != Some(std::cmp::Ordering::Less)
        {
            problems.push((
                a.column.span(),
                format!("action on {column:?}: an observed numeric variable with min < max"),
            ));
            continue;
        }
        actions.push((a, direction));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut inputs = vec![false; 15];
    let mut used = Vec::new();
    for v in &c.vars {
        v.value.inputs(&mut used);
        if let Some(o) = &v.observed {
            o.inputs(&mut used);
        }
    }
    for node in c.outcome.iter().flat_map(|o| o.nodes()) {
        node.inputs(&mut used);
    }
    for i in used {
        inputs[i as usize] = true;
    }
    // Only now is anything interned.
    let mut leak_fn = |s: &str| leak(s);
    let measurable: Vec<&'static str> = c.measurable.iter().map(|s| leak(s)).collect();
    let proxies: Vec<&'static str> = match &c.proxies {
        Some(p) => p.iter().map(|s| leak(s)).collect(),
        None => crate::paths::DEFAULT_PROXIES.to_vec(),
    };
    let mut columns: Vec<ColumnDoc> = c
        .vars
        .iter()
        .filter(|v| !v.latent)
        .map(|v| scenario::column_doc(v, &mut leak_fn))
        .collect();
    match c.outcome.as_ref() {
        None => {}
        Some(o) => match &o.kind {
            check::OutcomeKind::Binary { .. } => columns.extend(crate::scenario::Outcome::docs(leak(&o.meaning))),
            check::OutcomeKind::Numeric {
                count,
                unit,
                levels,
                reads,
                ..
            } => {
                let meaning = if unit.is_empty() {
                    o.meaning.clone()
                } else {
                    format!("{} ({unit})", o.meaning)
                };
                let levels: Option<&'static [&'static str]> = levels.as_ref().map(|(classes, _)| {
                    &*Box::leak(classes.iter().map(|x| leak(x)).collect::<Vec<_>>().into_boxed_slice())
                });
                let reads: Vec<Vec<&'static str>> = reads.iter().map(|r| r.iter().map(|x| leak(x)).collect()).collect();
                columns.extend(crate::scenario::numeric_outcome_docs(
                    *count,
                    leak(&meaning),
                    levels,
                    [&reads[0], &reads[1], &reads[2]],
                ));
            }
        },
    }
    let errors = error_kinds
        .into_iter()
        .map(|(column, error, why)| ColumnError {
            column: leak(column),
            error,
            why: leak(why),
        })
        .collect();
    let recourse = f.recourse.as_ref().map(|r| RecourseSpec {
        unfavourable: r.unfavourable,
        why: leak(&r.why),
        actions: actions
            .into_iter()
            .map(|(a, direction)| Actionable {
                column: leak(a.column.get_ref()),
                direction,
                min: a.min,
                max: a.max,
                unit: a.unit,
                why: leak(&a.why),
            })
            .collect(),
    });
    Ok(Loaded {
        name: leak(&c.name),
        summary_en: leak(&c.summary_en),
        summary_da: leak(&c.summary_da),
        sha256: leak(&sha256),
        source: leak(source),
        cohort,
        measurable: Box::leak(measurable.into_boxed_slice()),
        proxies: Box::leak(proxies.into_boxed_slice()),
        default_bias,
        columns,
        errors,
        recourse,
        inputs,
        checked: c,
    })
}
