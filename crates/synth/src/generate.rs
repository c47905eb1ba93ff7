//! Turning a [`DatasetSpec`] into Arrow record batches.
//!
//! Batch `b` is a pure function of the spec and `b`, so batches can be made on any thread in
//! any order and the dataset is still the same bytes.

use crate::SynthError;
use crate::dictionary::{self, ColumnDoc};
use crate::model::Citizen;
use crate::paths::{Path, ResolvedPath};
use crate::population::{Intervention, PopulationModel};
use crate::refdata;
use crate::rng::{RowRng, hash_str, mix64};
use crate::scenario::Scenario;
use crate::spec::{Counterfactual, DatasetSpec};
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Int16Array, Int32Array, RecordBatch, StringArray,
    StringBuilder, UInt8Array, UInt16Array, UInt64Array,
};
use arrow::buffer::{Buffer, OffsetBuffer};
use arrow::datatypes::{Int16Type, Schema, SchemaRef};
use std::collections::HashMap;
use std::sync::Arc;

/// Metadata keys written into every dataset (Parquet key-value metadata, Arrow schema
/// metadata, or the CSV sidecar).
pub mod meta {
    /// The scenario's name.
    pub const SCENARIO: &str = "sandkasse.scenario";
    /// The whole [`DatasetSpec`](crate::DatasetSpec) as JSON, so a file can be regenerated and evaluated from its own header.
    pub const SPEC: &str = "sandkasse.spec";
    /// The seed.
    pub const SEED: &str = "sandkasse.seed";
    /// The generator's version; another version may make other citizens from the same seed.
    pub const GENERATOR_VERSION: &str = "sandkasse.generator_version";
    /// The data dictionary as JSON.
    pub const DICTIONARY: &str = "sandkasse.data_dictionary";
    /// `exact`, or how the age distribution was capped for a dataset beyond the exact capacity.
    pub const AGE_LAYOUT: &str = "sandkasse.age_distribution";
}

/// Makes the batches of one dataset.
#[derive(Debug)]
pub struct Generator {
    spec: DatasetSpec,
    scenario: Box<dyn Scenario>,
    model: PopulationModel,
    key: u64,
    schema: SchemaRef,
    columns: Vec<ColumnDoc>,
    dicts: Dicts,
    /// Written in the training layout ([`Generator::for_training`]).
    training: Option<SchemaRef>,
}

/// The value arrays of the categorical columns, shared by every batch.
#[derive(Debug)]
struct Dicts {
    sex: ArrayRef,
    origin: ArrayRef,
    country: ArrayRef,
    municipality: ArrayRef,
    region: ArrayRef,
    education: ArrayRef,
    employment: ArrayRef,
    household: ArrayRef,
    /// Municipality index -> region index.
    region_of: Vec<i16>,
}

impl Dicts {
    /// The dictionaries are the data dictionary's category lists, so the values a manifest is
    /// checked against are exactly the ones the data can hold.
    fn new() -> Self {
        let d = refdata::get();
        let docs = dictionary::population_columns();
        let strings = |name: &str| -> ArrayRef {
            let values = docs
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.values.clone())
                .unwrap_or_default();
            Arc::new(StringArray::from(values))
        };
        Self {
            sex: strings("sex"),
            origin: strings("origin"),
            country: strings("country_of_origin"),
            municipality: strings("municipality"),
            region: strings("region"),
            education: strings("education"),
            employment: strings("employment_status"),
            household: strings("household_type"),
            region_of: d
                .municipalities
                .iter()
                .map(|m| {
                    d.regions
                        .iter()
                        .position(|(c, _)| *c == m.region_code)
                        .expect("region exists") as i16
                })
                .collect(),
        }
    }
}

fn dict(keys: Vec<i16>, values: &ArrayRef) -> ArrayRef {
    Arc::new(
        DictionaryArray::<Int16Type>::try_new(Int16Array::from(keys), values.clone())
            .expect("keys in range by construction"),
    )
}

impl Generator {
    /// Checks the spec (scenario, rows within capacity, bias) and prepares what every batch shares.
    pub fn new(spec: DatasetSpec) -> Result<Self, SynthError> {
        let scenario = spec.scenario()?;
        Self::with_scenario(spec, scenario)
    }

