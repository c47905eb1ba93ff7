//! Scenario modules against the Rust scenarios they replaced: the same 1M `unemployment-risk`
//! rows (byte-identical, tested) to a zstd Parquet file, and one batch on one thread, each way
//! in the same run. `cargo bench -p synth --features oracle --bench modules`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use synth::{DatasetSpec, Format, Generator, write_dataset};

fn pair(scenario: &str, rows: u64) -> [(&'static str, Generator); 2] {
    let spec = DatasetSpec::new(scenario, rows, 1).expect("valid spec");
    [
        ("rust", synth::oracle_generator(spec.clone()).expect("oracle")),
        ("module", Generator::new(spec).expect("module")),
    ]
}

fn end_to_end(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("modules-end-to-end");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_000_000));
    for (how, g) in pair("unemployment-risk", 1_000_000) {
        let path = dir.path().join(format!("{how}.parquet"));
        group.bench_function(format!("unemployment-risk/1M-rows-to-parquet/{how}"), |b| {
            b.iter(|| write_dataset(&g, &path, Format::Parquet, 0, &|_| {}, &AtomicBool::new(false)).expect("write"))
        });
    }
    group.finish();
}

fn batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("modules-batch");
    group.throughput(Throughput::Elements(65_536));
    for scenario in ["unemployment-risk", "rehabilitation-need"] {
        for (how, g) in pair(scenario, 65_536) {
            group.bench_function(format!("{scenario}/64Ki-rows-1-thread/{how}"), |b| {
                b.iter(|| black_box(g.batch(0)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, end_to_end, batches);
criterion_main!(benches);
