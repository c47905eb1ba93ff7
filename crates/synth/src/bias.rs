//! Injected bias: the knobs that make a dataset unfair in known, measurable ways.
//!
//! Each knob simulates a mechanism documented in the fairness literature and seen in public
//! case work. Because the generator also records the unbiased truth (`p_true`, `outcome_true`),
//! the sandbox can show whether a model learned the injected bias.

use crate::error::SynthError;
use crate::model::{Citizen, Origin};
use serde::{Deserialize, Serialize};

/// Which citizens a knob applies to: `origin:<value>` or `sex:<M|F>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Group {
    spec: String,
    /// Membership by origin group (all true for a `sex:` selector).
    origins: [bool; 5],
    /// `Some(male)` for a `sex:` selector.
    sex: Option<bool>,
}

/// Written as its selector text, as it is serialized.
impl schemars::JsonSchema for Group {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BiasGroup".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Which citizens a bias knob applies to: `origin:<value>` or `sex:<M|F>`."
        })
    }
}

/// The origin values a group selector accepts, with the groups each one covers.
pub const ORIGIN_SELECTORS: &[(&str, &[Origin])] = &[
    ("danish", &[Origin::Danish]),
    ("immigrant_western", &[Origin::ImmigrantWestern]),
    ("immigrant_non_western", &[Origin::ImmigrantNonWestern]),
    ("descendant_western", &[Origin::DescendantWestern]),
    ("descendant_non_western", &[Origin::DescendantNonWestern]),
    ("western", &[Origin::ImmigrantWestern, Origin::DescendantWestern]),
    (
        "non_western",
        &[Origin::ImmigrantNonWestern, Origin::DescendantNonWestern],
    ),
    ("immigrant", &[Origin::ImmigrantWestern, Origin::ImmigrantNonWestern]),
    (
        "non_danish",
        &[
            Origin::ImmigrantWestern,
            Origin::ImmigrantNonWestern,
            Origin::DescendantWestern,
            Origin::DescendantNonWestern,
        ],
    ),
];

impl Group {
    /// Reads a group selector (`origin=...` or `sex=M`/`sex=F`), as `--bias` and the spec write it.
    pub fn parse(spec: &str) -> Result<Self, SynthError> {
        let bad = |reason: String| SynthError::BadGroup {
            spec: spec.to_owned(),
            reason,
        };
        let (attr, value) = spec
            .split_once(':')
            .ok_or_else(|| bad("expected ATTRIBUTE:VALUE, e.g. origin:non_western or sex:F".into()))?;
        match attr {
            "origin" => {
                let (_, members) = ORIGIN_SELECTORS.iter().find(|(n, _)| *n == value).ok_or_else(|| {
                    let known: Vec<&str> = ORIGIN_SELECTORS.iter().map(|(n, _)| *n).collect();
                    bad(format!("unknown origin {value:?}; known: {}", known.join(", ")))
                })?;
                let mut origins = [false; 5];
                for o in *members {
                    origins[*o as usize] = true;
                }
                Ok(Self {
                    spec: spec.to_owned(),
                    origins,
                    sex: None,
                })
            }
            "sex" => {
                let male = match value {
                    "M" => true,
                    "F" => false,
                    _ => return Err(bad(format!("unknown sex {value:?}; known: M, F"))),
                };
                Ok(Self {
                    spec: spec.to_owned(),
                    origins: [true; 5],
                    sex: Some(male),
                })
            }
            _ => Err(bad(format!("unknown attribute {attr:?}; known: origin, sex"))),
        }
    }

    /// Whether the citizen is in the group.
    pub fn contains(&self, c: &Citizen) -> bool {
        self.origins[c.origin as usize] && self.sex.is_none_or(|m| m == c.male)
    }

    /// Whether every citizen of this origin is in the group (false for a sex selector).
    pub fn contains_origin(&self, o: Origin) -> bool {
        self.sex.is_none() && self.origins[o as usize]
    }

    /// `Some(male)` when this is a sex selector.
    pub fn sex(&self) -> Option<bool> {
        self.sex
    }

    /// The selector as written, stored in the spec so the dataset's metadata says which group was biased.
    pub fn spec(&self) -> &str {
        &self.spec
    }
}

impl TryFrom<String> for Group {
    type Error = SynthError;
    fn try_from(s: String) -> Result<Self, SynthError> {
        Group::parse(&s)
    }
}

impl From<Group> for String {
    fn from(g: Group) -> String {
        g.spec
    }
}

/// Whether label bias hides true positives or invents false ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A true positive is recorded as negative with probability `rate` (e.g. need not recorded
    /// because the group was less often referred).
    Down,
    /// A true negative is recorded as positive with probability `rate` (e.g. a group more often
    /// written up as a failure).
    Up,
}

