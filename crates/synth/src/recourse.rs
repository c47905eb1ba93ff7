//! Recourse: which decision a citizen of a scenario would want changed, and which of its inputs
//! a citizen (or the authority, on their behalf) can act on, with their allowed direction and
//! bounds. The robustness stage (issue 16) searches the smallest such change that changes a
//! model's decision; what it finds is something the authority could tell the citizen.

/// Which way an actionable input may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionDirection {
    /// Only up.
    Up,
    /// Only down.
    Down,
    /// Either way.
    Either,
}

/// An input that can be acted on.
#[derive(Debug, Clone, PartialEq)]
pub struct Actionable {
    /// The column.
    pub column: &'static str,
    /// Which way it may move.
    pub direction: ActionDirection,
    /// Smallest value it may take.
    pub min: f64,
    /// Largest value it may take.
    pub max: f64,
    /// The smallest step it moves by when a float column is recorded in whole units (a score in
    /// whole points, hours in quarters); integer columns move by whole numbers regardless.
    pub unit: Option<f64>,
    /// What acting on it means, for the reader.
    pub why: &'static str,
}

/// A scenario's recourse: the unfavourable decision and the actionable inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct RecourseSpec {
    /// The decision a citizen wants changed: true for the positive one.
    pub unfavourable: bool,
    /// Why that decision is the unfavourable one.
    pub why: &'static str,
    /// The inputs, each tried alone.
    pub actions: Vec<Actionable>,
}

#[cfg(test)]
mod tests {
    /// Every actionable input is a numeric column of its scenario, with bounds in order.
    #[test]
    fn every_actionable_input_is_a_number_of_its_scenario() {
        for scenario in crate::scenario::names() {
            let columns = crate::scenario::columns(scenario).unwrap();
            let Some(spec) = crate::scenario::recourse_spec(scenario).unwrap() else {
                continue;
            };
            assert!(!spec.actions.is_empty() && !spec.why.is_empty(), "{scenario}");
            for a in &spec.actions {
                let d = columns
                    .iter()
                    .find(|d| d.name == a.column)
                    .unwrap_or_else(|| panic!("{}", a.column));
                assert!(d.data_type.is_integer() || d.data_type.is_floating(), "{}", a.column);
                assert!(a.min < a.max && !a.why.is_empty(), "{}", a.column);
            }
        }
    }
}
