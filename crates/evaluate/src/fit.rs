//! A manifest checked against its scenario's data dictionary, at upload and before every run.
//!
//! The model check ([`inference::Manifest::check_against`]) only knows the graph; this one
//! knows the data. Without it a typo in a one-hot category (`"bachlor"`) gave every citizen in
//! that category all-zero features and a report that looked valid and was wrong; an unknown
//! column or a text column used as a number was accepted at upload and failed mid-run. Every
//! column the manifest names must exist in the scenario and be able to feed its tensor, and
//! every one-hot category must be one the data can hold. Categories the data can hold but the
//! manifest leaves out are allowed (a vendor may fold rare ones together) and returned as
//! warnings, which the inspection and the report show.

use inference::{ClassValue, DType, Manifest, Output, Task};
use synth::ColumnDoc;

/// Category lists longer than this are cut in messages (municipalities, countries); the data
/// dictionary (`sandkasse scenarios`, `/api/v1/scenarios`) has them whole.
const SHOWN_VALUES: usize = 24;
/// Text from the manifest is cut to this many characters when quoted back.
const SHOWN_CHARS: usize = 80;
/// Problems listed in full; a manifest of 10,000 wrong columns gets these and a count, not
/// an answer of megabytes.
const SHOWN_PROBLEMS: usize = 50;
/// Citizens drawn to learn which categories a scenario produces. The dictionary lists every
/// category of the population (children's `in_school` too); a scenario of the newly
/// unemployed never produces some of them, and a warning about those would be noise.
const SAMPLE_ROWS: u64 = 50_000;

/// One way a manifest does not fit its scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("manifest field {field}: {message}")]
pub struct ManifestProblem {
    /// Where: `inputs[0].columns[2].one_hot[1]`.
    pub field: String,
    /// What is wrong and what would be right.
    pub message: String,
}

/// The manifest's task must be one its scenario's outcome can judge: a yes/no decision against a
/// yes/no outcome, a number against a numeric one, classes against the scenario's levels (by name,
/// or by position in their order). Judging a number against a yes/no decision would give numbers
/// that mean nothing: refused, not zeroed.
fn check_task(
    manifest: &Manifest,
    outcome: synth::OutcomeKind,
    columns: &[ColumnDoc],
    problems: &mut Vec<ManifestProblem>,
) {
    use synth::OutcomeKind as K;
    let scenario = shown(&manifest.scenario);
    let task = manifest.output.task();
    let fits = match (task, outcome) {
        // A scenario without an outcome fails at the run, which names the missing column.
        (Task::Binary, K::Binary | K::None) => true,
        (Task::Regression, K::Continuous | K::Count) => true,
        (Task::Multiclass, K::Continuous | K::Count) => true,
        _ => false,
    };
    if !fits {
        let wanted = match outcome {
            K::Binary => {
                "a yes/no outcome: write a binary output (label, probability, positive_class, threshold)".to_owned()
            }
            K::Continuous | K::Count => format!(
                "a {} outcome (a number): write task = \"regression\" with the output holding the predicted number, or task = \"multiclass\" for its levels",
                outcome.as_str()
            ),
            K::None => "no outcome, so no model can be judged on it".to_owned(),
        };
        problems.push(ManifestProblem {
            field: "output.task".into(),
            message: format!("the manifest describes a {task} model, but {scenario} has {wanted}"),
        });
        return;
    }
    if let Output::Multiclass(m) = &manifest.output {
        let levels: Vec<&str> = columns
            .iter()
            .find(|c| c.name == "level_true")
            .map(|c| c.values.clone())
            .unwrap_or_default();
        if levels.is_empty() {
            problems.push(ManifestProblem {
                field: "output.task".into(),
                message: format!("{scenario} declares no levels of its outcome ([outcome.levels]), so a multiclass model has nothing to be judged against"),
            });
            return;
        }
        let listed: Vec<String> = m.classes.iter().map(ToString::to_string).collect();
        // Names may come in the model's own order (scikit-learn sorts them); positions are the
        // levels' own order (the manifest's validation holds them to 0, 1, ...).
        let mut names: Vec<&str> = m
            .classes
            .iter()
            .filter_map(|c| match c {
                ClassValue::Text(t) => Some(t.as_str()),
                ClassValue::Int(_) => None,
            })
            .collect();
        names.sort_unstable();
        let mut sorted_levels = levels.clone();
        sorted_levels.sort_unstable();
        let same = m.classes.len() == levels.len() && (names.is_empty() || names == sorted_levels);
        if !same {
            problems.push(ManifestProblem {
                field: "output.classes".into(),
                message: format!(
                    "[{}] are not the levels of {scenario}; list each once, in the model's order: [{}] (or their positions 0 to {})",
                    listed.iter().map(|c| shown(c)).collect::<Vec<_>>().join(", "),
                    levels.iter().map(|l| format!("{l:?}")).collect::<Vec<_>>().join(", "),
                    levels.len() - 1
                ),
            });
        }
    }
}

