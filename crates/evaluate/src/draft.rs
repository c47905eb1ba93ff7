//! A manifest proposed from the model itself, so a vendor whose model's input names match the
//! scenario's columns writes none.
//!
//! Exporters name a model's inputs after the columns it was trained on: skl2onnx, given a
//! data frame, makes one input per column (`age`, `sector`, ...); a network trained on
//! `pd.get_dummies` output takes one wide tensor whose columns the vendor can name
//! (`age`, `sector_retail_wholesale`, ...). Each name is matched to a scenario column, or to a
//! category of one (`{column}_{category}`, also behind a `transformer__` prefix as scikit-learn's
//! `get_feature_names_out` writes it); the element type is the model's own declared type. What
//! cannot be matched is said, input by input, never guessed: a manifest that maps a column
//! wrongly is worse than none.

use crate::fit::ManifestProblem;
use inference::{ClassValue, ColumnSpec, DType, InputSpec, Manifest, OutputSpec, Port, Summary};
use synth::ColumnDoc;

/// Names longer than this are cut when quoted back.
const SHOWN: usize = 80;
/// Problems listed in full; a model of 200,000 unknown inputs gets these and a count.
const SHOWN_PROBLEMS: usize = 50;
/// Feature names a vendor may pass: the manifest's own cap on features.
pub const MAX_FEATURE_NAMES: usize = inference::MAX_FEATURES;

/// What the vendor says that the model cannot: its name and version, its scenario, and what
/// the graph does not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftRequest {
    /// The vendor's name for the model.
    pub name: String,
    /// The vendor's version label.
    pub version: String,
    /// The scenario whose columns the model reads.
    pub scenario: String,
    /// The columns of the one wide input, in order (the training frame's `X.columns`); only
    /// needed when an input takes several columns, whose names the graph does not keep.
    pub feature_names: Option<Vec<String>>,
    /// The class that counts as a positive decision, as the vendor typed it; typed by the
    /// model's label output (`"1"` is text for a model whose labels are strings). By default 1
    /// for integer classes.
    pub positive_class: Option<String>,
    /// Decide positive when P(positive class) >= threshold.
    pub threshold: f64,
}

