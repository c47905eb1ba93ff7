//! Comparing runs on the same dataset as paired samples.
//!
//! Two models scored on the same citizens are not two samples: most citizens get the same
//! decision from both, so the difference of a rate between the models varies far less than two
//! independent reports' intervals suggest. Each run's probabilities are kept row by row
//! ([`crate::Request::keep_scores`]); the dataset is generated again from the stored spec and
//! must hash to the runs' `dataset_sha256` (so every row is the row each model scored); then for
//! every group and rate each citizen's two decisions fill a 2×2 table, whose counts the
//! bootstrap redraws together ([`fairness::paired_share_change`]) — resampling citizens jointly.
//! The unpaired interval (each model's count redrawn on its own) is given beside it.
//!
//! Rates compared: the selection rate (all citizens), TPR (citizens whose outcome is yes), FPR
//! (whose outcome is no) and accuracy (whether the decision matched the outcome), each against
//! the recorded and the true outcome; disparities: each group's selection rate, TPR and FPR
//! against the attribute's reference group (as the first run's report chose it, else the
//! largest) as a difference
//! and a ratio. Counterfactual twins are left out: they are not citizens of the population.

use crate::source::{Source, batch_digest};
use crate::{CsvOptions, Dataset, EvaluateError, RunRecord, hex};
use arrow::array::{Array, AsArray, BooleanArray, StringArray, UInt8Array};
use arrow::datatypes::DataType;
use fairness::{PairedChange, PairedCounts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Most runs one comparison takes: each adds a pass of tables and bootstraps per pair.
pub const MAX_COMPARED_RUNS: usize = 8;

/// Bootstrap resamples of a comparison unless told otherwise.
pub const COMPARE_RESAMPLES: usize = 1000;

/// One run to compare: what to call it, its record and every row's probability.
pub struct Compared<'a> {
    /// How the comparison names it (the service: the run's id).
    pub name: String,
    /// Its record.
    pub record: &'a RunRecord,
    /// Its probabilities in the dataset's order, one per row (twins included).
    pub scores: &'a [f32],
}

/// A rate a comparison measures per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComparedRate {
    /// Share of citizens selected (decision yes).
    SelectionRate,
    /// Share selected among those whose outcome is yes.
    Tpr,
    /// Share selected among those whose outcome is no.
    Fpr,
    /// Share whose decision matches the outcome.
    Accuracy,
}

impl ComparedRate {
    /// Every rate, in the order they are reported.
    pub const ALL: [ComparedRate; 4] = [Self::SelectionRate, Self::Tpr, Self::Fpr, Self::Accuracy];

    /// The rate's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelectionRate => "selection_rate",
            Self::Tpr => "tpr",
            Self::Fpr => "fpr",
            Self::Accuracy => "accuracy",
        }
    }

    /// Whether disparities of the rate between groups are compared (accuracy's are not a
    /// fairness criterion here).
    fn has_disparity(self) -> bool {
        self != Self::Accuracy
    }

    /// Does a row count for the rate, and is it a yes? (`None`: the row is not in its base.)
    fn answer(self, decision: bool, outcome: bool) -> Option<bool> {
        match self {
            Self::SelectionRate => Some(decision),
            Self::Tpr => outcome.then_some(decision),
            Self::Fpr => (!outcome).then_some(decision),
            Self::Accuracy => Some(decision == outcome),
        }
    }
}

/// Which outcome the rates are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComparedOutcome {
    /// The outcome as recorded (with the injected bias), which the model was trained on.
    Recorded,
    /// The true outcome, which the sandbox alone knows.
    True,
}

impl ComparedOutcome {
    /// The outcome's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::True => "true",
        }
    }
}

/// A change from the first run to the second, with both intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Change {
    /// The value in the first run.
    pub first: f64,
    /// The value in the second run.
    pub second: f64,
    /// `second - first`.
    pub difference: f64,
    /// Paired bootstrap interval of the difference (citizens resampled jointly).
    pub paired: Option<[f64; 2]>,
    /// The interval two independent samples would give (each run resampled on its own);
    /// absent for disparities, whose groups are resampled jointly in both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpaired: Option<[f64; 2]>,
}

