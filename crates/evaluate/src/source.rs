//! Where a run's rows come from: generated on the fly from a spec, or read from a dataset file
//! that `sandkasse generate` wrote (Parquet, Arrow IPC or CSV, possibly gzip- or
//! zstd-compressed afterwards, recognised by their magic bytes).
//!
//! A file is read into memory once, hashed, and parsed from those same bytes, so the hash in
//! the record is of exactly the rows that were scored, even if the file changes meanwhile.
//! Its spec comes from the `sandkasse.spec` metadata the generator writes (for a CSV, in its
//! `.meta.json` sidecar); the file must hold the `test` split, and its columns must have the
//! generator's names and types (a CSV is parsed with them).

use crate::EvaluateError;
use crate::compressed::{self, Codec};
use crate::csv::{self, CsvOptions};
use crate::input::{self, Format};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use synth::{DatasetSpec, Generator, Split, meta};

/// The rows to evaluate on.
#[derive(Debug, Clone)]
pub enum Dataset {
    /// Generate them (the spec's `split` is normally `test`).
    Generate(Box<DatasetSpec>),
    /// Read them from a file written by `sandkasse generate --split test`.
    File(PathBuf),
}

/// Datasets read from files larger than this are refused (they are held in memory).
pub const MAX_DATASET_FILE_BYTES: u64 = 8 << 30;

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// An opened dataset: its spec and schema, and batches handed out to scoring threads.
pub(crate) struct Source {
    pub spec: DatasetSpec,
    /// Every column the dataset holds (a file's whole schema, checked against the generator's).
    pub schema: SchemaRef,
    /// The columns of the batches handed out: a file's are only those the run reads
    /// ([`Source::open`]'s `keep`), in file order; a generated dataset's are all of them.
    pub batch_schema: SchemaRef,
    /// Rows the spec promises (twins included).
    pub expected_rows: u64,
    pub file: Option<PathBuf>,
    kind: Kind,
    next: AtomicU64,
}

enum Kind {
    Generated(Box<Generator>),
    File {
        batches: Mutex<Batches>,
        sha256: String,
        /// The categories each categorical column read can hold (the data dictionary's).
        categories: Vec<(String, Vec<&'static str>)>,
    },
}

impl Source {
    /// Opens the dataset. Of a file only the columns named in `keep` (those present) are
    /// decoded: a test split carries names, CPR numbers and birth dates no run reads, and
    /// decoding them was a tenth of a 1M-row run's work. Generated rows come whole (the
    /// generator draws every column anyway).
    pub fn open(dataset: &Dataset, csv: &CsvOptions, keep: &[&str]) -> Result<Self, EvaluateError> {
        match dataset {
            Dataset::Generate(spec) => {
                let generator = Generator::new((**spec).clone()).map_err(|e| EvaluateError::Dataset(e.to_string()))?;
                Ok(Self {
                    spec: (**spec).clone(),
                    schema: generator.schema(),
                    batch_schema: generator.schema(),
                    expected_rows: generator.output_rows(),
                    file: None,
                    kind: Kind::Generated(Box::new(generator)),
                    next: AtomicU64::new(0),
                })
            }
            Dataset::File(path) => open_file(path, csv, keep, MAX_DATASET_FILE_BYTES),
        }
    }

    /// The next batch and its position, or `None` when all are handed out. Safe to call from
    /// many threads; positions are dense and in file order.
    pub fn next(&self) -> Option<Result<(u64, RecordBatch), EvaluateError>> {
        match &self.kind {
            Kind::Generated(g) => {
                let b = self.next.fetch_add(1, Ordering::Relaxed);
                (b < g.num_batches()).then(|| Ok((b, g.batch(b))))
            }
            Kind::File {
                batches, categories, ..
            } => {
                let mut it = match batches.lock() {
                    Ok(it) => it,
                    Err(_) => return Some(Err(EvaluateError::Dataset("a reading thread panicked".into()))),
                };
                let batch = it.next()?;
                let b = self.next.fetch_add(1, Ordering::Relaxed);
                let first_row = b * self.spec.batch_rows.max(1) as u64;
                Some(
                    batch
                        .map_err(|e| self.error(format!("batch {b}: {e}")))
                        .and_then(|batch| {
                            check_categories(&batch, categories, first_row).map_err(|m| self.error(m))?;
                            Ok((b, batch))
                        }),
                )
            }
        }
    }

