//! Scenario modules written by an analyst: a malformed one is refused before anything runs,
//! with the file, line and column and what is wrong; a well-formed one generates data.

use synth::module::load;

/// A small valid module; each test breaks one line of it.
const BASE: &str = r#"format = "sandkasse-scenario-v1"
name = "test-module"

[summary]
en = "A test."
da = "En test."

[population]
ages = [65, 110]

[[variable]]
name = "frailty"
type = "f64"
latent = true
meaning = "unobserved frailty"
value = "normal()"

[[variable]]
name = "care_level"
type = "category"
meaning = "level of care"
parents = ["age"]
values = ["none", "light", "heavy"]
weights = ["3", "2", "1 + num(age > 80)"]

[[variable]]
name = "adl_score"
type = "u8"
meaning = "activities of daily living, 0-10"
parents = ["age", "frailty*", "measurement bias"]
value = "clamp(round(10 - 0.1 * (age - 65) - 2 * frailty), 0, 10)"
observed = "clamp(round(measured), 0, 10)"

[outcome]
kind = "binary"
meaning = "needs help"
p_true = "sigmoid(-1 + 0.3 * (10 - adl_score) + (if care_level == 'heavy' then 1 else 0))"

[bias]
measurable = ["adl_score"]
"#;

/// `BASE` with `from` replaced by `to` (which must occur).
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

/// The one-based line and column of the first occurrence of `needle` in `text`.
fn at(text: &str, needle: &str) -> (usize, usize) {
    let i = text.find(needle).unwrap_or_else(|| panic!("{needle}"));
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |j| j + 1) + 1;
    (line, col)
}

/// Loads `text` and returns the error text, which must name `module.toml:LINE:COL`.
fn refused(text: &str, line: usize, col: usize, says: &str) {
    let e = load("module.toml", text).expect_err("a malformed module is refused");
    let shown = e.to_string();
    let want = format!("module.toml:{line}:{col}: ");
    assert!(
        shown.lines().any(|l| l.starts_with(&want) && l.contains(says)),
        "want a line starting {want:?} saying {says:?}, got:\n{shown}"
    );
}

#[test]
fn the_base_module_loads_and_generates() {
    let m = load("module.toml", BASE).unwrap();
    assert_eq!(m.sha256().len(), 64);
    let spec = synth::DatasetSpec::new("test-module", 2_000, 1).unwrap();
    let batch = synth::Generator::new(spec).unwrap().batch(0);
    let adl = batch.column_by_name("adl_score").unwrap();
    assert_eq!(adl.data_type(), &arrow::datatypes::DataType::UInt8);
    assert!(
        batch.column_by_name("frailty").is_none(),
        "latent variables stay out of the data"
    );
    let ages = batch
        .column_by_name("age")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::UInt8Array>()
        .unwrap();
    assert!(ages.values().iter().all(|a| *a >= 65));
}

