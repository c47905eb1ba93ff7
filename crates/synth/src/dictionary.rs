//! The data dictionary: every column with its type, meaning and causal parents.
//!
//! The dictionary is printed by `sandkasse scenarios` and embedded in every Parquet file's
//! key-value metadata, so a dataset explains itself without this program.

use crate::model::{Education, Employment, Household, Origin};
use arrow::datatypes::{DataType, Field};
use serde::Serialize;

/// Dictionary-encoded UTF-8: how every categorical column is stored.
pub fn categorical() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8))
}

/// One column of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDoc {
    /// The column's name in the data.
    pub name: &'static str,
    /// Its Arrow type (`categorical` for dictionary-encoded strings when serialized).
    #[serde(rename = "type", serialize_with = "type_name")]
    pub data_type: DataType,
    /// What it means, for the data dictionary people read.
    pub meaning: &'static str,
    /// The variables this one is drawn from in the causal model (empty for roots).
    pub parents: Vec<&'static str>,
    /// Every value a categorical column can hold, in dictionary order (empty for other
    /// columns): what a manifest's one-hot lists are checked against, and what a vendor needs
    /// to write them without guessing from a sample.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<&'static str>,
}

fn type_name<S: serde::Serializer>(t: &DataType, s: S) -> Result<S::Ok, S::Error> {
    let name = match t {
        DataType::Dictionary(_, v) if **v == DataType::Utf8 => "categorical".to_owned(),
        other => other.to_string().to_lowercase(),
    };
    s.serialize_str(&name)
}

impl ColumnDoc {
    /// Documents one column.
    pub fn new(name: &'static str, data_type: DataType, meaning: &'static str, parents: &[&'static str]) -> Self {
        Self {
            name,
            data_type,
            meaning,
            parents: parents.to_vec(),
            values: Vec::new(),
        }
    }

    /// The column with its categories (the generator's dictionary, in order).
    pub fn with_values(mut self, values: impl IntoIterator<Item = &'static str>) -> Self {
        self.values = values.into_iter().collect();
        self
    }

    /// Whether the column holds categories (dictionary-encoded text).
    pub fn is_categorical(&self) -> bool {
        matches!(&self.data_type, DataType::Dictionary(_, v) if **v == DataType::Utf8)
    }

    /// The Arrow field of the column (never nullable: every row has every value).
    pub fn field(&self) -> Field {
        Field::new(self.name, self.data_type.clone(), false)
    }
}

/// The population's columns, shared by every scenario. The order is the causal order.
pub fn population_columns() -> Vec<ColumnDoc> {
    use DataType::*;
    let cat = categorical;
    let d = crate::refdata::get();
    let countries = std::iter::once("DNK").chain(d.countries.iter().map(|c| c.code.as_str()));
    vec![
        ColumnDoc::new(
            "person_id",
            UInt64,
            "row number within the dataset (twins share it with their original)",
            &[],
        ),
        ColumnDoc::new(
            "cpr",
            Utf8,
            "fictitious CPR number DDMMYY-SSSS: day + 60, century digit and sex parity consistent",
            &["birth_date", "sex"],
        ),
        ColumnDoc::new("sex", cat(), "M or F", &[]).with_values(["F", "M"]),
        ColumnDoc::new("birth_date", Date32, "date of birth", &[]),
        ColumnDoc::new(
            "age",
            UInt8,
            "whole years at the reference date (sex and age follow the DST age pyramid)",
            &["birth_date"],
        ),
        ColumnDoc::new(
            "origin",
            cat(),
            "DST origin group: danish, immigrant/descendant x western/non_western",
            &["age"],
        )
        .with_values(Origin::LABELS.iter().copied()),
        ColumnDoc::new(
            "country_of_origin",
            cat(),
            "ISO 3166-1 alpha-3 country of origin (DNK for Danish origin)",
            &["origin"],
        )
        .with_values(countries),
        ColumnDoc::new(
            "municipality_code",
            UInt16,
            "DST 3-digit municipality code",
            &["origin"],
        ),
        ColumnDoc::new("municipality", cat(), "municipality name", &["municipality_code"])
            .with_values(d.municipalities.iter().map(|m| m.name.as_str())),
        ColumnDoc::new("region", cat(), "region name", &["municipality_code"])
            .with_values(d.regions.iter().map(|(_, n)| n.as_str())),
        ColumnDoc::new(
            "first_name",
            Utf8,
            "first name fitting sex and naming culture, weighted by frequency",
            &["sex", "origin", "country_of_origin"],
        ),
        ColumnDoc::new(
            "last_name",
            Utf8,
            "surname of the naming culture (and form for the sex), weighted by frequency",
            &["sex", "origin", "country_of_origin"],
        ),
        ColumnDoc::new(
            "education",
            cat(),
            "highest completed education (ISCED-like groups)",
            &["age", "sex", "origin"],
        )
        .with_values(Education::LABELS.iter().copied()),
        ColumnDoc::new(
            "education_isced",
            UInt8,
            "ISCED 2011 level of education (top of the group's range)",
            &["education"],
        ),
        ColumnDoc::new(
            "chronic_conditions",
            UInt8,
            "number of chronic conditions",
            &["age", "education"],
        ),
        ColumnDoc::new(
            "employment_status",
            cat(),
            "main activity",
            &["age", "sex", "origin", "education", "chronic_conditions"],
        )
        .with_values(Employment::LABELS.iter().copied()),
        ColumnDoc::new(
            "income_dkk",
            Int32,
            "annual personal income before tax, DKK",
            &["age", "sex", "origin", "education", "employment_status"],
        ),
        ColumnDoc::new("household_type", cat(), "household type", &["age", "sex", "origin"])
            .with_values(Household::LABELS.iter().copied()),
        ColumnDoc::new(
            "n_children",
            UInt8,
            "children living in the household",
            &["household_type", "origin"],
        ),
        ColumnDoc::new(
            "living_alone",
            Boolean,
            "lives alone (household_type = single)",
            &["household_type"],
        ),
        ColumnDoc::new(
            "hospital_days_12m",
            UInt16,
            "days admitted to hospital in the last 12 months",
            &["age", "chronic_conditions"],
        ),
    ]
}

/// The columns a counterfactual dataset adds after the scenario's.
pub fn twin_columns() -> Vec<ColumnDoc> {
    vec![
        ColumnDoc::new(
            "twin_id",
            DataType::UInt64,
            "shared by a citizen and their counterfactual twin",
            &[],
        ),
        ColumnDoc::new(
            "is_twin",
            DataType::Boolean,
            "true for the counterfactual row of the pair",
            &[],
        ),
    ]
}