/// Every bias knob of one dataset. Serialized into the dataset's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BiasConfig {
    /// Label bias (historical caseworker bias): the recorded outcome of `label_group` is flipped
    /// with probability `label_rate` in `label_direction`.
    pub label_rate: f64,
    /// Whose recorded outcome is flipped.
    pub label_group: Group,
    /// Which way the flips go.
    pub label_direction: Direction,
    /// Representation bias (sampling bias): `representation_group` is sampled at
    /// `representation_factor` times its real share (within each age and sex).
    pub representation_factor: f64,
    /// Who is under- or oversampled.
    pub representation_group: Group,
    /// Measurement bias: `measurement_feature` is observed with extra Gaussian noise of standard
    /// deviation `measurement_sd` for `measurement_group` (e.g. foreign work history missing
    /// from Danish registers, an assessment done through an interpreter). The outcome depends on
    /// the true value.
    pub measurement_sd: f64,
    /// Whose feature is observed with noise.
    pub measurement_group: Group,
    /// The feature observed with noise; `None` when the scenario has none to disturb.
    pub measurement_feature: Option<String>,
    /// Proxy strength: how strongly municipality encodes origin. 1 is Denmark as it is, 0 makes
    /// municipality independent of origin, above 1 exaggerates segregation.
    pub proxy_strength: f64,
}

/// The keys `--bias KEY=VALUE` accepts.
pub const KEYS: &[&str] = &[
    "label_rate",
    "label_group",
    "label_direction",
    "representation_factor",
    "representation_group",
    "measurement_sd",
    "measurement_group",
    "measurement_feature",
    "proxy_strength",
];

impl BiasConfig {
    /// No injected bias: recorded labels equal the truth, sampling is representative, features
    /// are measured equally well for all. Geography stays as it is in Denmark (strength 1):
    /// segregation is a fact of the population, not an injected bias; set
    /// `proxy_strength=0` to remove it.
    pub fn none(measurement_feature: Option<&str>) -> Self {
        let nw = Group::parse("origin:non_western").expect("static selector");
        Self {
            label_rate: 0.0,
            label_group: nw.clone(),
            label_direction: Direction::Down,
            representation_factor: 1.0,
            representation_group: nw.clone(),
            measurement_sd: 0.0,
            measurement_group: nw,
            measurement_feature: measurement_feature.map(str::to_owned),
            proxy_strength: 1.0,
        }
    }

    /// True when no knob injects anything.
    pub fn is_none(&self) -> bool {
        self.label_rate == 0.0
            && self.representation_factor == 1.0
            && self.measurement_sd == 0.0
            && self.proxy_strength == 1.0
    }

    /// Applies one `KEY=VALUE` setting, validating it against the scenario's features.
    pub fn set(
        &mut self,
        key: &str,
        value: &str,
        numeric_features: &[&str],
        has_outcome: bool,
    ) -> Result<(), SynthError> {
        let bad = |reason: &str| SynthError::BadBiasValue {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let number = |lo: f64, hi: f64| -> Result<f64, SynthError> {
            let v: f64 = value.parse().map_err(|_| bad("not a number"))?;
            if !(lo..=hi).contains(&v) {
                return Err(bad(&format!("must be between {lo} and {hi}")));
            }
            Ok(v)
        };
        if key.starts_with("label_") && !has_outcome {
            return Err(bad("this scenario has no outcome to bias"));
        }
        if key.starts_with("measurement_") && numeric_features.is_empty() {
            return Err(bad("this scenario has no measured feature to bias"));
        }
        match key {
            "label_rate" => self.label_rate = number(0.0, 1.0)?,
            "label_group" => self.label_group = Group::parse(value)?,
            "label_direction" => {
                self.label_direction = match value {
                    "down" => Direction::Down,
                    "up" => Direction::Up,
                    _ => return Err(bad("must be down or up")),
                }
            }
            "representation_factor" => {
                self.representation_factor = number(0.01, 10.0)?;
            }
            "representation_group" => self.representation_group = Group::parse(value)?,
            "measurement_sd" => self.measurement_sd = number(0.0, 1000.0)?,
            "measurement_group" => self.measurement_group = Group::parse(value)?,
            "measurement_feature" => {
                if !numeric_features.contains(&value) {
                    return Err(bad(&format!(
                        "not a numeric feature of this scenario; known: {}",
                        numeric_features.join(", ")
                    )));
                }
                self.measurement_feature = Some(value.to_owned());
            }
            "proxy_strength" => self.proxy_strength = number(0.0, 3.0)?,
            _ => {
                return Err(SynthError::UnknownBiasKey {
                    key: key.to_owned(),
                    known: KEYS.join(", "),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_and_reject() {
        let g = Group::parse("origin:non_western").unwrap();
        assert!(g.contains_origin(Origin::ImmigrantNonWestern));
        assert!(g.contains_origin(Origin::DescendantNonWestern));
        assert!(!g.contains_origin(Origin::Danish));
        assert_eq!(Group::parse("sex:F").unwrap().sex(), Some(false));
        for bad in ["origin", "origin:martian", "sex:X", "age:30"] {
            let e = Group::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn settings_are_validated() {
        let mut b = BiasConfig::none(Some("x"));
        b.set("label_rate", "0.2", &["x"], true).unwrap();
        assert_eq!(b.label_rate, 0.2);
        assert!(b.set("label_rate", "1.5", &["x"], true).is_err());
        assert!(b.set("label_rate", "abc", &["x"], true).is_err());
        assert!(b.set("label_rate", "0.1", &["x"], false).is_err());
        assert!(b.set("measurement_feature", "y", &["x"], true).is_err());
        let e = b.set("colour", "red", &["x"], true).unwrap_err().to_string();
        assert!(e.contains("colour") && e.contains("label_rate"), "{e}");
        assert!(!b.is_none());
        assert!(BiasConfig::none(None).is_none());
    }
}
