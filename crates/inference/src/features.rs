//! From an Arrow record batch of scenario columns to the model's input tensors, exactly as the
//! manifest says (`models/common.py` does the same in Python for the reference predictions).
//!
//! Tensors are row-major `[rows, width]`. Dictionary-encoded categories (what the generator
//! writes) take a fast path: each dictionary entry is matched against the one-hot categories
//! once, then rows only look up their key.

use crate::manifest::{ColumnSpec, DType, InputSpec, Manifest};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
};
use std::collections::HashMap;

/// Element data of one input tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// 32-bit floats, row-major.
    F32(Vec<f32>),
    /// 64-bit floats, row-major.
    F64(Vec<f64>),
    /// 32-bit integers, row-major.
    I32(Vec<i32>),
    /// 64-bit integers, row-major.
    I64(Vec<i64>),
    /// Booleans, row-major.
    Bool(Vec<bool>),
    /// Strings, row-major.
    Str(Vec<String>),
}

/// One input tensor of shape `[rows, width]`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    /// The graph input it feeds.
    pub name: String,
    /// Rows (the batch's length).
    pub rows: usize,
    /// Values per row.
    pub width: usize,
    /// The values.
    pub data: TensorData,
}

/// Why the data cannot feed the model as its manifest says; each names the column and input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FeatureError {
    /// A column the manifest names is not in the data.
    #[error("column {column:?} (input {tensor:?}) is missing from the data")]
    Missing {
        /// The column.
        column: String,
        /// The input it feeds.
        tensor: String,
    },
    /// A row has no value where the input needs one.
    #[error("column {column:?}, row {row}: missing value (input {tensor:?} needs one)")]
    Null {
        /// The column.
        column: String,
        /// The row.
        row: usize,
        /// The input it feeds.
        tensor: String,
    },
    /// The column's type cannot become the input's element type.
    #[error("column {column:?} has type {data_type}, which input {tensor:?} cannot use as {wanted}")]
    Type {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
        /// The input it feeds.
        tensor: String,
        /// The element type the input wants.
        wanted: &'static str,
    },
}

/// Builds every input tensor of `manifest` from `batch`.
pub fn build(manifest: &Manifest, batch: &RecordBatch) -> Result<Vec<InputTensor>, FeatureError> {
    manifest.inputs.iter().map(|i| build_input(i, batch)).collect()
}

fn build_input(input: &InputSpec, batch: &RecordBatch) -> Result<InputTensor, FeatureError> {
    let rows = batch.num_rows();
    let width: usize = input.columns.iter().map(ColumnSpec::width).sum();
    let mut data = match input.dtype {
        DType::Float32 => TensorData::F32(vec![0.0; rows * width]),
        DType::Float64 => TensorData::F64(vec![0.0; rows * width]),
        DType::Int32 => TensorData::I32(vec![0; rows * width]),
        DType::Int64 => TensorData::I64(vec![0; rows * width]),
        DType::Bool => TensorData::Bool(vec![false; rows * width]),
        DType::String => TensorData::Str(vec![String::new(); rows * width]),
    };
    let mut offset = 0;
    for spec in &input.columns {
        let array = batch
            .column_by_name(&spec.column)
            .ok_or_else(|| FeatureError::Missing {
                column: spec.column.clone(),
                tensor: input.tensor.clone(),
            })?;
        if let Some(row) = first_null(array) {
            return Err(FeatureError::Null {
                column: spec.column.clone(),
                row,
                tensor: input.tensor.clone(),
            });
        }
        let err = |wanted| FeatureError::Type {
            column: spec.column.clone(),
            data_type: array.data_type().to_string(),
            tensor: input.tensor.clone(),
            wanted,
        };
        let at = Place { width, offset };
        match (&mut data, &spec.one_hot) {
            (TensorData::Str(out), _) => {
                let text = text_values(array).ok_or_else(|| err("text"))?;
                for (r, v) in text.into_iter().enumerate() {
                    out[r * width + offset] = v;
                }
            }
            (data, Some(cats)) => {
                let idx = category_indices(array, cats).ok_or_else(|| err("categories"))?;
                match data {
                    TensorData::F32(out) => at.one_hot(out, &idx, 1.0),
                    TensorData::F64(out) => at.one_hot(out, &idx, 1.0),
                    TensorData::I32(out) => at.one_hot(out, &idx, 1),
                    TensorData::I64(out) => at.one_hot(out, &idx, 1),
                    TensorData::Bool(out) => at.one_hot(out, &idx, true),
                    // Taken by the arm above; a manifest with one_hot on a string tensor is refused at parsing.
                    TensorData::Str(_) => return Err(err("text")),
                }
            }
            (TensorData::F32(out), None) => {
                let v = numbers(array, &DataType::Float32).ok_or_else(|| err("a number"))?;
                at.column(out, v.as_primitive::<Float32Type>().values());
            }
            (TensorData::F64(out), None) => {
                let v = numbers(array, &DataType::Float64).ok_or_else(|| err("a number"))?;
                at.column(out, v.as_primitive::<Float64Type>().values());
            }
            (TensorData::I32(out), None) => {
                let v = integers(array, &DataType::Int32).ok_or_else(|| err("a 32-bit integer"))?;
                at.column(out, v.as_primitive::<Int32Type>().values());
            }
            (TensorData::I64(out), None) => {
                let v = integers(array, &DataType::Int64).ok_or_else(|| err("an integer"))?;
                at.column(out, v.as_primitive::<Int64Type>().values());
            }
            (TensorData::Bool(out), None) => {
                // Only yes/no columns: a number would need a rule (non-zero?) the vendor never chose.
                let v = array.as_boolean_opt().ok_or_else(|| err("yes/no"))?;
                for (r, x) in v.values().iter().enumerate() {
                    out[r * width + offset] = x;
                }
            }
        }
        offset += spec.width();
    }
    Ok(InputTensor {
        name: input.tensor.clone(),
        rows,
        width,
        data,
    })
}