    /// [`Generator::new`] with the scenario given rather than looked up by the spec's name.
    pub(crate) fn with_scenario(spec: DatasetSpec, scenario: Box<dyn Scenario>) -> Result<Self, SynthError> {
        if spec.rows == 0 {
            return Err(SynthError::ZeroRows(0));
        }
        let key = mix64(spec.seed ^ hash_str(scenario.name()));
        let twins = spec.counterfactual.is_some();
        let rows_needed = spec.split.global_row(spec.rows - 1) + 1;
        let model = PopulationModel::new(scenario.as_ref(), &spec.bias, key, twins, rows_needed);
        if rows_needed > model.capacity() {
            let split = spec.split != crate::spec::Split::All;
            let limit = if split {
                model.max_capacity() / 2
            } else {
                model.max_capacity()
            };
            let mut detail = String::new();
            if twins {
                detail.push_str(" (counterfactual twins halve the CPR space)");
            }
            if split {
                detail.push_str(" (a train or test split uses half of the citizens)");
            }
            return Err(SynthError::TooManyRows {
                rows: spec.rows,
                scenario: spec.scenario.clone(),
                limit,
                detail,
            });
        }
        let mut columns = dictionary::population_columns();
        columns.extend(scenario.columns());
        if twins {
            columns.extend(dictionary::twin_columns());
        }
        let mut metadata = HashMap::new();
        metadata.insert(meta::SCENARIO.to_owned(), spec.scenario.clone());
        metadata.insert(meta::SEED.to_owned(), spec.seed.to_string());
        metadata.insert(meta::GENERATOR_VERSION.to_owned(), spec.generator_version.clone());
        metadata.insert(meta::AGE_LAYOUT.to_owned(), model.layout().describe().to_owned());
        metadata.insert(
            meta::SPEC.to_owned(),
            serde_json::to_string(&spec).expect("spec serializes"),
        );
        metadata.insert(
            meta::DICTIONARY.to_owned(),
            serde_json::to_string(&columns).expect("dictionary serializes"),
        );
        let schema = Arc::new(Schema::new_with_metadata(
            columns.iter().map(ColumnDoc::field).collect::<Vec<_>>(),
            metadata,
        ));
        Ok(Self {
            spec,
            scenario,
            model,
            key,
            schema,
            columns,
            dicts: Dicts::new(),
            training: None,
        })
    }

    /// Files written from this generator take the training layout: integers as int64,
    /// outcomes as 0/1, categories as text (`crate::training`), the types vendors' exporters
    /// take without recasting. [`Generator::batch`] is unchanged; the writer converts.
    pub fn for_training(mut self) -> Self {
        self.training = Some(crate::training::training_schema(&self.schema));
        self
    }

    /// The schema of the files written from this generator: [`Generator::schema`], or its
    /// training layout.
    pub fn file_schema(&self) -> SchemaRef {
        self.training.clone().unwrap_or_else(|| self.schema.clone())
    }

    /// `batch` as the files written from this generator hold it.
    pub fn file_batch(&self, batch: RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
        match &self.training {
            None => Ok(batch),
            Some(schema) => crate::training::training_batch(&batch, schema),
        }
    }

    /// The spec the data is made from.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// The Arrow schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The data dictionary: every column with its meaning and causal parents.
    pub fn columns(&self) -> &[ColumnDoc] {
        &self.columns
    }

    /// The most citizens this scenario can give with an exact age-by-sex distribution
    /// (without a split or twins).
    pub fn exact_capacity(&self) -> u64 {
        self.model.exact_capacity()
    }

    /// The most citizens this scenario can give with distinct CPR numbers at all.
    pub fn max_capacity(&self) -> u64 {
        self.model.max_capacity()
    }

    /// Batches in the dataset; [`Generator::batch`] takes `0..num_batches()`.
    pub fn num_batches(&self) -> u64 {
        self.spec.rows.div_ceil(self.spec.batch_rows as u64)
    }

    /// Rows in the output (twins double it).
    pub fn output_rows(&self) -> u64 {
        self.spec.rows * if self.spec.counterfactual.is_some() { 2 } else { 1 }
    }

    /// Generates batch `b` (`b < num_batches()`).
    pub fn batch(&self, b: u64) -> RecordBatch {
        let start = b * self.spec.batch_rows as u64;
        let end = (start + self.spec.batch_rows as u64).min(self.spec.rows);
        let intervention = match self.spec.counterfactual {
            None => None,
            Some(Counterfactual::Sex) => Some(Intervention::FlipSex),
            Some(Counterfactual::Origin) => Some(Intervention::FlipOrigin),
        };
        let n = ((end - start) as usize) * if intervention.is_some() { 2 } else { 1 };
        let mut base = BaseColumns::with_capacity(n);
        let mut extra = self.scenario.builder(n);
        let mut twin_id = Vec::new();
        let mut is_twin = Vec::new();
        for i in start..end {
            let g = self.spec.split.global_row(i);
            let rng = RowRng::new(self.key, g);
            let c = self.model.citizen(g, &rng, Intervention::None);
            base.push(i, &c, &self.dicts);
            extra.push(&c, &rng, &self.spec.bias, None);
            if let Some(iv) = intervention {
                let t = self.model.citizen(g, &rng, iv);
                base.push(i, &t, &self.dicts);
                extra.push(&t, &rng, &self.spec.bias, None);
                twin_id.extend([i, i]);
                is_twin.extend([false, true]);
            }
        }
        let mut arrays = base.finish(&self.dicts);
        arrays.extend(extra.finish());
        if intervention.is_some() {
            arrays.push(Arc::new(UInt64Array::from(twin_id)));
            arrays.push(Arc::new(BooleanArray::from(is_twin)));
        }
        RecordBatch::try_new(self.schema.clone(), arrays).expect("generated columns match the schema")
    }
}

