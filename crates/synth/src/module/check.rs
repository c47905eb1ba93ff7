//! The checker: turns a module file into [`Checked`] or into every error it can find, each with
//! the byte range it is about. Names are resolved, types checked, draws numbered, and each
//! expression's range bounded by interval arithmetic, which is how it can tell a division that
//! can meet zero, a logarithm of a number that can be 0 or less, a probability that can leave
//! [0, 1] and a column that can leave its type's range or its declared bounds.

use super::expr::{self, BinOp, Expr, ExprKind};
use super::file::{self, ModuleFile};
use super::ir::{DrawKind, F1, Input, Node, Stream};
use crate::model::{Employment, Origin};
use crate::rng::{Var, hash_str};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use toml::Spanned;

/// The most variables a module may declare (the per-row "recomputed" mask holds them all).
pub const MAX_VARIABLES: usize = 120;
/// The most values of one category.
pub const MAX_CATEGORY_VALUES: usize = 256;
/// The most helper definitions and tables.
pub const MAX_DEFINES: usize = 256;
/// The most operations one expression may expand to once its definitions are inlined (a
/// definition used twice in a definition used twice … grows exponentially).
pub const MAX_NODES_PER_EXPRESSION: usize = 10_000;
/// The most operations of a whole module: what bounds the work of every batch.
pub const MAX_NODES: usize = 40_000;
/// The deepest an expression may nest once its definitions are inlined: bounds the checker's
/// and the evaluator's recursion (the evaluator runs on worker threads with small stacks).
pub const MAX_COMPILED_DEPTH: usize = 256;
/// The largest mean `poisson()` takes (its draws stop at 255).
pub const MAX_POISSON_MEAN: f64 = 100.0;
/// The largest magnitude any part of an expression may reach: far from f64's overflow, so a
/// finite range stays finite through the evaluator's own arithmetic.
const MAX_MAGNITUDE: f64 = 1e300;

/// A column's storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Bool,
    U8,
    U16,
    U32,
    I32,
    F32,
    F64,
    Category,
}

impl VarType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bool" => Self::Bool,
            "u8" => Self::U8,
            "u16" => Self::U16,
            "u32" => Self::U32,
            "i32" => Self::I32,
            "f32" => Self::F32,
            "f64" => Self::F64,
            "category" => Self::Category,
            _ => return None,
        })
    }

    /// The values the stored column can hold.
    fn range(self) -> (f64, f64) {
        match self {
            Self::Bool => (0.0, 1.0),
            Self::U8 => (0.0, 255.0),
            Self::U16 => (0.0, 65535.0),
            Self::U32 => (0.0, f64::from(u32::MAX)),
            Self::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
            Self::F32 => (-f64::from(f32::MAX), f64::from(f32::MAX)),
            Self::F64 => (-f64::MAX, f64::MAX),
            Self::Category => (0.0, MAX_CATEGORY_VALUES as f64),
        }
    }

    fn is_numeric(self) -> bool {
        !matches!(self, Self::Bool | Self::Category)
    }
}

/// One checked variable.
#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: String,
    pub ty: VarType,
    pub meaning: String,
    pub latent: bool,
    /// As the dictionary lists them.
    pub parents: Vec<String>,
    pub value: Node,
    /// `None`: recorded as it truly is (after measurement bias, for a measurable variable).
    pub observed: Option<Node>,
    /// The index of its measurement-bias noise draw, when measurement bias may target it.
    pub noise_draw: Option<u32>,
    /// A category's values.
    pub values: Vec<String>,
}

/// A module that passed every check.
#[derive(Debug, Clone)]
pub struct Checked {
    pub name: String,
    pub summary_da: String,
    pub summary_en: String,
    pub ages: (u8, u8),
    /// Over `age` and `male` only.
    pub cohort_weight: Option<Node>,
    pub origin_weights: [f64; 5],
    pub employment: Option<Employment>,
    pub tables: Vec<Vec<f64>>,
    pub vars: Vec<VarDef>,
    /// The order variables are computed in (every parent before its children).
    pub order: Vec<usize>,
    pub outcome: Option<OutcomeDef>,
    pub measurable: Vec<String>,
    pub default_bias: BTreeMap<String, String>,
    pub default_bias_span: Range<usize>,
    pub proxies: Option<Vec<String>>,
}

/// A module's checked outcome.
#[derive(Debug, Clone)]
pub struct OutcomeDef {
    /// What the outcome means, for the dictionary.
    pub meaning: String,
    pub kind: OutcomeKind,
}

/// How the outcome is drawn.
#[derive(Debug, Clone)]
// One per module: the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum OutcomeKind {
    /// Yes/no, drawn from `p_true`.
    Binary { p_true: Node },
    /// A number (whole for a count): the expected value, the truth drawn around it, and what is
    /// recorded of the truth (`None`: the truth).
    Numeric {
        count: bool,
        expected: Node,
        value: Node,
        recorded: Option<Node>,
        bounds: (f64, f64),
        unit: String,
        /// The ordered classes and where each after the first begins.
        levels: Option<(Vec<String>, Vec<f64>)>,
        /// What `expected`, `value` and `recorded` read: their columns' parents.
        reads: [Vec<String>; 3],
    },
}

impl OutcomeDef {
    /// Every expression of the outcome.
    pub fn nodes(&self) -> Vec<&Node> {
        match &self.kind {
            OutcomeKind::Binary { p_true } => vec![p_true],
            OutcomeKind::Numeric {
                expected,
                value,
                recorded,
                ..
            } => {
                let mut v = vec![expected, value];
                v.extend(recorded);
                v
            }
        }
    }
}

/// The random streams of a numeric outcome's draws (`value`) and of its recording's
/// (`recorded`). Outside both the named streams (small numbers) and the variables' own streams
/// (hashed names, top bit set), so no variable can share their draws (a name hashing to a
/// hashed outcome stream made the outcome's noise the same draw as a variable's).
pub const OUTCOME_TRUE_STREAM: Stream = 0x7fff_fff0;
/// See [`OUTCOME_TRUE_STREAM`].
pub const OUTCOME_RECORDED_STREAM: Stream = 0x7fff_fff1;

/// Each stream's draws: index, the variable taking it, where the variable names its stream.
type StreamDraws = HashMap<Stream, Vec<(u32, String, Range<usize>)>>;