#[test]
fn an_unknown_parent_is_named_with_its_place() {
    let text = with(r#"parents = ["age"]"#, r#"parents = ["age", "pension"]"#);
    let (l, c) = at(&text, r#"["age", "pension"]"#);
    refused(&text, l, c, "unknown parent \"pension\"");
    // A name read but not declared as a parent.
    let text = with(
        r#"weights = ["3", "2", "1 + num(age > 80)"]"#,
        r#"weights = ["3", "2", "1 + num(male)"]"#,
    );
    let (l, c) = at(&text, r#"["age"]"#);
    refused(&text, l, c, "reads sex, which is not among its parents");
    // A name that is nothing at all, pointed at exactly.
    let text = with("- 2 * frailty)", "- 2 * fraily)");
    let (l, c) = at(&text, "fraily");
    refused(&text, l, c, "unknown name \"fraily\"");
}

#[test]
fn a_cycle_is_refused() {
    let text = with(
        "value = \"normal()\"",
        "value = \"normal() + 0.1 * adl_score\"\nparents = [\"adl_score\"]",
    );
    let (l, c) = at(&text, "clamp(round(10");
    refused(&text, l, c, "cycle: ");
}

#[test]
fn a_type_mismatch_is_refused() {
    let text = with("0.3 * (10 - adl_score)", "0.3 * (10 - (adl_score > 3))");
    let (l, c) = at(&text, "(adl_score > 3)");
    refused(&text, l, c, "type mismatch: `-` takes numbers, this is yes/no");
    let text = with("type = \"u8\"", "type = \"bool\"");
    let (l, c) = at(&text, "clamp(round(10");
    refused(
        &text,
        l,
        c,
        "type mismatch: adl_score is yes/no (bool) but its value is a number",
    );
}

#[test]
fn an_undeclared_category_value_is_refused() {
    let text = with("care_level == 'heavy'", "care_level == 'hevy'");
    let (l, c) = at(&text, "care_level == 'hevy'");
    refused(
        &text,
        l,
        c,
        "category value not declared: \"hevy\" is not a value of care_level",
    );
    let text = with("care_level == 'heavy'", "education == 'phd'");
    let (l, c) = at(&text, "education == 'phd'");
    refused(&text, l, c, "\"phd\" is not a value of education");
}

#[test]
fn a_division_that_can_meet_zero_is_refused() {
    let text = with("0.3 * (10 - adl_score)", "0.3 / adl_score");
    let (l, c) = at(&text, "adl_score + (if");
    refused(&text, l, c, "can divide by zero: the divisor can be [0, 10]");
    // Kept away from zero, it is accepted.
    load("ok.toml", &with("0.3 * (10 - adl_score)", "0.3 / max(adl_score, 0.5)")).unwrap();
    let text = with("value = \"normal()\"", "value = \"ln(normal())\"");
    let (l, c) = at(&text, "normal())\"");
    refused(&text, l, c, "ln() of a number that can be");
}

#[test]
fn leaving_bounds_is_refused() {
    let text = with(
        "observed = \"clamp(round(measured), 0, 10)\"",
        "observed = \"round(measured)\"",
    );
    let (l, c) = at(&text, "\"round(measured)\"");
    refused(&text, l, c + 1, "the recorded adl_score can be [-8500, 8510]");
    let text = with("sigmoid(-1 + 0.3", "(-1 + 0.3");
    let (l, c) = at(&text, "(-1 + 0.3");
    refused(&text, l, c, "p_true can be");
    let text = with("type = \"u8\"", "type = \"u8\"\nmax = 5");
    refused(
        &text,
        at(&text, "clamp(round(measured)").0,
        at(&text, "clamp(round(measured)").1,
        "outside [0, 5]",
    );
}

#[test]
fn syntax_and_file_errors_are_placed() {
    let text = with("0.3 * (10", "0.3 * * (10");
    let (l, c) = at(&text, "* (10");
    refused(&text, l, c, "expected a number, a name or `(`");
    let text = with("kind = \"binary\"", "kind = \"binary\"\nkindd = 1");
    let (l, _) = at(&text, "kindd");
    let e = load("module.toml", &text).unwrap_err();
    assert!(e.to_string().starts_with(&format!("module.toml:{l}:")), "{e}");
    assert!(e.to_string().contains("unknown field `kindd`"), "{e}");
    let text = with(
        "format = \"sandkasse-scenario-v1\"",
        "format = \"sandkasse-scenario-v9\"",
    );
    refused(&text, 1, 10, "this version reads \"sandkasse-scenario-v1\"");
    let text = with("type = \"u8\"", "type = \"u9\"");
    let (l, c) = at(&text, "\"u9\"");
    refused(&text, l, c, "type \"u9\" is not one of");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = with("care_level == 'heavy'", "care_level == 'hevy'").replacen("- 2 * frailty", "- 2 * fraily", 1);
    let e = load("module.toml", &text).unwrap_err();
    assert!(e.problems.len() >= 2, "{e}");
    assert!(e.problems.windows(2).all(|w| w[0].line <= w[1].line), "{e}");
}

#[test]
fn hostile_modules_are_bounded() {
    let big = format!("{BASE}\n# {}", "x".repeat(300 * 1024));
    refused(&big, 1, 1, "at most 262144");
    let deep = with(
        "\"normal()\"",
        &format!("\"{}normal(){}\"", "(".repeat(500), ")".repeat(500)),
    );
    let e = load("module.toml", &deep).unwrap_err();
    assert!(e.to_string().contains("nests deeper"), "{e}");
    let mut many = BASE.to_owned();
    for i in 0..130 {
        many.push_str(&format!(
            "\n[[variable]]\nname = \"v{i}\"\ntype = \"f64\"\nlatent = true\nmeaning = \"m\"\nvalue = \"1\"\n"
        ));
    }
    let e = load("module.toml", &many).unwrap_err();
    assert!(e.to_string().contains("at most 120 variables"), "{e}");
    // Two variables drawing the same numbers would be correlated without saying so.
    let text = with("value = \"normal()\"", "value = \"normal()\"\nstream = \"latent\"").replacen(
        "weights = [",
        "stream = \"latent\"\nweights = [",
        1,
    );
    let e = load("module.toml", &text).unwrap_err();
    assert!(e.to_string().contains("both take draw 0 of stream latent"), "{e}");
}

fn dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A change to the module format fails here until its schema is regenerated on purpose
/// (`UPDATE_SCHEMA=1 cargo test -p synth --test modules`).
#[test]
fn the_committed_module_schema_is_the_codes() {
    let schema = serde_json::to_string_pretty(&synth::module::json_schema()).unwrap() + "\n";
    let path = dir().join("scenarios/scenario-module.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &schema).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("scenario-module.schema.json is committed");
    assert!(
        committed == schema,
        "scenario-module.schema.json is stale: regenerate it with UPDATE_SCHEMA=1"
    );
}

/// Every shipped module and the test module validate under the committed schema with an
/// independent validator (`jsonschema_rs` in `.venv`, installed by scripts/apitools.sh), and
/// files the loader refuses for their shape do not.
#[test]
fn modules_validate_under_the_schema_and_misshapen_ones_do_not() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("module-schema");
    std::fs::create_dir_all(&out).unwrap();
    let as_json = |text: &str| -> String {
        let v: serde_json::Value = toml::from_str(text).unwrap();
        serde_json::to_string_pretty(&v).unwrap()
    };
    let mut valid: Vec<(String, String)> = synth::scenario_names()
        .iter()
        .map(|n| (n.to_string(), synth::scenario_module_source(n).unwrap().to_owned()))
        .collect();
    valid.push(("base".into(), BASE.to_owned()));
    let invalid = [
        ("unknown-key", with("kind = \"binary\"", "kind = \"binary\"\nkindd = 1")),
        ("no-name", with("name = \"test-module\"\n", "")),
        ("ages-not-a-pair", with("ages = [65, 110]", "ages = [65]")),
        ("type-not-text", with("type = \"u8\"", "type = 8")),
    ];
    let mut args = vec![dir().join("scenarios/scenario-module.schema.json")];
    for (name, text) in &valid {
        load(name, text).unwrap();
        let p = out.join(format!("{name}.json"));
        std::fs::write(&p, as_json(text)).unwrap();
        args.push(p);
    }
    args.push("--".into());
    for (name, text) in &invalid {
        assert!(load(name, text).is_err(), "{name} loads");
        let p = out.join(format!("invalid-{name}.json"));
        std::fs::write(&p, as_json(text)).unwrap();
        args.push(p);
    }
    let python = dir().join("../../.venv/bin/python");
    let run = std::process::Command::new(&python)
        .arg(dir().join("../checklist/tests/validate_schema.py"))
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/apitools.sh", python.display()));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.contains(&format!(
            "{} valid and 4 invalid documents checked, 0 failures",
            valid.len()
        )),
        "{stdout}"
    );
}

