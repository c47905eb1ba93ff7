//! Writing a dataset to Parquet, Arrow IPC or CSV: streamed, parallel, atomic.
//!
//! Work goes one row group at a time: its batches are generated in parallel on a thread pool,
//! then (for Parquet) its columns are encoded in parallel, then appended to the file in order.
//! Memory stays bounded by one row group however many rows are asked for, and the bytes do not
//! depend on the number of threads. Output goes to a
//! temporary file beside the target, is flushed and fsynced, and is renamed into place only
//! when complete: a failed or interrupted run never leaves a partial file under the real name.

use crate::SynthError;
use crate::fidelity::FidelityCounts;
use crate::generate::{Generator, meta};
use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Columns written without Parquet dictionary encoding.
const HIGH_CARDINALITY: &[&str] = &["person_id", "cpr", "income_dkk", "p_true", "expected_true", "twin_id"];

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Parquet, zstd-compressed, with the spec and data dictionary as key-value metadata.
    Parquet,
    /// Arrow IPC file format, with the same metadata on the schema.
    Arrow,
    /// CSV with a header; the metadata goes to a `<path>.meta.json` sidecar.
    Csv,
}

impl Format {
    /// Reads a format's name: `parquet`, `arrow` (or `ipc`), `csv`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "parquet" => Some(Format::Parquet),
            "arrow" | "ipc" => Some(Format::Arrow),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// What a finished write produced.
#[derive(Debug)]
pub struct WriteSummary {
    /// Rows written (twins included).
    pub rows: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// The fidelity counts gathered while writing, for `--report`.
    pub counts: FidelityCounts,
}

/// Deletes the temporary file (and the directories made for it) unless the write was committed.
struct TempFile {
    path: PathBuf,
    created_dirs: Vec<PathBuf>,
    committed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
            for dir in &self.created_dirs {
                let _ = fs::remove_dir(dir); // innermost first; only if empty
            }
        }
    }
}

/// Creates the missing ancestors of `dir`, returning them innermost first.
fn create_missing_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_owned());
        cur = d.parent();
    }
    for d in missing.iter().rev() {
        fs::create_dir(d)?;
    }
    Ok(missing)
}

/// Generated batches per row group (and per unit of work): 16 x 64 Ki = 1 Mi citizens.
const BATCHES_PER_GROUP: u64 = 16;

enum Sink {
    Parquet {
        writer: SerializedFileWriter<BufWriter<File>>,
        factory: ArrowRowGroupWriterFactory,
        groups: usize,
    },
    Arrow(arrow::ipc::writer::FileWriter<BufWriter<File>>),
    Csv(arrow::csv::Writer<BufWriter<File>>),
}

impl Sink {
    fn open(file: File, format: Format, generator: &Generator, path: &Path) -> Result<Self, SynthError> {
        let out = BufWriter::with_capacity(1 << 20, file);
        let schema = generator.file_schema();
        let arrow_err = |source| SynthError::Arrow {
            path: path.to_owned(),
            source,
        };
        Ok(match format {
            Format::Parquet => {
                let kv = schema
                    .metadata()
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect::<Vec<_>>();
                let mut kv = kv;
                kv.sort_by(|a, b| a.key.cmp(&b.key));
                let mut props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid level")))
                    .set_key_value_metadata(Some(kv))
                    .set_max_row_group_row_count(Some(1 << 20));
                // Columns that are (nearly) unique per row gain nothing from a dictionary, and
                // trying one costs a hash per value before the writer falls back to plain.
                for column in HIGH_CARDINALITY {
                    if schema.column_with_name(column).is_some() {
                        props = props.set_column_dictionary_enabled(ColumnPath::from(*column), false);
                    }
                }
                let props = props.build();
                let pq_err = |source| SynthError::Parquet {
                    path: path.to_owned(),
                    source,
                };
                // ArrowWriter embeds the Arrow schema (dictionary types, metadata); its
                // low-level halves then let us encode columns in parallel.
                let (writer, factory) = ArrowWriter::try_new(out, schema, Some(props))
                    .and_then(ArrowWriter::into_serialized_writer)
                    .map_err(pq_err)?;
                Sink::Parquet {
                    writer,
                    factory,
                    groups: 0,
                }
            }
            Format::Arrow => Sink::Arrow(arrow::ipc::writer::FileWriter::try_new(out, &schema).map_err(arrow_err)?),
            Format::Csv => Sink::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(out)),
        })
    }

    /// Writes one row group's batches (for Parquet, encoding its columns in parallel on `pool`).
    fn write_group(
        &mut self,
        batches: &[RecordBatch],
        pool: &rayon::ThreadPool,
        path: &Path,
    ) -> Result<(), SynthError> {
        let arrow_err = |source| SynthError::Arrow {
            path: path.to_owned(),
            source,
        };
        let pq_err = |source| SynthError::Parquet {
            path: path.to_owned(),
            source,
        };
        match self {
            Sink::Parquet {
                writer,
                factory,
                groups,
            } => {
                let schema = batches[0].schema();
                let column_writers = factory.create_column_writers(*groups).map_err(pq_err)?;
                // Flat schema: one leaf per field, so writer j encodes column j.
                let chunks: Vec<ArrowColumnChunk> = pool
                    .install(|| {
                        column_writers
                            .into_par_iter()
                            .enumerate()
                            .map(|(j, mut w)| {
                                for batch in batches {
                                    for leaf in compute_leaves(schema.field(j), batch.column(j))? {
                                        w.write(&leaf)?;
                                    }
                                }
                                w.close()
                            })
                            .collect::<Result<_, _>>()
                    })
                    .map_err(pq_err)?;
                let mut group = writer.next_row_group().map_err(pq_err)?;
                for chunk in chunks {
                    chunk.append_to_row_group(&mut group).map_err(pq_err)?;
                }
                group.close().map_err(pq_err)?;
                *groups += 1;
                Ok(())
            }
            Sink::Arrow(w) => batches.iter().try_for_each(|b| w.write(b)).map_err(arrow_err),
            Sink::Csv(w) => batches.iter().try_for_each(|b| w.write(b)).map_err(arrow_err),
        }
    }

    fn finish(self, path: &Path) -> Result<File, SynthError> {
        let io = |source| SynthError::Io {
            path: path.to_owned(),
            source,
        };
        let arrow_err = |source| SynthError::Arrow {
            path: path.to_owned(),
            source,
        };
        let buf = match self {
            Sink::Parquet { writer, .. } => writer.into_inner().map_err(|source| SynthError::Parquet {
                path: path.to_owned(),
                source,
            })?,
            Sink::Arrow(mut w) => {
                w.finish().map_err(arrow_err)?;
                w.into_inner().map_err(arrow_err)?
            }
            Sink::Csv(w) => w.into_inner(),
        };
        buf.into_inner().map_err(|e| io(e.into_error()))
    }
}