/// Where one column's values go in a row-major `[rows, width]` tensor.
#[derive(Clone, Copy)]
struct Place {
    width: usize,
    offset: usize,
}

impl Place {
    fn column<T: Copy>(self, out: &mut [T], values: &[T]) {
        for (r, x) in values.iter().enumerate() {
            out[r * self.width + self.offset] = *x;
        }
    }

    fn one_hot<T: Copy>(self, out: &mut [T], idx: &[Option<usize>], one: T) {
        for (r, k) in idx.iter().enumerate() {
            if let Some(k) = k {
                out[r * self.width + self.offset + k] = one;
            }
        }
    }
}

fn first_null(a: &ArrayRef) -> Option<usize> {
    if a.null_count() == 0 {
        return None;
    }
    (0..a.len()).find(|&i| a.is_null(i))
}

/// Numeric and boolean columns cast to `to` (booleans become 0 and 1).
fn numbers(a: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    let ok = a.data_type().is_numeric() || matches!(a.data_type(), DataType::Boolean);
    if !ok {
        return None;
    }
    arrow::compute::cast(a, to).ok()
}

/// Integer and boolean columns cast to the integer type `to`; fractions are refused (an
/// integer tensor would cut 73.6 to 73), and so is a value `to` cannot hold (the cast makes
/// it null, which the check finds).
fn integers(a: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    if a.data_type().is_floating() {
        return None;
    }
    let cast = numbers(a, to)?;
    (cast.null_count() == 0).then_some(cast)
}

/// A categorical column as text: dictionary-encoded or plain strings.
fn text_values(a: &ArrayRef) -> Option<Vec<String>> {
    match a.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let s = arrow::compute::cast(a, &DataType::Utf8).ok()?;
            let s: &StringArray = s.as_string();
            Some(s.iter().map(|v| v.unwrap_or_default().to_owned()).collect())
        }
        _ => None,
    }
}