/// Found by trying a module: weights that leave an age with nobody to draw panicked the
/// population model; definitions that double at each level expanded without bound.
#[test]
fn selections_with_nobody_and_exploding_definitions_are_refused() {
    let text = with(
        "ages = [65, 110]",
        "ages = [65, 110]\norigin_weights = { danish = 0, immigrant_western = 0 }",
    );
    let (l, c) = at(&text, "{ danish = 0");
    refused(&text, l, c, "origin weight of danish must be a number in 0.001-1000");
    let text = with(
        "ages = [65, 110]",
        "ages = [65, 110]\ncohort_weight = \"num(age < 60)\"",
    );
    let (l, c) = at(&text, "\"num(age < 60)\"");
    refused(
        &text,
        l,
        c,
        "cohort_weight must be finite and 0 or more at every age in [65, 110]",
    );
    let mut text = BASE.replacen("- 2 * frailty)", "- 2 * frailty + 0 * d0)", 1);
    for i in 0..30 {
        text.push_str(&format!(
            "\n[[define]]\nname = \"d{i}\"\nvalue = \"d{} + d{}\"\n",
            i + 1,
            i + 1
        ));
    }
    text.push_str("\n[[define]]\nname = \"d30\"\nvalue = \"1\"\n");
    // Before the budget this expanded 2^30 additions (and never returned).
    let e = load("module.toml", &text).unwrap_err();
    assert!(e.to_string().contains("expands to more than 10000 operations"), "{e}");
}