/// Checks `manifest` against the data dictionary of its scenario. `Ok` holds the warnings
/// (categories the data can hold that no one-hot lists); `Err` every problem found, not only
/// the first, so a vendor fixes them in one round.
pub fn check_manifest_fits_scenario(manifest: &Manifest) -> Result<Vec<String>, Vec<ManifestProblem>> {
    let columns = match synth::scenario_columns(&manifest.scenario) {
        Ok(c) => c,
        Err(_) => {
            let names = synth::scenario_names();
            return Err(vec![ManifestProblem {
                field: "scenario".into(),
                message: format!(
                    "{} is not a scenario; the scenarios are {}",
                    shown(&manifest.scenario),
                    names.join(", ")
                ),
            }]);
        }
    };
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let outcome = synth::scenario_by_name(&manifest.scenario).map_or(synth::OutcomeKind::None, |s| s.outcome_kind());
    check_task(manifest, outcome, &columns, &mut problems);
    for (i, input) in manifest.inputs.iter().enumerate() {
        for (j, spec) in input.columns.iter().enumerate() {
            let field = format!("inputs[{i}].columns[{j}]");
            let mut problem = |field: String, message: String| problems.push(ManifestProblem { field, message });
            let Some(doc) = columns.iter().find(|c| c.name == spec.column) else {
                problem(
                    format!("{field}.column"),
                    unknown_column(&manifest.scenario, &spec.column, &columns),
                );
                continue;
            };
            if synth::OUTCOME_COLUMNS.contains(&doc.name) {
                problem(
                    format!("{field}.column"),
                    format!(
                        "{:?} is the outcome the model is judged against, never one of its inputs",
                        doc.name
                    ),
                );
                continue;
            }
            match (&spec.one_hot, input.dtype) {
                (Some(cats), _) => {
                    if !doc.is_categorical() {
                        problem(
                            format!("{field}.one_hot"),
                            format!(
                                "{:?} is {}, not a category; one_hot takes a categorical column ({})",
                                doc.name,
                                kind(doc),
                                categorical_names(&columns)
                            ),
                        );
                        continue;
                    }
                    for (k, cat) in cats.iter().enumerate() {
                        if !doc.values.contains(&cat.as_str()) {
                            problem(format!("{field}.one_hot[{k}]"), unknown_category(doc, cat));
                        }
                    }
                    // A column's dummies may sit apart in one tensor (`sex_F`, `age`, `sex_M`):
                    // what the tensor lists is every one-hot of the column in it, and the
                    // warning is said once, at the first.
                    let of_column = || {
                        input
                            .columns
                            .iter()
                            .filter(|c| c.column == spec.column)
                            .filter_map(|c| c.one_hot.as_ref())
                    };
                    let first = input
                        .columns
                        .iter()
                        .position(|c| c.column == spec.column && c.one_hot.is_some())
                        == Some(j);
                    let produced = produced_categories(&manifest.scenario, doc.name);
                    let unlisted: Vec<&str> = doc
                        .values
                        .iter()
                        .copied()
                        .filter(|v| produced.contains(v) && !of_column().flatten().any(|c| c == v))
                        .collect();
                    if first && !unlisted.is_empty() {
                        warnings.push(format!(
                            "{field} ({:?}): one_hot does not list {}; rows with {} get all zeros in input {}",
                            doc.name,
                            list(&unlisted),
                            if unlisted.len() == 1 { "it" } else { "these" },
                            shown(&input.tensor)
                        ));
                    }
                }
                (None, DType::String) => {
                    if !doc.is_categorical() && doc.data_type != arrow::datatypes::DataType::Utf8 {
                        problem(
                            format!("{field}.column"),
                            format!(
                                "{:?} is {}; a string tensor takes a categorical or text column",
                                doc.name,
                                kind(doc)
                            ),
                        );
                    }
                }
                (None, DType::Bool) => {
                    if doc.data_type != arrow::datatypes::DataType::Boolean {
                        problem(
                            format!("{field}.column"),
                            format!(
                                "{:?} is {}; a bool tensor takes a yes/no column, or categories through one_hot",
                                doc.name,
                                kind(doc)
                            ),
                        );
                    }
                }
                (None, DType::Float32 | DType::Float64 | DType::Int32 | DType::Int64) => {
                    if doc.is_categorical() {
                        problem(
                            format!("{field}.column"),
                            format!(
                                "{:?} is a category, not a number: list its categories in one_hot ({}), or feed it to a string tensor",
                                doc.name,
                                list(&doc.values)
                            ),
                        );
                    } else if input.dtype.is_integer() && doc.data_type.is_floating() {
                        problem(
                            format!("{field}.column"),
                            format!(
                                "{:?} holds fractions, which an {} tensor would cut off silently (73.6 becomes 73); declare the input float32 or float64",
                                doc.name,
                                input.dtype.manifest_name()
                            ),
                        );
                    } else if !(doc.data_type.is_numeric() || doc.data_type == arrow::datatypes::DataType::Boolean) {
                        problem(
                            format!("{field}.column"),
                            format!(
                                "{:?} is {}, which a {} tensor cannot take; numeric and yes/no columns can",
                                doc.name,
                                kind(doc),
                                input.dtype.onnx_name()
                            ),
                        );
                    }
                }
            }
        }
    }
    if problems.len() > SHOWN_PROBLEMS {
        let more = problems.len() - SHOWN_PROBLEMS;
        problems.truncate(SHOWN_PROBLEMS);
        problems.push(ManifestProblem {
            field: "inputs".into(),
            message: format!("and {more} more problems like these"),
        });
    }
    if warnings.len() > SHOWN_PROBLEMS {
        let more = warnings.len() - SHOWN_PROBLEMS;
        warnings.truncate(SHOWN_PROBLEMS);
        warnings.push(format!("and {more} more warnings like these"));
    }
    if problems.is_empty() {
        Ok(warnings)
    } else {
        Err(problems)
    }
}