impl Generator {
    /// Resolves `path` for `attribute` against this dataset's causal graph; `proxies` replaces
    /// the scenario's proxy list when given.
    pub fn resolve_path(
        &self,
        attribute: Counterfactual,
        path: &Path,
        proxies: Option<&[&str]>,
    ) -> Result<ResolvedPath, SynthError> {
        crate::paths::resolve(
            &self.columns,
            attribute,
            path,
            proxies.unwrap_or(self.scenario.proxies()),
        )
    }

    /// The columns that descend from `attribute` in this dataset's causal graph.
    pub fn descendants(&self, attribute: Counterfactual) -> Vec<&'static str> {
        crate::paths::descendants(&self.columns, attribute)
    }

    /// Rows `rows` of the dataset (its citizens, as [`Generator::batch`] makes them) and, for
    /// each of `paths`, every citizen's twin along that path, in the same order: one batch of
    /// citizens and one batch of twins per path, all in this generator's schema. The dataset
    /// must have counterfactual twins (of any attribute): their CPR numbers are what twins are
    /// numbered from. The `total` path's twins are the dataset's own twins, byte for byte.
    pub fn path_twins(
        &self,
        attribute: Counterfactual,
        paths: &[ResolvedPath],
        rows: std::ops::Range<u64>,
    ) -> Result<(RecordBatch, Vec<RecordBatch>), SynthError> {
        if self.spec.counterfactual.is_none() {
            return Err(SynthError::Path(
                "path-specific twins need a dataset spec with counterfactual twins (they take the twins' CPR numbers)"
                    .into(),
            ));
        }
        let end = rows.end.min(self.spec.rows);
        let start = rows.start.min(end);
        let intervention = match attribute {
            Counterfactual::Sex => Intervention::FlipSex,
            Counterfactual::Origin => Intervention::FlipOrigin,
        };
        let per = 1 + paths.len();
        let n = (end - start) as usize * per;
        let mut base = BaseColumns::with_capacity(n);
        let mut extra = self.scenario.builder(n);
        let mut twin_id = Vec::with_capacity(n);
        let mut is_twin = Vec::with_capacity(n);
        for i in start..end {
            let g = self.spec.split.global_row(i);
            let rng = RowRng::new(self.key, g);
            let c = self.model.citizen(g, &rng, Intervention::None);
            base.push(i, &c, &self.dicts);
            extra.push(&c, &rng, &self.spec.bias, None);
            twin_id.push(i);
            is_twin.push(false);
            for p in paths {
                let t = self.model.citizen_held(g, &rng, intervention, Some((&c, &p.recompute)));
                // The attribute's own column, and the CPR number (whose last digit is the sex), are
                // the twin's on the total path only. Elsewhere they stay the citizen's: a path is
                // what the recomputed descendants carry, and a model that reads the attribute
                // directly must not show that use as an effect through proxies or mediators. The
                // recomputed columns still see the changed attribute (`t` is drawn from it).
                let stored = if p.path == Path::Total {
                    t
                } else {
                    Citizen {
                        male: c.male,
                        cpr: c.cpr,
                        origin: c.origin,
                        ..t
                    }
                };
                base.push(i, &stored, &self.dicts);
                extra.push(&t, &rng, &self.spec.bias, Some(&p.recompute));
                twin_id.push(i);
                is_twin.push(true);
            }
        }
        let mut arrays = base.finish(&self.dicts);
        arrays.extend(extra.finish());
        arrays.push(Arc::new(UInt64Array::from(twin_id)));
        arrays.push(Arc::new(BooleanArray::from(is_twin)));
        let all = RecordBatch::try_new(self.schema.clone(), arrays).expect("generated columns match the schema");
        let every = |k: usize| -> RecordBatch {
            let idx = arrow::array::UInt32Array::from_iter_values((k..n).step_by(per).map(|i| i as u32));
            let columns = all
                .columns()
                .iter()
                .map(|c| arrow::compute::take(c, &idx, None).expect("indices are in range"))
                .collect();
            RecordBatch::try_new(all.schema(), columns).expect("same schema")
        };
        Ok((every(0), (1..per).map(every).collect()))
    }
}

