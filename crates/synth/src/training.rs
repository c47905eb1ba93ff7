//! The training download's column types: what the exporters vendors use take as they are.
//!
//! The generator's own types are the tightest that hold each column (`age` as uint8, `sex` as
//! a dictionary), which is right for the sandbox's files and wrong for a vendor's tools:
//! skl2onnx cannot merge uint8 and int32 columns of one pipeline, LightGBM's converter fails on
//! a boolean target, and a Parquet dictionary comes back to pandas in the order its values
//! first appear, which differs between files. The training layout therefore writes integers
//! as int64, the outcomes as 0/1 int64, and categories as their text; everything else (yes/no
//! inputs, float32 measurements, dates) as it is. The sandbox casts its own data to whatever a
//! model declares, so a model trained on this layout is fed correctly.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// The type `field` has in the training layout.
fn training_type(field: &Field) -> DataType {
    match field.data_type() {
        DataType::Boolean if crate::scenario::OUTCOME_COLUMNS.contains(&field.name().as_str()) => DataType::Int64,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
            DataType::Int64
        }
        DataType::Dictionary(_, _) => DataType::Utf8,
        other => other.clone(),
    }
}

/// `schema` in the training layout, metadata kept.
pub fn training_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(training_type(f)))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` cast to `schema` (made by [`training_schema`] from the batch's own schema). Every
/// cast here is lossless (widening integers, booleans to 0/1, dictionary to its values).
pub fn training_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                cast(c, f.data_type())
            }
        })
        .collect::<Result<_, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DatasetSpec, Generator};
    use arrow::array::{Array, AsArray};

    /// Every column keeps its values; integers widen, outcomes become 0/1, categories text;
    /// yes/no inputs and floats stay.
    #[test]
    fn the_training_layout_keeps_every_value_in_the_exporters_types() {
        let g = Generator::new(DatasetSpec::new("unemployment-risk", 3000, 4).unwrap()).unwrap();
        let raw = g.batch(0);
        let schema = training_schema(&raw.schema());
        let t = training_batch(&raw, &schema).unwrap();
        assert_eq!(t.num_rows(), raw.num_rows());
        for (f, (before, after)) in raw.schema().fields().iter().zip(raw.columns().iter().zip(t.columns())) {
            let name = f.name();
            match before.data_type() {
                DataType::UInt8 | DataType::UInt16 | DataType::Int32 => {
                    assert_eq!(after.data_type(), &DataType::Int64, "{name}");
                    assert_eq!(&cast(before, &DataType::Int64).unwrap(), after, "{name}");
                }
                DataType::Dictionary(_, _) => {
                    assert_eq!(after.data_type(), &DataType::Utf8, "{name}");
                    assert_eq!(&cast(before, &DataType::Utf8).unwrap(), after, "{name}");
                }
                DataType::Boolean if name == "outcome_recorded" || name == "outcome_true" => {
                    let ints = after.as_primitive::<arrow::datatypes::Int64Type>();
                    let bools = before.as_boolean();
                    assert!(
                        (0..bools.len()).all(|i| ints.value(i) == i64::from(bools.value(i))),
                        "{name}"
                    );
                }
                other => assert_eq!(after.data_type(), other, "{name}"),
            }
        }
        assert_eq!(
            schema.field_with_name("living_alone").unwrap().data_type(),
            &DataType::Boolean
        );
        assert_eq!(schema.metadata(), raw.schema().metadata());
    }
}
