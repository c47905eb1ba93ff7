#!/usr/bin/env bash
# Issue 15's speed goal: on a 1M-citizen run of the gradient-boosted sample, the analysis stages
# with their defaults (explanations: permutation importance of every input on 5,000 rows, 5
# repeats, partial dependence of two columns, flip contributions when there are twins, weak
# slices; causal paths: 20,000 citizens with a total, proxy and mediated twin each, and the gap
# decomposition) add at most as much time as the base run itself. The base run (`--no-explain
# --no-paths`) and the default run alternate on the same written test split, so a drift of the
# machine's speed touches both; each pair prints its figures.
#
#     bash benches/explain_cost.sh [pairs]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-3}
cargo build --release --locked -q
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
B=target/release/sandkasse
$B generate --quiet --scenario unemployment-risk --rows 1000000 --seed 1 --split test --out "$dir/t.parquet"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # EXTRA-ARGS...: prints the wall time, then the explanation line if any
  local start end
  start=$(date +%s.%N)
  $B evaluate --model models/unemployment-gbm.onnx --manifest models/unemployment-gbm.toml \
    --dataset "$dir/t.parquet" --out "$dir/run.json" "$@" 2>"$dir/err" >/dev/null
  end=$(date +%s.%N)
  python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.3f}")' "$start" "$end"
}
for i in $(seq "$pairs"); do
  base=$(run --no-explain --no-paths)
  full=$(run)
  stages=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); e, p = r["explanations"]["seconds"], r["paths"]["seconds"]
print(f"explanations {e:.3f} s, paths {p:.3f} s")' "$dir/run.json")
  python3 -c 'import sys; i, b, f, s = sys.argv[1:]; b, f = float(b), float(f)
print(f"pair {i}: base {b:.3f} s; with the analyses {f:.3f} s ({s}); added {f - b:.3f} s = {(f - b) / b:.2f} x the base run")' \
    "$i" "$base" "$full" "$stages"
done