impl Change {
    fn of(c: PairedChange, unpaired: Option<PairedChange>) -> Self {
        Change {
            first: c.first,
            second: c.second,
            difference: c.change,
            paired: c.interval,
            unpaired: unpaired.and_then(|u| u.interval),
        }
    }
}

/// A rate of one group (or of everyone) in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateChange {
    /// The outcome it is measured against.
    pub outcome: ComparedOutcome,
    /// The rate.
    pub rate: ComparedRate,
    /// The attribute; `None` for everyone.
    pub attribute: Option<String>,
    /// The group's value; `None` for everyone.
    pub group: Option<String>,
    /// Citizens in the rate's base (the same in both runs).
    pub n: u64,
    /// Citizens whose answer differs between the runs.
    pub discordant: u64,
    /// The change.
    pub change: Option<Change>,
}

/// How a disparity is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisparityKind {
    /// The group's rate minus the reference group's.
    Difference,
    /// The group's rate over the reference group's.
    Ratio,
}

/// A disparity between a group and its attribute's reference group in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DisparityChange {
    /// The outcome it is measured against.
    pub outcome: ComparedOutcome,
    /// The rate.
    pub rate: ComparedRate,
    /// The attribute.
    pub attribute: String,
    /// The group.
    pub group: String,
    /// The reference group.
    pub reference: String,
    /// Difference or ratio.
    pub kind: DisparityKind,
    /// The change; `None` where the disparity is undefined (a ratio over a zero rate).
    pub change: Option<Change>,
}

/// One run of a comparison, as the comparison names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComparedRunInfo {
    /// Its name (the run's id in the service).
    pub name: String,
    /// The model's name and version, from its manifest.
    pub model: String,
    /// SHA-256 of the model's bytes.
    pub model_sha256: String,
    /// The decision threshold on its probability.
    pub threshold: f64,
}

/// The first run against one other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PairComparison {
    /// Index into [`RunComparison::runs`] of the first run (always 0: the baseline).
    pub first: usize,
    /// Index of the second run.
    pub second: usize,
    /// Citizens whose decision differs between the two runs.
    pub decisions_differ: u64,
    /// Every rate of everyone and of every group.
    pub rates: Vec<RateChange>,
    /// Every disparity.
    pub disparities: Vec<DisparityChange>,
}

/// A criterion's verdict in each run, side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriterionRow {
    /// The criterion, as written.
    pub criterion: String,
    /// Its verdict in each run (`pass`, `fail`, `inconclusive`); `None` where that run did not
    /// judge it.
    pub verdicts: Vec<Option<String>>,
}

/// Runs on one dataset compared as paired samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunComparison {
    /// The dataset every run scored, by hash, regenerated and checked.
    pub dataset_sha256: String,
    /// Its spec.
    pub dataset: synth::DatasetSpec,
    /// Citizens compared (twins left out).
    pub citizens: u64,
    /// Bootstrap resamples behind each interval.
    pub resamples: usize,
    /// The intervals' confidence.
    pub confidence: f64,
    /// The bootstrap's seed (the dataset's).
    pub seed: u64,
    /// The runs, the baseline first.
    pub runs: Vec<ComparedRunInfo>,
    /// The baseline against each other run.
    pub pairs: Vec<PairComparison>,
    /// Each criterion's verdicts side by side.
    pub criteria: Vec<CriterionRow>,
}