    /// The file's SHA-256, if the rows come from a file.
    pub fn file_sha256(&self) -> Option<&str> {
        match &self.kind {
            Kind::File { sha256, .. } => Some(sha256),
            Kind::Generated(_) => None,
        }
    }

    pub fn error(&self, message: String) -> EvaluateError {
        match &self.file {
            Some(p) => EvaluateError::Dataset(format!("{}: {message}", p.display())),
            None => EvaluateError::Dataset(message),
        }
    }
}

fn open_file(path: &Path, options: &CsvOptions, keep: &[&str], cap: u64) -> Result<Source, EvaluateError> {
    let err = |m: String| EvaluateError::Dataset(format!("{}: {m}", path.display()));
    let read_err = |e: std::io::Error| EvaluateError::Read {
        file: path.display().to_string(),
        error: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_DATASET_FILE_BYTES {
        return Err(err(format!("{size} bytes, over the limit of {MAX_DATASET_FILE_BYTES}")));
    }
    let bytes = bytes::Bytes::from(std::fs::read(path).map_err(read_err)?);
    // The hash is of the file as given (compressed bytes for a compressed file).
    let sha256 = crate::hex(&Sha256::digest(&bytes));
    let codec = compressed::check_name(path, &bytes[..bytes.len().min(8)]).map_err(err)?;
    let raw = bytes.clone();
    let open = move || codec.decoder(std::io::Cursor::new(raw.clone()));
    let mut stream = open().map_err(|e| err(e.to_string()))?;
    let head = compressed::read_head(&mut stream, csv::HEAD_BYTES).map_err(|e| err(format!("reading it: {e}")))?;
    let complete = head.len() < csv::HEAD_BYTES;
    let format = input::format_of(&head, codec).map_err(err)?;
    // Parquet and IPC need random access: a compressed one is inflated, up to the cap.
    let data = match (format, codec) {
        (_, Codec::Plain) | (Format::Csv, _) => bytes,
        _ => bytes::Bytes::from(
            compressed::inflate_capped(std::io::Cursor::new(head.clone()).chain(stream), cap).map_err(err)?,
        ),
    };
    // Indices of the kept columns in a schema, in its order.
    let kept = |schema: &SchemaRef| -> Vec<usize> {
        (0..schema.fields().len())
            .filter(|&i| keep.contains(&schema.field(i).name().as_str()))
            .collect()
    };
    let (spec, schema, batch_schema, batches): (DatasetSpec, SchemaRef, SchemaRef, Batches) = match format {
        Format::Parquet => {
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data)
                .map_err(|e| err(format!("not a readable Parquet file: {e}")))?;
            let kv = builder
                .metadata()
                .file_metadata()
                .key_value_metadata()
                .cloned()
                .unwrap_or_default();
            let spec_json = kv.iter().find(|k| k.key == meta::SPEC).and_then(|k| k.value.clone());
            let spec = parse_spec(path, spec_json.as_deref())?;
            let schema = builder.schema().clone();
            // A flat schema: the arrow field at index i is the Parquet root column i.
            let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), kept(&schema));
            let reader = builder
                .with_projection(mask)
                .with_batch_size(spec.batch_rows.max(1))
                .build()
                .map_err(|e| err(e.to_string()))?;
            let batch_schema = arrow::array::RecordBatchReader::schema(&reader);
            (spec, schema, batch_schema, Box::new(reader))
        }
        Format::Ipc => {
            let schema = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(data.clone()), None)
                .map_err(|e| err(format!("not a readable Arrow IPC file: {e}")))?
                .schema();
            let spec = parse_spec(path, schema.metadata().get(meta::SPEC).map(String::as_str))?;
            let reader = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(data), Some(kept(&schema)))
                .map_err(|e| err(format!("not a readable Arrow IPC file: {e}")))?;
            let batch_schema = reader.schema();
            // Regrouped into the spec's batches whatever chunks the file was written in (pyarrow's
            // Feather writer uses 64 Ki rows, others anything), so it reports as the generated rows
            // do. Parquet's reader already yields batches of the size asked for.
            let batches = fairness::Rebatched::new(reader, batch_schema.clone(), spec.batch_rows);
            (spec, schema, batch_schema, Box::new(batches))
        }
        Format::Csv => {
            let spec = sidecar_spec(path)?;
            let delimiter = csv::delimiter(options, &head, complete).map_err(err)?;
            let schema = csv_schema(path, &spec, &open, delimiter)?;
            let (batch_schema, batches) = csv::read(
                &open,
                &schema,
                Some(kept(&schema)),
                delimiter,
                options.decimal_comma,
                spec.batch_rows,
            )
            .map_err(err)?;
            (spec, schema, batch_schema, batches)
        }
    };
    finish(path, spec, schema, batch_schema, batches, sha256)
}

