#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md in one session: the Criterion generation bench, its
# anchor (Python Faker, da_DK), peak memory for 10 million rows, and the fairness engine against
# fairlearn and Aequitas on the same file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pip install -q -r benches/requirements.txt
cargo build --release --locked -q
echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo || true; free -g | head -2
echo "== Criterion: generation"; cargo bench --locked --bench generate -- --noplot 2>&1 | grep -E '^(batch|end-to-end)|time:|thrpt:'
echo "== Criterion: fairness engine, 1M rows, 24 intersections"; cargo bench --locked --bench metrics -- --noplot 2>&1 | grep -E '^metrics|time:'
echo "== Criterion: inference hot path (features, in-process Session::run, worker round trip)"; cargo bench --locked --bench inference -- --noplot 2>&1 | grep -E '^inference|time:|thrpt:'
echo "== anchor: onnxruntime's Python API, same models and rows, one thread"
.venv/bin/python benches/onnxruntime_anchor.py target/release/sandkasse
echo "== evaluate end to end: 1M unemployment-risk rows, gradient-boosted model, 3 runs"
for i in 1 2 3; do /usr/bin/time -f '%e s wall, %M KB peak RSS (parent)' target/release/sandkasse evaluate --model models/unemployment-gbm.onnx --manifest models/unemployment-gbm.toml --scenario unemployment-risk --rows 1000000 --seed 1 --out "$(mktemp -d)/run.json" 2>&1 | tail -2; done
echo "== evaluate of a written test split against ONNX Runtime alone (issue 13), alternating"
bash benches/evaluate_vs_onnxruntime.sh 3
echo "== anchors: fairlearn MetricFrame and Aequitas on the same file"
.venv/bin/python benches/fairness_anchor.py target/bench-data/unemployment-risk-1m.parquet
echo "== anchor: Python Faker da_DK (name, birth date, city, postcode)"
.venv/bin/python benches/faker_anchor.py 200000
echo "== end to end through the CLI, 1M unemployment-risk rows"
out=$(mktemp -d)
for i in 1 2 3; do target/release/sandkasse generate --scenario unemployment-risk --rows 1000000 --seed 1 --out "$out/u.parquet" 2>&1 | tail -1; done
echo "== peak RSS, 10M unemployment-risk rows"
/usr/bin/time -v target/release/sandkasse generate --quiet --scenario unemployment-risk --rows 10000000 --seed 1 --out "$out/u10m.parquet" 2>&1 | grep -E 'Maximum resident|Elapsed'
ls -la "$out"
rm -rf "$out"