/// Why runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Fewer than two runs, or more than [`MAX_COMPARED_RUNS`].
    #[error("a comparison takes 2 to {MAX_COMPARED_RUNS} runs, got {0}")]
    Count(usize),
    /// A run judged a regression or multi-class model: comparisons pair yes/no decisions.
    #[error("run {run} judged a {task} model; runs compare as paired yes/no decisions only so far")]
    Task {
        /// The run.
        run: String,
        /// Its model's task.
        task: inference::Task,
    },
    /// Two runs scored different datasets: their rows cannot be paired.
    #[error(
        "run {other} scored another dataset (sha256 {other_sha256}) than run {first} (sha256 {first_sha256}); \
         only runs on the same dataset (same scenario, rows, seed, split, bias and twins) compare as paired samples"
    )]
    DifferentDatasets {
        /// The baseline.
        first: String,
        /// Its dataset's hash.
        first_sha256: String,
        /// The run that differs.
        other: String,
        /// Its dataset's hash.
        other_sha256: String,
    },
    /// A run's kept probabilities do not match its dataset.
    #[error("run {run} kept {scores} probabilities for a dataset of {rows} rows")]
    Scores {
        /// The run.
        run: String,
        /// Probabilities kept.
        scores: usize,
        /// Rows of its dataset.
        rows: u64,
    },
    /// The dataset regenerated from the spec does not hash as the runs recorded: another
    /// generator made it, so its rows are not the rows the models scored.
    #[error(
        "the dataset regenerated from the spec hashes to {regenerated}, not the runs' {recorded}; \
         this release's generator ({generator}) does not make the rows they scored"
    )]
    Regenerated {
        /// The runs' hash.
        recorded: String,
        /// The hash of what was generated now.
        regenerated: String,
        /// This release's generator version.
        generator: String,
    },
    /// A kept-probabilities blob is not one [`encode_scores`] wrote.
    #[error("the kept probabilities do not read: {0}")]
    ScoresBlob(String),
    /// Generating the dataset failed.
    #[error("regenerating the dataset: {0}")]
    Dataset(#[from] EvaluateError),
}

/// The first bytes of a kept-probabilities blob: its format and version.
const SCORES_MAGIC: &[u8; 8] = b"SKSCORE1";