/// Everything wrong with a module, each with the bytes of the file it is about.
pub type Problems = Vec<(Range<usize>, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Num,
    Bool,
    Cat(Cat),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cat {
    Input(Input),
    Var(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Iv {
    lo: f64,
    hi: f64,
}

impl Iv {
    const ANY: Iv = Iv {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
    };
    const BOOL: Iv = Iv { lo: 0.0, hi: 1.0 };
    fn of(lo: f64, hi: f64) -> Self {
        Iv { lo, hi }
    }
    fn point(v: f64) -> Self {
        Iv { lo: v, hi: v }
    }
    fn union(self, o: Iv) -> Iv {
        Iv::of(self.lo.min(o.lo), self.hi.max(o.hi))
    }
    fn contains_zero(self) -> bool {
        self.lo <= 0.0 && self.hi >= 0.0
    }
    fn map_monotone(self, f: impl Fn(f64) -> f64) -> Iv {
        let (a, b) = (f(self.lo), f(self.hi));
        Iv::of(a.min(b), a.max(b))
    }
    fn mul(self, o: Iv) -> Iv {
        let m = |a: f64, b: f64| if a == 0.0 || b == 0.0 { 0.0 } else { a * b };
        let c = [m(self.lo, o.lo), m(self.lo, o.hi), m(self.hi, o.lo), m(self.hi, o.hi)];
        Iv::of(
            c.iter().copied().fold(f64::INFINITY, f64::min),
            c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    }
    fn show(self) -> String {
        let f = |v: f64| {
            if v == f64::INFINITY {
                "∞".to_owned()
            } else if v == f64::NEG_INFINITY {
                "-∞".to_owned()
            } else {
                format!("{}", (v * 1e6).round() / 1e6)
            }
        };
        format!("[{}, {}]", f(self.lo), f(self.hi))
    }
}

/// The widest a standard normal draw reaches: the inverse CDF of the smallest uniform the
/// generator draws (2⁻⁵⁴) is −8.29.
const NORMAL_BOUND: f64 = 8.5;

/// The population's values an expression may read: name, input, type, range, the column it
/// counts as a parent.
fn input(name: &str) -> Option<(Input, Ty, Iv, &'static str)> {
    use Input::*;
    let cat = |i: Input| Ty::Cat(Cat::Input(i));
    Some(match name {
        "age" => (Age, Ty::Num, Iv::of(0.0, f64::from(crate::population::MAX_AGE)), "age"),
        "male" => (Male, Ty::Bool, Iv::BOOL, "sex"),
        "sex" => (Male, cat(Male), Iv::BOOL, "sex"),
        "origin" => (Origin, cat(Origin), Iv::of(0.0, 4.0), "origin"),
        "non_western" => (NonWestern, Ty::Bool, Iv::BOOL, "origin"),
        "education" => (Education, cat(Education), Iv::of(0.0, 6.0), "education"),
        "education_score" => (EducationScore, Ty::Num, Iv::of(0.0, 4.0), "education"),
        "chronic_conditions" => (ChronicConditions, Ty::Num, Iv::of(0.0, 255.0), "chronic_conditions"),
        "employment_status" => (Employment, cat(Employment), Iv::of(0.0, 5.0), "employment_status"),
        "income_dkk" => (
            Income,
            Ty::Num,
            Iv::of(f64::from(i32::MIN), f64::from(i32::MAX)),
            "income_dkk",
        ),
        "household_type" => (Household, cat(Household), Iv::of(0.0, 5.0), "household_type"),
        "n_children" => (NChildren, Ty::Num, Iv::of(0.0, 255.0), "n_children"),
        "living_alone" => (LivingAlone, Ty::Bool, Iv::BOOL, "living_alone"),
        "hospital_days_12m" => (HospitalDays, Ty::Num, Iv::of(0.0, 65535.0), "hospital_days_12m"),
        "municipality" => (Municipality, cat(Municipality), Iv::of(0.0, 255.0), "municipality"),
        "region" => (Region, cat(Region), Iv::of(0.0, 4.0), "region"),
        _ => return None,
    })
}

/// The names an expression may read from the population.
pub const INPUT_NAMES: &[&str] = &[
    "age",
    "male",
    "sex",
    "origin",
    "non_western",
    "education",
    "education_score",
    "chronic_conditions",
    "employment_status",
    "income_dkk",
    "household_type",
    "n_children",
    "living_alone",
    "hospital_days_12m",
    "municipality",
    "region",
];

/// A population category's values, in dictionary order.
pub fn input_values(i: Input) -> Vec<String> {
    let column = match i {
        Input::Male => "sex",
        Input::Origin => "origin",
        Input::Education => "education",
        Input::Employment => "employment_status",
        Input::Household => "household_type",
        Input::Municipality => "municipality",
        Input::Region => "region",
        _ => return Vec::new(),
    };
    crate::dictionary::population_columns()
        .into_iter()
        .find(|c| c.name == column)
        .map(|c| c.values.iter().map(|v| (*v).to_owned()).collect())
        .unwrap_or_default()
}

const FUNCTIONS: &[&str] = &[
    "sigmoid",
    "exp",
    "ln",
    "sqrt",
    "abs",
    "round",
    "floor",
    "ceil",
    "min",
    "max",
    "clamp",
    "pow",
    "num",
    "uniform",
    "normal",
    "lognormal",
    "bernoulli",
    "poisson",
];

const RESERVED: &[&str] = &[
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "true",
    "false",
    "measured",
    "expected",
    "truth",
    "twin_id",
    "is_twin",
    "person_id",
];

/// Where an expression's text sits in the file, and what it may use.
struct Ctx {
    /// Byte offset of the expression's first character in the file.
    base: usize,
    /// The variable whose draws these are (their stream and numbering), if draws are allowed.
    draws: Option<(Stream, u32)>,
    /// Draw indices used, in order.
    used: Vec<u32>,
    /// `Some(range of measured)` in an `observed` expression.
    measured: Option<Iv>,
    /// `Some(range of expected)` in a numeric outcome's `value` and `recorded`.
    expected: Option<Iv>,
    /// `Some(range of truth)` in a numeric outcome's `recorded`.
    truth: Option<Iv>,
    /// Only `age` and `male` (the cohort weight).
    cohort: bool,
    /// The dictionary names read (parents).
    reads: BTreeSet<String>,
    /// Helper definitions being expanded (a cycle among them is an error).
    expanding: Vec<usize>,
    /// What the expression is, for messages.
    what: String,
    /// Operations compiled for this expression so far.
    nodes: usize,
    /// Nesting of the node being compiled, definitions inlined.
    depth: usize,
    /// The depth error was reported (once per expression).
    too_deep: bool,
}

impl Ctx {
    /// A context for the expression starting at byte `base`, without draws or special names.
    fn new(base: usize, what: impl Into<String>) -> Ctx {
        Ctx {
            base,
            draws: None,
            used: Vec::new(),
            measured: None,
            expected: None,
            truth: None,
            cohort: false,
            reads: BTreeSet::new(),
            expanding: Vec::new(),
            what: what.into(),
            nodes: 0,
            depth: 0,
            too_deep: false,
        }
    }
}

struct Checker<'a> {
    source: &'a str,
    problems: Problems,
    defines: Vec<(String, Range<usize>, String)>,
    define_index: HashMap<String, usize>,
    tables: Vec<(String, Cat, Vec<f64>, Iv)>,
    table_index: HashMap<String, usize>,
    var_index: HashMap<String, usize>,
    var_names: Vec<String>,
    var_types: Vec<(VarType, bool)>,
    var_values: Vec<Vec<String>>,
    var_ivs: Vec<Option<Iv>>,
    total_nodes: usize,
}

/// The byte offset of a TOML string's first character in the file: the span covers the quotes.
fn text_base(source: &str, s: &Spanned<String>) -> usize {
    let span = s.span();
    let raw = source.get(span.clone()).unwrap_or("");
    match raw.find(s.get_ref().as_str()) {
        Some(i) if !s.get_ref().is_empty() => span.start + i,
        _ => span.start + raw.find(['"', '\'']).map_or(0, |q| q + 1),
    }
}

/// The bytes of a TOML string's text in the file (without its quotes, where it can tell).
fn text_span(source: &str, s: &Spanned<String>) -> Range<usize> {
    let base = text_base(source, s);
    base..base + s.get_ref().len()
}

fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=48).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Checks a parsed module file against its source text.
pub fn check(source: &str, f: &ModuleFile) -> Result<Checked, Problems> {
    let mut c = Checker {
        source,
        problems: Vec::new(),
        defines: Vec::new(),
        define_index: HashMap::new(),
        tables: Vec::new(),
        table_index: HashMap::new(),
        var_index: HashMap::new(),
        var_names: f.variable.iter().map(|v| v.name.get_ref().clone()).collect(),
        var_types: Vec::new(),
        var_values: Vec::new(),
        var_ivs: Vec::new(),
        total_nodes: 0,
    };
    let checked = c.run(f);
    if c.problems.is_empty() {
        Ok(checked)
    } else {
        c.problems.sort_by_key(|(r, _)| r.start);
        Err(c.problems)
    }
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        if self.problems.len() < 50 {
            self.problems.push((span, msg.into()));
        }
    }

    fn run(&mut self, f: &ModuleFile) -> Checked {
        if f.format.get_ref() != file::FORMAT {
            self.err(
                f.format.span(),
                format!(
                    "format is {:?}; this version reads {:?}",
                    f.format.get_ref(),
                    file::FORMAT
                ),
            );
        }
        let name = f.name.get_ref();
        let ok_name = (3..=48).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.as_bytes()[0].is_ascii_lowercase();
        if !ok_name {
            self.err(
                f.name.span(),
                "name must be 3-48 characters of lowercase letters, digits and `-`, starting with a letter",
            );
        }
        for (t, what) in [(&f.summary.da, "summary.da"), (&f.summary.en, "summary.en")] {
            let n = t.get_ref().chars().count();
            if n == 0 || n > 4000 || t.get_ref().chars().any(|c| c.is_control() && c != '\n') {
                self.err(
                    t.span(),
                    format!("{what} must be 1-4000 characters without control characters"),
                );
            }
        }
        let [lo, hi] = *f.population.ages.get_ref();
        if lo > hi || hi > crate::population::MAX_AGE {
            self.err(
                f.population.ages.span(),
                format!(
                    "ages [{lo}, {hi}] must be [youngest, oldest] within 0-{}",
                    crate::population::MAX_AGE
                ),
            );
        }
        let mut origin_weights = [1.0; 5];
        if let Some(w) = &f.population.origin_weights {
            for (k, v) in w.get_ref() {
                match Origin::from_label(k) {
                    Some(o) if v.is_finite() && *v >= 0.001 && *v <= 1000.0 => origin_weights[o as usize] = *v,
                    Some(_) => self.err(
                        w.span(),
                        format!(
                            "origin weight of {k} must be a number in 0.001-1000 (to leave a group nearly out, give it a small weight: 0 would leave ages and places with nobody to draw)"
                        ),
                    ),
                    None => self.err(
                        w.span(),
                        format!("{k:?} is not an origin group; known: {}", Origin::LABELS.join(", ")),
                    ),
                }
            }
        }
        let employment = f.population.employment.as_ref().and_then(|e| {
            let v = Employment::from_label(e.get_ref());
            if v.is_none() {
                self.err(
                    text_span(self.source, e),
                    format!(
                        "{:?} is not an employment status; known: {}",
                        e.get_ref(),
                        Employment::LABELS.join(", ")
                    ),
                );
            }
            v
        });

        // Names first, so any expression may refer to any of them.
        if f.define.len() + f.table.len() > MAX_DEFINES {
            self.err(0..0, format!("at most {MAX_DEFINES} definitions and tables"));
        }
        if f.variable.len() > MAX_VARIABLES {
            self.err(0..0, format!("at most {MAX_VARIABLES} variables"));
        }
        let mut taken: HashMap<String, Range<usize>> = HashMap::new();
        let mut claim = |c: &mut Self, n: &Spanned<String>, what: &str| -> bool {
            let s = n.get_ref();
            if !valid_name(s) {
                c.err(
                    n.span(),
                    format!("{what} name {s:?} must be 1-48 characters of a-z, 0-9 and _, starting with a letter"),
                );
                return false;
            }
            let column = crate::dictionary::population_columns()
                .iter()
                .any(|c| c.name == s.as_str())
                || crate::dictionary::twin_columns().iter().any(|c| c.name == s.as_str());
            if RESERVED.contains(&s.as_str())
                || crate::scenario::OUTCOME_COLUMNS.contains(&s.as_str())
                || input(s).is_some()
                || column
            {
                c.err(
                    n.span(),
                    format!("{s:?} is reserved or names a population value; choose another name"),
                );
                return false;
            }
            if let Some(first) = taken.get(s) {
                let (l, col) = super::line_col(c.source, first.start);
                c.err(n.span(), format!("{s:?} is already declared at line {l}, column {col}"));
                return false;
            }
            taken.insert(s.clone(), n.span());
            true
        };
        for (i, v) in f.variable.iter().enumerate() {
            claim(self, &v.name, "variable");
            self.var_index.insert(v.name.get_ref().clone(), i);
            let ty = VarType::parse(v.r#type.get_ref()).unwrap_or_else(|| {
                self.err(
                    v.r#type.span(),
                    format!(
                        "type {:?} is not one of bool, u8, u16, u32, i32, f32, f64, category",
                        v.r#type.get_ref()
                    ),
                );
                VarType::F64
            });
            self.var_types.push((ty, v.latent));
            let values = v.values.clone().unwrap_or_default();
            self.var_values.push(values);
            self.var_ivs.push(None);
        }
        for d in &f.define {
            if claim(self, &d.name, "definition") {
                self.define_index.insert(d.name.get_ref().clone(), self.defines.len());
            }
            self.defines
                .push((d.name.get_ref().clone(), d.value.span(), d.value.get_ref().clone()));
            // Record the text base rather than the TOML span.
            let base = text_base(self.source, &d.value);
            let last = self.defines.len() - 1;
            self.defines[last].1 = base..base + d.value.get_ref().len();
        }
        for t in &f.table {
            let ok = claim(self, &t.name, "table");
            if FUNCTIONS.contains(&t.name.get_ref().as_str()) {
                self.err(t.name.span(), format!("{:?} is a built-in function", t.name.get_ref()));
            }
            let key = match self.category_named(t.key.get_ref()) {
                Some(k) => k,
                None => {
                    self.err(
                        t.key.span(),
                        format!(
                            "table key {:?} is not a category (a population category or a category variable)",
                            t.key.get_ref()
                        ),
                    );
                    continue;
                }
            };
            let values = self.cat_values(key);
            let mut row = vec![f64::NAN; values.len()];
            for (k, v) in t.values.get_ref() {
                match values.iter().position(|x| x == k) {
                    Some(i) if v.is_finite() => row[i] = *v,
                    Some(_) => self.err(t.values.span(), format!("table value for {k:?} must be finite")),
                    None => self.err(
                        t.values.span(),
                        format!(
                            "{k:?} is not a value of {}; its values: {}",
                            t.key.get_ref(),
                            values.join(", ")
                        ),
                    ),
                }
            }
            let missing: Vec<&str> = values
                .iter()
                .zip(&row)
                .filter(|(_, v)| v.is_nan())
                .map(|(k, _)| k.as_str())
                .collect();
            match t.default {
                Some(d) if d.is_finite() => row.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = d),
                Some(_) => self.err(t.values.span(), "a table's default must be finite"),
                None if !missing.is_empty() => self.err(
                    t.values.span(),
                    format!(
                        "table {} has no number for {} and no `default`",
                        t.name.get_ref(),
                        missing.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                    ),
                ),
                None => {}
            }
            let iv = row
                .iter()
                .filter(|v| v.is_finite())
                .fold(Iv::of(f64::INFINITY, f64::NEG_INFINITY), |a, v| a.union(Iv::point(*v)));
            if ok {
                self.table_index.insert(t.name.get_ref().clone(), self.tables.len());
            }
            self.tables.push((t.name.get_ref().clone(), key, row, iv));
        }

        // Measurable variables.
        let (measurable, measurable_span) = match &f.bias {
            Some(b) => (b.measurable.get_ref().clone(), b.measurable.span()),
            None => (Vec::new(), 0..0),
        };
        for m in &measurable {
            match self.var_index.get(m) {
                Some(&i) if self.var_types[i].0.is_numeric() && !self.var_types[i].1 => {}
                _ => self.err(
                    measurable_span.clone(),
                    format!("bias.measurable names {m:?}, which is not an observed numeric variable"),
                ),
            }
        }

        // Compile every variable in declaration order, then sort them causally.
        let mut vars: Vec<VarDef> = Vec::new();
        let mut stream_draws: StreamDraws = HashMap::new();
        let order_hint = self.declaration_dependencies(f);
        let order = self.causal_order(f, &order_hint);
        let mut compiled: Vec<Option<VarDef>> = vec![None; f.variable.len()];
        for &i in &order {
            let v = &f.variable[i];
            let def = self.variable(i, v, &measurable, &mut stream_draws);
            compiled[i] = Some(def);
        }
        for (i, d) in compiled.into_iter().enumerate() {
            vars.push(d.unwrap_or_else(|| VarDef {
                name: f.variable[i].name.get_ref().clone(),
                ty: VarType::F64,
                meaning: String::new(),
                latent: true,
                parents: Vec::new(),
                value: Node::Const(0.0),
                observed: None,
                noise_draw: None,
                values: Vec::new(),
            }));
        }
        // A stream's draws are shared by no two variables (they would be correlated).
        for (stream, uses) in &stream_draws {
            let mut seen: HashMap<u32, &String> = HashMap::new();
            for (k, var, span) in uses {
                if let Some(other) = seen.get(k)
                    && *other != var
                {
                    self.err(
                        span.clone(),
                        format!(
                            "{var} and {other} both take draw {k} of stream {}; give one `stream = \"…/K\"` with another K",
                            stream_name(*stream)
                        ),
                    );
                }
                seen.insert(*k, var);
            }
        }

        let cohort_weight = f.population.cohort_weight.as_ref().and_then(|e| {
            let mut ctx = Ctx {
                cohort: true,
                ..Ctx::new(text_base(self.source, e), "cohort_weight")
            };
            let (node, ty, iv) = self.compile_text(e.get_ref(), &mut ctx)?;
            if ty != Ty::Num {
                self.err(text_span(self.source, e), "cohort_weight must be a number");
            } else if iv.lo < 0.0 || !iv.hi.is_finite() {
                self.err(
                    text_span(self.source, e),
                    format!(
                        "cohort_weight can be {} ; a weight must be 0 or more and finite",
                        iv.show()
                    ),
                );
            }
            Some(node)
        });

        let outcome = f.outcome.as_ref().and_then(|o| self.outcome(o));

        let (default_bias, default_bias_span) = match f.bias.as_ref().and_then(|b| b.default.as_ref()) {
            Some(d) => (
                d.get_ref()
                    .iter()
                    .map(|(k, v)| {
                        let s = match v {
                            toml::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), s)
                    })
                    .collect(),
                d.span(),
            ),
            None => (BTreeMap::new(), 0..0),
        };
        let proxies = f.proxies.as_ref().map(|p| {
            let known = self.column_names(f);
            for name in p.get_ref() {
                if !known.contains(name) {
                    self.err(p.span(), format!("proxy {name:?} is not a column of the scenario"));
                }
            }
            p.get_ref().clone()
        });
        Checked {
            name: name.clone(),
            summary_da: f.summary.da.get_ref().clone(),
            summary_en: f.summary.en.get_ref().clone(),
            ages: (lo, hi),
            cohort_weight,
            origin_weights,
            employment,
            tables: self.tables.iter().map(|t| t.2.clone()).collect(),
            vars,
            order,
            outcome,
            measurable,
            default_bias,
            default_bias_span,
            proxies,
        }
    }

    /// The `[outcome]` section: a yes/no outcome from `p_true`, or a number from `expected`,
    /// `value` and `recorded`, each checked against the outcome's bounds.
    fn outcome(&mut self, o: &file::OutcomeSection) -> Option<OutcomeDef> {
        let kind = o.kind.get_ref().as_str();
        let given = |x: bool, key: &str, this: &mut Self, span: Range<usize>| {
            if x {
                this.err(span, format!("{key} is for another outcome kind than {kind:?}"));
            }
        };
        let meaning = o.meaning.get_ref().clone();
        if meaning.trim().is_empty() || meaning.chars().count() > 1000 {
            self.err(o.meaning.span(), "meaning must be 1 to 1000 characters");
        }
        match kind {
            "binary" => {
                given(o.expected.is_some(), "expected", self, o.kind.span());
                given(o.value.is_some(), "value", self, o.kind.span());
                given(o.recorded.is_some(), "recorded", self, o.kind.span());
                given(o.bounds.is_some(), "bounds", self, o.kind.span());
                given(o.unit.is_some(), "unit", self, o.kind.span());
                given(o.levels.is_some(), "levels", self, o.kind.span());
                let Some(p) = &o.p_true else {
                    self.err(o.kind.span(), "a binary outcome needs p_true, its true probability");
                    return None;
                };
                let mut ctx = Ctx::new(text_base(self.source, p), "p_true");
                let (node, ty, iv) = self.compile_text(p.get_ref(), &mut ctx)?;
                if ty != Ty::Num {
                    self.err(text_span(self.source, p), "p_true must be a number (a probability)");
                } else if iv.lo < 0.0 || iv.hi > 1.0 {
                    self.err(
                        text_span(self.source, p),
                        format!(
                            "p_true can be {}, outside [0, 1]; wrap it in sigmoid() or clamp(…, 0, 1)",
                            iv.show()
                        ),
                    );
                }
                Some(OutcomeDef {
                    meaning,
                    kind: OutcomeKind::Binary { p_true: node },
                })
            }
            "continuous" | "count" => self.numeric_outcome(o, kind == "count", meaning),
            other => {
                self.err(
                    o.kind.span(),
                    format!(
                        "outcome kind {other:?}: binary, continuous or count (a categorical outcome is a numeric one with `levels`)"
                    ),
                );
                None
            }
        }
    }

    fn numeric_outcome(&mut self, o: &file::OutcomeSection, count: bool, meaning: String) -> Option<OutcomeDef> {
        if let Some(p) = &o.p_true {
            self.err(
                text_span(self.source, p),
                "p_true is for a binary outcome; a numeric one has `expected`",
            );
        }
        let Some(b) = &o.bounds else {
            self.err(o.kind.span(), "a numeric outcome needs bounds = [smallest, largest]");
            return None;
        };
        let [lo, hi] = *b.get_ref();
        let limit = if count { f64::from(u32::MAX) } else { 1e15 };
        if !(lo.is_finite() && hi.is_finite() && lo < hi && lo >= if count { 0.0 } else { -limit } && hi <= limit) {
            self.err(
                b.span(),
                format!(
                    "bounds [{lo}, {hi}]: need finite smallest < largest{}",
                    if count {
                        ", within 0 … 4294967295 for a count"
                    } else {
                        ", within ±1e15"
                    }
                ),
            );
            return None;
        }
        if count && (lo.fract() != 0.0 || hi.fract() != 0.0) {
            self.err(b.span(), "a count's bounds are whole numbers");
        }
        let Some(e) = &o.expected else {
            self.err(
                o.kind.span(),
                "a numeric outcome needs `expected`, its true expected value",
            );
            return None;
        };
        let ctx = Ctx::new(text_base(self.source, e), "expected");
        let (expected, eiv, expected_reads) = self.outcome_part(e, ctx, (lo, hi))?;
        let Some(v) = &o.value else {
            self.err(
                o.kind.span(),
                "a numeric outcome needs `value`, the true outcome drawn around `expected`",
            );
            return None;
        };
        let ctx = Ctx {
            draws: Some((OUTCOME_TRUE_STREAM, 0)),
            expected: Some(eiv),
            ..Ctx::new(text_base(self.source, v), "value")
        };
        let (value, viv, value_reads) = self.outcome_part(v, ctx, (lo, hi))?;
        let (recorded, recorded_reads) = match &o.recorded {
            None => (None, Vec::new()),
            Some(r) => {
                // The truth as `recorded` reads it: clamped to the bounds, and whole for a count
                // (rounding can carry it past the range of `value`).
                let whole = |x: f64| if count { x.round() } else { x };
                let truth = Iv::of(whole(viv.lo.max(lo)), whole(viv.hi.min(hi)));
                let ctx = Ctx {
                    draws: Some((OUTCOME_RECORDED_STREAM, 0)),
                    expected: Some(eiv),
                    truth: Some(truth),
                    ..Ctx::new(text_base(self.source, r), "recorded")
                };
                let (node, _, reads) = self.outcome_part(r, ctx, (lo, hi))?;
                (Some(node), reads)
            }
        };
        let reads = [expected_reads, value_reads, recorded_reads];
        let unit = o.unit.as_ref().map_or(String::new(), |u| u.get_ref().clone());
        if (unit.chars().count() > 64 || unit.chars().any(char::is_control))
            && let Some(u) = &o.unit
        {
            self.err(
                u.span(),
                "unit must be at most 64 characters, without control characters",
            );
        }
        let levels = o.levels.as_ref().and_then(|l| {
            let classes = l.classes.get_ref();
            let from = l.from.get_ref();
            let mut uniq = BTreeSet::new();
            if classes.len() < 2 || classes.len() > MAX_CATEGORY_VALUES {
                self.err(l.classes.span(), format!("levels need 2 to {MAX_CATEGORY_VALUES} classes"));
                return None;
            }
            for c in classes {
                if !uniq.insert(c) || c.is_empty() || c.len() > 64 || c.chars().any(char::is_control) {
                    self.err(
                        l.classes.span(),
                        format!("level {c:?} is repeated, empty, longer than 64 bytes or has control characters"),
                    );
                    return None;
                }
            }
            if from.len() + 1 != classes.len() {
                self.err(
                    l.from.span(),
                    format!(
                        "{} thresholds for {} classes; give one fewer than the classes: where each class after {:?} begins",
                        from.len(),
                        classes.len(),
                        classes[0]
                    ),
                );
                return None;
            }
            if from.iter().any(|x| !x.is_finite()) || from.windows(2).any(|w| w[0] >= w[1]) {
                self.err(l.from.span(), "thresholds must be finite and strictly increasing");
                return None;
            }
            if from[0] <= lo || from[from.len() - 1] > hi {
                self.err(
                    l.from.span(),
                    format!(
                        "thresholds must lie in ({lo}, {hi}], the outcome's bounds: otherwise {:?} or {:?} can never occur",
                        classes[0],
                        classes[classes.len() - 1]
                    ),
                );
                return None;
            }
            Some((classes.clone(), from.clone()))
        });
        Some(OutcomeDef {
            meaning,
            kind: OutcomeKind::Numeric {
                count,
                expected,
                value,
                recorded,
                bounds: (lo, hi),
                unit,
                levels,
                reads,
            },
        })
    }

    /// One expression of a numeric outcome (`ctx.what` names it): compiled, a number, within
    /// the outcome's bounds. Returns its node, its range and the names it reads.
    fn outcome_part(
        &mut self,
        text: &Spanned<String>,
        mut ctx: Ctx,
        (lo, hi): (f64, f64),
    ) -> Option<(Node, Iv, Vec<String>)> {
        let span = text_span(self.source, text);
        let (node, ty, iv) = self.compile_text(text.get_ref(), &mut ctx)?;
        if ty != Ty::Num {
            self.err(span, format!("{} must be a number, this is {}", ctx.what, ty_name(&ty)));
            return None;
        }
        if iv.lo < lo || iv.hi > hi {
            self.err(
                span,
                format!(
                    "{} can be {}, outside the outcome's bounds [{lo}, {hi}]; clamp it (e.g. clamp(…, {lo}, {hi}))",
                    ctx.what,
                    iv.show()
                ),
            );
        }
        Some((node, iv, ctx.reads.into_iter().collect()))
    }

    /// Every column of the scenario's data: the population's and the observed variables.
    fn column_names(&self, f: &ModuleFile) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = crate::dictionary::population_columns()
            .iter()
            .map(|c| c.name.to_owned())
            .collect();
        s.extend(
            f.variable
                .iter()
                .filter(|v| !v.latent)
                .map(|v| v.name.get_ref().clone()),
        );
        s
    }

    fn category_named(&self, name: &str) -> Option<Cat> {
        if let Some((i, Ty::Cat(c), _, _)) = input(name) {
            let _ = i;
            return Some(c);
        }
        self.var_index
            .get(name)
            .filter(|i| self.var_types[**i].0 == VarType::Category)
            .map(|i| Cat::Var(*i))
    }

    fn cat_values(&self, c: Cat) -> Vec<String> {
        match c {
            Cat::Input(i) => input_values(i),
            Cat::Var(i) => self.var_values[i].clone(),
        }
    }

    fn cat_name(&self, c: Cat) -> String {
        match c {
            Cat::Input(i) => INPUT_NAMES
                .iter()
                .find(|n| input(n).is_some_and(|x| x.0 == i && matches!(x.1, Ty::Cat(_))))
                .map_or("a category".into(), |s| (*s).to_owned()),
            Cat::Var(i) => self.var_names[i].clone(),
        }
    }

    /// For each variable, the variables its texts name (found by a plain parse, before any
    /// checking): what the causal order is sorted by.
    fn declaration_dependencies(&self, f: &ModuleFile) -> Vec<Vec<usize>> {
        // Each definition's own names once; then each text's names through a worklist over the
        // definitions it reaches (no recursion into definitions, each visited once per text).
        let direct: Vec<BTreeSet<String>> = self
            .defines
            .iter()
            .map(|(_, _, text)| {
                let mut names = BTreeSet::new();
                if let Ok(e) = expr::parse(text) {
                    names_in(&e, &mut names);
                }
                names
            })
            .collect();
        let mut out = Vec::new();
        for v in &f.variable {
            let mut names = BTreeSet::new();
            let mut texts: Vec<&str> = Vec::new();
            if let Some(e) = &v.value {
                texts.push(e.get_ref());
            }
            if let Some(e) = &v.observed {
                texts.push(e.get_ref());
            }
            if let Some(w) = &v.weights {
                texts.extend(
                    w.get_ref()
                        .iter()
                        .take(MAX_CATEGORY_VALUES + 1)
                        .map(|s| s.get_ref().as_str()),
                );
            }
            for t in texts {
                if let Ok(e) = expr::parse(t) {
                    names_in(&e, &mut names);
                }
            }
            let mut seen = vec![false; self.defines.len()];
            let mut work: Vec<usize> = names.iter().filter_map(|n| self.define_index.get(n).copied()).collect();
            while let Some(d) = work.pop() {
                if std::mem::replace(&mut seen[d], true) {
                    continue;
                }
                for n in &direct[d] {
                    if let Some(&e) = self.define_index.get(n) {
                        work.push(e);
                    }
                    names.insert(n.clone());
                }
            }
            out.push(names.iter().filter_map(|n| self.var_index.get(n).copied()).collect());
        }
        out
    }

    /// Variables in an order where every parent comes first; a cycle is an error naming it.
    fn causal_order(&mut self, f: &ModuleFile, deps: &[Vec<usize>]) -> Vec<usize> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let n = deps.len();
        let mut mark = vec![Mark::New; n];
        let mut order = Vec::with_capacity(n);
        let mut reported = false;
        for root in 0..n {
            if mark[root] != Mark::New {
                continue;
            }
            // Iterative depth-first search: a module's depth must not overflow the stack.
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = Mark::Active;
            while let Some(&mut (v, ref mut next)) = stack.last_mut() {
                if let Some(&d) = deps[v].get(*next) {
                    *next += 1;
                    match mark[d] {
                        Mark::New => {
                            mark[d] = Mark::Active;
                            stack.push((d, 0));
                        }
                        Mark::Active => {
                            if !reported {
                                let start = stack.iter().position(|(x, _)| *x == d).unwrap_or(0);
                                let mut cycle: Vec<&str> = stack[start..]
                                    .iter()
                                    .map(|(x, _)| f.variable[*x].name.get_ref().as_str())
                                    .collect();
                                cycle.push(f.variable[d].name.get_ref());
                                let span = f.variable[v]
                                    .value
                                    .as_ref()
                                    .map_or_else(|| f.variable[v].name.span(), |e| text_span(self.source, e));
                                self.err(
                                    span,
                                    format!(
                                        "the variables form a cycle: {}; a cause cannot depend on its own effect",
                                        cycle.join(" → ")
                                    ),
                                );
                                reported = true;
                            }
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[v] = Mark::Done;
                    order.push(v);
                    stack.pop();
                }
            }
        }
        order
    }

    fn variable(
        &mut self,
        i: usize,
        v: &file::Variable,
        measurable: &[String],
        stream_draws: &mut StreamDraws,
    ) -> VarDef {
        let name = v.name.get_ref().clone();
        let ty = self.var_types[i].0;
        let (stream, first) = match &v.stream {
            None => (0x8000_0000 | (hash_str(&name) as u32 & 0x7fff_ffff), 0),
            Some(s) => parse_stream(s.get_ref()).unwrap_or_else(|| {
                self.err(
                    s.span(),
                    format!(
                        "stream {:?} must be latent or scenario_a … scenario_h, optionally with /K (K the first draw's index)",
                        s.get_ref()
                    ),
                );
                (0, 0)
            }),
        };
        let noise_draw = measurable
            .iter()
            .position(|m| *m == name)
            .map(|p| v.measurement_draw.unwrap_or(p as u32));
        if v.measurement_draw.is_some() && noise_draw.is_none() {
            self.err(
                v.name.span(),
                format!("{name} has measurement_draw but is not in bias.measurable"),
            );
        }
        let mut ctx = Ctx {
            draws: Some((stream, first)),
            ..Ctx::new(0, name.clone())
        };
        let mut truth_iv = Iv::ANY;
        let mut values = Vec::new();
        let value = if ty == VarType::Category {
            values = self.var_values[i].clone();
            if v.value.is_some() {
                self.err(
                    v.value.as_ref().map_or(0..0, |e| text_span(self.source, e)),
                    "a category is drawn with `weights` (one per value), not `value`",
                );
            }
            if values.is_empty() || values.len() > MAX_CATEGORY_VALUES {
                self.err(
                    v.name.span(),
                    format!("category {name} needs `values`: 1-{MAX_CATEGORY_VALUES} names"),
                );
            }
            let mut uniq = BTreeSet::new();
            for x in &values {
                if !uniq.insert(x) || x.is_empty() || x.len() > 64 || x.chars().any(char::is_control) {
                    self.err(
                        v.name.span(),
                        format!("category {name}: value {x:?} is repeated, empty, too long or has control characters"),
                    );
                }
            }
            match &v.weights {
                None => {
                    self.err(
                        v.name.span(),
                        format!("category {name} needs `weights`, one expression per value"),
                    );
                    Node::Const(0.0)
                }
                Some(w) if w.get_ref().len() != values.len() => {
                    self.err(
                        w.span(),
                        format!(
                            "{} weights for {} values; give one weight per value, in order",
                            w.get_ref().len(),
                            values.len()
                        ),
                    );
                    Node::Const(0.0)
                }
                Some(w) => {
                    let k = first + ctx.used.len() as u32;
                    ctx.used.push(k);
                    let mut nodes = Vec::new();
                    let mut all_can_be_zero = true;
                    let mut total_hi = 0.0_f64;
                    for (j, e) in w.get_ref().iter().enumerate() {
                        ctx.base = text_base(self.source, e);
                        ctx.what = format!("weight of {}", values[j]);
                        if let Some((n, t, iv)) = self.compile_text(e.get_ref(), &mut ctx) {
                            if t != Ty::Num {
                                self.err(
                                    text_span(self.source, e),
                                    format!("a weight must be a number, this is {}", ty_name(&t)),
                                );
                            } else if iv.lo < 0.0 || !iv.hi.is_finite() {
                                self.err(
                                    text_span(self.source, e),
                                    format!(
                                        "weight of {} can be {}; weights must be 0 or more and finite",
                                        values[j],
                                        iv.show()
                                    ),
                                );
                            }
                            all_can_be_zero &= iv.lo <= 0.0;
                            total_hi += iv.hi;
                            nodes.push(n);
                        }
                    }
                    if !nodes.is_empty() && !total_hi.is_finite() {
                        self.err(
                            w.span(),
                            "the weights can add up past what a number holds; scale them down",
                        );
                    }
                    if all_can_be_zero && !nodes.is_empty() {
                        self.err(
                            w.span(),
                            "every weight can be 0 at once; the draw would have nothing to choose",
                        );
                    }
                    truth_iv = Iv::of(0.0, (values.len().max(1) - 1) as f64);
                    Node::Categorical(stream, k, nodes)
                }
            }
        } else {
            match &v.value {
                None => {
                    self.err(v.name.span(), format!("{name} needs a `value` expression"));
                    Node::Const(0.0)
                }
                Some(e) => {
                    ctx.base = text_base(self.source, e);
                    match self.compile_text(e.get_ref(), &mut ctx) {
                        Some((n, t, iv)) => {
                            let want = if ty == VarType::Bool { Ty::Bool } else { Ty::Num };
                            if t != want {
                                self.err(
                                    text_span(self.source, e),
                                    format!(
                                        "type mismatch: {name} is {} but its value is {}",
                                        ty_word(ty),
                                        ty_name(&t)
                                    ),
                                );
                            }
                            truth_iv = iv;
                            n
                        }
                        None => Node::Const(0.0),
                    }
                }
            }
        };
        self.var_ivs[i] = Some(truth_iv);
        // The recorded column.
        // Measurement bias adds sd·z with sd at most 1000 (the knob's bound) and |z| < 8.5.
        let measured_iv = if noise_draw.is_some() {
            Iv::of(truth_iv.lo - NORMAL_BOUND * 1000.0, truth_iv.hi + NORMAL_BOUND * 1000.0)
        } else {
            truth_iv
        };
        let observed = match &v.observed {
            Some(e) if v.latent || !ty.is_numeric() => {
                self.err(
                    text_span(self.source, e),
                    "only observed numeric variables have an `observed` expression",
                );
                None
            }
            Some(e) => {
                ctx.base = text_base(self.source, e);
                ctx.measured = Some(measured_iv);
                ctx.what = format!("observed {name}");
                let r = self.compile_text(e.get_ref(), &mut ctx);
                ctx.measured = None;
                r.map(|(n, t, iv)| {
                    if t != Ty::Num {
                        self.err(
                            text_span(self.source, e),
                            format!("observed {name} must be a number, this is {}", ty_name(&t)),
                        );
                    }
                    self.bounds(v, ty, iv, text_span(self.source, e));
                    n
                })
            }
            None => {
                if !v.latent && ty.is_numeric() {
                    let span = v
                        .value
                        .as_ref()
                        .map_or_else(|| v.name.span(), |e| text_span(self.source, e));
                    self.bounds(v, ty, measured_iv, span);
                }
                None
            }
        };
        for k in &ctx.used {
            stream_draws.entry(stream).or_default().push((
                *k,
                name.clone(),
                v.stream.as_ref().map_or_else(|| v.name.span(), |s| s.span()),
            ));
        }
        // Parents: every column read is declared, and every declared parent exists.
        let parents = v.parents.get_ref().clone();
        for p in &parents {
            let known = p == "measurement bias"
                || input_column(p)
                || self
                    .var_index
                    .get(p.trim_end_matches('*'))
                    .is_some_and(|&j| self.var_types[j].1 == p.ends_with('*'));
            if !known {
                self.err(
                    v.parents.span(),
                    format!(
                        "unknown parent {p:?} of {name}: a parent is a population column, a variable, a latent variable written with a trailing `*`, or `measurement bias`"
                    ),
                );
            }
            if p == "measurement bias" && noise_draw.is_none() {
                self.err(
                    v.parents.span(),
                    format!("{name} lists `measurement bias` but is not in bias.measurable"),
                );
            }
        }
        if v.latent
            && let Some(read) = ctx.reads.iter().find(|r| !r.ends_with('*'))
        {
            self.err(
                v.name.span(),
                format!(
                    "latent {name} reads {read}: a latent variable is an unobserved cause drawn at random (from draws and other latent variables); make it an observed variable, or move the dependence into the variables it causes"
                ),
            );
        }
        for read in &ctx.reads {
            if !parents.contains(read) {
                self.err(
                    v.parents.span(),
                    format!("{name} reads {read}, which is not among its parents; add {read:?} to `parents`"),
                );
            }
        }
        VarDef {
            name,
            ty,
            meaning: v.meaning.get_ref().clone(),
            latent: v.latent,
            parents,
            value,
            observed,
            noise_draw,
            values,
        }
    }

    /// A recorded column stays within its type and its declared bounds.
    fn bounds(&mut self, v: &file::Variable, ty: VarType, iv: Iv, span: Range<usize>) {
        let (tlo, thi) = ty.range();
        let lo = v.min.unwrap_or(tlo).max(tlo);
        let hi = v.max.unwrap_or(thi).min(thi);
        if v.min.is_some_and(|m| m < tlo) || v.max.is_some_and(|m| m > thi) {
            self.err(
                v.name.span(),
                format!(
                    "min/max of {} lie outside what {} can hold",
                    v.name.get_ref(),
                    ty_word(ty)
                ),
            );
        }
        if iv.lo < lo || iv.hi > hi {
            let measured = if v.min.is_none() && v.max.is_none() && iv.hi - iv.lo >= 2.0 * NORMAL_BOUND * 1000.0 {
                " (measurement bias can move it by 8.5 standard deviations of up to 1000)"
            } else {
                ""
            };
            self.err(
                span,
                format!(
                    "the recorded {} can be {}{measured}, outside {}; clamp it, e.g. `observed = \"clamp(round(measured), {}, {})\"`",
                    v.name.get_ref(),
                    iv.show(),
                    Iv::of(lo, hi).show(),
                    lo.max(-1e9),
                    hi.min(1e9)
                ),
            );
        }
    }

    fn compile_text(&mut self, text: &str, ctx: &mut Ctx) -> Option<(Node, Ty, Iv)> {
        if ctx.expanding.is_empty() {
            ctx.nodes = 0;
        }
        match expr::parse(text) {
            Ok(e) => self.compile(&e, ctx),
            Err(e) => {
                self.err(
                    ctx.base + e.span.start..ctx.base + e.span.end.max(e.span.start + 1),
                    e.message,
                );
                None
            }
        }
    }

    /// Compiles one node: its depth once definitions are inlined is bounded (the evaluator
    /// recurses on it), and its range must be finite — a value that can overflow to infinity or
    /// be undefined (NaN) would pass every later range check and reach the data.
    fn compile(&mut self, e: &Expr, ctx: &mut Ctx) -> Option<(Node, Ty, Iv)> {
        ctx.depth += 1;
        let r = if ctx.depth > MAX_COMPILED_DEPTH {
            if !ctx.too_deep {
                ctx.too_deep = true;
                self.err(
                    ctx.base + e.span.start..ctx.base + e.span.end,
                    format!(
                        "{} nests deeper than {MAX_COMPILED_DEPTH} levels once its definitions are inlined",
                        ctx.what
                    ),
                );
            }
            None
        } else {
            self.compile_node(e, ctx)
        };
        ctx.depth -= 1;
        let (node, ty, iv) = r?;
        if matches!(ty, Ty::Num) && !(iv.lo >= -MAX_MAGNITUDE && iv.hi <= MAX_MAGNITUDE && iv.lo <= iv.hi) {
            self.err(
                ctx.base + e.span.start..ctx.base + e.span.end,
                format!(
                    "can overflow or be undefined: this part can be {}; keep every value within ±1e300 (e.g. clamp the argument of exp())",
                    iv.show()
                ),
            );
            return None;
        }
        Some((node, ty, iv))
    }

    fn compile_node(&mut self, e: &Expr, ctx: &mut Ctx) -> Option<(Node, Ty, Iv)> {
        let span = ctx.base + e.span.start..ctx.base + e.span.end;
        ctx.nodes += 1;
        self.total_nodes += 1;
        if ctx.nodes == MAX_NODES_PER_EXPRESSION + 1 {
            self.err(
                span.clone(),
                format!(
                    "{} expands to more than {MAX_NODES_PER_EXPRESSION} operations once its definitions are inlined",
                    ctx.what
                ),
            );
        }
        if self.total_nodes == MAX_NODES + 1 {
            self.err(
                span.clone(),
                format!("the module has more than {MAX_NODES} operations in all"),
            );
        }
        if ctx.nodes > MAX_NODES_PER_EXPRESSION || self.total_nodes > MAX_NODES {
            return None;
        }
        match &e.kind {
            ExprKind::Num(v) => Some((Node::Const(*v), Ty::Num, Iv::point(*v))),
            ExprKind::Bool(b) => Some((
                Node::Const(f64::from(u8::from(*b))),
                Ty::Bool,
                Iv::point(f64::from(u8::from(*b))),
            )),
            ExprKind::Str(s) => Some((Node::Const(f64::NAN), Ty::Str(s.clone()), Iv::point(0.0))),
            ExprKind::Name(n) => self.name(n, span, ctx),
            ExprKind::Neg(a) => {
                let (n, t, iv) = self.compile(a, ctx)?;
                self.want_num(&t, span, "`-`")?;
                Some((Node::Neg(Box::new(n)), Ty::Num, Iv::of(-iv.hi, -iv.lo)))
            }
            ExprKind::Not(a) => {
                let (n, t, _) = self.compile(a, ctx)?;
                if t != Ty::Bool {
                    self.err(
                        span,
                        format!("type mismatch: `not` takes yes/no, this is {}", ty_name(&t)),
                    );
                    return None;
                }
                Some((Node::Not(Box::new(n)), Ty::Bool, Iv::BOOL))
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, span, ctx),
            ExprKind::If(c, a, b) => {
                let (cn, ct, _) = self.compile(c, ctx)?;
                let (an, at, ai) = self.compile(a, ctx)?;
                let (bn, bt, bi) = self.compile(b, ctx)?;
                if ct != Ty::Bool {
                    self.err(
                        span.clone(),
                        format!(
                            "type mismatch: the condition of `if` must be yes/no, this is {}",
                            ty_name(&ct)
                        ),
                    );
                    return None;
                }
                if at != bt || matches!(at, Ty::Str(_) | Ty::Cat(_)) {
                    self.err(
                        span,
                        format!(
                            "type mismatch: `then` gives {} but `else` gives {}; both must be numbers or both yes/no",
                            ty_name(&at),
                            ty_name(&bt)
                        ),
                    );
                    return None;
                }
                Some((Node::If(Box::new(cn), Box::new(an), Box::new(bn)), at, ai.union(bi)))
            }
            ExprKind::Call(f, args) => self.call(f, args, span, ctx),
        }
    }

    fn want_num(&mut self, t: &Ty, span: Range<usize>, what: &str) -> Option<()> {
        if *t == Ty::Num {
            return Some(());
        }
        let hint = if *t == Ty::Bool {
            "; write num(x) (or `if x then 1 else 0`) to count a yes as 1"
        } else {
            ""
        };
        self.err(
            span,
            format!("type mismatch: {what} takes numbers, this is {}{hint}", ty_name(t)),
        );
        None
    }

    fn name(&mut self, n: &str, span: Range<usize>, ctx: &mut Ctx) -> Option<(Node, Ty, Iv)> {
        if n == "measured" {
            return match ctx.measured {
                Some(iv) => Some((Node::Measured, Ty::Num, iv)),
                None => {
                    self.err(span, "`measured` exists only in an `observed` expression");
                    None
                }
            };
        }
        if n == "expected" && ctx.expected.is_some() {
            return ctx.expected.map(|iv| (Node::Expected, Ty::Num, iv));
        }
        if n == "truth" && ctx.truth.is_some() {
            return ctx.truth.map(|iv| (Node::Measured, Ty::Num, iv));
        }
        if let Some((i, ty, iv, column)) = input(n) {
            if ctx.cohort && !matches!(i, Input::Age | Input::Male) {
                self.err(span, "cohort_weight reads only `age` and `male`");
                return None;
            }
            ctx.reads.insert(column.to_owned());
            return Some((Node::Input(i), ty, iv));
        }
        if let Some(&d) = self.define_index.get(n) {
            if ctx.expanding.contains(&d) {
                self.err(
                    span,
                    format!("definition {n} refers to itself (through {})", self.define_chain(ctx)),
                );
                return None;
            }
            if ctx.expanding.len() >= 32 {
                self.err(span, "definitions nest deeper than 32");
                return None;
            }
            let (_, text_span, text) = self.defines[d].clone();
            let saved = ctx.base;
            ctx.base = text_span.start;
            ctx.expanding.push(d);
            let r = self.compile_text(&text, ctx);
            ctx.expanding.pop();
            ctx.base = saved;
            return r;
        }
        if let Some(&j) = self.var_index.get(n) {
            if ctx.cohort {
                self.err(span, "cohort_weight reads only `age` and `male`");
                return None;
            }
            let (ty, latent) = self.var_types[j];
            ctx.reads.insert(if latent { format!("{n}*") } else { n.to_owned() });
            let iv = self.var_ivs[j].unwrap_or(Iv::ANY);
            let t = match ty {
                VarType::Bool => Ty::Bool,
                VarType::Category => Ty::Cat(Cat::Var(j)),
                _ => Ty::Num,
            };
            return Some((Node::Var(j), t, iv));
        }
        if self.table_index.contains_key(n) {
            self.err(span, format!("{n} is a table: call it with its key, {n}(key)"));
            return None;
        }
        self.err(
            span,
            format!(
                "unknown name {n:?} in {}: not a variable, definition or population value ({})",
                ctx.what,
                INPUT_NAMES.join(", ")
            ),
        );
        None
    }

    fn define_chain(&self, ctx: &Ctx) -> String {
        ctx.expanding
            .iter()
            .map(|d| self.defines[*d].0.as_str())
            .collect::<Vec<_>>()
            .join(" → ")
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Range<usize>, ctx: &mut Ctx) -> Option<(Node, Ty, Iv)> {
        let (an, at, ai) = self.compile(a, ctx)?;
        let (bn, bt, bi) = self.compile(b, ctx)?;
        let node = |an, bn| Node::Bin(op, Box::new(an), Box::new(bn));
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                self.want_num(
                    &at,
                    ctx.base + a.span.start..ctx.base + a.span.end,
                    &format!("`{}`", op.symbol()),
                )?;
                self.want_num(
                    &bt,
                    ctx.base + b.span.start..ctx.base + b.span.end,
                    &format!("`{}`", op.symbol()),
                )?;
                let iv = match op {
                    BinOp::Add => Iv::of(ai.lo + bi.lo, ai.hi + bi.hi),
                    BinOp::Sub => Iv::of(ai.lo - bi.hi, ai.hi - bi.lo),
                    BinOp::Mul => ai.mul(bi),
                    _ => {
                        if bi.contains_zero() {
                            self.err(
                                ctx.base + b.span.start..ctx.base + b.span.end,
                                format!(
                                    "can divide by zero: the divisor can be {}; keep it away from 0, e.g. max(…, 0.001)",
                                    bi.show()
                                ),
                            );
                            return None;
                        }
                        ai.mul(Iv::of(1.0 / bi.hi, 1.0 / bi.lo))
                    }
                };
                let iv = Iv::of(
                    if iv.lo.is_nan() { f64::NEG_INFINITY } else { iv.lo },
                    if iv.hi.is_nan() { f64::INFINITY } else { iv.hi },
                );
                Some((node(an, bn), Ty::Num, iv))
            }
            BinOp::And | BinOp::Or => {
                if at != Ty::Bool || bt != Ty::Bool {
                    let t = if at != Ty::Bool { &at } else { &bt };
                    self.err(
                        span,
                        format!(
                            "type mismatch: `{}` joins yes/no values, this is {}",
                            op.symbol(),
                            ty_name(t)
                        ),
                    );
                    return None;
                }
                Some((node(an, bn), Ty::Bool, Iv::BOOL))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                self.want_num(&at, span.clone(), &format!("`{}`", op.symbol()))?;
                self.want_num(&bt, span, &format!("`{}`", op.symbol()))?;
                Some((node(an, bn), Ty::Bool, Iv::BOOL))
            }
            BinOp::Eq | BinOp::Ne => match (&at, &bt) {
                (Ty::Num, Ty::Num) | (Ty::Bool, Ty::Bool) => Some((node(an, bn), Ty::Bool, Iv::BOOL)),
                (Ty::Cat(c), Ty::Str(s)) | (Ty::Str(s), Ty::Cat(c)) => {
                    let values = self.cat_values(*c);
                    let Some(idx) = values.iter().position(|v| v == s) else {
                        let shown: Vec<&str> = values.iter().take(12).map(String::as_str).collect();
                        self.err(
                            span,
                            format!(
                                "category value not declared: {s:?} is not a value of {} (its values: {}{})",
                                self.cat_name(*c),
                                shown.join(", "),
                                if values.len() > 12 { ", …" } else { "" }
                            ),
                        );
                        return None;
                    };
                    let cat = if matches!(at, Ty::Cat(_)) { an } else { bn };
                    Some((node(cat, Node::Const(idx as f64)), Ty::Bool, Iv::BOOL))
                }
                (Ty::Cat(x), Ty::Cat(y)) if x == y => Some((node(an, bn), Ty::Bool, Iv::BOOL)),
                _ => {
                    self.err(
                        span,
                        format!("type mismatch: cannot compare {} with {}", ty_name(&at), ty_name(&bt)),
                    );
                    None
                }
            },
        }
    }

    fn call(&mut self, f: &str, args: &[Expr], span: Range<usize>, ctx: &mut Ctx) -> Option<(Node, Ty, Iv)> {
        if let Some(&t) = self.table_index.get(f) {
            if args.len() != 1 {
                self.err(span, format!("table {f} takes one key"));
                return None;
            }
            let (n, ty, _) = self.compile(&args[0], ctx)?;
            let (_, key, _, iv) = self.tables[t].clone();
            if ty != Ty::Cat(key) {
                self.err(
                    span,
                    format!(
                        "type mismatch: table {f} is keyed by {}, not {}",
                        self.cat_name(key),
                        ty_name(&ty)
                    ),
                );
                return None;
            }
            return Some((Node::Lookup(t, Box::new(n)), Ty::Num, iv));
        }
        let arity: &[usize] = match f {
            "sigmoid" | "exp" | "ln" | "sqrt" | "abs" | "round" | "floor" | "ceil" | "num" | "bernoulli"
            | "poisson" => &[1],
            "min" | "max" => &[2, 3, 4, 5, 6, 7, 8],
            "pow" | "lognormal" => &[2],
            "clamp" => &[3],
            "uniform" | "normal" => &[0, 2],
            _ => {
                self.err(
                    span,
                    format!(
                        "unknown function {f}(); known: {} and the module's tables",
                        FUNCTIONS.join(", ")
                    ),
                );
                return None;
            }
        };
        if !arity.contains(&args.len()) {
            self.err(
                span,
                format!(
                    "{f}() takes {} argument(s), got {}",
                    arity.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" or "),
                    args.len()
                ),
            );
            return None;
        }
        let is_draw = matches!(f, "uniform" | "normal" | "lognormal" | "bernoulli" | "poisson");
        let draw = if is_draw {
            let Some((stream, first)) = ctx.draws else {
                self.err(
                    span,
                    format!(
                        "{} draws nothing: put randomness in a (latent) variable and read it here",
                        ctx.what
                    ),
                );
                return None;
            };
            let k = first + ctx.used.len() as u32;
            ctx.used.push(k);
            Some((stream, k))
        } else {
            None
        };
        let mut compiled = Vec::new();
        for a in args {
            compiled.push(self.compile(a, ctx)?);
        }
        if f == "num" {
            let (n, t, _) = compiled.pop()?;
            if t != Ty::Bool {
                self.err(span, format!("num() counts a yes/no as 1/0; this is {}", ty_name(&t)));
                return None;
            }
            return Some((n, Ty::Num, Iv::BOOL));
        }
        if f == "bernoulli" {
            let (n, t, iv) = compiled.pop()?;
            self.want_num(&t, span.clone(), "bernoulli()")?;
            if iv.lo < 0.0 || iv.hi > 1.0 {
                self.err(
                    span,
                    format!(
                        "bernoulli(p) needs a probability in [0, 1]; this p can be {}; wrap it in sigmoid() or clamp(…, 0, 1)",
                        iv.show()
                    ),
                );
                return None;
            }
            let (s, k) = draw?;
            return Some((Node::Bernoulli(s, k, Box::new(n)), Ty::Bool, Iv::BOOL));
        }
        for (i, (_, t, _)) in compiled.iter().enumerate() {
            let a = &args[i];
            self.want_num(t, ctx.base + a.span.start..ctx.base + a.span.end, &format!("{f}()"))?;
        }
        let mut it = compiled.into_iter().map(|(n, _, iv)| (n, iv));
        let mut next = || it.next().expect("arity checked");
        let b = Box::new;
        let arg_span = |i: usize| ctx.base + args[i].span.start..ctx.base + args[i].span.end;
        let (node, iv) = match f {
            "sigmoid" | "exp" | "ln" | "sqrt" | "abs" | "round" | "floor" | "ceil" => {
                let (n, iv) = next();
                let (g, out) = match f {
                    "sigmoid" => (F1::Sigmoid, iv.map_monotone(crate::rng::sigmoid)),
                    "exp" => (F1::Exp, iv.map_monotone(f64::exp)),
                    "ln" => {
                        if iv.lo <= 0.0 {
                            self.err(
                                arg_span(0),
                                format!(
                                    "ln() of a number that can be {}: the logarithm needs more than 0",
                                    iv.show()
                                ),
                            );
                            return None;
                        }
                        (F1::Ln, iv.map_monotone(f64::ln))
                    }
                    "sqrt" => {
                        if iv.lo < 0.0 {
                            self.err(
                                arg_span(0),
                                format!("sqrt() of a number that can be {}: it needs 0 or more", iv.show()),
                            );
                            return None;
                        }
                        (F1::Sqrt, iv.map_monotone(f64::sqrt))
                    }
                    "abs" => (
                        F1::Abs,
                        if iv.contains_zero() {
                            Iv::of(0.0, iv.lo.abs().max(iv.hi.abs()))
                        } else {
                            iv.map_monotone(f64::abs)
                        },
                    ),
                    "round" => (F1::Round, iv.map_monotone(f64::round)),
                    "floor" => (F1::Floor, iv.map_monotone(f64::floor)),
                    _ => (F1::Ceil, iv.map_monotone(f64::ceil)),
                };
                (Node::F1(g, b(n)), out)
            }
            "min" | "max" => {
                let (mut n, mut iv) = next();
                for _ in 1..args.len() {
                    let (m, miv) = next();
                    if f == "min" {
                        n = Node::Min(b(n), b(m));
                        iv = Iv::of(iv.lo.min(miv.lo), iv.hi.min(miv.hi));
                    } else {
                        n = Node::Max(b(n), b(m));
                        iv = Iv::of(iv.lo.max(miv.lo), iv.hi.max(miv.hi));
                    }
                }
                (n, iv)
            }
            "clamp" => {
                let ((x, xi), (lo, li), (hi, hi_iv)) = (next(), next(), next());
                if li.hi > hi_iv.lo {
                    self.err(
                        span,
                        format!(
                            "clamp()'s lower bound ({}) can exceed its upper bound ({})",
                            li.show(),
                            hi_iv.show()
                        ),
                    );
                    return None;
                }
                // clamp = min(max(x, lo), hi) grows with each argument, so its range runs from
                // the smallest arguments' result to the largest's (bounds that are columns
                // included: a bound's whole range, not only its far end).
                let out = Iv::of(xi.lo.max(li.lo).min(hi_iv.lo), xi.hi.max(li.hi).min(hi_iv.hi));
                (Node::Clamp(b(x), b(lo), b(hi)), out)
            }
            "pow" => {
                let ((x, xi), (y, yi)) = (next(), next());
                let integer = matches!(y, Node::Const(v) if v.fract() == 0.0 && v.abs() <= 64.0);
                if !integer && xi.lo < 0.0 {
                    self.err(arg_span(0), format!("pow() with a fractional or computed exponent needs a base of 0 or more; this base can be {}", xi.show()));
                    return None;
                }
                let out = if let Node::Const(e) = y {
                    if integer && e >= 0.0 && (e as i64) % 2 == 0 && xi.contains_zero() {
                        Iv::of(0.0, xi.lo.abs().max(xi.hi.abs()).powi(e as i32))
                    } else if integer && e < 0.0 && xi.contains_zero() {
                        self.err(
                            arg_span(0),
                            format!(
                                "pow() with a negative exponent of a base that can be 0 ({}) divides by zero",
                                xi.show()
                            ),
                        );
                        return None;
                    } else if integer {
                        xi.map_monotone(|v| v.powi(e as i32))
                    } else {
                        xi.map_monotone(|v| v.powf(e))
                    }
                } else {
                    let c = [
                        xi.lo.powf(yi.lo),
                        xi.lo.powf(yi.hi),
                        xi.hi.powf(yi.lo),
                        xi.hi.powf(yi.hi),
                    ];
                    Iv::of(
                        c.iter().copied().fold(f64::INFINITY, f64::min).min(0.0),
                        c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    )
                };
                (Node::Pow(b(x), b(y)), out)
            }
            "uniform" => {
                let (s, k) = draw?;
                let u = Node::Draw(DrawKind::Uniform, s, k);
                let unit = Iv::of(f64::EPSILON / 4.0, 1.0 - f64::EPSILON / 4.0);
                if args.is_empty() {
                    (u, unit)
                } else {
                    let ((a, ai), (c, ci)) = (next(), next());
                    // a + (b - a)·u
                    let width = Node::Bin(BinOp::Sub, b(c), b(a.clone()));
                    let wi = Iv::of(ci.lo - ai.hi, ci.hi - ai.lo);
                    let scaled = wi.mul(unit);
                    (
                        Node::Bin(BinOp::Add, b(a), b(Node::Bin(BinOp::Mul, b(width), b(u)))),
                        Iv::of(ai.lo + scaled.lo, ai.hi + scaled.hi),
                    )
                }
            }
            "normal" | "lognormal" => {
                let (s, k) = draw?;
                let z = Node::Draw(DrawKind::Normal, s, k);
                let zi = Iv::of(-NORMAL_BOUND, NORMAL_BOUND);
                let (node, iv) = if args.is_empty() {
                    (z, zi)
                } else {
                    let ((m, mi), (sd, si)) = (next(), next());
                    if si.lo < 0.0 {
                        self.err(
                            arg_span(1),
                            format!("a standard deviation can't be negative; this one can be {}", si.show()),
                        );
                        return None;
                    }
                    let spread = si.mul(zi);
                    (
                        Node::Bin(BinOp::Add, b(m), b(Node::Bin(BinOp::Mul, b(sd), b(z)))),
                        Iv::of(mi.lo + spread.lo, mi.hi + spread.hi),
                    )
                };
                if f == "lognormal" {
                    (Node::F1(F1::Exp, b(node)), iv.map_monotone(f64::exp))
                } else {
                    (node, iv)
                }
            }
            "poisson" => {
                let (s, k) = draw?;
                let (l, li) = next();
                if li.lo < 0.0 {
                    self.err(
                        arg_span(0),
                        format!("a Poisson mean can't be negative; this one can be {}", li.show()),
                    );
                    return None;
                }
                // Draws stop at 255; with a mean of at most 100 the cut lies 15 standard
                // deviations out, so what is drawn is the distribution the module names.
                if li.hi > MAX_POISSON_MEAN {
                    self.err(
                        arg_span(0),
                        format!(
                            "a Poisson mean above {MAX_POISSON_MEAN} can't be drawn exactly (draws stop at 255); this one can be {}; bound it with min(…, {MAX_POISSON_MEAN})",
                            li.show()
                        ),
                    );
                    return None;
                }
                (Node::Poisson(s, k, b(l)), Iv::of(0.0, 255.0))
            }
            _ => unreachable!("every function is matched above"),
        };
        Some((node, Ty::Num, iv))
    }
}

