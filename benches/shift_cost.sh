#!/usr/bin/env bash
# The shift grid's cost (issue 16), with the base run measured in the same session: a 1M-citizen
# run of the gradient-boosted sample without the grid, then with it at 20,000 and at 200,000
# citizens per population, alternating. Prints each run's wall time, the stage's own seconds
# (robustness.shift.seconds), its points and the populations it generated and scored.
#   bash benches/shift_cost.sh [BIN] [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sandkasse}
pairs=${2:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
run() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" evaluate --model models/unemployment-gbm.onnx --manifest models/unemployment-gbm.toml \
    --scenario unemployment-risk --rows 1000000 --seed 1 --workers 2 --quiet --out "$out/$name.json" "$@"
  t1=$(date +%s.%N)
  python3 - "$out/$name.json" "$name" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = (r.get("robustness") or {}).get("shift")
line = f"{sys.argv[2]:>12}: {float(sys.argv[3]):.2f} s wall"
if s:
    specs = {json.dumps(p["spec"], sort_keys=True) for p in s["points"]}
    line += (f"; shift stage {s['seconds']:.2f} s for {len(s['points'])} points over {len(specs)} populations "
             f"of {s['rows']} citizens: {s['seconds'] / len(s['points']):.3f} s per point, "
             f"{s['seconds'] / len(specs):.3f} s per population")
print(line)
PY
}
for i in $(seq "$pairs"); do
  run base
  run shift-20k --shift
  run shift-200k --shift --shift-rows 200000
done
