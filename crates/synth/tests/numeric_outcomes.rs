//! Numeric outcomes in scenario modules (a number, or a whole number, with a levels view): the
//! checker refuses what cannot be generated right, placed at file:line:column, and the
//! generator writes what the module says — the truth within its bounds, the recording from the
//! truth, label bias scaling the targeted group's recording, the levels cut where declared.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int16Type, UInt32Type};
use synth::module::load;
use synth::{DatasetSpec, Generator};

/// A module with a continuous outcome, its recording and a levels view.
const HOURS: &str = r#"format = "sandkasse-scenario-v1"
name = "hours-test"

[summary]
en = "A test of a numeric outcome."
da = "En test af et numerisk udfald."

[population]
ages = [65, 110]

[[variable]]
name = "frailty"
type = "f64"
latent = true
meaning = "unobserved frailty"
value = "normal()"

[[variable]]
name = "adl"
type = "u8"
meaning = "activities of daily living not done unaided, 0-6"
parents = ["age", "frailty*"]
value = "min(poisson(min(exp(-1 + 0.05 * (age - 75) + 0.8 * frailty), 30)), 6)"

[outcome]
kind = "continuous"
unit = "hours a week"
meaning = "hours of care needed"
bounds = [0.0, 40.0]
expected = "clamp(1.5 * adl + 0.5 * frailty, 0, 40)"
value = "clamp(expected * exp(0.3 * normal() - 0.045), 0, 40)"
recorded = "clamp(truth * (if living_alone then 1 else 0.8), 0, 40)"

[outcome.levels]
classes = ["none", "light", "medium", "heavy"]
from = [0.5, 4.0, 12.0]
"#;

fn with(from: &str, to: &str) -> String {
    assert!(HOURS.contains(from), "{from}");
    HOURS.replacen(from, to, 1)
}

fn at(text: &str, needle: &str) -> (usize, usize) {
    let i = text.find(needle).unwrap_or_else(|| panic!("{needle}"));
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |j| j + 1) + 1;
    (line, col)
}

fn refused(text: &str, needle: &str, says: &str) {
    let (line, col) = at(text, needle);
    let e = load("module.toml", text).expect_err("a malformed module is refused");
    let shown = e.to_string();
    let want = format!("module.toml:{line}:{col}: ");
    assert!(
        shown.lines().any(|l| l.starts_with(&want) && l.contains(says)),
        "want a line starting {want:?} saying {says:?}, got:\n{shown}"
    );
}

