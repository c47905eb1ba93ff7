//! Fairness engine speed on 1M rows of `unemployment-risk` with 3 group attributes
//! (sex x ui_member x education = 24 intersections): decisions `outcome_true` judged against the
//! label `outcome_recorded` (and, for the full report, scores `p_true`). The anchors (fairlearn MetricFrame, Aequitas) run on the same file:
//! `benches/fairness_anchor.py`, from `benches/run.sh`.

use arrow::array::RecordBatch;
use criterion::{Criterion, criterion_group, criterion_main};
use fairness::{Accumulator, Columns, Config, MissingGroups, Report, add_record_batch};
use std::fs::File;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// The shared input file (written once; the Python anchors read the same bytes).
pub fn data_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/unemployment-risk-1m.parquet")
}

fn load() -> Vec<RecordBatch> {
    let path = data_path();
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("bench data dir");
        let spec = synth::DatasetSpec::new("unemployment-risk", 1_000_000, 1).expect("spec");
        let g = synth::Generator::new(spec).expect("generator");
        synth::write_dataset(&g, &path, synth::Format::Parquet, 0, &|_| {}, &AtomicBool::new(false)).expect("write");
    }
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&path).expect("open"))
        .expect("parquet")
        .with_batch_size(64 * 1024)
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn columns(score: bool) -> Columns {
    Columns {
        label: "outcome_recorded".into(),
        label_true: None,
        prediction: Some("outcome_true".into()),
        score: Some("p_true".into()).filter(|_| score),
        weight: None,
        groups: vec!["sex".into(), "ui_member".into(), "education".into()],
        threshold: 0.5,
        twin_id: None,
        is_twin: "is_twin".into(),
    }
}

fn run(batches: &[RecordBatch], cols: &Columns, bootstrap: usize) -> Report {
    let names: Vec<&str> = cols.groups.iter().map(String::as_str).collect();
    let mut acc = Accumulator::new(&names, cols.score.is_some(), false, MissingGroups::Error);
    let mut offset = 0;
    for b in batches {
        add_record_batch(&mut acc, b, cols, offset).expect("valid input");
        offset += b.num_rows();
    }
    Report::build(
        &acc,
        &Config {
            bootstrap,
            ..Config::default()
        },
    )
}

fn bench(c: &mut Criterion) {
    let batches = load();
    let report = run(&batches, &columns(false), 0);
    assert_eq!(
        report
            .attribute("sex&ui_member&education")
            .expect("intersection")
            .groups
            .len(),
        24
    );
    let mut group = c.benchmark_group("metrics-1M-rows-24-intersections");
    group.sample_size(10);
    group.bench_function("point-rate-metrics", |b| {
        b.iter(|| black_box(run(&batches, &columns(false), 0)))
    });
    group.bench_function("full-report-1000-bootstrap", |b| {
        b.iter(|| black_box(run(&batches, &columns(false), 1000)))
    });
    group.bench_function("full-report-1000-bootstrap-with-scores", |b| {
        b.iter(|| black_box(run(&batches, &columns(true), 1000)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
