//! Replaying a run: is the record a new execution writes the same as the stored one?
//!
//! A record holds two kinds of fields. Its *findings* — what was scored (the model, manifest and
//! dataset by hash, the model's inspection, the dataset's spec and rows, the generator's version) and everything measured
//! from the decisions (report, verdicts, explanations, slices, paths, robustness) — are a pure
//! function of the model's bytes, the dataset spec and the seeds, so a replay must reproduce them
//! byte for byte. Its *circumstances* — when it started, how fast it went, which worker crashed,
//! which release and ONNX Runtime ran it, which isolation the kernel gave — describe one execution
//! and legitimately differ; a replay shows those that differ beside the verdict instead of failing
//! on them. [`compare`] serialises the findings of both records the same way and compares the
//! bytes; when they differ it names the first field where they part (fields in name order at
//! each level, array items in order).

use crate::RunRecord;
use serde::Serialize;

/// Longest a value quoted in a [`Difference`] is kept (in characters): a value can be a whole
/// section of a report.
pub const MAX_QUOTED_CHARS: usize = 300;

/// The part of a record a replay must reproduce byte for byte.
#[derive(Serialize)]
struct Findings<'a> {
    model_sha256: &'a str,
    manifest_sha256: &'a str,
    manifest: &'a inference::Manifest,
    inspection: &'a inference::Summary,
    dataset: &'a synth::DatasetSpec,
    dataset_sha256: &'a str,
    dataset_rows: u64,
    generator_version: &'a str,
    report: &'a crate::RunReport,
    verdicts: &'a [fairness::Verdict],
    explanations: Option<crate::Explanations>,
    slices: &'a Option<explain::Slices>,
    paths: Option<crate::Paths>,
    robustness: Option<crate::Robustness>,
}

impl<'a> Findings<'a> {
    fn of(r: &'a RunRecord) -> Self {
        let p = &r.provenance;
        let (explanations, paths, robustness) = without_timings(r);
        Findings {
            model_sha256: &p.model_sha256,
            manifest_sha256: &p.manifest_sha256,
            manifest: &p.manifest,
            inspection: &r.inspection,
            dataset: &p.dataset,
            dataset_sha256: &p.dataset_sha256,
            dataset_rows: p.dataset_rows,
            generator_version: &p.generator_version,
            report: &r.report,
            verdicts: &r.verdicts,
            explanations,
            slices: &r.slices,
            paths,
            robustness,
        }
    }
}

/// The stage sections of a record with each stage's wall time set to 0: how long a stage took
/// is a circumstance of one execution, not a finding. Every `seconds` field a stage writes is
/// listed here (a new stage with one must be added, or its replays never compare identical,
/// which the service's replay test of every sample model would show).
fn without_timings(
    r: &RunRecord,
) -> (
    Option<crate::Explanations>,
    Option<crate::Paths>,
    Option<crate::Robustness>,
) {
    let explanations = r.explanations.clone().map(|mut e| {
        e.seconds = 0.0;
        e
    });
    let paths = r.paths.clone().map(|mut p| {
        p.seconds = 0.0;
        p
    });
    let robustness = r.robustness.clone().map(|mut b| {
        b.stability.seconds = 0.0;
        if let Some(p) = b.perturbation.as_mut() {
            p.seconds = 0.0;
        }
        if let Some(c) = b.recourse.as_mut() {
            c.seconds = 0.0;
        }
        if let Some(s) = b.shift.as_mut() {
            s.seconds = 0.0;
        }
        b
    });
    (explanations, paths, robustness)
}

/// The canonical bytes of a record's findings (compact JSON in the record's field order), and
/// their SHA-256 in hex: what [`compare`] compares, and what a replay's outcome quotes.
pub fn findings_bytes(record: &RunRecord) -> Vec<u8> {
    // Serialising typed data to a Vec cannot fail (no map with non-string keys in a record).
    serde_json::to_vec(&Findings::of(record)).unwrap_or_default()
}

/// Where a replayed record first departs from the stored one.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Difference {
    /// The field, as a path into the record (`report.outcome_recorded.overall.tpr`,
    /// `verdicts[2].passed`).
    pub path: String,
    /// The stored value there (compact JSON, cut to [`MAX_QUOTED_CHARS`]); `null` when the
    /// stored record has no such field.
    pub stored: Option<String>,
    /// The replayed value there, likewise.
    pub replayed: Option<String>,
}

/// A circumstance of the execution that differs between the stored run and its replay: shown,
/// never a failure.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Changed {
    /// What differs: `sandbox_version`, `onnxruntime_version`, `isolation`,
    /// `isolation_allowed_missing`.
    pub what: String,
    /// As the stored record says.
    pub stored: String,
    /// As the replay ran.
    pub replayed: String,
}

/// The outcome of comparing a replayed record with the stored one.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// The findings of both records are the same bytes.
    pub identical: bool,
    /// SHA-256 of the stored record's findings ([`findings_bytes`]).
    pub stored_findings_sha256: String,
    /// SHA-256 of the replayed record's findings.
    pub replayed_findings_sha256: String,
    /// The first field that differs; `None` exactly when `identical`.
    pub first_difference: Option<Difference>,
    /// The circumstances that differ (versions, isolation); empty when none does.
    pub changed: Vec<Changed>,
}