/// Writes the whole dataset to `path`, generating on `threads` threads (0 = all cores).
/// `progress` is called with the number of output rows written so far; setting `cancel` stops
/// the write at the next row group with [`SynthError::Cancelled`] and removes the partial file.
pub fn write_dataset(
    generator: &Generator,
    path: &Path,
    format: Format,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<WriteSummary, SynthError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| SynthError::Io { path: p, source }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| SynthError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the output path names no file"),
    })?;
    if path.is_dir() {
        return Err(SynthError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "the output path is a directory"),
        });
    }
    let mut temp = TempFile {
        path: dir.join(format!(".{}.partial-{}", name.to_string_lossy(), std::process::id())),
        created_dirs: Vec::new(),
        committed: false,
    };
    temp.created_dirs = create_missing_dirs(&dir).map_err(io(path))?;
    let file = File::create(&temp.path).map_err(io(path))?;
    let mut sink = Sink::open(file, format, generator, path)?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("synth-{i}"))
        .build()
        .map_err(|e| SynthError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let batches = generator.num_batches();
    let mut counts = FidelityCounts::default();
    let mut written = 0u64;
    let mut start = 0;
    while start < batches {
        if cancel.load(Ordering::Relaxed) {
            return Err(SynthError::Cancelled);
        }
        let end = (start + BATCHES_PER_GROUP).min(batches);
        let made: Vec<RecordBatch> =
            pool.install(|| (start..end).into_par_iter().map(|b| generator.batch(b)).collect());
        for batch in &made {
            counts.add(batch);
            written += batch.num_rows() as u64;
        }
        let made = made
            .into_iter()
            .map(|b| generator.file_batch(b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| SynthError::Arrow {
                path: path.to_owned(),
                source,
            })?;
        sink.write_group(&made, &pool, path)?;
        progress(written);
        start = end;
    }

    let file = sink.finish(path)?;
    file.sync_all().map_err(io(path))?;
    let bytes = file.metadata().map_err(io(path))?.len();
    drop(file);
    if format == Format::Csv {
        let sidecar = sidecar_path(path);
        let meta: serde_json::Map<String, serde_json::Value> = generator
            .schema()
            .metadata()
            .iter()
            .map(|(k, v)| {
                let value = if k == meta::SPEC || k == meta::DICTIONARY {
                    serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.clone()))
                } else {
                    serde_json::Value::String(v.clone())
                };
                (k.clone(), value)
            })
            .collect();
        let mut f = File::create(&sidecar).map_err(io(&sidecar))?;
        f.write_all(serde_json::to_string_pretty(&meta).expect("json").as_bytes())
            .map_err(io(&sidecar))?;
        f.sync_all().map_err(io(&sidecar))?;
    }
    fs::rename(&temp.path, path).map_err(io(path))?;
    temp.committed = true;
    Ok(WriteSummary {
        rows: written,
        bytes,
        counts,
    })
}

/// Where the CSV metadata sidecar of `path` goes.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".meta.json");
    PathBuf::from(s)
}