/// For every row, the index of its value among `cats` (`None` when it is not listed).
fn category_indices(a: &ArrayRef, cats: &[String]) -> Option<Vec<Option<usize>>> {
    let lookup: HashMap<&str, usize> = cats.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    if let DataType::Dictionary(key, _) = a.data_type() {
        let values = arrow::compute::cast(a.as_any_dictionary().values(), &DataType::Utf8).ok()?;
        let values: &StringArray = values.as_string();
        let per_entry: Vec<Option<usize>> = values.iter().map(|v| v.and_then(|v| lookup.get(v).copied())).collect();
        macro_rules! keys {
            ($t:ty) => {
                a.as_dictionary::<$t>()
                    .keys()
                    .values()
                    .iter()
                    .map(|&k| per_entry.get(k as usize).copied().flatten())
                    .collect()
            };
        }
        return Some(match key.as_ref() {
            DataType::Int8 => keys!(Int8Type),
            DataType::Int16 => keys!(Int16Type),
            DataType::Int32 => keys!(Int32Type),
            DataType::Int64 => keys!(Int64Type),
            DataType::UInt8 => keys!(UInt8Type),
            DataType::UInt16 => keys!(UInt16Type),
            DataType::UInt32 => keys!(UInt32Type),
            _ => return None,
        });
    }
    let text = text_values(a)?;
    Some(text.iter().map(|v| lookup.get(v.as_str()).copied()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, DictionaryArray, Float32Array, UInt8Array};
    use std::sync::Arc;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
name = "m"
version = "1"
scenario = "s"
[[inputs]]
tensor = "x"
dtype = "float32"
columns = [{ column = "age" }, { column = "sex", one_hot = ["F", "M"] }, { column = "alone" }]
[[inputs]]
tensor = "town"
dtype = "string"
columns = [{ column = "sex" }]
[output]
label = "label"
probability = "p"
positive_class = 1
threshold = 0.5
"#,
        )
        .unwrap()
    }

    fn batch(sex: DictionaryArray<Int32Type>) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("age", Arc::new(UInt8Array::from(vec![30, 41, 52])) as ArrayRef),
            ("sex", Arc::new(sex) as ArrayRef),
            (
                "alone",
                Arc::new(BooleanArray::from(vec![true, false, true])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn builds_row_major_tensors_with_one_hot_and_text() {
        let sex: DictionaryArray<Int32Type> = vec!["M", "F", "X"].into_iter().collect();
        let t = build(&manifest(), &batch(sex)).unwrap();
        assert_eq!((t[0].rows, t[0].width), (3, 4));
        assert_eq!(
            t[0].data,
            TensorData::F32(vec![30.0, 0.0, 1.0, 1.0, 41.0, 1.0, 0.0, 0.0, 52.0, 0.0, 0.0, 1.0])
        );
        assert_eq!(t[1].data, TensorData::Str(vec!["M".into(), "F".into(), "X".into()]));
    }

    /// Every element type a model can declare gets the column cast to it, one-hot included;
    /// fractions and numbers never become integers or yes/no silently.
    #[test]
    fn each_declared_element_type_gets_its_own_tensor() {
        let sex: DictionaryArray<Int32Type> = vec!["M", "F", "X"].into_iter().collect();
        let b = batch(sex);
        let of = |dtype: &str, columns: &str| {
            let m = Manifest::parse(&format!(
                "name = \"m\"\nversion = \"1\"\nscenario = \"s\"\n[[inputs]]\ntensor = \"x\"\ndtype = \"{dtype}\"\ncolumns = [{columns}]\n[output]\nlabel = \"l\"\nprobability = \"p\"\npositive_class = 1\nthreshold = 0.5\n"
            ))
            .unwrap();
            build(&m, &b).map(|mut t| t.remove(0).data)
        };
        let age_sex = r#"{ column = "age" }, { column = "sex", one_hot = ["F", "M"] }"#;
        assert_eq!(
            of("float64", age_sex).unwrap(),
            TensorData::F64(vec![30.0, 0.0, 1.0, 41.0, 1.0, 0.0, 52.0, 0.0, 0.0])
        );
        assert_eq!(
            of("int32", age_sex).unwrap(),
            TensorData::I32(vec![30, 0, 1, 41, 1, 0, 52, 0, 0])
        );
        assert_eq!(
            of("bool", r#"{ column = "alone" }, { column = "sex", one_hot = ["M"] }"#).unwrap(),
            TensorData::Bool(vec![true, true, false, false, true, false])
        );
        let e = of("bool", r#"{ column = "age" }"#).unwrap_err().to_string();
        assert!(e.contains("cannot use as yes/no"), "{e}");
        let fractions =
            RecordBatch::try_from_iter([("age", Arc::new(Float32Array::from(vec![73.6])) as ArrayRef)]).unwrap();
        let m = Manifest::parse(
            "name = \"m\"\nversion = \"1\"\nscenario = \"s\"\n[[inputs]]\ntensor = \"x\"\ndtype = \"int32\"\ncolumns = [{ column = \"age\" }]\n[output]\nprobability = \"p\"\npositive_class = 1\nthreshold = 0.5\n",
        )
        .unwrap();
        let e = build(&m, &fractions).unwrap_err().to_string();
        assert!(e.contains("cannot use as a 32-bit integer"), "{e}");
        let big = RecordBatch::try_from_iter([(
            "age",
            Arc::new(arrow::array::Int64Array::from(vec![1i64 << 40])) as ArrayRef,
        )])
        .unwrap();
        assert!(build(&m, &big).is_err(), "2^40 does not fit an int32");
    }

    #[test]
    fn nulls_missing_columns_and_wrong_types_are_named() {
        let sex: DictionaryArray<Int32Type> = vec![Some("M"), None, Some("F")].into_iter().collect();
        assert_eq!(
            build(&manifest(), &batch(sex)).unwrap_err().to_string(),
            "column \"sex\", row 1: missing value (input \"x\" needs one)"
        );
        let b = RecordBatch::try_from_iter([("age", Arc::new(Float32Array::from(vec![1.0])) as ArrayRef)]).unwrap();
        assert!(matches!(build(&manifest(), &b), Err(FeatureError::Missing { column, .. }) if column == "sex"));
        let sex: DictionaryArray<Int32Type> = vec!["M", "F", "X"].into_iter().collect();
        let mut b = batch(sex);
        b = RecordBatch::try_from_iter(b.schema().fields().iter().zip(b.columns()).map(|(f, c)| {
            if f.name() == "age" {
                ("age", Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef)
            } else {
                (f.name().as_str(), c.clone())
            }
        }))
        .unwrap();
        let e = build(&manifest(), &b).unwrap_err().to_string();
        assert!(e.contains("column \"age\" has type Utf8"), "{e}");
    }
}