/// The categories of `column` that scenario `scenario` produces, from a fixed sample of
/// [`SAMPLE_ROWS`] citizens (deterministic: seed 0), made once per scenario and process.
fn produced_categories(scenario: &str, column: &str) -> Vec<&'static str> {
    use arrow::array::AsArray;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::{Mutex, OnceLock};
    type Produced = BTreeMap<String, BTreeMap<String, Vec<&'static str>>>;
    static CACHE: OnceLock<Mutex<Produced>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = match cache.lock() {
        Ok(c) => c,
        Err(poisoned) => poisoned.into_inner(),
    };
    if !cache.contains_key(scenario) {
        let mut produced: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        let docs = synth::scenario_columns(scenario).unwrap_or_default();
        let generator = synth::DatasetSpec::new(scenario, SAMPLE_ROWS, 0).and_then(synth::Generator::new);
        if let Ok(generator) = generator {
            let mut seen: BTreeMap<&'static str, BTreeSet<usize>> = BTreeMap::new();
            for b in 0..generator.num_batches() {
                let batch = generator.batch(b);
                for doc in docs.iter().filter(|d| d.is_categorical()) {
                    let Some(column) = batch.column_by_name(doc.name) else {
                        continue;
                    };
                    let Some(keys) = column.as_dictionary_opt::<arrow::datatypes::Int16Type>() else {
                        continue;
                    };
                    let entry = seen.entry(doc.name).or_default();
                    entry.extend(keys.keys().values().iter().map(|&k| k as usize));
                }
            }
            for doc in docs.iter().filter(|d| d.is_categorical()) {
                let keys = seen.remove(doc.name).unwrap_or_default();
                produced.insert(
                    doc.name.to_owned(),
                    keys.into_iter().filter_map(|k| doc.values.get(k).copied()).collect(),
                );
            }
        }
        cache.insert(scenario.to_owned(), produced);
    }
    cache
        .get(scenario)
        .and_then(|p| p.get(column))
        .cloned()
        .unwrap_or_default()
}