/// The largest CSV sidecar read (the spec and the data dictionary are a few tens of KB).
const MAX_SIDECAR_BYTES: u64 = 16 << 20;

/// The spec of a CSV dataset, from the `<file>.meta.json` sidecar `sandkasse generate --format
/// csv` writes beside it: a CSV carries no types or metadata of its own. For a compressed
/// `x.csv.gz` either `x.csv.gz.meta.json` or (the generator's, kept when the CSV was compressed
/// afterwards) `x.csv.meta.json`.
fn sidecar_spec(path: &Path) -> Result<DatasetSpec, EvaluateError> {
    let err = |m: String| EvaluateError::Dataset(format!("{}: {m}", path.display()));
    let with_suffix = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(".meta.json");
        PathBuf::from(s)
    };
    let mut candidates = vec![with_suffix(path)];
    if Codec::of_name(path) != Codec::Plain {
        candidates.push(with_suffix(&path.with_extension("")));
    }
    let Some(sidecar) = candidates.iter().find(|p| p.is_file()) else {
        let names: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        return Err(err(format!(
            "a CSV carries no column types, and its metadata sidecar ({}) is missing; `sandkasse              generate --split test --format csv --out FILE.csv` writes FILE.csv.meta.json beside              it: keep the two together, or write the split as Parquet or Arrow, which carry their              types",
            names.join(" or ")
        )));
    };
    let sidecar_err =
        |m: String| EvaluateError::Dataset(format!("{}: its sidecar {}: {m}", path.display(), sidecar.display()));
    let size = std::fs::metadata(sidecar)
        .map_err(|e| sidecar_err(e.to_string()))?
        .len();
    if size > MAX_SIDECAR_BYTES {
        return Err(sidecar_err(format!(
            "{size} bytes, over the limit of {MAX_SIDECAR_BYTES}"
        )));
    }
    let text = std::fs::read_to_string(sidecar).map_err(|e| sidecar_err(e.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| sidecar_err(format!("not JSON: {e}")))?;
    match json.get(meta::SPEC) {
        Some(serde_json::Value::String(s)) => serde_json::from_str(s),
        Some(v) => serde_json::from_value(v.clone()),
        None => return Err(sidecar_err(format!("no `{}` key", meta::SPEC))),
    }
    .map_err(|e| sidecar_err(format!("its `{}`: {e}", meta::SPEC)))
}

