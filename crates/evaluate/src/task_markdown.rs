//! The Markdown of a regression or multi-class run's report: overall, per group of each attribute
//! and per intersection, against the recorded outcome and against the truth, with the disparities.
//! Group values come from the data and class names from the vendor's manifest: each is escaped as
//! a table cell.

use crate::record::TaskReports;
use escape::markdown_cell as cell;
use fairness::tasks::multiclass::MulticlassMetrics;
use fairness::tasks::regression::RegressionMetrics;
use fairness::{AttributeOutcome, MulticlassReport, RegressionReport, Value};
use std::fmt::Write;

/// A metric's value to four decimals, or why it is undefined.
pub(crate) fn value(v: &Value) -> String {
    match v.value {
        Some(x) => format!("{x:.4}"),
        None => format!("n/a ({})", v.null_reason.map_or("no value", |r| r.as_str())),
    }
}

/// A metric column of a report: its name and how to read it from a group's metrics.
pub(crate) type Column<M> = (&'static str, fn(&M) -> &Value);

/// The metrics of a regression report, in the order of its columns.
pub(crate) type RegressionColumn = Column<RegressionMetrics>;

/// The regression columns shown per group.
pub(crate) const REGRESSION_COLUMNS: [RegressionColumn; 7] = [
    ("mean_outcome", |m| &m.mean_outcome),
    ("mean_prediction", |m| &m.mean_prediction),
    ("mean_error", |m| &m.mean_error),
    ("mean_absolute_error", |m| &m.mean_absolute_error),
    ("root_mean_squared_error", |m| &m.root_mean_squared_error),
    ("r2", |m| &m.r2),
    ("ks_to_reference", |m| &m.ks_to_reference),
];

/// The multi-class summary columns shown per group.
pub(crate) type MulticlassColumn = Column<MulticlassMetrics>;

/// The multi-class summary columns.
pub(crate) const MULTICLASS_COLUMNS: [MulticlassColumn; 4] = [
    ("accuracy", |m| &m.accuracy),
    ("macro_true_positive_rate", |m| &m.macro_true_positive_rate),
    ("macro_false_positive_rate", |m| &m.macro_false_positive_rate),
    ("macro_precision", |m| &m.macro_precision),
];

fn header(s: &mut String, title: &str, r: &TaskReports<impl Sized>, rows: u64) {
    let _ = writeln!(s, "# {title}\n");
    let _ = writeln!(
        s,
        "{rows} rows, judged against `{}` (the outcome as recorded) and against `{}` (the true outcome). Groups smaller than {} rows are shown but kept out of the disparities.\n",
        cell(&r.recorded_column),
        cell(&r.true_column),
        r.min_group_size
    );
}

fn stability(s: &mut String, r: &TaskReports<impl Sized>) {
    let Some(st) = &r.stability else { return };
    let _ = writeln!(
        s,
        "## Stability\n\n{}\n\n| check | rows | rows differing | largest difference | first rows differing | error |\n| --- | ---: | ---: | ---: | --- | --- |",
        if st.stable {
            "Stable: every prediction of the first request was the same scored again as it was, shuffled and row by row."
        } else {
            "**Unstable**: a prediction depended on more than its own row (its batch, its position or chance)."
        }
    );
    for c in &st.checks {
        let rows: Vec<String> = c.examples.iter().map(u64::to_string).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3e} | {} | {} |",
            cell(&c.check),
            c.rows,
            c.rows_differing,
            c.max_difference,
            rows.join(", "),
            c.error.as_deref().map_or(String::new(), cell)
        );
    }
    s.push('\n');
}

fn not_computed(s: &mut String, r: &TaskReports<impl Sized>) {
    if r.not_computed.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Not computed for this task yet\n");
    for n in &r.not_computed {
        let _ = writeln!(s, "- {}", cell(n));
    }
    s.push('\n');
}

