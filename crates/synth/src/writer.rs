//! Writing a dataset to Parquet, Arrow IPC or CSV: streamed, parallel, atomic.
//!
//! Batches are generated in windows on a thread pool while the previous window is written, so
//! memory stays bounded by a few windows however many rows are asked for. Output goes to a
//! temporary file beside the target, is flushed and fsynced, and is renamed into place only
//! when complete: a failed or interrupted run never leaves a partial file under the real name.

use crate::SynthError;
use crate::fidelity::FidelityCounts;
use crate::generate::{Generator, meta};
use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

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
    pub rows: u64,
    pub bytes: u64,
    pub counts: FidelityCounts,
}

/// Deletes the temporary file unless the write was committed.
struct TempFile {
    path: PathBuf,
    committed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

enum Sink {
    Parquet(ArrowWriter<BufWriter<File>>),
    Arrow(arrow::ipc::writer::FileWriter<BufWriter<File>>),
    Csv(arrow::csv::Writer<BufWriter<File>>),
}

impl Sink {
    fn open(file: File, format: Format, generator: &Generator, path: &Path) -> Result<Self, SynthError> {
        let out = BufWriter::with_capacity(1 << 20, file);
        let schema = generator.schema();
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
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid level")))
                    .set_key_value_metadata(Some(kv))
                    .set_max_row_group_row_count(Some(1 << 20))
                    .build();
                Sink::Parquet(ArrowWriter::try_new(out, schema, Some(props)).map_err(|source| SynthError::Parquet {
                    path: path.to_owned(),
                    source,
                })?)
            }
            Format::Arrow => Sink::Arrow(arrow::ipc::writer::FileWriter::try_new(out, &schema).map_err(arrow_err)?),
            Format::Csv => Sink::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(out)),
        })
    }

    fn write(&mut self, batch: &RecordBatch, path: &Path) -> Result<(), SynthError> {
        let arrow_err = |source| SynthError::Arrow {
            path: path.to_owned(),
            source,
        };
        match self {
            Sink::Parquet(w) => w.write(batch).map_err(|source| SynthError::Parquet {
                path: path.to_owned(),
                source,
            }),
            Sink::Arrow(w) => w.write(batch).map_err(arrow_err),
            Sink::Csv(w) => w.write(batch).map_err(arrow_err),
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
            Sink::Parquet(w) => w.into_inner().map_err(|source| SynthError::Parquet {
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
/// `progress` is called with the number of output rows written so far.
pub fn write_dataset(
    generator: &Generator,
    path: &Path,
    format: Format,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
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
    let temp = TempFile {
        path: dir.join(format!(".{}.partial-{}", name.to_string_lossy(), std::process::id())),
        committed: false,
    };
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
    let window = (pool.current_num_threads() * 2) as u64;
    let batches = generator.num_batches();
    let mut counts = FidelityCounts::default();
    let mut written = 0u64;

    std::thread::scope(|scope| -> Result<(), SynthError> {
        // One window in flight while the previous one is written.
        let (tx, rx) = sync_channel::<Vec<RecordBatch>>(1);
        scope.spawn(move || {
            let mut start = 0;
            while start < batches {
                let end = (start + window).min(batches);
                let made: Vec<RecordBatch> = pool.install(|| (start..end).into_par_iter().map(|b| generator.batch(b)).collect());
                if tx.send(made).is_err() {
                    return; // the writer stopped on an error
                }
                start = end;
            }
        });
        for made in rx {
            for batch in &made {
                sink.write(batch, path)?;
                counts.add(batch);
                written += batch.num_rows() as u64;
                progress(written);
            }
        }
        Ok(())
    })?;

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
        f.write_all(serde_json::to_string_pretty(&meta).expect("json").as_bytes()).map_err(io(&sidecar))?;
        f.sync_all().map_err(io(&sidecar))?;
    }
    fs::rename(&temp.path, path).map_err(io(path))?;
    let mut temp = temp;
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