/// The schema to read a CSV dataset with: its header's columns in its order, each with the
/// type the generator gives it (a column the generator does not make is text). A header that
/// names a column twice is refused; missing columns are refused by [`finish`].
fn csv_schema(path: &Path, spec: &DatasetSpec, open: csv::Opener, delimiter: u8) -> Result<SchemaRef, EvaluateError> {
    let err = |m: String| EvaluateError::Dataset(format!("{}: {m}", path.display()));
    let generator = Generator::new(spec.clone()).map_err(|e| err(format!("its spec: {e}")))?;
    let want = generator.schema();
    let names = csv::header(open, delimiter).map_err(err)?;
    let mut fields = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(err(format!("its header names column {name:?} twice")));
        }
        fields.push(match want.field_with_name(name) {
            Ok(f) => f.clone(),
            Err(_) => Field::new(name, DataType::Utf8, true),
        });
    }
    Ok(Arc::new(Schema::new_with_metadata(fields, want.metadata().clone())))
}

fn parse_spec(path: &Path, json: Option<&str>) -> Result<DatasetSpec, EvaluateError> {
    let json = json.ok_or_else(|| {
        EvaluateError::Dataset(format!(
            "{}: no `{}` metadata; only datasets written by `sandkasse generate` can be evaluated on",
            path.display(),
            meta::SPEC
        ))
    })?;
    serde_json::from_str(json)
        .map_err(|e| EvaluateError::Dataset(format!("{}: its `{}` metadata: {e}", path.display(), meta::SPEC)))
}

/// Checks the file against what the generator would write for its spec.
fn finish(
    path: &Path,
    spec: DatasetSpec,
    schema: SchemaRef,
    batch_schema: SchemaRef,
    batches: Batches,
    sha256: String,
) -> Result<Source, EvaluateError> {
    let err = |m: String| EvaluateError::Dataset(format!("{}: {m}", path.display()));
    if spec.split != Split::Test {
        return Err(err(format!(
            "it holds the {:?} split; evaluation is on the test split only (`sandkasse generate --split test`)",
            spec.split
        )));
    }
    let generator = Generator::new(spec.clone()).map_err(|e| err(format!("its spec: {e}")))?;
    let want = generator.schema();
    for f in want.fields() {
        let got = schema
            .field_with_name(f.name())
            .map_err(|_| err(format!("column {:?} is missing", f.name())))?;
        if got.data_type() != f.data_type() {
            return Err(err(format!(
                "column {:?} is {}, the generator writes {}",
                f.name(),
                got.data_type(),
                f.data_type()
            )));
        }
    }
    let categories = generator
        .columns()
        .iter()
        .filter(|c| c.is_categorical() && batch_schema.field_with_name(c.name).is_ok())
        .map(|c| (c.name.to_owned(), c.values.clone()))
        .collect();
    Ok(Source {
        expected_rows: generator.output_rows(),
        spec,
        schema,
        batch_schema,
        file: Some(path.to_owned()),
        kind: Kind::File {
            batches: Mutex::new(batches),
            sha256,
            categories,
        },
        next: AtomicU64::new(0),
    })
}