/// Proposes a manifest for `model` on the request's scenario. `Err` lists everything that
/// could not be mapped, each naming the input or output and what would make it work.
pub fn draft_manifest(model: &Summary, request: &DraftRequest) -> Result<Manifest, Vec<ManifestProblem>> {
    let problem = |field: String, message: String| ManifestProblem { field, message };
    let columns = synth::scenario_columns(&request.scenario).map_err(|_| {
        vec![problem(
            "scenario".into(),
            format!(
                "{:?} is not a scenario; the scenarios are {}",
                cut(&request.scenario),
                synth::scenario_names().join(", ")
            ),
        )]
    })?;
    let columns: Vec<ColumnDoc> = columns
        .into_iter()
        .filter(|c| !synth::OUTCOME_COLUMNS.contains(&c.name))
        .collect();
    let mut problems = Vec::new();
    let wide: Vec<&Port> = model.inputs.iter().filter(|p| width(p) != Some(1)).collect();
    if let Some(names) = &request.feature_names {
        if names.len() > MAX_FEATURE_NAMES {
            problems.push(problem(
                "feature_names".into(),
                format!("{} names, over the limit of {MAX_FEATURE_NAMES}", names.len()),
            ));
        } else if wide.len() != 1 {
            problems.push(problem(
                "feature_names".into(),
                if wide.is_empty() {
                    "feature names describe the columns of one wide input, but every input of the model takes one column (named by itself): leave out the feature names".to_owned()
                } else {
                    format!(
                        "feature names describe the columns of one wide input, but the model has {} inputs of more than one column: write the manifest yourself",
                        wide.len()
                    )
                },
            ));
        }
    }
    let mut inputs = Vec::new();
    for port in &model.inputs {
        let field = format!("input {:?}", cut(&port.name));
        // The drafted TOML carries the names as they are, to a terminal or a file; a name that
        // hides characters (controls, bidi overrides) is not one a manifest should repeat.
        if port.name.chars().any(escape::is_hidden) {
            problems.push(problem(
                format!("input {}", escape::visible_text(&cut(&port.name))),
                "the name holds control or bidirectional characters; rename the input, or write the manifest yourself"
                    .into(),
            ));
            continue;
        }
        let Some(dtype) = port.elem_type.as_deref().and_then(DType::from_onnx_name) else {
            problems.push(problem(
                field,
                format!(
                    "the model declares {}; the sandbox builds tensors of {}",
                    cut(&port.r#type),
                    DType::ALL.map(DType::onnx_name).join(", ")
                ),
            ));
            continue;
        };
        let names: Vec<String> = match (width(port), &request.feature_names) {
            (Some(1), _) => vec![port.name.clone()],
            (_, Some(names)) if wide.len() == 1 && names.len() <= MAX_FEATURE_NAMES => {
                if let Some(w) = width(port)
                    && w != names.len()
                {
                    problems.push(problem(
                        field,
                        format!(
                            "the model declares {w} columns, and {} feature names were given",
                            names.len()
                        ),
                    ));
                    continue;
                }
                names.clone()
            }
            (w, _) => {
                problems.push(problem(
                    field,
                    format!(
                        "it takes {} columns, whose names the model does not keep: give the training frame's column names in order (`--feature-names`, or the upload's `feature_names` part)",
                        w.map_or("several".to_owned(), |w| w.to_string())
                    ),
                ));
                continue;
            }
        };
        let mut specs: Vec<ColumnSpec> = Vec::new();
        for name in &names {
            match match_name(name, dtype, &columns) {
                Ok(Match::Column(column)) => specs.push(ColumnSpec {
                    column: column.to_owned(),
                    one_hot: None,
                }),
                Ok(Match::Category(column, value)) => match specs.last_mut() {
                    // Dummies of one column side by side are one one-hot list.
                    Some(ColumnSpec {
                        column: c,
                        one_hot: Some(cats),
                    }) if c == column => cats.push(value.to_owned()),
                    _ => specs.push(ColumnSpec {
                        column: column.to_owned(),
                        one_hot: Some(vec![value.to_owned()]),
                    }),
                },
                Err(message) => problems.push(problem(format!("{field}, column {:?}", cut(name)), message)),
            }
        }
        inputs.push(InputSpec {
            tensor: port.name.clone(),
            dtype,
            columns: specs,
        });
    }
    let output = match outputs(model, request) {
        Ok(o) => Some(o),
        Err(p) => {
            problems.extend(p);
            None
        }
    };
    if problems.len() > SHOWN_PROBLEMS {
        let more = problems.len() - SHOWN_PROBLEMS;
        problems.truncate(SHOWN_PROBLEMS);
        problems.push(problem("inputs".into(), format!("and {more} more problems like these")));
    }
    match output {
        Some(output) if problems.is_empty() => Ok(Manifest {
            name: request.name.clone(),
            version: request.version.clone(),
            scenario: request.scenario.clone(),
            description: format!(
                "Drafted by Sandkasse from the model's declared inputs and outputs ({}).",
                escape::visible_text(&cut(&model.producer))
            ),
            inputs,
            output: inference::Output::Binary(output),
        }),
        _ => Err(problems),
    }
}

/// Feature names as a vendor writes them: one per line or separated by commas (a CSV header
/// line, `",".join(X.columns)`), blanks ignored. Bounded by [`MAX_FEATURE_NAMES`] names of at
/// most 200 characters each.
pub fn parse_feature_names(text: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = text
        .split(['\n', ','])
        .map(|n| n.trim().trim_matches('"').to_owned())
        .filter(|n| !n.is_empty())
        .take(MAX_FEATURE_NAMES + 1)
        .collect();
    if names.len() > MAX_FEATURE_NAMES {
        return Err(format!("more than {MAX_FEATURE_NAMES} feature names"));
    }
    if let Some(long) = names.iter().find(|n| n.chars().count() > 200) {
        return Err(format!("the feature name {:?}... is over 200 characters", cut(long)));
    }
    if names.is_empty() {
        return Err("no feature names given".into());
    }
    Ok(names)
}

/// The manifest as the TOML a vendor reads and may edit.
pub fn manifest_toml(manifest: &Manifest) -> String {
    toml::to_string_pretty(manifest).unwrap_or_else(|e| format!("# the drafted manifest could not be written: {e}\n"))
}

enum Match<'a> {
    Column(&'a str),
    Category(&'a str, &'a str),
}

/// A feature name as a scenario column (fed as the tensor's type allows) or as one category
/// of a categorical column (a one-hot position).
fn match_name<'a>(name: &str, dtype: DType, columns: &'a [ColumnDoc]) -> Result<Match<'a>, String> {
    // `get_feature_names_out` of a ColumnTransformer: `onehot__sector_retail_wholesale`.
    let bare = name.rsplit_once("__").map_or(name, |(_, b)| b);
    for candidate in [name, bare] {
        if let Some(doc) = columns.iter().find(|c| c.name == candidate) {
            if doc.is_categorical() && dtype != DType::String {
                return Err(format!(
                    "{:?} is a category, and this input takes {} values: export it as a string input, or one-hot encode it before the model ({:?} then names its categories, e.g. {}_{})",
                    doc.name,
                    dtype.onnx_name(),
                    doc.name,
                    doc.name,
                    doc.values.first().copied().unwrap_or("value")
                ));
            }
            return Ok(Match::Column(doc.name));
        }
        let mut found = columns.iter().filter(|c| c.is_categorical()).filter_map(|c| {
            let value = candidate.strip_prefix(c.name)?.strip_prefix('_')?;
            let value = c.values.iter().find(|v| **v == value)?;
            Some((c.name, *value))
        });
        if let Some((column, value)) = found.next() {
            if dtype == DType::String {
                return Err(format!(
                    "it reads as category {value:?} of {column:?}, but a string input takes the category's text, not a one-hot position"
                ));
            }
            return Ok(Match::Category(column, value));
        }
    }
    // Similarity only for names of a sensible length: the model's names are unbounded.
    let near = if bare.chars().count() <= 64 {
        strsim_nearest(bare, columns)
    } else {
        String::new()
    };
    Err(format!(
        "no column of the scenario has this name, and it is no `{{column}}_{{category}}` of one{near}"
    ))
}