/// A run's probabilities as a blob: [`SCORES_MAGIC`], the count (u64, little-endian), then each
/// probability as a little-endian f32 — 4 bytes a row, exact.
pub fn encode_scores(scores: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 4 * scores.len());
    out.extend_from_slice(SCORES_MAGIC);
    out.extend_from_slice(&(scores.len() as u64).to_le_bytes());
    for s in scores {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Reads a blob [`encode_scores`] wrote, refusing any other.
pub fn decode_scores(bytes: &[u8]) -> Result<Vec<f32>, CompareError> {
    let bad = |m: &str| CompareError::ScoresBlob(m.to_owned());
    let rest = bytes
        .strip_prefix(SCORES_MAGIC)
        .ok_or_else(|| bad("it does not start with SKSCORE1"))?;
    let (count, body) = rest
        .split_at_checked(8)
        .ok_or_else(|| bad("it ends before its count"))?;
    let count = u64::from_le_bytes(count.try_into().map_err(|_| bad("its count"))?);
    if body.len() as u64 != count.saturating_mul(4) {
        return Err(bad(&format!(
            "it promises {count} probabilities in {} bytes",
            body.len()
        )));
    }
    Ok(body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The citizens of a regenerated dataset.
struct Population {
    citizens: Vec<Citizen>,
    /// Each citizen's row in the dataset (twins skipped).
    rows: Vec<usize>,
    /// Each attribute's values, by code.
    values: Vec<Vec<String>>,
}

/// Where one citizen falls: its group per attribute and its two outcomes.
struct Citizen {
    groups: Vec<u32>,
    recorded: bool,
    truth: bool,
}

/// Compares the first run with each other one (see the module's documentation).
pub fn compare_runs(runs: &[Compared<'_>], resamples: usize, confidence: f64) -> Result<RunComparison, CompareError> {
    if !(2..=MAX_COMPARED_RUNS).contains(&runs.len()) {
        return Err(CompareError::Count(runs.len()));
    }
    // Each run's yes/no report and decision threshold; a run of another task is refused.
    let mut binaries: Vec<(&fairness::Report, f64)> = Vec::with_capacity(runs.len());
    for r in runs {
        match (r.record.report.binary(), r.record.provenance.manifest.output.binary()) {
            (Some(report), Some(output)) => binaries.push((report, output.threshold)),
            _ => {
                return Err(CompareError::Task {
                    run: r.name.clone(),
                    task: r.record.provenance.manifest.output.task(),
                });
            }
        }
    }
    let base = &runs[0];
    let sha = &base.record.provenance.dataset_sha256;
    for r in &runs[1..] {
        if &r.record.provenance.dataset_sha256 != sha {
            return Err(CompareError::DifferentDatasets {
                first: base.name.clone(),
                first_sha256: sha.clone(),
                other: r.name.clone(),
                other_sha256: r.record.provenance.dataset_sha256.clone(),
            });
        }
    }
    for r in runs {
        if r.scores.len() as u64 != r.record.provenance.dataset_rows {
            return Err(CompareError::Scores {
                run: r.name.clone(),
                scores: r.scores.len(),
                rows: r.record.provenance.dataset_rows,
            });
        }
    }
    let spec = base.record.provenance.dataset.clone();
    let attributes: Vec<String> = binaries[0]
        .0
        .attributes
        .iter()
        .filter(|a| a.columns.len() == 1)
        .map(|a| a.attribute.clone())
        .collect();
    let Population {
        citizens,
        rows: rows_kept,
        values,
    } = regenerate(&spec, &attributes, sha)?;

    let seed = spec.seed;
    let infos: Vec<ComparedRunInfo> = runs
        .iter()
        .zip(&binaries)
        .map(|(r, &(_, threshold))| ComparedRunInfo {
            name: r.name.clone(),
            model: format!(
                "{} {}",
                r.record.provenance.manifest.name, r.record.provenance.manifest.version
            ),
            model_sha256: r.record.provenance.model_sha256.clone(),
            threshold,
        })
        .collect();
    let decisions = |k: usize| -> Vec<bool> {
        let (r, t) = (&runs[k], binaries[k].1);
        rows_kept.iter().map(|&i| f64::from(r.scores[i]) >= t).collect()
    };
    let first = decisions(0);
    let mut pairs = Vec::new();
    for k in 1..runs.len() {
        let second = decisions(k);
        pairs.push(pair(
            &citizens,
            &attributes,
            &values,
            binaries[0].0,
            (&first, &second),
            k,
            (resamples, confidence, seed),
        ));
    }
    Ok(RunComparison {
        dataset_sha256: sha.clone(),
        dataset: spec,
        citizens: citizens.len() as u64,
        resamples,
        confidence,
        seed,
        runs: infos,
        pairs,
        criteria: criteria(runs),
    })
}

/// Generates the dataset again, checks its hash, and keeps each citizen's groups and outcomes
/// (twins left out): the citizens, their row indices, and each attribute's values by code.
fn regenerate(
    spec: &synth::DatasetSpec,
    attributes: &[String],
    recorded_sha: &str,
) -> Result<Population, CompareError> {
    let source = Source::open(&Dataset::Generate(Box::new(spec.clone())), &CsvOptions::default(), &[])?;
    let mut h = Sha256::new();
    let mut codes: Vec<BTreeMap<String, u32>> = vec![BTreeMap::new(); attributes.len()];
    let mut values: Vec<Vec<String>> = vec![Vec::new(); attributes.len()];
    let mut citizens = Vec::new();
    let mut rows = Vec::new();
    let mut offset = 0usize;
    let column_error =
        |name: &str| EvaluateError::Dataset(format!("the regenerated dataset has no usable column {name}"));
    // One thread takes the batches, so they come in order: each is hashed and read, then dropped.
    while let Some(next) = source.next() {
        let (_, batch) = next?;
        h.update(batch_digest(&batch));
        let batch = &batch;
        let n = batch.num_rows();
        let flag = |name: &str| -> Result<BooleanArray, EvaluateError> {
            let c = batch.column_by_name(name).ok_or_else(|| column_error(name))?;
            c.as_boolean_opt().cloned().ok_or_else(|| column_error(name))
        };
        let recorded = flag("outcome_recorded")?;
        let truth = flag("outcome_true")?;
        let twin = batch
            .column_by_name("is_twin")
            .and_then(|c| c.as_boolean_opt().cloned());
        let mut group_columns: Vec<StringArray> = Vec::new();
        for a in attributes {
            let strings = if a == "age_band" {
                let age = batch
                    .column_by_name("age")
                    .and_then(|c| c.as_any().downcast_ref::<UInt8Array>())
                    .ok_or_else(|| column_error("age"))?;
                arrow::compute::cast(&crate::age::bands(age), &DataType::Utf8)
            } else {
                let c = batch.column_by_name(a).ok_or_else(|| column_error(a))?;
                arrow::compute::cast(c, &DataType::Utf8)
            }
            .map_err(|e| EvaluateError::Dataset(format!("column {a}: {e}")))?;
            group_columns.push(strings.as_string::<i32>().clone());
        }
        for i in 0..n {
            if twin.as_ref().is_some_and(|t| t.value(i)) {
                continue;
            }
            let mut groups = Vec::with_capacity(attributes.len());
            for (k, col) in group_columns.iter().enumerate() {
                let v = if col.is_null(i) { "(missing)" } else { col.value(i) };
                let next = codes[k].len() as u32;
                let code = *codes[k].entry(v.to_owned()).or_insert_with(|| {
                    values[k].push(v.to_owned());
                    next
                });
                groups.push(code);
            }
            citizens.push(Citizen {
                groups,
                recorded: recorded.value(i),
                truth: truth.value(i),
            });
            rows.push(offset + i);
        }
        offset += n;
    }
    let regenerated = hex(&h.finalize());
    if regenerated != recorded_sha {
        return Err(CompareError::Regenerated {
            recorded: recorded_sha.to_owned(),
            regenerated,
            generator: synth::GENERATOR_VERSION.to_owned(),
        });
    }
    Ok(Population { citizens, rows, values })
}

/// Tables of one pair: per outcome, rate, attribute and group (`None`: everyone).
type Tables = BTreeMap<(ComparedOutcome, ComparedRate, Option<(usize, u32)>), PairedCounts>;

fn pair(
    citizens: &[Citizen],
    attributes: &[String],
    values: &[Vec<String>],
    baseline: &fairness::Report,
    (first, second): (&[bool], &[bool]),
    second_index: usize,
    (resamples, confidence, seed): (usize, f64, u64),
) -> PairComparison {
    let mut tables: Tables = BTreeMap::new();
    let mut differ = 0u64;
    for (i, c) in citizens.iter().enumerate() {
        let (a, b) = (first[i], second[i]);
        differ += u64::from(a != b);
        for (outcome, y) in [
            (ComparedOutcome::Recorded, c.recorded),
            (ComparedOutcome::True, c.truth),
        ] {
            for rate in ComparedRate::ALL {
                let (Some(x), Some(z)) = (rate.answer(a, y), rate.answer(b, y)) else {
                    continue;
                };
                tables.entry((outcome, rate, None)).or_default().add(x, z);
                for (k, g) in c.groups.iter().enumerate() {
                    tables.entry((outcome, rate, Some((k, *g)))).or_default().add(x, z);
                }
            }
        }
    }
    // Each interval its own seed, derived from the dataset's and the table's place, so a
    // comparison is reproducible and no two intervals share their draws.
    let seed_of = |n: u64| {
        seed ^ (second_index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n.wrapping_mul(0xbf58_476d_1ce4_e5b9)
    };
    let mut rates = Vec::new();
    for (n, ((outcome, rate, at), t)) in tables.iter().enumerate() {
        let s = seed_of(n as u64);
        let change = fairness::paired_share_change(t, resamples, confidence, s)
            .map(|c| Change::of(c, fairness::share_change_unpaired(t, resamples, confidence, s ^ 1)));
        rates.push(RateChange {
            outcome: *outcome,
            rate: *rate,
            attribute: at.map(|(k, _)| attributes[k].clone()),
            group: at.map(|(k, g)| values[k][g as usize].clone()),
            n: t.n(),
            discordant: t.first_only + t.second_only,
            change,
        });
    }
    let mut disparities = Vec::new();
    let mut n = tables.len() as u64;
    for (k, attribute) in attributes.iter().enumerate() {
        let largest = || {
            (0..values[k].len())
                .max_by_key(|&g| {
                    tables
                        .get(&(
                            ComparedOutcome::Recorded,
                            ComparedRate::SelectionRate,
                            Some((k, g as u32)),
                        ))
                        .map_or(0, PairedCounts::n)
                })
                .map(|g| values[k][g].clone())
        };
        let Some(reference) = reference_of(baseline, attribute, &values[k]).or_else(largest) else {
            continue;
        };
        let Some(rcode) = values[k].iter().position(|v| *v == reference) else {
            continue;
        };
        for outcome in [ComparedOutcome::Recorded, ComparedOutcome::True] {
            for rate in ComparedRate::ALL.into_iter().filter(|r| r.has_disparity()) {
                let Some(rt) = tables.get(&(outcome, rate, Some((k, rcode as u32)))) else {
                    continue;
                };
                for (g, value) in values[k].iter().enumerate() {
                    if g == rcode {
                        continue;
                    }
                    let Some(gt) = tables.get(&(outcome, rate, Some((k, g as u32)))) else {
                        continue;
                    };
                    for kind in [DisparityKind::Difference, DisparityKind::Ratio] {
                        n += 1;
                        let s = seed_of(n);
                        let c = match kind {
                            DisparityKind::Difference => {
                                fairness::paired_difference_change(gt, rt, resamples, confidence, s)
                            }
                            DisparityKind::Ratio => fairness::paired_ratio_change(gt, rt, resamples, confidence, s),
                        };
                        disparities.push(DisparityChange {
                            outcome,
                            rate,
                            attribute: attribute.clone(),
                            group: value.clone(),
                            reference: reference.clone(),
                            kind,
                            change: c.map(|c| Change::of(c, None)),
                        });
                    }
                }
            }
        }
    }
    PairComparison {
        first: 0,
        second: second_index,
        decisions_differ: differ,
        rates,
        disparities,
    }
}

/// The attribute's reference group as the baseline's report chose it (the caller falls back
/// to the largest group).
fn reference_of(baseline: &fairness::Report, attribute: &str, values: &[String]) -> Option<String> {
    baseline
        .attributes
        .iter()
        .find(|a| a.attribute == attribute)
        .and_then(|a| a.reference.clone())
        .filter(|r| values.contains(r))
}

/// Every criterion any run judged, with each run's verdict.
fn criteria(runs: &[Compared<'_>]) -> Vec<CriterionRow> {
    let mut rows: Vec<CriterionRow> = Vec::new();
    for (k, r) in runs.iter().enumerate() {
        for v in &r.record.verdicts {
            let text = v.criterion.describe_with_bound();
            let verdict = v.verdict.as_str().to_owned();
            match rows.iter_mut().find(|row| row.criterion == text) {
                Some(row) => row.verdicts[k] = Some(verdict),
                None => {
                    let mut verdicts = vec![None; runs.len()];
                    verdicts[k] = Some(verdict);
                    rows.push(CriterionRow {
                        criterion: text,
                        verdicts,
                    });
                }
            }
        }
    }
    rows
}

impl RunComparison {
    /// The comparison for people. Names and versions come from vendors' manifests: each is
    /// escaped as a Markdown table cell.
    pub fn to_markdown(&self) -> String {
        use escape::markdown_cell as cell;
        use std::fmt::Write;
        let num = |x: f64| format!("{x:.4}");
        let iv = |i: Option<[f64; 2]>| i.map_or_else(|| "–".to_owned(), |[lo, hi]| format!("[{lo:.4}, {hi:.4}]"));
        let mut s = String::new();
        let _ = writeln!(s, "# Comparison of runs\n");
        let _ = writeln!(
            s,
            "Dataset sha256 `{}` ({} citizens compared, twins left out; scenario {}, seed {}). Paired bootstrap, \
             {} resamples, {:.0} % intervals; the unpaired interval is what two separate reports would suggest.\n",
            self.dataset_sha256,
            self.citizens,
            cell(&self.dataset.scenario),
            self.dataset.seed,
            self.resamples,
            self.confidence * 100.0
        );
        let _ = writeln!(
            s,
            "| # | run | model | model sha256 | threshold |\n| --- | --- | --- | --- | --- |"
        );
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                i + 1,
                cell(&r.name),
                cell(&r.model),
                r.model_sha256,
                r.threshold
            );
        }
        if !self.criteria.is_empty() {
            let _ = writeln!(s, "\n## Criteria\n");
            let head: Vec<String> = (1..=self.runs.len()).map(|i| format!("run {i}")).collect();
            let _ = writeln!(s, "| criterion | {} |", head.join(" | "));
            let _ = writeln!(s, "| --- |{}", " --- |".repeat(self.runs.len()));
            for c in &self.criteria {
                let v: Vec<&str> = c.verdicts.iter().map(|v| v.as_deref().unwrap_or("–")).collect();
                let _ = writeln!(s, "| {} | {} |", cell(&c.criterion), v.join(" | "));
            }
        }
        for p in &self.pairs {
            let _ = writeln!(
                s,
                "\n## Run {} against run {}\n\n{} citizens are decided differently.\n",
                p.second + 1,
                p.first + 1,
                p.decisions_differ
            );
            let _ = writeln!(
                s,
                "| outcome | rate | group | n | differ | run {} | run {} | difference | paired | unpaired |",
                p.first + 1,
                p.second + 1
            );
            let _ = writeln!(s, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
            for r in &p.rates {
                let group = match (&r.attribute, &r.group) {
                    (Some(a), Some(g)) => format!("{}={}", cell(a), cell(g)),
                    _ => "everyone".to_owned(),
                };
                let (a, b, d, pi, ui) = match &r.change {
                    Some(c) => (
                        num(c.first),
                        num(c.second),
                        num(c.difference),
                        iv(c.paired),
                        iv(c.unpaired),
                    ),
                    None => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {group} | {} | {} | {a} | {b} | {d} | {pi} | {ui} |",
                    r.outcome.as_str(),
                    r.rate.as_str(),
                    r.n,
                    r.discordant
                );
            }
            if !p.disparities.is_empty() {
                let _ = writeln!(
                    s,
                    "\n| outcome | rate | group vs reference | kind | run {} | run {} | difference | paired |",
                    p.first + 1,
                    p.second + 1
                );
                let _ = writeln!(s, "| --- | --- | --- | --- | ---: | ---: | ---: | --- |");
                for d in &p.disparities {
                    let (a, b, diff, pi) = match &d.change {
                        Some(c) => (num(c.first), num(c.second), num(c.difference), iv(c.paired)),
                        None => ("–".into(), "–".into(), "–".into(), "–".into()),
                    };
                    let kind = match d.kind {
                        DisparityKind::Difference => "difference",
                        DisparityKind::Ratio => "ratio",
                    };
                    let _ = writeln!(
                        s,
                        "| {} | {} | {}={} vs {} | {kind} | {a} | {b} | {diff} | {pi} |",
                        d.outcome.as_str(),
                        d.rate.as_str(),
                        cell(&d.attribute),
                        cell(&d.group),
                        cell(&d.reference)
                    );
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_probabilities_round_trip_and_a_wrong_blob_is_refused() {
        let scores = [0.0f32, 0.25, 1.0, f32::MIN_POSITIVE];
        let blob = encode_scores(&scores);
        assert_eq!(decode_scores(&blob).unwrap(), scores);
        assert!(decode_scores(&blob[..blob.len() - 1]).is_err());
        assert!(decode_scores(b"SKSCORE2\0\0\0\0\0\0\0\0").is_err());
        let mut lying = blob.clone();
        lying[8] = 5;
        assert!(decode_scores(&lying).is_err());
    }
}
