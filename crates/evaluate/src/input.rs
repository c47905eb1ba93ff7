//! Any tabular file a user has, as record batches: Parquet (any codec), Arrow IPC / Feather
//! (lz4, zstd) or CSV, each possibly gzip- or zstd-compressed as a whole.
//!
//! Formats are told by magic bytes (after decompression), not by file name, so a renamed file
//! still reads and a mislabelled one is named for what it is. `sandkasse metrics` reads through
//! [`open_table`]; `evaluate --dataset` uses the same detection with the generator's schema.

use crate::compressed::{self, Codec};
use crate::csv::{self, CsvOptions};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

/// The most bytes a compressed Parquet or Arrow IPC file may inflate to in `sandkasse metrics`:
/// such a file is inflated into memory to be read (both formats need random access), and the
/// inflation stops here instead of following a small file that inflates without bound. A CSV
/// is inflated as a stream and has no such limit.
pub const MAX_INFLATED_BYTES: u64 = 8 << 30;

/// A file that could not be opened or read, naming it.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct InputError {
    /// The file as the caller named it.
    pub file: String,
    /// What was wrong and what would be right.
    pub message: String,
}

/// The batches of a file, in order.
pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// An opened file: the schema of its batches and the batches.
pub struct Table {
    /// The columns of every batch.
    pub schema: SchemaRef,
    /// The rows in batches of the size asked for (the last one shorter).
    pub batches: Batches,
}

/// The format of a file's (decompressed) bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Parquet,
    Ipc,
    Csv,
}

/// The format whose first (decompressed) bytes are `head`; anything else is refused saying
/// what it looks like and what would be read.
pub(crate) fn format_of(head: &[u8], codec: Codec) -> Result<Format, String> {
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if head.starts_with(b"ARROW1") {
        return Ok(Format::Ipc);
    }
    let what = compressed::looks_like(head);
    if what == "text" {
        return Ok(Format::Csv);
    }
    let what = match codec {
        Codec::Plain => what,
        c => format!("{what} inside {} compression", c.name()),
    };
    Err(format!(
        "cannot be read: it looks like {what}; write the data as Parquet, Arrow IPC (Feather) or \
         CSV, each optionally compressed with gzip (.gz) or zstd (.zst)"
    ))
}

/// Opens `path` and streams its rows in batches of `batch_rows` (`sandkasse metrics`). A CSV's
/// column types are inferred from its first records (decimal-comma columns as floats with
/// `options.decimal_comma`); Parquet and IPC carry theirs.
///
/// Only the columns named in `keep` are decoded, in file order, if the file has them all: a
/// report reads a handful of a file's columns, and parsing the others was most of the work.
/// If one is missing every column is read, so the caller's message about it can list them.
pub fn open_table(path: &Path, options: &CsvOptions, batch_rows: usize, keep: &[&str]) -> Result<Table, InputError> {
    open_table_capped(path, options, batch_rows, keep, MAX_INFLATED_BYTES)
}

/// The indices of `keep` in `schema`, in its order, or `None` (every column) if one is missing.
/// A file that names a column twice is refused: which of the two a reader takes by name would
/// be an accident, and the numbers computed from it could be another column's.
fn projection(schema: &arrow::datatypes::Schema, keep: &[&str]) -> Result<Option<Vec<usize>>, String> {
    let mut seen = std::collections::HashMap::new();
    for (i, f) in schema.fields().iter().enumerate() {
        if let Some(first) = seen.insert(f.name().as_str(), i) {
            return Err(format!(
                "the column {:?} appears twice (columns {} and {}); a file must name each column once",
                f.name().chars().take(80).collect::<String>(),
                first + 1,
                i + 1
            ));
        }
    }
    Ok(keep.iter().all(|k| schema.column_with_name(k).is_some()).then(|| {
        (0..schema.fields().len())
            .filter(|&i| keep.contains(&schema.field(i).name().as_str()))
            .collect()
    }))
}

pub(crate) fn open_table_capped(
    path: &Path,
    options: &CsvOptions,
    batch_rows: usize,
    keep: &[&str],
    cap: u64,
) -> Result<Table, InputError> {
    let err = |message: String| InputError {
        file: path.display().to_string(),
        message,
    };
    let io_err = |e: io::Error| err(e.to_string());
    let raw_head = compressed::read_head(&mut File::open(path).map_err(io_err)?, 8).map_err(io_err)?;
    let codec = compressed::check_name(path, &raw_head).map_err(err)?;
    let open = || -> io::Result<Box<dyn Read + Send>> { codec.decoder(File::open(path)?) };
    let mut stream = open().map_err(io_err)?;
    let head = compressed::read_head(&mut stream, csv::HEAD_BYTES).map_err(|e| err(format!("reading it: {e}")))?;
    let complete = head.len() < csv::HEAD_BYTES;
    let batch_rows = batch_rows.max(1);
    match format_of(&head, codec).map_err(err)? {
        Format::Parquet => match codec {
            Codec::Plain => parquet(File::open(path).map_err(io_err)?, batch_rows, keep),
            _ => {
                let bytes = compressed::inflate_capped(io::Cursor::new(head).chain(stream), cap).map_err(err)?;
                parquet(bytes::Bytes::from(bytes), batch_rows, keep)
            }
        }
        .map_err(err),
        Format::Ipc => {
            let (schema, batches): (SchemaRef, Batches) = match codec {
                Codec::Plain => ipc(File::open(path).map_err(io_err)?, batch_rows, keep),
                _ => {
                    let bytes = compressed::inflate_capped(io::Cursor::new(head).chain(stream), cap).map_err(err)?;
                    ipc(io::Cursor::new(bytes), batch_rows, keep)
                }
            }
            .map_err(err)?;
            Ok(Table { schema, batches })
        }
        Format::Csv => {
            drop(stream);
            let delimiter = csv::delimiter(options, &head, complete).map_err(err)?;
            let schema = Arc::new(csv::infer(&open, delimiter, options.decimal_comma).map_err(err)?);
            let (schema, batches) = csv::read(
                &open,
                &schema,
                projection(&schema, keep).map_err(err)?,
                delimiter,
                options.decimal_comma,
                batch_rows,
            )
            .map_err(err)?;
            Ok(Table { schema, batches })
        }
    }
}