/// A cohort weight may read a table keyed by sex (the one category it can see); the weights
/// were once computed without the module's tables and panicked.
#[test]
fn a_cohort_weight_reads_a_table() {
    let text = with(
        "ages = [65, 110]",
        "ages = [65, 110]\ncohort_weight = \"by_sex(sex)\"\n\n[[table]]\nname = \"by_sex\"\nkey = \"sex\"\nvalues = { F = 1.0, M = 2.0 }",
    )
    .replacen("name = \"test-module\"", "name = \"cohort-table\"", 1);
    let m = load("module.toml", &text).unwrap();
    let spec = synth::DatasetSpec::for_module(&m, 20_000, 3).unwrap();
    let batch = synth::Generator::new(spec).unwrap().batch(0);
    let sex = batch.column_by_name("sex").unwrap();
    let sex = arrow::compute::cast(sex, &arrow::datatypes::DataType::Utf8).unwrap();
    let sex = sex.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
    let men = sex.iter().filter(|s| *s == Some("M")).count();
    let all = arrow::array::Array::len(sex);
    // Men weigh twice as much at every age: well over the population's share among the old.
    assert!(men * 2 > all, "{men} of {all}");
}

/// Found by review: values that overflow to infinity or are undefined passed the range checks
/// (an interval of NaN compares false with every bound), and reached the data.
#[test]
fn values_that_can_overflow_or_be_undefined_are_refused() {
    for (from, to, needle) in [
        ("sigmoid(-1 + 0.3", "0 * exp(1000) + sigmoid(-1 + 0.3", "exp(1000)"),
        (
            "value = \"normal()\"",
            "value = \"uniform(-exp(800), exp(800))\"",
            "exp(800)",
        ),
        (
            "value = \"normal()\"",
            "value = \"pow(max(normal(), 0), -0.5)\"",
            "pow(max(normal(), 0), -0.5)",
        ),
    ] {
        let text = with(from, to);
        let (l, c) = at(&text, needle);
        refused(&text, l, c, "can overflow or be undefined");
    }
    let text = with(
        r#"weights = ["3", "2", "1 + num(age > 80)"]"#,
        r#"weights = ["1e308", "1e308", "1"]"#,
    );
    let (l, c) = at(&text, "1e308");
    refused(&text, l, c, "can overflow or be undefined");
}

/// Found by review: a chain of operators is a tree as deep as it is long, and definitions
/// stack their depths; the dependency walk recursed through them all and could overflow the
/// stack before any check ran.
#[test]
fn deep_chains_and_stacked_definitions_are_refused_without_recursing_through_them() {
    let chain = vec!["1"; 100].join(" + ");
    let text = with("value = \"normal()\"", &format!("value = \"{chain}\""));
    let e = load("module.toml", &text).unwrap_err();
    assert!(e.to_string().contains("deeper than 64 levels"), "{e}");
    let mut text = BASE.replacen("- 2 * frailty)", "- 2 * frailty + 0 * d0)", 1);
    let link = vec!["1"; 30].join(" + ");
    for i in 0..250 {
        text.push_str(&format!(
            "\n[[define]]\nname = \"d{i}\"\nvalue = \"d{} + {link}\"\n",
            i + 1
        ));
    }
    text.push_str("\n[[define]]\nname = \"d250\"\nvalue = \"1\"\n");
    let e = load("module.toml", &text).unwrap_err();
    assert!(
        e.to_string().contains("nests deeper than 256 levels") || e.to_string().contains("definitions nest deeper"),
        "{e}"
    );
}

/// Found by review: a variable named like a population column gave the data two fields of one
/// name; a latent variable reading a protected attribute gave path-specific twins that are not
/// the dataset's own twins.
#[test]
fn population_column_names_and_latent_variables_with_observed_parents_are_refused() {
    let text = with("name = \"adl_score\"", "name = \"cpr\"").replace("adl_score", "cpr");
    let (l, c) = at(&text, "\"cpr\"");
    refused(&text, l, c, "\"cpr\" is reserved or names a population value");
    let text = with(
        "value = \"normal()\"",
        "value = \"normal() + num(male)\"\nparents = [\"sex\"]",
    );
    let (l, c) = at(&text, "\"frailty\"");
    refused(&text, l, c, "latent frailty reads sex");
}
