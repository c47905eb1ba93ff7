//! `population`: the plain population, all ages, no outcome.

use crate::bias::BiasConfig;
use crate::dictionary::ColumnDoc;
use crate::model::Citizen;
use crate::paths::Recompute;
use crate::rng::RowRng;
use crate::scenario::{Scenario, ScenarioColumns};
use arrow::array::ArrayRef;
use std::ops::RangeInclusive;

/// `population`: the plain population, all ages, no outcome.
#[derive(Debug, Clone, Copy)]
pub struct Population;

impl Scenario for Population {
    fn name(&self) -> &'static str {
        "population"
    }

    fn summary(&self) -> &'static str {
        "The plain synthetic population of Denmark, all ages, no outcome: the base every other \
         scenario draws from. Age and sex follow DST's pyramid, municipalities DST's populations, \
         origin the 2023 shares by age and geography."
    }

    fn ages(&self) -> RangeInclusive<u8> {
        0..=crate::population::MAX_AGE
    }

    fn has_outcome(&self) -> bool {
        false
    }

    fn columns(&self) -> Vec<ColumnDoc> {
        Vec::new()
    }

    fn builder(&self, _capacity: usize) -> Box<dyn ScenarioColumns> {
        Box::new(NoColumns)
    }
}

struct NoColumns;

impl ScenarioColumns for NoColumns {
    fn push(&mut self, _: &Citizen, _: &RowRng, _: &BiasConfig, _: Option<&Recompute>) {}

    fn finish(self: Box<Self>) -> Vec<ArrayRef> {
        Vec::new()
    }
}