/// Columnar buffers for the population's columns.
struct BaseColumns {
    person_id: Vec<u64>,
    cpr: Vec<u8>,
    sex: Vec<i16>,
    birth: Vec<i32>,
    age: Vec<u8>,
    origin: Vec<i16>,
    country: Vec<i16>,
    municipality_code: Vec<u16>,
    municipality: Vec<i16>,
    region: Vec<i16>,
    first_name: StringBuilder,
    last_name: StringBuilder,
    education: Vec<i16>,
    isced: Vec<u8>,
    chronic: Vec<u8>,
    employment: Vec<i16>,
    income: Vec<i32>,
    household: Vec<i16>,
    children: Vec<u8>,
    alone: Vec<bool>,
    hospital: Vec<u16>,
}

impl BaseColumns {
    fn with_capacity(n: usize) -> Self {
        Self {
            person_id: Vec::with_capacity(n),
            cpr: Vec::with_capacity(n * 11),
            sex: Vec::with_capacity(n),
            birth: Vec::with_capacity(n),
            age: Vec::with_capacity(n),
            origin: Vec::with_capacity(n),
            country: Vec::with_capacity(n),
            municipality_code: Vec::with_capacity(n),
            municipality: Vec::with_capacity(n),
            region: Vec::with_capacity(n),
            first_name: StringBuilder::with_capacity(n, n * 8),
            last_name: StringBuilder::with_capacity(n, n * 9),
            education: Vec::with_capacity(n),
            isced: Vec::with_capacity(n),
            chronic: Vec::with_capacity(n),
            employment: Vec::with_capacity(n),
            income: Vec::with_capacity(n),
            household: Vec::with_capacity(n),
            children: Vec::with_capacity(n),
            alone: Vec::with_capacity(n),
            hospital: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, id: u64, c: &Citizen, dicts: &Dicts) {
        let d = refdata::get();
        self.person_id.push(id);
        self.cpr.extend_from_slice(&c.cpr);
        self.sex.push(i16::from(c.male));
        self.birth.push(c.birth);
        self.age.push(c.age);
        self.origin.push(c.origin as i16);
        self.country.push(c.country.map_or(0, |k| k as i16 + 1));
        let m = usize::from(c.municipality);
        self.municipality_code.push(d.municipalities[m].code);
        self.municipality.push(m as i16);
        self.region.push(dicts.region_of[m]);
        self.first_name.append_value(c.first_name);
        self.last_name.append_value(c.last_name);
        self.education.push(c.education as i16);
        self.isced.push(c.education.isced());
        self.chronic.push(c.chronic_conditions);
        self.employment.push(c.employment as i16);
        self.income.push(c.income_dkk);
        self.household.push(c.household as i16);
        self.children.push(c.n_children);
        self.alone.push(c.living_alone());
        self.hospital.push(c.hospital_days);
    }

    fn finish(mut self, dicts: &Dicts) -> Vec<ArrayRef> {
        let n = self.person_id.len();
        let offsets = OffsetBuffer::new((0..=n as i32).map(|i| i * 11).collect());
        let cpr = StringArray::try_new(offsets, Buffer::from_vec(self.cpr), None).expect("CPR numbers are ASCII");
        vec![
            Arc::new(UInt64Array::from(self.person_id)),
            Arc::new(cpr),
            dict(self.sex, &dicts.sex),
            Arc::new(Date32Array::from(self.birth)),
            Arc::new(UInt8Array::from(self.age)),
            dict(self.origin, &dicts.origin),
            dict(self.country, &dicts.country),
            Arc::new(UInt16Array::from(self.municipality_code)),
            dict(self.municipality, &dicts.municipality),
            dict(self.region, &dicts.region),
            Arc::new(self.first_name.finish()),
            Arc::new(self.last_name.finish()),
            dict(self.education, &dicts.education),
            Arc::new(UInt8Array::from(self.isced)),
            Arc::new(UInt8Array::from(self.chronic)),
            dict(self.employment, &dicts.employment),
            Arc::new(Int32Array::from(self.income)),
            dict(self.household, &dicts.household),
            Arc::new(UInt8Array::from(self.children)),
            Arc::new(BooleanArray::from(self.alone)),
            Arc::new(UInt16Array::from(self.hospital)),
        ]
    }
}