fn unknown_column(scenario: &str, column: &str, columns: &[ColumnDoc]) -> String {
    let mut message = format!("{} is not a column of scenario {scenario}", shown(column));
    if let Some(near) = nearest(column, columns.iter().map(|c| c.name)) {
        message.push_str(&format!("; did you mean {near:?}?"));
    }
    let elsewhere: Vec<&str> = synth::scenario_names()
        .into_iter()
        .filter(|other| *other != scenario)
        .filter(|other| {
            synth::scenario_columns(other)
                .map(|cs| cs.iter().any(|c| c.name == column))
                .unwrap_or(false)
        })
        .collect();
    if !elsewhere.is_empty() {
        message.push_str(&format!(" (it is a column of {})", elsewhere.join(", ")));
    }
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c.name)
        .filter(|n| !synth::OUTCOME_COLUMNS.contains(n))
        .collect();
    message.push_str(&format!(". Its columns: {}", names.join(", ")));
    message
}

fn unknown_category(doc: &ColumnDoc, category: &str) -> String {
    let mut message = format!("{} is not a category of {:?}", shown(category), doc.name);
    if let Some(near) = nearest(category, doc.values.iter().copied()) {
        message.push_str(&format!("; did you mean {near:?}?"));
    }
    message.push_str(&format!(". Its categories: {}", list(&doc.values)));
    message
}

