//! The shipped modules against the Rust scenarios they replaced (kept as the test oracle):
//! byte for byte, with every knob, twins and path-specific twins.

use super::load;
use crate::generate::Generator;
use crate::paths::Path;
use crate::scenario::{Scenario, oracle};
use crate::spec::{Counterfactual, DatasetSpec};
use arrow::record_batch::RecordBatch;

fn pair(name: &str) -> (Box<dyn Scenario>, Box<dyn Scenario>) {
    let oracle = oracle::by_name(name).expect("an oracle of every shipped scenario");
    let module = crate::scenario::by_name(name).expect("shipped");
    (oracle, module)
}

fn generators(spec: &DatasetSpec) -> (Generator, Generator) {
    let (o, m) = pair(&spec.scenario);
    (
        Generator::with_scenario(spec.clone(), o).unwrap(),
        Generator::with_scenario(spec.clone(), m).unwrap(),
    )
}

fn same_batches(spec: &DatasetSpec) {
    let (o, m) = generators(spec);
    assert_eq!(
        o.schema(),
        m.schema(),
        "{}: schema and its metadata (dictionary, spec)",
        spec.scenario
    );
    for b in 0..o.num_batches() {
        let (x, y): (RecordBatch, RecordBatch) = (o.batch(b), m.batch(b));
        for (i, f) in x.schema().fields().iter().enumerate() {
            assert_eq!(
                x.column(i).to_data(),
                y.column(i).to_data(),
                "{} batch {b}: column {} differs",
                spec.scenario,
                f.name()
            );
        }
    }
}

#[test]
fn the_module_ports_describe_their_scenarios_as_the_rust_code_did() {
    for name in ["population", "unemployment-risk", "rehabilitation-need"] {
        let (o, m) = pair(name);
        assert_eq!(o.name(), m.name());
        assert_eq!(o.summary(), m.summary(), "{name}");
        assert_eq!(o.ages(), m.ages(), "{name}");
        assert_eq!(o.has_outcome(), m.has_outcome(), "{name}");
        assert_eq!(o.numeric_features(), m.numeric_features(), "{name}");
        assert_eq!(o.default_bias(), m.default_bias(), "{name}");
        assert_eq!(o.proxies(), m.proxies(), "{name}");
        assert_eq!(o.measurement_errors(), m.measurement_errors(), "{name}");
        assert_eq!(o.recourse(), m.recourse(), "{name}");
        assert_eq!(o.fixed_employment(), m.fixed_employment(), "{name}");
        let (a, b) = (o.columns(), m.columns());
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
            "{name}: dictionary"
        );
        for age in 0..=crate::population::MAX_AGE {
            for male in [false, true] {
                assert_eq!(
                    o.cohort_weight(age, male).to_bits(),
                    m.cohort_weight(age, male).to_bits(),
                    "{name} cohort weight at {age}"
                );
            }
        }
        for origin in crate::model::Origin::ALL {
            assert_eq!(o.origin_weight(*origin), m.origin_weight(*origin), "{name} {origin:?}");
        }
    }
}

/// One million citizens of each scenario with its default bias, byte for byte.
#[test]
fn a_million_citizens_of_each_module_are_the_rust_scenarios_bytes() {
    for name in ["unemployment-risk", "rehabilitation-need", "population"] {
        let spec = DatasetSpec::new(name, 1_000_000, 20261202).unwrap();
        same_batches(&spec);
    }
}

/// Every bias knob, each measurable feature targeted, and twins of both attributes.
#[test]
fn every_knob_and_twin_gives_the_same_bytes() {
    for name in ["unemployment-risk", "rehabilitation-need"] {
        let (o, _) = pair(name);
        for feature in o.numeric_features() {
            let mut spec = DatasetSpec::new(name, 20_000, 7).unwrap();
            spec.apply_bias_args(&[
                format!("measurement_feature={feature}"),
                "measurement_sd=6".into(),
                "measurement_group=sex:F".into(),
                "label_rate=0.3".into(),
                "label_direction=down".into(),
                "label_group=origin:immigrant".into(),
                "representation_factor=0.5".into(),
                "proxy_strength=2".into(),
            ])
            .unwrap();
            same_batches(&spec);
        }
        for attr in [Counterfactual::Sex, Counterfactual::Origin] {
            let mut spec = DatasetSpec::new(name, 20_000, 11).unwrap();
            spec.counterfactual = Some(attr);
            same_batches(&spec);
        }
        let mut spec = DatasetSpec::new(name, 5_000, 3).unwrap();
        spec.apply_bias_args(&["none"]).unwrap();
        same_batches(&spec);
    }
}

/// Path-specific twins recompute the same descendants with the same draws held.
#[test]
fn path_specific_twins_of_a_module_are_the_rust_twins() {
    for name in ["unemployment-risk", "rehabilitation-need"] {
        for attr in [Counterfactual::Origin, Counterfactual::Sex] {
            let mut spec = DatasetSpec::new(name, 4_000, 5).unwrap();
            spec.counterfactual = Some(attr);
            let (o, m) = generators(&spec);
            let paths: Vec<_> = [Path::Total, Path::Proxy, Path::Mediated]
                .iter()
                .map(|p| {
                    (
                        o.resolve_path(attr, p, None).unwrap(),
                        m.resolve_path(attr, p, None).unwrap(),
                    )
                })
                .collect();
            let (po, pm): (Vec<_>, Vec<_>) = paths.into_iter().unzip();
            for (a, b) in po.iter().zip(&pm) {
                assert_eq!(a.recompute, b.recompute, "{name} {attr:?}");
            }
            let (xo, to) = o.path_twins(attr, &po, 0..4_000).unwrap();
            let (xm, tm) = m.path_twins(attr, &pm, 0..4_000).unwrap();
            assert_eq!(xo, xm, "{name} {attr:?}: citizens");
            for (k, (a, b)) in to.iter().zip(&tm).enumerate() {
                assert_eq!(a, b, "{name} {attr:?}: twins of path {k}");
            }
        }
    }
}

#[test]
fn a_module_loads_once_per_process_and_is_found_by_its_hash() {
    let text = crate::scenario::shipped_source("unemployment-risk").unwrap();
    let a = load("a.toml", text).unwrap();
    let b = load("b.toml", text).unwrap();
    assert!(std::ptr::eq(a.0, b.0));
    assert_eq!(super::loaded(a.sha256()).unwrap().sha256(), a.sha256());
}