/// A Parquet file's batches of `batch_rows`.
fn parquet<T: parquet::file::reader::ChunkReader + 'static>(
    data: T,
    batch_rows: usize,
    keep: &[&str],
) -> Result<Table, String> {
    let unreadable = |e| format!("not a readable Parquet file: {e}");
    let mut builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(unreadable)?
        .with_batch_size(batch_rows);
    if let Some(p) = projection(builder.schema(), keep)? {
        // A flat schema: the arrow field at index i is the Parquet root column i.
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), p);
        builder = builder.with_projection(mask);
    }
    let reader = builder.build().map_err(unreadable)?;
    Ok(Table {
        schema: arrow::array::RecordBatchReader::schema(&reader),
        batches: Box::new(reader),
    })
}

/// An IPC file's batches regrouped into `batch_rows` whatever chunks it was written in.
fn ipc<R: Read + io::Seek + Send + 'static>(
    mut data: R,
    batch_rows: usize,
    keep: &[&str],
) -> Result<(SchemaRef, Batches), String> {
    let unreadable = |e| format!("not a readable Arrow IPC file: {e}");
    let full = arrow::ipc::reader::FileReader::try_new(&mut data, None)
        .map_err(unreadable)?
        .schema();
    data.seek(io::SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let reader = arrow::ipc::reader::FileReader::try_new(data, projection(&full, keep)?).map_err(unreadable)?;
    let schema = reader.schema();
    Ok((
        schema.clone(),
        Box::new(fairness::Rebatched::new(reader, schema, batch_rows)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A CSV with two columns named `decision` is refused naming both positions, whichever
    /// columns the reader keeps; a reader by name would otherwise take the first silently.
    #[test]
    fn a_column_named_twice_is_refused_naming_both() {
        let dir = std::env::temp_dir().join(format!("sandkasse-input-twice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("twice.csv");
        std::fs::write(&path, "sex,decision,outcome,decision\nF,1,0,0\nM,0,1,1\n").unwrap();
        for keep in [&["sex"][..], &["decision", "outcome"][..], &[][..]] {
            let e = match open_table(&path, &CsvOptions::default(), 10, keep) {
                Ok(_) => panic!("{keep:?}: a file with a column named twice was read"),
                Err(e) => e.to_string(),
            };
            assert!(
                e.contains("the column \"decision\" appears twice (columns 2 and 4)"),
                "{keep:?}: {e}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A gzip-compressed Parquet file inflating past the cap is refused naming the cap; under
    /// a larger cap the same file reads.
    #[test]
    fn a_compressed_parquet_file_over_the_cap_is_refused() {
        let dir = tempfile_dir("cap");
        let plain = dir.join("t.parquet");
        let batch = RecordBatch::try_from_iter([(
            "x",
            Arc::new(arrow::array::Int64Array::from(vec![0i64; 100_000])) as arrow::array::ArrayRef,
        )])
        .expect("batch");
        let mut w = parquet::arrow::ArrowWriter::try_new(File::create(&plain).expect("create"), batch.schema(), None)
            .expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let bytes = std::fs::read(&plain).expect("read");
        let gz = dir.join("t.parquet.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).expect("create"), flate2::Compression::fast());
        e.write_all(&bytes).expect("gzip");
        e.finish().expect("gzip");
        let options = CsvOptions::default();
        let small = bytes.len() as u64 - 1;
        let e = open_table_capped(&gz, &options, 1000, &[], small)
            .err()
            .expect("over the cap");
        assert!(e.to_string().contains(&format!("more than {small} bytes")), "{e}");
        assert!(e.to_string().starts_with(&gz.display().to_string()), "{e}");
        let table = open_table_capped(&gz, &options, 1000, &[], bytes.len() as u64).expect("at the cap");
        let rows: usize = table.batches.map(|b| b.expect("batch").num_rows()).sum();
        assert_eq!(rows, 100_000);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn an_unreadable_file_is_named_with_what_it_looks_like_and_what_to_do() {
        let dir = tempfile_dir("unreadable");
        let xlsx = dir.join("data.xlsx");
        std::fs::write(&xlsx, b"PK\x03\x04\x14\x00\x06\x00rest of a workbook").expect("write");
        let e = open_table(&xlsx, &CsvOptions::default(), 10, &[])
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("data.xlsx") && e.contains("ZIP") && e.contains("write the data as Parquet"),
            "{e}"
        );
        let gz = dir.join("data.json.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).expect("create"), flate2::Compression::fast());
        enc.write_all(b"[{\"a\": 1}]").expect("gzip");
        enc.finish().expect("gzip");
        let e = open_table(&gz, &CsvOptions::default(), 10, &[])
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("JSON text inside gzip compression"), "{e}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    fn tempfile_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sandkasse-input-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