/// The names an expression's text reads (definitions not expanded). Its recursion is bounded
/// by the parser's tree depth.
fn names_in(e: &Expr, out: &mut BTreeSet<String>) {
    match &e.kind {
        ExprKind::Name(n) => {
            out.insert(n.clone());
        }
        ExprKind::Num(_) | ExprKind::Str(_) | ExprKind::Bool(_) => {}
        ExprKind::Neg(a) | ExprKind::Not(a) => names_in(a, out),
        ExprKind::Binary(_, a, b) => {
            names_in(a, out);
            names_in(b, out);
        }
        ExprKind::If(a, b, c) => {
            names_in(a, out);
            names_in(b, out);
            names_in(c, out);
        }
        ExprKind::Call(_, args) => args.iter().for_each(|a| names_in(a, out)),
    }
}

fn input_column(name: &str) -> bool {
    crate::dictionary::population_columns().iter().any(|c| c.name == name)
}

fn ty_name(t: &Ty) -> String {
    match t {
        Ty::Num => "a number".into(),
        Ty::Bool => "yes/no".into(),
        Ty::Cat(_) => "a category".into(),
        Ty::Str(s) => format!("the text {s:?} (text stands only in a comparison with a category)"),
    }
}

fn ty_word(t: VarType) -> &'static str {
    match t {
        VarType::Bool => "yes/no (bool)",
        VarType::Category => "a category",
        VarType::U8 => "u8 (0-255)",
        VarType::U16 => "u16 (0-65535)",
        VarType::U32 => "u32",
        VarType::I32 => "i32",
        VarType::F32 => "f32",
        VarType::F64 => "f64",
    }
}

/// Stream names a module may use to share the Rust scenarios' streams.
const STREAMS: &[(&str, Var)] = &[
    ("latent", Var::Latent),
    ("scenario_a", Var::ScenarioA),
    ("scenario_b", Var::ScenarioB),
    ("scenario_c", Var::ScenarioC),
    ("scenario_d", Var::ScenarioD),
    ("scenario_e", Var::ScenarioE),
    ("scenario_f", Var::ScenarioF),
    ("scenario_g", Var::ScenarioG),
    ("scenario_h", Var::ScenarioH),
];

fn parse_stream(s: &str) -> Option<(Stream, u32)> {
    let (name, k) = match s.split_once('/') {
        Some((n, k)) => (n, k.parse::<u32>().ok().filter(|k| *k < 1 << 20)?),
        None => (s, 0),
    };
    let var = STREAMS.iter().find(|(n, _)| *n == name)?.1;
    Some((var as u32, k))
}

fn stream_name(s: Stream) -> String {
    STREAMS
        .iter()
        .find(|(_, v)| *v as u32 == s)
        .map_or_else(|| format!("#{s:x}"), |(n, _)| (*n).to_owned())
}