/// Refuses a row whose category the scenario cannot produce. A file rewritten by hand or by
/// another tool can carry `"Bachelor"` or `"bachelor "`; it reads as a valid category column,
/// and a one-hot input would give that row all zeros with nothing said. Each dictionary entry
/// is looked up once; rows are scanned only when an entry is unknown, to name the first row
/// that uses it (an unused entry is harmless).
fn check_categories(
    batch: &RecordBatch,
    categories: &[(String, Vec<&'static str>)],
    first_row: u64,
) -> Result<(), String> {
    use arrow::array::{Array, AsArray};
    for (name, valid) in categories {
        let Some(column) = batch.column_by_name(name) else {
            continue;
        };
        let Some(dict) = column.as_dictionary_opt::<arrow::datatypes::Int16Type>() else {
            continue;
        };
        let Some(values) = dict.values().as_string_opt::<i32>() else {
            continue;
        };
        let known: Vec<bool> = values.iter().map(|v| v.is_some_and(|v| valid.contains(&v))).collect();
        if known.iter().all(|&k| k) {
            continue;
        }
        for (row, key) in dict.keys().iter().enumerate() {
            let Some(key) = key else { continue };
            if known.get(key as usize).copied().unwrap_or(false) {
                continue;
            }
            let value = if values.is_valid(key as usize) {
                values.value(key as usize)
            } else {
                ""
            };
            let shown: String = value.chars().take(80).collect();
            let listed: Vec<String> = valid.iter().take(24).map(|v| format!("{v:?}")).collect();
            return Err(format!(
                "row {}: column {name:?} holds {shown:?}, which the scenario never produces; its categories are {}{}",
                first_row + row as u64,
                listed.join(", "),
                if valid.len() > 24 { ", …" } else { "" }
            ));
        }
    }
    Ok(())
}

/// A digest of one batch's contents: its columns' types, lengths, validity and value buffers,
/// recursively (dictionary values included). Cheaper than encoding the batch as IPC to hash
/// it; stable for batches the generator makes, which always start at offset 0.
pub(crate) fn batch_digest(batch: &RecordBatch) -> [u8; 32] {
    fn data(h: &mut Sha256, d: &arrow::array::ArrayData) {
        h.update(d.data_type().to_string().as_bytes());
        h.update((d.len() as u64).to_le_bytes());
        h.update((d.offset() as u64).to_le_bytes());
        match d.nulls() {
            Some(n) => {
                h.update([1]);
                h.update(n.validity());
            }
            None => h.update([0]),
        }
        for b in d.buffers() {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b.as_slice());
        }
        for c in d.child_data() {
            data(h, c);
        }
    }
    let mut h = Sha256::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        h.update(f.name().as_bytes());
        data(&mut h, &c.to_data());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use std::sync::atomic::AtomicBool;

    fn gzip(path: &Path, to: &Path) {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&std::fs::read(path).expect("read")).expect("gzip");
        std::fs::write(to, e.finish().expect("gzip")).expect("write");
    }

    /// The columns' values, dictionaries as their strings (a CSV's dictionaries are its own).
    fn values(c: &arrow::array::ArrayRef) -> arrow::array::ArrayData {
        match c.data_type() {
            DataType::Dictionary(..) => arrow::compute::cast(c, &DataType::Utf8).expect("cast").to_data(),
            _ => c.to_data(),
        }
    }

    /// A file is decoded only in the columns a run reads (in file order), its whole schema is
    /// still what is checked, and the rows read are the generator's: from Parquet, Arrow and
    /// CSV (with its sidecar), and from each gzip-compressed.
    #[test]
    fn a_file_is_read_in_the_kept_columns_only() {
        let mut spec = DatasetSpec::new("unemployment-risk", 3_000, 7).expect("spec");
        spec.split = Split::Test;
        spec.batch_rows = 1_000;
        let generator = Generator::new(spec).expect("generator");
        let dir = std::env::temp_dir().join(format!("sandkasse-source-{}", std::process::id()));
        let keep = ["outcome_recorded", "age", "sex", "p_true", "not_a_column"];
        let mut files = Vec::new();
        for (name, format) in [
            ("t.parquet", synth::Format::Parquet),
            ("t.arrow", synth::Format::Arrow),
            ("t.csv", synth::Format::Csv),
        ] {
            let path = dir.join(name);
            synth::write_dataset(&generator, &path, format, 1, &|_| {}, &AtomicBool::new(false)).expect("write");
            let gz = dir.join(format!("{name}.gz"));
            gzip(&path, &gz);
            files.push(path);
            files.push(gz);
        }
        for path in &files {
            let name = path.display();
            let source = Source::open(&Dataset::File(path.clone()), &CsvOptions::default(), &keep).expect("open");
            let names: Vec<&str> = source.batch_schema.fields().iter().map(|f| f.name().as_str()).collect();
            assert_eq!(names, ["sex", "age", "p_true", "outcome_recorded"], "{name}");
            assert_eq!(
                source.schema.fields().len(),
                generator.schema().fields().len(),
                "{name}"
            );
            let mut b = 0;
            while let Some(next) = source.next() {
                let (index, batch) = next.expect("batch");
                assert_eq!(index, b);
                let want = generator.batch(b);
                assert_eq!(batch.num_columns(), 4, "{name}");
                for column in names.iter() {
                    let got = values(batch.column_by_name(column).expect("kept"));
                    let want = values(want.column_by_name(column).expect("generated"));
                    assert_eq!(got, want, "{name}: {column} of batch {b}");
                }
                b += 1;
            }
            assert_eq!(b, generator.num_batches(), "{name}");
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// A CSV without its sidecar is refused saying what is missing and how to make it; a
    /// compressed Parquet file that inflates past the cap is refused before it is read.
    #[test]
    fn a_category_the_scenario_never_produces_is_refused_naming_its_row() {
        let mut spec = DatasetSpec::new("unemployment-risk", 3_000, 7).expect("spec");
        spec.split = Split::Test;
        spec.batch_rows = 1_000;
        let generator = Generator::new(spec).expect("generator");
        let dir = std::env::temp_dir().join(format!("sandkasse-source-category-{}", std::process::id()));
        let csv = dir.join("t.csv");
        synth::write_dataset(
            &generator,
            &csv,
            synth::Format::Csv,
            1,
            &|_| {},
            &AtomicBool::new(false),
        )
        .expect("write");
        // Row 1500 (line 1502 with the header) gets an education spelled as a person would.
        let text = std::fs::read_to_string(&csv).expect("read");
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let at = header.iter().position(|h| *h == "education").expect("education column");
        let mut fields: Vec<String> = lines[1501].split(',').map(str::to_owned).collect();
        fields[at] = "Bachelor".into();
        lines[1501] = fields.join(",");
        std::fs::write(&csv, lines.join("\n") + "\n").expect("write");
        let source = Source::open(&Dataset::File(csv), &CsvOptions::default(), &["education", "age"]).expect("open");
        let mut errors = Vec::new();
        while let Some(next) = source.next() {
            if let Err(e) = next {
                errors.push(e.to_string());
            }
        }
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("row 1500: column \"education\" holds \"Bachelor\"")
                && errors[0].contains("\"bachelor\""),
            "{}",
            errors[0]
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_csv_without_its_sidecar_and_a_compressed_file_over_the_cap_are_refused() {
        let mut spec = DatasetSpec::new("unemployment-risk", 500, 7).expect("spec");
        spec.split = Split::Test;
        let generator = Generator::new(spec).expect("generator");
        let dir = std::env::temp_dir().join(format!("sandkasse-source-refused-{}", std::process::id()));
        let csv = dir.join("t.csv");
        synth::write_dataset(
            &generator,
            &csv,
            synth::Format::Csv,
            1,
            &|_| {},
            &AtomicBool::new(false),
        )
        .expect("write");
        std::fs::remove_file(dir.join("t.csv.meta.json")).expect("remove the sidecar");
        let e = Source::open(&Dataset::File(csv), &CsvOptions::default(), &[])
            .err()
            .expect("refused");
        let e = e.to_string();
        assert!(e.contains("t.csv.meta.json") && e.contains("--format csv"), "{e}");
        let parquet = dir.join("t.parquet");
        synth::write_dataset(
            &generator,
            &parquet,
            synth::Format::Parquet,
            1,
            &|_| {},
            &AtomicBool::new(false),
        )
        .expect("write");
        let size = std::fs::metadata(&parquet).expect("size").len();
        let gz = dir.join("t.parquet.gz");
        gzip(&parquet, &gz);
        let e = open_file(&gz, &CsvOptions::default(), &[], size - 1)
            .err()
            .expect("over the cap");
        assert!(e.to_string().contains(&format!("more than {} bytes", size - 1)), "{e}");
        assert!(open_file(&gz, &CsvOptions::default(), &[], size).is_ok());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
