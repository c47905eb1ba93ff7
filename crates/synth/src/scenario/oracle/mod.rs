//! The Rust implementations the shipped scenario modules replaced, kept only as the oracle the
//! modules are tested against byte for byte (`crate::module::tests`).

mod population;
mod rehabilitation;
mod unemployment;

use super::Scenario;

/// The Rust implementation of a shipped scenario.
pub fn by_name(name: &str) -> Option<Box<dyn Scenario>> {
    let all: Vec<Box<dyn Scenario>> = vec![
        Box::new(population::Population),
        Box::new(unemployment::UnemploymentRisk),
        Box::new(rehabilitation::RehabilitationNeed),
    ];
    all.into_iter().find(|s| s.name() == name)
}
