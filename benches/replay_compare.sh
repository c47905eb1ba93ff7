#!/usr/bin/env bash
# Issue 17's replay and comparison, timed on a live service (release build, SQLite): two runs of the gradient-boosted
# sample model on the same ROWS citizens, then their paired comparison (1,000 resamples), then an advisor's replay
# of the first. Anchors measured in the same session: the runs' own wall time (a replay is a run again), and
# `sandkasse generate` of the same spec (a comparison regenerates the dataset before it pairs the rows).
#
#     bash benches/replay_compare.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
cargo build --release --locked -q
dir=$(mktemp -d)
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
bin=target/release/sandkasse
authority=$($bin users add --data-dir "$dir" --org STAR --role authority --name Anna)
vendor=$($bin users add --data-dir "$dir" --org Nordlys --role vendor --name Niels)
advisor=$($bin users add --data-dir "$dir" --org Datatilsynet --role advisor --name Dorte)
$bin serve --data-dir "$dir" --bind 127.0.0.1:0 > "$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on http://" "$dir/serve.log" && break; sleep 0.1; done
base=$(sed -n 's|^Sandkasse listening on \(http://[^/ ]*\).*|\1|p' "$dir/serve.log" | head -1)
api() { curl -sf -H "Authorization: Bearer $1" "${@:2}"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
case_id=$(api "$authority" -H 'content-type: application/json' -d '{"name": "bench", "members": ["Nordlys"]}' "$base/api/v1/cases" | json "['id']")
model=$(api "$vendor" -F model=@models/unemployment-gbm.onnx -F manifest=@models/unemployment-gbm.toml "$base/api/v1/cases/$case_id/models" | json "['id']")
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
run() {
  local start id state
  start=$(date +%s.%N)
  id=$(api "$vendor" -H 'content-type: application/json' \
    -d "{\"model_id\": \"$model\", \"rows\": $rows, \"seed\": 5, \"no_explain\": true, \"no_paths\": true, \"no_robustness\": true}" \
    "$base/api/v1/runs" | json "['id']")
  while :; do
    state=$(api "$vendor" "$base/api/v1/runs/$id" | json "['state']")
    [[ "$state" == succeeded || "$state" == failed ]] && break
    sleep 0.2
  done
  echo "$id $(python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$start") $state"
}
read -r a ta sa < <(run)
read -r b tb sb < <(run)
echo "run A: $ta s ($sa); run B: $tb s ($sb)"
t0=$(date +%s.%N)
api "$authority" "$base/api/v1/cases/$case_id/comparison?runs=$a,$b" > "$dir/cmp.json"
t1=$(date +%s.%N)
api "$advisor" -X POST "$base/api/v1/runs/$a/replay" > "$dir/replay.json"
t2=$(date +%s.%N)
$bin generate --quiet --scenario unemployment-risk --rows "$rows" --seed 5 --split test --out "$dir/anchor.parquet"
t3=$(date +%s.%N)
python3 - "$t0" "$t1" "$t2" "$t3" "$dir/cmp.json" "$dir/replay.json" <<'EOF'
import json, sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
cmp, rep = json.load(open(sys.argv[5])), json.load(open(sys.argv[6]))
print(f"comparison of the two runs: {t1 - t0:.2f} s ({cmp['citizens']} citizens, {len(cmp['pairs'][0]['rates'])} rates, "
      f"{cmp['resamples']} resamples); anchor `sandkasse generate` of the same spec to Parquet: {t3 - t2:.2f} s")
print(f"replay of run A: {t2 - t1:.2f} s, identical: {rep['identical']}")
EOF