/// Compares a replayed record with the stored one (see the module's documentation).
pub fn compare(stored: &RunRecord, replayed: &RunRecord) -> Comparison {
    let (a, b) = (findings_bytes(stored), findings_bytes(replayed));
    let identical = a == b;
    let first_difference = if identical {
        None
    } else {
        // Both parse: they were just serialised. A difference found by bytes is found by value
        // too, except for numbers equal as values but written differently, which typed
        // serialisation does not produce; the fallback names the whole findings then.
        let va: serde_json::Value = serde_json::from_slice(&a).unwrap_or_default();
        let vb: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
        Some(first_difference(&va, &vb, String::new()).unwrap_or_else(|| Difference {
            path: "(the findings' bytes)".into(),
            stored: Some(quote(&va)),
            replayed: Some(quote(&vb)),
        }))
    };
    Comparison {
        identical,
        stored_findings_sha256: hex_sha256(&a),
        replayed_findings_sha256: hex_sha256(&b),
        first_difference,
        changed: changed(stored, replayed),
    }
}

fn changed(stored: &RunRecord, replayed: &RunRecord) -> Vec<Changed> {
    let (s, r) = (&stored.provenance, &replayed.provenance);
    let isolation = |p: &crate::Provenance| {
        p.isolation
            .iter()
            .map(|l| format!("{}={}", l.layer, if l.active { "active" } else { "inactive" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let allowed = |p: &crate::Provenance| match &p.isolation_allowed_missing {
        None => "(not recorded)".to_owned(),
        Some(v) if v.is_empty() => "none".to_owned(),
        Some(v) => v.join(", "),
    };
    [
        ("sandbox_version", s.sandbox_version.clone(), r.sandbox_version.clone()),
        (
            "onnxruntime_version",
            s.onnxruntime_version.clone(),
            r.onnxruntime_version.clone(),
        ),
        ("isolation", isolation(s), isolation(r)),
        ("isolation_allowed_missing", allowed(s), allowed(r)),
    ]
    .into_iter()
    .filter(|(_, a, b)| a != b)
    .map(|(what, stored, replayed)| Changed {
        what: what.to_owned(),
        stored,
        replayed,
    })
    .collect()
}

/// The first place where two JSON documents differ: fields in name order at each level (the
/// order of `serde_json`'s maps), array items in order.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<Difference> {
    use serde_json::Value;
    let here = |a: Option<&Value>, b: Option<&Value>, path: String| Difference {
        path: if path.is_empty() {
            "(the whole record)".into()
        } else {
            path
        },
        stored: a.map(quote),
        replayed: b.map(quote),
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, p) {
                            return Some(d);
                        }
                    }
                    None => return Some(here(Some(va), None, p)),
                }
            }
            y.iter().find(|(k, _)| !x.contains_key(*k)).map(|(k, vb)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                here(None, Some(vb), p)
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(va, vb, format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            let n = x.len().min(y.len());
            (x.len() != y.len()).then(|| here(x.get(n), y.get(n), format!("{path}[{n}]")))
        }
        _ if a == b => None,
        _ => Some(here(Some(a), Some(b), path)),
    }
}

fn quote(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_QUOTED_CHARS {
        return s;
    }
    let mut cut: String = s.chars().take(MAX_QUOTED_CHARS).collect();
    cut.push('…');
    cut
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a = json!({"report": {"overall": {"tpr": 0.5, "fpr": 0.1}, "groups": [1, 2, 3]}, "verdicts": [true]});
        let b = json!({"report": {"overall": {"tpr": 0.5, "fpr": 0.2}, "groups": [1, 2, 3]}, "verdicts": [false]});
        let d = first_difference(&a, &b, String::new()).unwrap();
        assert_eq!(d.path, "report.overall.fpr");
        assert_eq!((d.stored.as_deref(), d.replayed.as_deref()), (Some("0.1"), Some("0.2")));
        let c = json!({"report": {"overall": {"tpr": 0.5, "fpr": 0.1}, "groups": [1, 2]}, "verdicts": [true]});
        let d = first_difference(&a, &c, String::new()).unwrap();
        assert_eq!(d.path, "report.groups[2]");
        assert_eq!((d.stored.as_deref(), d.replayed), (Some("3"), None));
        let e =
            json!({"report": {"overall": {"tpr": 0.5, "fpr": 0.1}, "groups": [1, 2, 3]}, "verdicts": [true], "x": 1});
        assert_eq!(first_difference(&a, &e, String::new()).unwrap().path, "x");
        assert_eq!(first_difference(&a, &a, String::new()), None);
    }

    #[test]
    fn a_long_value_is_cut() {
        let long = serde_json::Value::String("x".repeat(5000));
        let q = quote(&long);
        assert_eq!(q.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(q.ends_with('…'));
    }
}
