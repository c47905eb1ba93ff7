//! Reading the run record: every accessor tolerates missing or mistyped parts.

use serde_json::Value;

/// The value at `path`, if every step exists.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

pub(crate) fn num(v: &Value, path: &[&str]) -> Option<f64> {
    get(v, path)?.as_f64()
}

pub(crate) fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path)?.as_str()
}

pub(crate) fn flag(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path)?.as_bool()
}

/// The array at `path`, or an empty slice.
pub(crate) fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// A two-element numeric array such as an interval.
pub(crate) fn pair(v: Option<&Value>) -> Option<(f64, f64)> {
    let a = v?.as_array()?;
    Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
}

/// A metric as the report writes it: a value (or null with a reason) and intervals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metric {
    pub value: Option<f64>,
    pub null_reason: Option<String>,
    /// The bootstrap interval where there is one, else the analytic (Wilson etc.) interval.
    pub ci: Option<(f64, f64)>,
}

impl Metric {
    pub(crate) fn from_value(m: &Value) -> Option<Self> {
        if !m.is_object() {
            return m.as_f64().map(|x| Self {
                value: Some(x),
                null_reason: None,
                ci: None,
            });
        }
        Some(Self {
            value: m.get("value").and_then(Value::as_f64),
            null_reason: m.get("null_reason").and_then(Value::as_str).map(str::to_owned),
            ci: pair(m.get("bootstrap_interval")).or_else(|| pair(m.get("interval"))),
        })
    }
}

/// Metric `name` of a `metrics` map.
pub(crate) fn metric(metrics: Option<&Value>, name: &str) -> Option<Metric> {
    Metric::from_value(metrics?.get(name)?)
}