fn generate(text: &str, name: &str, rows: u64, bias: &[&str]) -> RecordBatch {
    let m = load("module.toml", text).expect("valid module");
    let mut spec = DatasetSpec::for_module(&m, rows, 5).expect("spec");
    spec.apply_bias_args(bias).expect("bias knobs");
    assert_eq!(spec.scenario, name);
    let g = Generator::new(spec).expect("generator");
    let batches: Vec<RecordBatch> = (0..g.num_batches()).map(|b| g.batch(b)).collect();
    arrow::compute::concat_batches(&g.schema(), &batches).expect("one schema")
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<f64> {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("{name}"))
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

fn levels(b: &RecordBatch, name: &str) -> Vec<i16> {
    let c = b.column_by_name(name).unwrap_or_else(|| panic!("{name}"));
    let d = c.as_dictionary::<Int16Type>();
    let values: Vec<&str> = d.values().as_string::<i32>().iter().map(Option::unwrap).collect();
    assert_eq!(values, ["none", "light", "medium", "heavy"]);
    d.keys().values().to_vec()
}

fn living_alone(b: &RecordBatch) -> Vec<bool> {
    let c = b.column_by_name("living_alone").unwrap().as_boolean();
    (0..c.len()).map(|i| c.value(i)).collect()
}

#[test]
fn a_continuous_outcome_is_generated_as_the_module_says() {
    let b = generate(HOURS, "hours-test", 20_000, &[]);
    let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
    let tail: Vec<&str> = names[names.len() - 5..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "expected_true",
            "outcome_true",
            "outcome_recorded",
            "level_true",
            "level_recorded"
        ]
    );
    assert!(!names.iter().any(|n| n == "p_true" || n == "frailty"));
    let expected = f64s(&b, "expected_true");
    let truth = f64s(&b, "outcome_true");
    let recorded = f64s(&b, "outcome_recorded");
    let alone = living_alone(&b);
    for i in 0..b.num_rows() {
        assert!((0.0..=40.0).contains(&expected[i]) && (0.0..=40.0).contains(&truth[i]));
        // The recording, computed here by hand from the truth.
        let want = (truth[i] * if alone[i] { 1.0 } else { 0.8 }).clamp(0.0, 40.0);
        assert_eq!(recorded[i], want, "row {i}");
    }
    // The truth varies around its expected value with mean 1 (log-normal, σ 0.3): the means
    // agree within a few standard errors.
    let n = truth.len() as f64;
    let diff: Vec<f64> = truth.iter().zip(&expected).map(|(t, e)| t - e).collect();
    let mean = diff.iter().sum::<f64>() / n;
    let sd = (diff.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(
        mean.abs() < 4.0 * sd / n.sqrt(),
        "mean truth − expected {mean}, se {}",
        sd / n.sqrt()
    );
    assert!(truth.iter().zip(&expected).any(|(t, e)| t != e), "the truth is drawn");
    // The levels, cut by hand.
    let cut = |x: f64| [0.5, 4.0, 12.0].iter().filter(|f| **f <= x).count() as i16;
    let (lt, lr) = (levels(&b, "level_true"), levels(&b, "level_recorded"));
    for i in 0..b.num_rows() {
        assert_eq!(lt[i], cut(truth[i]), "row {i}: {}", truth[i]);
        assert_eq!(lr[i], cut(recorded[i]), "row {i}: {}", recorded[i]);
    }
    for level in 0..4 {
        assert!(lt.contains(&level), "level {level} occurs");
    }
    // The dictionary describes the columns, with what each reads as its parents.
    let docs = synth::scenario_columns("hours-test").unwrap();
    let doc = |n: &str| docs.iter().find(|d| d.name == n).unwrap().clone();
    assert_eq!(doc("expected_true").parents, ["adl", "frailty*"]);
    assert_eq!(
        doc("outcome_recorded").parents,
        ["outcome_true", "label bias", "living_alone"]
    );
    assert_eq!(doc("level_true").values, ["none", "light", "medium", "heavy"]);
    assert!(doc("outcome_true").meaning.contains("hours a week"));
}

#[test]
fn label_bias_scales_the_targeted_groups_recording_only() {
    let text = with("name = \"hours-test\"", "name = \"hours-bias\"");
    let plain = generate(&text, "hours-bias", 30_000, &[]);
    for (direction, factor) in [("down", 0.75), ("up", 1.25)] {
        let biased = generate(
            &text,
            "hours-bias",
            30_000,
            &[
                "label_rate=0.25",
                "label_group=sex:F",
                &format!("label_direction={direction}"),
            ],
        );
        assert_eq!(f64s(&plain, "outcome_true"), f64s(&biased, "outcome_true"));
        let (r0, r1) = (f64s(&plain, "outcome_recorded"), f64s(&biased, "outcome_recorded"));
        let sex = biased.column_by_name("sex").unwrap();
        let sex = arrow::compute::cast(sex, &DataType::Utf8).unwrap();
        let sex = sex.as_string::<i32>();
        let mut changed = 0;
        for i in 0..biased.num_rows() {
            let want = if sex.value(i) == "F" {
                (r0[i] * factor).clamp(0.0, 40.0)
            } else {
                r0[i]
            };
            assert_eq!(r1[i], want, "{direction} row {i}");
            changed += usize::from(r1[i] != r0[i]);
        }
        assert!(changed > 1000, "{direction}: {changed} rows changed");
    }
}

#[test]
fn a_count_outcome_is_whole_and_within_its_bounds() {
    let text = with("name = \"hours-test\"", "name = \"visits-test\"")
        .replace("kind = \"continuous\"", "kind = \"count\"")
        .replace("bounds = [0.0, 40.0]", "bounds = [0, 30]")
        .replace("clamp(1.5 * adl + 0.5 * frailty, 0, 40)", "clamp(2 * adl, 0, 30)")
        .replace(
            "clamp(expected * exp(0.3 * normal() - 0.045), 0, 40)",
            "min(poisson(expected), 30)",
        )
        .replace("clamp(truth * (if living_alone then 1 else 0.8), 0, 40)", "truth")
        .replace("from = [0.5, 4.0, 12.0]", "from = [1, 4, 12]");
    let b = generate(&text, "visits-test", 10_000, &[]);
    let truth = b.column_by_name("outcome_true").unwrap();
    assert_eq!(truth.data_type(), &DataType::UInt32);
    let truth = truth.as_primitive::<UInt32Type>().values().to_vec();
    assert!(truth.iter().all(|t| *t <= 30));
    assert!(truth.iter().any(|t| *t > 3));
    let recorded = b
        .column_by_name("outcome_recorded")
        .unwrap()
        .as_primitive::<UInt32Type>();
    assert_eq!(recorded.values().to_vec(), truth);
    // Label bias on a count rounds to whole visits.
    let biased = generate(&text, "visits-test", 10_000, &["label_rate=0.3", "label_group=sex:M"]);
    let r1 = biased
        .column_by_name("outcome_recorded")
        .unwrap()
        .as_primitive::<UInt32Type>();
    let sex = arrow::compute::cast(biased.column_by_name("sex").unwrap(), &DataType::Utf8).unwrap();
    for (i, t) in truth.iter().enumerate() {
        let want = if sex.as_string::<i32>().value(i) == "M" {
            (f64::from(*t) * 0.7).round() as u32
        } else {
            *t
        };
        assert_eq!(r1.value(i), want, "row {i}");
    }
}

#[test]
fn malformed_numeric_outcomes_are_refused_with_their_place() {
    // A truth that can leave the bounds.
    let t = with(
        "value = \"clamp(expected * exp(0.3 * normal() - 0.045), 0, 40)\"",
        "value = \"expected * exp(0.3 * normal())\"",
    );
    refused(&t, "expected * exp(0.3", "outside the outcome's bounds [0, 40]");
    // A recording that can leave them.
    let t = with(
        "recorded = \"clamp(truth * (if living_alone then 1 else 0.8), 0, 40)\"",
        "recorded = \"truth * 1.5\"",
    );
    refused(&t, "truth * 1.5", "recorded can be");
    // `truth` outside `recorded`.
    let t = with(
        "expected = \"clamp(1.5 * adl + 0.5 * frailty, 0, 40)\"",
        "expected = \"clamp(truth, 0, 40)\"",
    );
    refused(&t, "truth, 0, 40", "unknown name \"truth\"");
    // Draws in `expected`.
    let t = with(
        "expected = \"clamp(1.5 * adl + 0.5 * frailty, 0, 40)\"",
        "expected = \"clamp(1.5 * adl + normal(), 0, 40)\"",
    );
    refused(&t, "normal(), 0", "");
    // Thresholds: one too few, not increasing, outside the bounds.
    for (from, says) in [
        ("from = [0.5, 4.0]", "2 thresholds for 4 classes"),
        ("from = [0.5, 12.0, 4.0]", "strictly increasing"),
        ("from = [0.0, 4.0, 12.0]", "must lie in (0, 40]"),
    ] {
        let t = with("from = [0.5, 4.0, 12.0]", from);
        refused(&t, &from["from = ".len()..], says);
    }
    // A repeated class.
    let t = with(
        "classes = [\"none\", \"light\", \"medium\", \"heavy\"]",
        "classes = [\"none\", \"light\", \"light\", \"heavy\"]",
    );
    refused(&t, "[\"none\", \"light\", \"light\"", "is repeated");
    // The keys of another kind, a missing key, an unknown kind.
    let t = with("bounds = [0.0, 40.0]", "bounds = [0.0, 40.0]\np_true = \"0.5\"");
    refused(&t, "0.5\"", "p_true is for a binary outcome");
    let t = with("bounds = [0.0, 40.0]\n", "");
    refused(&t, "\"continuous\"", "needs bounds");
    let t = with("bounds = [0.0, 40.0]", "bounds = [40.0, 0.0]");
    refused(&t, "[40.0, 0.0]", "smallest < largest");
    let t = with("kind = \"continuous\"", "kind = \"ordinal\"");
    refused(&t, "\"ordinal\"", "binary, continuous or count");
    let t = with("expected = \"clamp(1.5 * adl + 0.5 * frailty, 0, 40)\"\n", "");
    refused(&t, "\"continuous\"", "needs `expected`");
    // A count with fractional bounds.
    let t = with("kind = \"continuous\"", "kind = \"count\"").replace("bounds = [0.0, 40.0]", "bounds = [0, 40.5]");
    refused(&t, "[0, 40.5]", "whole numbers");
    // Recourse has no meaning for a number.
    let t = format!(
        "{HOURS}\n[recourse]\nunfavourable = true\nwhy = \"x\"\n\n[[recourse.action]]\ncolumn = \"adl\"\ndirection = \"down\"\nmin = 0.0\nmax = 6.0\nunit = 1.0\nwhy = \"y\"\n"
    );
    refused(&t, "\"adl\"\ndirection", "recourse is for a yes/no outcome");
}

#[test]
fn eldercare_visitation_is_shipped_with_both_views_and_its_biases() {
    let s = synth::scenario_by_name("eldercare-visitation").unwrap();
    assert_eq!(s.outcome_kind(), synth::OutcomeKind::Continuous);
    let spec = |bias: Option<&str>| {
        let mut spec = DatasetSpec::new("eldercare-visitation", 40_000, 9).unwrap();
        if let Some(b) = bias {
            spec.apply_bias_args(&[b]).unwrap();
        }
        spec
    };
    let all = |spec: DatasetSpec| {
        let g = Generator::new(spec).unwrap();
        let batches: Vec<RecordBatch> = (0..g.num_batches()).map(|b| g.batch(b)).collect();
        arrow::compute::concat_batches(&g.schema(), &batches).unwrap()
    };
    let default = all(spec(None));
    let none = all(spec(Some("none")));
    // Label bias (default: non-Western citizens' needs recorded 15 % lower) changes the
    // recording of that group only; the truth is the same.
    assert_eq!(f64s(&default, "outcome_true"), f64s(&none, "outcome_true"));
    let origin = arrow::compute::cast(default.column_by_name("origin").unwrap(), &DataType::Utf8).unwrap();
    let origin = origin.as_string::<i32>();
    let (r1, r0) = (f64s(&default, "outcome_recorded"), f64s(&none, "outcome_recorded"));
    let mut in_group = 0;
    for i in 0..default.num_rows() {
        if origin.value(i).ends_with("non_western") {
            in_group += 1;
            assert_eq!(r1[i], (r0[i] * 0.85).clamp(0.0, 40.0), "row {i}");
        } else {
            assert_eq!(r1[i], r0[i], "row {i}");
        }
    }
    assert!(in_group > 100, "{in_group} non-Western citizens");
    // The recording, unbiased, still holds the process's own differences: a spouse is expected
    // to help, so those living with one are granted less of what they truly need.
    let truth = f64s(&none, "outcome_true");
    let alone = living_alone(&none);
    let ratio = |want: bool| {
        let (mut r, mut t) = (0.0, 0.0);
        for i in 0..none.num_rows() {
            if alone[i] == want {
                r += r0[i];
                t += truth[i];
            }
        }
        r / t
    };
    assert!(ratio(false) < 0.85 * ratio(true), "{} vs {}", ratio(false), ratio(true));
    for level in 0..4 {
        assert!(levels(&none, "level_true").contains(&level), "level {level}");
    }
}

/// Draws whose parameter can leave their domain were taken as given: a bernoulli() of a
/// "probability" above 1 always came out yes, a poisson() of a mean past 255 was silently cut.
#[test]
fn draws_with_parameters_out_of_their_domain_are_refused() {
    let t = with(
        "value = \"min(poisson(min(exp(-1 + 0.05 * (age - 75) + 0.8 * frailty), 30)), 6)\"",
        "value = \"min(poisson(min(exp(-1 + 0.05 * (age - 75) + 0.8 * frailty), 300)), 6)\"",
    );
    refused(&t, "min(exp(-1", "a Poisson mean above 100");
    let t = with(
        "[outcome]\n",
        "[[variable]]\nname = \"old_flag\"\ntype = \"bool\"\nmeaning = \"m\"\nparents = [\"age\"]\nvalue = \"bernoulli(age / 100)\"\n\n[outcome]\n",
    );
    refused(&t, "bernoulli(age / 100)", "needs a probability in [0, 1]");
}

/// Found by attacking the checker: three ways an accepted module wrote values it had not
/// declared. Each module below was accepted, and generated NaN or out-of-bounds values or a
/// constant "noise", before the fix.
#[test]
fn ranges_and_streams_the_checker_missed_are_caught() {
    let head = "format = \"sandkasse-scenario-v1\"\nname = \"attack-test\"\n\n[summary]\nen = \"x\"\nda = \"x\"\n\n[population]\nages = [18, 90]\n\n";
    // A count's truth is rounded: `truth` in `recorded` can be 1 where `value` is at least
    // 1.4, and sqrt(truth − 1.3) was NaN, written as 0 below the bounds.
    let t = format!(
        "{head}[outcome]\nkind = \"count\"\nmeaning = \"visits\"\nbounds = [1.0, 10.0]\nexpected = \"5\"\nvalue = \"uniform(1.4, 9.6)\"\nrecorded = \"clamp(1 + sqrt(truth - 1.3), 1, 10)\"\n"
    );
    refused(&t, "truth - 1.3", "sqrt");
    // clamp() with a bound that is a column: its range was taken at the bound's far end only.
    let t = format!(
        "{head}[[variable]]\nname = \"h\"\ntype = \"f64\"\nmeaning = \"years past 18\"\nparents = [\"age\"]\nvalue = \"max(age - 18, 0)\"\n\n[outcome]\nkind = \"continuous\"\nmeaning = \"hours\"\nbounds = [50.0, 100.0]\nexpected = \"clamp(1000, 0, h)\"\nvalue = \"clamp(expected, 50, 100)\"\n"
    );
    refused(&t, "clamp(1000, 0, h)", "outside the outcome's bounds");
    // A variable whose name hashed to the outcome's stream took the same draws as the
    // outcome's noise, which then cancelled out.
    let t = format!(
        "{head}[[variable]]\nname = \"v_e_a2i\"\ntype = \"f64\"\nlatent = true\nmeaning = \"an unobserved cause\"\nvalue = \"normal()\"\n\n[outcome]\nkind = \"continuous\"\nmeaning = \"hours\"\nbounds = [0.0, 20.0]\nexpected = \"clamp(10 + 0.5 * v_e_a2i, 0, 20)\"\nvalue = \"clamp(expected - 0.5 * normal(), 0, 20)\"\n"
    );
    let b = generate(&t, "attack-test", 5_000, &[]);
    let truth = f64s(&b, "outcome_true");
    assert!(
        truth.iter().any(|x| (x - 10.0).abs() > 0.1),
        "the outcome's noise is its own"
    );
}
