#!/usr/bin/env bash
# Issue 13's speed goal, measured in one session: `sandkasse evaluate` of 1M citizens of a
# written test split with the gradient-boosted sample model, against ONNX Runtime alone
# scoring the same rows on the same cores with inputs prepared (benches/onnxruntime_alone.rs:
# in process, one session per core, the worker's options). The two alternate, so a drift of
# the machine's speed (large on shared VMs) touches both; each pair prints its ratio. The
# analysis stages (issue 15) and robustness stages (issue 16) are left out (--no-explain --no-paths --no-robustness): issue 13's goal is the base run.
#
#     bash benches/evaluate_vs_onnxruntime.sh [pairs]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-3}
cargo build --release --locked -q
cargo bench --locked --bench onnxruntime_alone --no-run -q 2>/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/sandkasse generate --quiet --scenario unemployment-risk --rows 1000000 --seed 1 --split test --out "$dir/t.parquet"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$pairs"); do
  anchor=$(ANCHOR_RUNS=1 cargo bench --locked --bench onnxruntime_alone 2>/dev/null | sed -n 's/^run 1: \([0-9.]*\) s.*/\1/p')
  start=$(date +%s.%N)
  line=$(target/release/sandkasse evaluate --model models/unemployment-gbm.onnx --manifest models/unemployment-gbm.toml \
    --dataset "$dir/t.parquet" --no-explain --no-paths --no-robustness --out "$dir/run.json" 2>&1 | grep 'rows scored')
  end=$(date +%s.%N)
  python3 -c 'import sys; i, a, s, e, line = sys.argv[1:]; w = float(e) - float(s)
print(f"pair {i}: ONNX Runtime alone {float(a):.3f} s; sandkasse evaluate {w:.3f} s wall ({line}); ratio {w / float(a):.2f}")' \
    "$i" "$anchor" "$start" "$end" "$line"
done