/// The candidate closest to `typed`, if it is close enough to be a likely typo.
fn nearest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // No column or category is this long; a long text is no typo, and comparing it would cost.
    if typed.chars().count() > 64 {
        return None;
    }
    let typed = typed.to_lowercase();
    candidates
        .map(|c| (strsim::levenshtein(&typed, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn kind(doc: &ColumnDoc) -> String {
    match &doc.data_type {
        arrow::datatypes::DataType::Utf8 => "free text".into(),
        arrow::datatypes::DataType::Date32 => "a date".into(),
        t if doc.is_categorical() => format!("a category ({t})"),
        t => format!("of type {}", t.to_string().to_lowercase()),
    }
}

fn categorical_names(columns: &[ColumnDoc]) -> String {
    let names: Vec<&str> = columns.iter().filter(|c| c.is_categorical()).map(|c| c.name).collect();
    format!("the categorical columns are {}", names.join(", "))
}

/// Values quoted, cut after [`SHOWN_VALUES`].
fn list(values: &[&str]) -> String {
    let mut out: Vec<String> = values.iter().take(SHOWN_VALUES).map(|v| format!("{v:?}")).collect();
    if values.len() > SHOWN_VALUES {
        out.push(format!(
            "and {} more (the data dictionary lists them all)",
            values.len() - SHOWN_VALUES
        ));
    }
    out.join(", ")
}

/// Manifest text quoted back: cut, with every control character escaped by `Debug`.
pub(crate) fn shown(s: &str) -> String {
    if s.chars().count() <= SHOWN_CHARS {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(SHOWN_CHARS).collect();
        format!("{cut:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(columns: &str, dtype: &str) -> Manifest {
        Manifest::parse(&format!(
            r#"
name = "m"
version = "1"
scenario = "unemployment-risk"
[[inputs]]
tensor = "x"
dtype = "{dtype}"
columns = [{columns}]
[output]
label = "label"
probability = "p"
positive_class = 1
threshold = 0.5
"#
        ))
        .expect("parses")
    }

    fn problems(columns: &str, dtype: &str) -> Vec<ManifestProblem> {
        check_manifest_fits_scenario(&manifest(columns, dtype)).expect_err("refused")
    }

    #[test]
    fn a_one_hot_typo_names_the_category_the_nearest_and_every_valid_one() {
        let p = problems(
            r#"{ column = "age" }, { column = "education", one_hot = ["basic", "bachlor"] }"#,
            "float32",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "inputs[0].columns[1].one_hot[1]");
        assert!(
            p[0].message.contains("\"bachlor\" is not a category of \"education\""),
            "{}",
            p[0].message
        );
        assert!(p[0].message.contains("did you mean \"bachelor\"?"), "{}", p[0].message);
        for valid in synth::scenario_columns("unemployment-risk")
            .unwrap()
            .iter()
            .find(|c| c.name == "education")
            .unwrap()
            .values
            .iter()
        {
            assert!(
                p[0].message.contains(&format!("{valid:?}")),
                "{valid} in {}",
                p[0].message
            );
        }
    }

    #[test]
    fn a_manifest_task_must_fit_the_scenarios_outcome_and_its_levels() {
        let text = r#"
name = "m"
version = "1"
scenario = "eldercare-visitation"
[[inputs]]
tensor = "x"
dtype = "float32"
columns = [{ column = "age" }, { column = "adl_limitations" }]
[output]
probability = "p"
positive_class = 1
threshold = 0.5
"#;
        let check = |t: &str| check_manifest_fits_scenario(&Manifest::parse(t).unwrap());
        let p = check(text).expect_err("refused");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "output.task");
        assert!(
            p[0].message.contains("continuous outcome") && p[0].message.contains("task = \"regression\""),
            "{}",
            p[0].message
        );
        let head = text.split("[output]").next().unwrap();
        let regression = format!("{head}[output]\ntask = \"regression\"\nvalue = \"v\"\n");
        assert!(check(&regression).is_ok());
        let levels =
            |classes: &str| format!("{head}[output]\ntask = \"multiclass\"\nlabel = \"l\"\nclasses = {classes}\n");
        assert!(check(&levels(r#"["none", "light", "medium", "heavy"]"#)).is_ok());
        assert!(check(&levels("[0, 1, 2, 3]")).is_ok());
        // The model's own order (scikit-learn sorts class names) is fine: classes match by name.
        assert!(check(&levels(r#"["heavy", "light", "medium", "none"]"#)).is_ok());
        for wrong in [
            r#"["light", "none", "medium", "severe"]"#,
            r#"["none", "light", "medium"]"#,
            "[0, 1, 2]",
        ] {
            let p = check(&levels(wrong)).expect_err(wrong);
            assert_eq!(p[0].field, "output.classes", "{wrong}");
            assert!(
                p[0].message.contains(r#"["none", "light", "medium", "heavy"]"#),
                "{}",
                p[0].message
            );
        }
        // The same columns on a yes/no scenario pass as a binary manifest, and not as the others.
        let rehab = |t: &str| {
            t.replace("eldercare-visitation", "rehabilitation-need")
                .replace("adl_limitations", "falls_12m")
        };
        assert!(check(&rehab(text)).is_ok());
        let p = check(&rehab(&regression)).expect_err("regression on yes/no");
        assert!(p[0].message.contains("a yes/no outcome"), "{}", p[0].message);
    }

    #[test]
    fn an_unknown_column_suggests_the_nearest_and_one_of_another_scenario_says_so() {
        let p = problems(r#"{ column = "agee" }, { column = "functional_score" }"#, "float32");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].field, "inputs[0].columns[0].column");
        assert!(p[0].message.contains("did you mean \"age\"?"), "{}", p[0].message);
        assert!(
            p[1].message.contains("it is a column of rehabilitation-need"),
            "{}",
            p[1].message
        );
    }

    #[test]
    fn text_dates_categories_and_outcomes_cannot_be_numbers() {
        let p = problems(
            r#"{ column = "first_name" }, { column = "birth_date" }, { column = "sector" }, { column = "outcome_true" }, { column = "cpr", one_hot = ["x"] }"#,
            "float32",
        );
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "inputs[0].columns[0].column",
                "inputs[0].columns[1].column",
                "inputs[0].columns[2].column",
                "inputs[0].columns[3].column",
                "inputs[0].columns[4].one_hot",
            ]
        );
        assert!(p[0].message.contains("free text"), "{}", p[0].message);
        assert!(p[1].message.contains("a date"), "{}", p[1].message);
        assert!(
            p[2].message.contains("list its categories in one_hot"),
            "{}",
            p[2].message
        );
        assert!(p[3].message.contains("never one of its inputs"), "{}", p[3].message);
        assert!(p[4].message.contains("not a category"), "{}", p[4].message);
        let p = problems(r#"{ column = "age" }"#, "string");
        assert!(
            p[0].message
                .contains("a string tensor takes a categorical or text column"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn unlisted_categories_are_warnings_and_a_fitting_manifest_passes() {
        let m = manifest(
            r#"{ column = "age" }, { column = "ui_member" }, { column = "sex", one_hot = ["F", "M"] }, { column = "household_type", one_hot = ["single"] }"#,
            "float32",
        );
        let warnings = check_manifest_fits_scenario(&m).expect("fits");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("inputs[0].columns[3] (\"household_type\")"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("\"couple_no_children\""), "{}", warnings[0]);
        assert!(warnings[0].contains("get all zeros"), "{}", warnings[0]);
        let m = manifest(r#"{ column = "sector" }, { column = "first_name" }"#, "string");
        assert_eq!(check_manifest_fits_scenario(&m), Ok(vec![]));
        // Dummies of one column apart in the tensor list it whole between them: no warning.
        let apart = manifest(
            r#"{ column = "sex", one_hot = ["F"] }, { column = "age" }, { column = "sex", one_hot = ["M"] }"#,
            "float32",
        );
        assert_eq!(check_manifest_fits_scenario(&apart), Ok(vec![]));
        let half = manifest(
            r#"{ column = "household_type", one_hot = ["single"] }, { column = "age" }, { column = "household_type", one_hot = ["other"] }"#,
            "float32",
        );
        let w = check_manifest_fits_scenario(&half).expect("fits");
        assert_eq!(w.len(), 1, "said once: {w:?}");
        assert!(!w[0].contains("\"single\"") && !w[0].contains("\"other\""), "{}", w[0]);
    }

    #[test]
    fn fractions_cannot_feed_an_int64_tensor_and_problems_are_capped() {
        let m = Manifest::parse(
            r#"
name = "m"
version = "1"
scenario = "rehabilitation-need"
[[inputs]]
tensor = "x"
dtype = "int64"
columns = [{ column = "age" }, { column = "functional_score" }]
[output]
label = "label"
probability = "p"
positive_class = 1
threshold = 0.5
"#,
        )
        .expect("parses");
        let p = check_manifest_fits_scenario(&m).expect_err("refused");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message.contains("\"functional_score\" holds fractions"),
            "{}",
            p[0].message
        );
        let many: Vec<String> = (0..300).map(|i| format!("{{ column = \"nope{i}\" }}")).collect();
        let p = problems(&many.join(", "), "float32");
        assert_eq!(p.len(), SHOWN_PROBLEMS + 1);
        assert_eq!(p[SHOWN_PROBLEMS].message, "and 250 more problems like these");
    }

    #[test]
    fn quoted_manifest_text_is_cut_and_escaped() {
        let long = format!("{}\u{1b}[31m", "a".repeat(500));
        let p = problems(
            &format!(r#"{{ column = "{}" }}"#, long.replace('\u{1b}', "\\u001b")),
            "float32",
        );
        assert!(!p[0].message.contains('\u{1b}'), "{}", p[0].message);
        assert!(p[0].message.len() < 2_000, "{}", p[0].message.len());
    }
}