fn strsim_nearest(name: &str, columns: &[ColumnDoc]) -> String {
    columns
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c.name), c.name))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| format!(" (did you mean {n:?}?)"))
        .unwrap_or_default()
}

/// The label and probability outputs, by type: a label is an integer or string tensor; the
/// probability a float or double tensor or a ZipMap. Where several could be meant, the
/// exporters' names (`label`, `probabilities`) decide, and otherwise it is a problem.
fn outputs(model: &Summary, request: &DraftRequest) -> Result<OutputSpec, Vec<ManifestProblem>> {
    let problem = |message: String| ManifestProblem {
        field: "output".into(),
        message,
    };
    let labels: Vec<&Port> = model
        .outputs
        .iter()
        .filter(|p| matches!(p.elem_type.as_deref(), Some("int64" | "int32" | "string")))
        .collect();
    let probabilities: Vec<&Port> = model
        .outputs
        .iter()
        .filter(|p| p.is_sequence_of_maps() || matches!(p.elem_type.as_deref(), Some("float" | "double")))
        .collect();
    let pick = |ports: &[&Port], hint: &str| -> Result<Option<String>, ManifestProblem> {
        match ports {
            [] => Ok(None),
            [one] => Ok(Some(one.name.clone())),
            many => {
                let hinted: Vec<&&Port> = many.iter().filter(|p| p.name.to_lowercase().contains(hint)).collect();
                match hinted.as_slice() {
                    [one] => Ok(Some(one.name.clone())),
                    _ => Err(problem(format!(
                        "the outputs {} could each be the {hint}; write the manifest's [output] yourself",
                        many.iter()
                            .map(|p| format!("{:?}", cut(&p.name)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))),
                }
            }
        }
    };
    let label = pick(&labels, "label").map_err(|p| vec![p])?;
    let probability = pick(&probabilities, "prob")
        .map_err(|p| vec![p])?
        .ok_or_else(|| {
            vec![problem(
                "the model has no float, double or ZipMap output to read a probability from; the sandbox judges probabilities".into(),
            )]
        })?;
    let text_labels = label
        .as_ref()
        .and_then(|l| model.outputs.iter().find(|p| &p.name == l))
        .is_some_and(|p| p.elem_type.as_deref() == Some("string"));
    let table = model
        .outputs
        .iter()
        .find(|p| p.name == probability)
        .filter(|p| !p.is_sequence_of_maps() && width(p) != Some(1));
    if let (true, Some(table)) = (text_labels, table) {
        return Err(vec![problem(format!(
            "the classes are text and {:?} is a table of probabilities without class names: write the manifest's [output] with `classes` in the table's column order",
            cut(&table.name)
        ))]);
    }
    let positive_class = match (request.positive_class.as_deref().map(str::trim), text_labels) {
        (Some(c), true) => ClassValue::Text(c.to_owned()),
        (Some(c), false) => ClassValue::Int(c.parse().map_err(|_| {
            vec![problem(format!(
                "the positive class {:?} is not an integer, and the model's classes are{}: give one of them (default 1){}",
                cut(c),
                if label.is_some() { " integers" } else { " read from a probability (0/1)" },
                if label.is_none() {
                    "; a model without a label output and text classes needs a manifest listing `classes`"
                } else {
                    ""
                }
            ))]
        })?),
        (None, false) => ClassValue::Int(1),
        (None, true) => {
            return Err(vec![problem(
                "the model's classes are text: say which one is the positive decision (`--positive-class`, or the upload's `positive_class` part)".into(),
            )]);
        }
    };
    Ok(OutputSpec {
        label,
        probability,
        positive_class,
        classes: None,
        threshold: request.threshold,
    })
}

/// Columns an input takes: its second dimension, 1 for a 1-D input; `None` when not fixed.
fn width(p: &Port) -> Option<usize> {
    match p.shape.as_ref().map(Vec::len) {
        Some(1) => Some(1),
        Some(2) => p.dim(1).and_then(|d| usize::try_from(d).ok()),
        _ => None,
    }
}

fn cut(s: &str) -> String {
    s.chars().take(SHOWN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn port(name: &str, elem: &str, shape: &[&str]) -> Port {
        Port {
            name: name.into(),
            r#type: format!("tensor({elem})"),
            elem_type: Some(elem.into()),
            shape: Some(shape.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn zipmap(name: &str) -> Port {
        Port {
            name: name.into(),
            r#type: "seq(map(int64,tensor(float)))".into(),
            elem_type: None,
            shape: None,
        }
    }

    fn model(inputs: Vec<Port>, outputs: Vec<Port>) -> Summary {
        Summary {
            sha256: String::new(),
            file_bytes: 0,
            ir_version: 8,
            producer: "skl2onnx 1.20.0".into(),
            opsets: BTreeMap::new(),
            inputs,
            outputs,
            operators: BTreeMap::new(),
            nodes: 0,
            initializers: 0,
            parameters: 0,
            warnings: Vec::new(),
        }
    }

    fn request(feature_names: Option<&[&str]>) -> DraftRequest {
        DraftRequest {
            name: "m".into(),
            version: "1".into(),
            scenario: "unemployment-risk".into(),
            feature_names: feature_names.map(|n| n.iter().map(|s| (*s).to_owned()).collect()),
            positive_class: None,
            threshold: 0.5,
        }
    }

    fn messages(p: &[ManifestProblem]) -> String {
        p.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    }

    /// skl2onnx's export of a pipeline from a data frame: one input per column, each of the
    /// frame's type, a label and a ZipMap. The draft maps each by name, keeps each type, and
    /// reads back as the same manifest; the scenario check accepts it.
    #[test]
    fn one_input_per_column_is_mapped_by_name_with_the_models_types() {
        let m = model(
            vec![
                port("age", "int64", &["N", "1"]),
                port("income_dkk", "double", &["N", "1"]),
                port("living_alone", "bool", &["N", "1"]),
                port("sector", "string", &["N", "1"]),
            ],
            vec![port("output_label", "int64", &["N"]), zipmap("output_probability")],
        );
        let drafted = draft_manifest(&m, &request(None)).unwrap_or_else(|p| panic!("{}", messages(&p)));
        let dtypes: Vec<(&str, DType, &str)> = drafted
            .inputs
            .iter()
            .map(|i| (i.tensor.as_str(), i.dtype, i.columns[0].column.as_str()))
            .collect();
        assert_eq!(
            dtypes,
            [
                ("age", DType::Int64, "age"),
                ("income_dkk", DType::Float64, "income_dkk"),
                ("living_alone", DType::Bool, "living_alone"),
                ("sector", DType::String, "sector"),
            ]
        );
        assert_eq!(drafted.output.binary().unwrap().label.as_deref(), Some("output_label"));
        assert_eq!(drafted.output.binary().unwrap().probability, "output_probability");
        assert_eq!(drafted.output.binary().unwrap().positive_class, ClassValue::Int(1));
        let text = manifest_toml(&drafted);
        assert_eq!(Manifest::parse(&text).unwrap(), drafted, "{text}");
        assert!(crate::check_manifest_fits_scenario(&drafted).is_ok());
    }

    /// A network on `pd.get_dummies` output: one wide tensor, named by the vendor's list;
    /// dummies of a column side by side become one one-hot list, prefixes of a
    /// ColumnTransformer are dropped, and a probability-only output gets no label.
    #[test]
    fn a_wide_input_is_mapped_by_the_feature_names_dummies_grouped() {
        let m = model(
            vec![port("input", "float", &["N", "5"])],
            vec![port("probability", "float", &["N", "1"])],
        );
        let names = [
            "num__age",
            "sector_retail_wholesale",
            "sector_construction",
            "onehot__sex_F",
            "ui_member",
        ];
        let drafted = draft_manifest(&m, &request(Some(&names))).unwrap_or_else(|p| panic!("{}", messages(&p)));
        let cols: Vec<(&str, Option<Vec<String>>)> = drafted.inputs[0]
            .columns
            .iter()
            .map(|c| (c.column.as_str(), c.one_hot.clone()))
            .collect();
        assert_eq!(
            cols,
            [
                ("age", None),
                (
                    "sector",
                    Some(vec!["retail_wholesale".to_owned(), "construction".to_owned()])
                ),
                ("sex", Some(vec!["F".to_owned()])),
                ("ui_member", None),
            ]
        );
        assert_eq!(drafted.output.binary().unwrap().label, None);
        assert!(Manifest::parse(&manifest_toml(&drafted)).is_ok());
    }

    /// Everything that cannot be mapped is said at once, naming the input and what to do.
    #[test]
    fn what_cannot_be_mapped_is_named_with_what_would_work() {
        let m = model(
            vec![
                port("agee", "float", &["N", "1"]),
                port("sector", "float", &["N", "1"]),
                port("raw", "uint8", &["N", "1"]),
                port("wide", "float", &["N", "7"]),
            ],
            vec![port("a", "float", &["N", "2"]), port("b", "float", &["N", "2"])],
        );
        let p = messages(&draft_manifest(&m, &request(None)).unwrap_err());
        for expected in [
            "input \"agee\", column \"agee\": no column of the scenario has this name, and it is no `{column}_{category}` of one (did you mean \"age\"?)",
            "\"sector\" is a category, and this input takes float values",
            "input \"raw\": the model declares tensor(uint8)",
            "input \"wide\": it takes 7 columns, whose names the model does not keep",
            "the outputs \"a\", \"b\" could each be the prob",
        ] {
            assert!(p.contains(expected), "missing {expected:?} in:\n{p}");
        }
        let wrong_count = draft_manifest(
            &model(vec![port("x", "float", &["N", "3"])], vec![port("p", "float", &["N"])]),
            &request(Some(&["age", "sex_F"])),
        );
        assert!(messages(&wrong_count.unwrap_err()).contains("declares 3 columns, and 2 feature names"));
        let text = model(
            vec![port("age", "float", &["N", "1"])],
            vec![port("label", "string", &["N"]), port("p", "float", &["N", "2"])],
        );
        let p = messages(&draft_manifest(&text, &request(None)).unwrap_err());
        assert!(p.contains("the classes are text"), "{p}");
    }

    /// What a hostile model can make of the problem list and the printed TOML is bounded:
    /// 200,000 unknown inputs give 50 problems and a count; a name hiding a bidi override or a
    /// control character is refused, shown escaped, never copied into a manifest.
    #[test]
    fn hostile_names_are_bounded_and_never_repeated_unescaped() {
        let many: Vec<Port> = (0..200_000)
            .map(|i| {
                port(
                    &format!("x{i}{}", "y".repeat(if i == 0 { 100_000 } else { 0 })),
                    "float",
                    &["N", "1"],
                )
            })
            .collect();
        let p = draft_manifest(&model(many, vec![port("p", "float", &["N"])]), &request(None)).unwrap_err();
        assert_eq!(p.len(), SHOWN_PROBLEMS + 1);
        assert_eq!(p[SHOWN_PROBLEMS].message, "and 199950 more problems like these");
        assert!(
            p.iter().all(|p| p.to_string().len() < 1_000),
            "a problem quotes a name whole"
        );
        let m = model(
            vec![
                port("age\u{202e}", "float", &["N", "1"]),
                port("sex\n", "string", &["N", "1"]),
            ],
            vec![port("p", "float", &["N"])],
        );
        let p = messages(&draft_manifest(&m, &request(None)).unwrap_err());
        assert!(
            p.contains("input age\\u{202e}: the name holds control or bidirectional characters"),
            "{p}"
        );
        assert!(p.contains("input sex\\n:"), "{p}");
        assert!(!p.contains('\u{202e}') && !p.contains("sex\n"), "{p}");
    }

    /// A positive class is typed by the model's labels: "1" is text for string labels, an
    /// integer for integer labels, and text for integer labels is refused saying why.
    #[test]
    fn the_positive_class_takes_the_type_of_the_models_labels() {
        let with_label = |elem: &str| {
            model(
                vec![port("age", "float", &["N", "1"])],
                vec![port("label", elem, &["N"]), zipmap("probabilities")],
            )
        };
        let typed = |elem: &str, class: &str| {
            let mut r = request(None);
            r.positive_class = Some(class.into());
            draft_manifest(&with_label(elem), &r).map(|m| m.output.binary().unwrap().positive_class.clone())
        };
        assert_eq!(typed("string", "1").unwrap(), ClassValue::Text("1".into()));
        assert_eq!(typed("int64", "1").unwrap(), ClassValue::Int(1));
        let p = messages(&typed("int64", "yes").unwrap_err());
        assert!(
            p.contains("\"yes\" is not an integer, and the model's classes are integers"),
            "{p}"
        );
    }
}
