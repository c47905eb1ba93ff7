#!/usr/bin/env bash
# Live inference under load, measured from outside the process: `wrk` (Debian) sends single-row
# Open Inference Protocol requests for the logistic-regression sample to a real `sandkasse serve`
# at 1, 8, 32 and 128 connections; then, as the anchor a user would pick instead, the same model
# and request served by the KServe Python model server (benches/kserve_anchor.py, `kserve` pinned
# in benches/kserve-requirements.txt, installed into .venv-kserve) with the same load generator;
# then Criterion measures the in-process ONNX Runtime cost of one row (features + Session::run)
# in the same run, for scale.
#
#   bash benches/kserve_load.sh [seconds per level, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null; }
bash scripts/setup.sh >/dev/null
cargo build --release --locked -q
B=target/release/sandkasse
D=$(mktemp -d)
PORT=18181
A=$($B users add --data-dir "$D" --org Authority --role authority --name a 2>/dev/null)
V=$($B users add --data-dir "$D" --org Vendor --role vendor --name v 2>/dev/null)
# One token is one caller: its concurrency limit (8 by default) is lifted so wrk measures serving, not 429s.
$B serve --data-dir "$D" --bind 127.0.0.1:$PORT --run-slots 0 --serving-per-caller 256 >"$D/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 100); do curl -fs localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
CASE=$(curl -fs -H "Authorization: Bearer $A" -H 'content-type: application/json' \
  -d '{"name": "load", "members": ["Vendor"]}' localhost:$PORT/api/v1/cases | json '["id"]')
MODEL=$(curl -fs -H "Authorization: Bearer $V" -F model=@models/unemployment-logreg.onnx \
  -F manifest=@models/unemployment-logreg.toml localhost:$PORT/api/v1/cases/$CASE/models | json '["id"]')
# One real citizen of the test split, as a single-row request.
$B generate --scenario unemployment-risk --rows 10 --seed 1 --split test --format csv --out "$D/rows.csv" >/dev/null 2>&1
curl -fs -H "Authorization: Bearer $V" localhost:$PORT/v2/models/$MODEL >"$D/meta.json"
python3 - "$D" "$V" <<'PY'
import csv, json, sys
d, token = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{d}/meta.json"))
row = next(csv.DictReader(open(f"{d}/rows.csv")))
inputs = []
for i in meta["inputs"]:
    v = row[i["name"]]
    if i["datatype"] == "BYTES":
        inputs.append({"name": i["name"], "shape": [1], "datatype": "BYTES", "data": [v]})
    else:
        x = {"true": 1.0, "false": 0.0}.get(v.lower(), None)
        inputs.append({"name": i["name"], "shape": [1], "datatype": "FP32", "data": [x if x is not None else float(v)]})
body = json.dumps({"inputs": inputs})
open(f"{d}/body.json", "w").write(body)
open(f"{d}/post.lua", "w").write(
    'wrk.method = "POST"\n'
    f"wrk.body = {json.dumps(body)}\n"
    'wrk.headers["Content-Type"] = "application/json"\n'
    f'wrk.headers["Authorization"] = "Bearer {token}"\n'
)
PY
URL=http://127.0.0.1:$PORT/v2/models/$MODEL/infer
curl -fs -H "Authorization: Bearer $V" -H 'content-type: application/json' --data @"$D/body.json" "$URL" >/dev/null
# Each level: wrk's requests/s, p50 and p99, and any errors.
levels() {
  for c in 1 8 32 128; do
    t=$(( c < 2 ? 1 : 2 ))
    out=$(wrk -t$t -c$c -d${secs}s --latency -s "$D/post.lua" "$1")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    errs=$(echo "$out" | grep -E "Non-2xx|Socket errors" | tr '\n' ' ' || true)
    echo "connections $c: $rps req/s, p50 $p50, p99 $p99 ${errs:+($errs)}"
  done
}
echo "single-row infer, unemployment-logreg, $secs s per level, $(nproc) cores (wrk and the server share them)"
echo "Sandkasse (isolated workers, tokens, limits, batching):"
levels "$URL"
curl -fs localhost:$PORT/metrics | grep -E "^sandkasse_inference_(requests|failures)_total" || true
kill $PID; wait $PID 2>/dev/null || true

# The anchor: KServe's Python model server, one process, the same model and request body.
if [[ ! -x .venv-kserve/bin/python ]]; then python3 -m venv .venv-kserve; fi
.venv-kserve/bin/pip install -q --disable-pip-version-check -r benches/kserve-requirements.txt
KPORT=18182
.venv-kserve/bin/python benches/kserve_anchor.py --model models/unemployment-logreg.onnx \
  --manifest models/unemployment-logreg.toml --http-port $KPORT --grpc-port 18183 >"$D/kserve.log" 2>&1 &
KPID=$!
trap 'kill $PID $KPID 2>/dev/null; wait $PID $KPID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 300); do curl -fs localhost:$KPORT/v2/health/ready >/dev/null && break; sleep 0.1; done
KURL=http://127.0.0.1:$KPORT/v2/models/unemployment-logreg/infer
curl -fs -H 'content-type: application/json' --data @"$D/body.json" "$KURL" >/dev/null \
  || { echo "the KServe anchor did not answer:"; tail -20 "$D/kserve.log"; exit 1; }
echo "KServe $(.venv-kserve/bin/python -c 'from importlib.metadata import version; print(version("kserve"))') Python model server (anchor, no isolation or authentication):"
levels "$KURL"
kill $KPID; wait $KPID 2>/dev/null || true
echo "in-process ONNX Runtime, one row (features + Session::run):"
cargo bench --bench inference -- 'inference/unemployment-logreg/(features|session-run-in-process)/1$' 2>&1 | grep -E "^inference|time:" || true