fn table<M>(s: &mut String, a: &AttributeOutcome<M>, against: &str, columns: &[Column<M>]) {
    let _ = writeln!(
        s,
        "## {} against {} (reference group: {})\n",
        cell(&a.attribute),
        against,
        a.reference.as_deref().map_or("none".to_owned(), cell)
    );
    let _ = write!(s, "| group | rows |");
    for (name, _) in columns {
        let _ = write!(s, " {name} |");
    }
    let _ = write!(s, "\n| --- | ---: |");
    for _ in columns {
        s.push_str(" ---: |");
    }
    s.push('\n');
    for g in &a.groups {
        let _ = write!(
            s,
            "| {}{} | {} |",
            cell(&g.group),
            if g.small { " (small)" } else { "" },
            g.count
        );
        for (_, get) in columns {
            let _ = write!(s, " {} |", value(get(&g.metrics)));
        }
        s.push('\n');
    }
    if a.disparities.is_empty() {
        s.push('\n');
        return;
    }
    let _ = writeln!(
        s,
        "\n| disparity | difference between groups | ratio between groups | largest difference to overall | smallest ratio to overall | left out |\n| --- | ---: | ---: | ---: | ---: | --- |"
    );
    for d in &a.disparities {
        let left: Vec<String> = d
            .excluded
            .iter()
            .map(|l| format!("{}: {}", cell(&l.group), cell(&l.reason)))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&d.metric),
            value(&d.difference_between_groups),
            value(&d.ratio_between_groups),
            value(&d.difference_to_overall),
            value(&d.ratio_to_overall),
            left.join("; ")
        );
    }
    s.push('\n');
}

fn overall<M>(s: &mut String, recorded: &M, truth: &M, columns: &[Column<M>]) {
    let _ = writeln!(
        s,
        "## Overall\n\n| metric | against the recorded outcome | against the true outcome |\n| --- | ---: | ---: |"
    );
    for (name, get) in columns {
        let _ = writeln!(s, "| {name} | {} | {} |", value(get(recorded)), value(get(truth)));
    }
    s.push('\n');
}

/// A regression run's report.
pub(crate) fn regression_markdown(r: &TaskReports<RegressionReport>) -> String {
    let mut s = String::new();
    header(&mut s, "Regression report", r, r.recorded.rows);
    let columns = &REGRESSION_COLUMNS[..6];
    overall(&mut s, &r.recorded.overall, &r.truth.overall, columns);
    for (rep, against) in [(&r.recorded, "the recorded outcome"), (&r.truth, "the true outcome")] {
        for a in rep.attributes.iter().chain(&rep.intersection) {
            table(&mut s, a, against, &REGRESSION_COLUMNS);
        }
    }
    stability(&mut s, r);
    not_computed(&mut s, r);
    s
}

/// A multi-class run's report.
pub(crate) fn multiclass_markdown(r: &TaskReports<MulticlassReport>) -> String {
    let mut s = String::new();
    header(&mut s, "Multi-class report", r, r.recorded.rows);
    let _ = writeln!(
        s,
        "Classes: {}.\n",
        r.recorded
            .classes
            .iter()
            .map(|c| cell(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    overall(&mut s, &r.recorded.overall, &r.truth.overall, &MULTICLASS_COLUMNS);
    let _ = writeln!(
        s,
        "| class (one vs rest) | selection rate | TPR (recorded) | FPR (recorded) | precision (recorded) | TPR (true) | FPR (true) | precision (true) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (c, t) in r.recorded.overall.classes.iter().zip(&r.truth.overall.classes) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&c.class),
            value(&c.selection_rate),
            value(&c.true_positive_rate),
            value(&c.false_positive_rate),
            value(&c.precision),
            value(&t.true_positive_rate),
            value(&t.false_positive_rate),
            value(&t.precision)
        );
    }
    s.push('\n');
    for (rep, against) in [(&r.recorded, "the recorded outcome"), (&r.truth, "the true outcome")] {
        for a in rep.attributes.iter().chain(&rep.intersection) {
            table(&mut s, a, against, &MULTICLASS_COLUMNS);
        }
    }
    stability(&mut s, r);
    not_computed(&mut s, r);
    s
}
