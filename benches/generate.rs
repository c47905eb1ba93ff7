//! Generation speed: the per-row cost of the generator and the end-to-end rate to a Parquet
//! file. The Python Faker anchor is `benches/faker_anchor.py`; `benches/run.sh` runs both.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use synth::{DatasetSpec, Format, Generator, write_dataset};

fn generator(scenario: &str, rows: u64) -> Generator {
    Generator::new(DatasetSpec::new(scenario, rows, 1).expect("valid spec")).expect("valid generator")
}

fn batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch");
    for scenario in ["population", "unemployment-risk", "rehabilitation-need"] {
        let g = generator(scenario, 65_536);
        group.throughput(Throughput::Elements(65_536));
        group.bench_function(format!("{scenario}/64Ki-rows-1-thread"), |b| {
            b.iter(|| black_box(g.batch(0)))
        });
    }
    group.finish();
}

fn end_to_end(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("end-to-end");
    group.sample_size(10);
    for scenario in ["unemployment-risk", "population"] {
        let g = generator(scenario, 1_000_000);
        let path = dir.path().join(format!("{scenario}.parquet"));
        group.throughput(Throughput::Elements(1_000_000));
        group.bench_function(format!("{scenario}/1M-rows-to-parquet"), |b| {
            b.iter(|| write_dataset(&g, &path, Format::Parquet, 0, &|_| {}, &AtomicBool::new(false)).expect("write"))
        });
    }
    group.finish();
}

criterion_group!(benches, batches, end_to_end);
criterion_main!(benches);
