#!/usr/bin/env bash
# Live inference over gRPC under load, measured from outside the process: `h2load` (Debian's
# nghttp2-client) sends one fixed, gRPC-framed single-row ModelInfer request for the
# logistic-regression sample to a real `sandkasse serve --grpc-bind` at 1, 8, 32 and 128
# connections (one stream each, as wrk's connections in benches/kserve_load.sh) and on one
# connection with 32 streams (how one grpcio channel behaves); then, as the anchor, the same model
# and request to the KServe Python model server's gRPC port (benches/kserve_anchor.py).
#
# h2load never sees grpc-status (it is in the trailers; every gRPC answer, refusals included, is
# HTTP 200), so the request is first sent once through grpcio and its answer decoded, and each
# level's served and failed calls are read from the server's /metrics before and after: a level
# with any failure fails the script.
#
#   bash benches/grpc_load.sh [seconds per level, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v h2load >/dev/null || { echo "installing h2load"; apt-get install -y nghttp2-client >/dev/null; }
bash scripts/setup.sh >/dev/null
bash scripts/apitools.sh >/dev/null   # tritonclient[grpc] and grpcio in .venv, to build and check the request
cargo build --release --locked -q
B=target/release/sandkasse
D=$(mktemp -d)
PORT=18184
GPORT=18185
A=$($B users add --data-dir "$D" --org Authority --role authority --name a 2>/dev/null)
V=$($B users add --data-dir "$D" --org Vendor --role vendor --name v 2>/dev/null)
# One token is one caller: its concurrency limit (8 by default) is lifted so h2load measures serving, not refusals.
$B serve --data-dir "$D" --bind 127.0.0.1:$PORT --grpc-bind 127.0.0.1:$GPORT --run-slots 0 \
  --serving-per-caller 256 >"$D/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 100); do curl -fs localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
CASE=$(curl -fs -H "Authorization: Bearer $A" -H 'content-type: application/json' \
  -d '{"name": "load", "members": ["Vendor"]}' localhost:$PORT/api/v1/cases | json '["id"]')
MODEL=$(curl -fs -H "Authorization: Bearer $V" -F model=@models/unemployment-logreg.onnx \
  -F manifest=@models/unemployment-logreg.toml localhost:$PORT/api/v1/cases/$CASE/models | json '["id"]')
# The same citizen of the test split as benches/kserve_load.sh, as a single-row request.
$B generate --scenario unemployment-risk --rows 10 --seed 1 --split test --format csv --out "$D/rows.csv" >/dev/null 2>&1
curl -fs -H "Authorization: Bearer $V" localhost:$PORT/v2/models/$MODEL >"$D/meta.json"

# body NAME TARGET TOKEN: writes $D/NAME.grpc (5-byte gRPC prefix + ModelInferRequest) for model
# TARGET, then sends it once through grpcio and checks the answer has both outputs.
body() {
  .venv/bin/python - "$D" "$1" "$2" "$3" "$4" <<'PY'
import csv, json, struct, sys
import grpc, numpy as np
from tritonclient.grpc import service_pb2
from tritonclient.utils import serialize_byte_tensor
d, name, model, token, port = sys.argv[1:]
meta = json.load(open(f"{d}/meta.json"))
row = next(csv.DictReader(open(f"{d}/rows.csv")))
req = service_pb2.ModelInferRequest(model_name=model)
for i in meta["inputs"]:
    v = row[i["name"]]
    if i["datatype"] == "BYTES":
        req.inputs.add(name=i["name"], datatype="BYTES", shape=[1])
        req.raw_input_contents.append(serialize_byte_tensor(np.array([v], dtype=object)).item())
    else:
        x = {"true": 1.0, "false": 0.0}.get(v.lower(), None)
        req.inputs.add(name=i["name"], datatype="FP32", shape=[1])
        req.raw_input_contents.append(np.array([x if x is not None else float(v)], np.float32).tobytes())
msg = req.SerializeToString()
open(f"{d}/{name}.grpc", "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
call = grpc.insecure_channel(f"127.0.0.1:{port}").unary_unary("/inference.GRPCInferenceService/ModelInfer")
metadata = [("authorization", f"Bearer {token}")] if token else []
answer = service_pb2.ModelInferResponse.FromString(call(msg, metadata=metadata, timeout=30))
names = [o.name for o in answer.outputs]
assert names, f"{name}: an answer without outputs"
print(f"{name}: {len(msg)}-byte request checked through grpcio: outputs {names}, {[len(r) for r in answer.raw_output_contents]} raw bytes")
PY
}
body sandkasse "$MODEL" "$V" "$GPORT"

# A counter's total over its labels.
counter() { curl -fs localhost:$PORT/metrics | awk -v m="$1" 'index($1, m) == 1 && substr($1, length(m) + 1, 1) ~ /^({|)$/ {s += $2} END {print s + 0}'; }
# h2load's summary plus p50/p99 from its per-request log (µs to the end of the answer).
run() { # URL BODY CONNECTIONS STREAMS [AUTH]
  local url=$1 file=$2 c=$3 m=$4 auth=${5:-} log="$D/h2load.tsv"
  local hdr=(-H 'content-type: application/grpc' -H 'te: trailers')
  [[ -n $auth ]] && hdr+=(-H "authorization: Bearer $auth")
  rm -f "$log"
  out=$(h2load -t 1 -c "$c" -m "$m" -D "$secs" --warm-up-time 1 -d "$file" "${hdr[@]}" --log-file "$log" "$url")
  rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  done_=$(echo "$out" | awk '/^requests:/ {print $6}')
  ok=$(echo "$out" | awk '/^requests:/ {print $6 " done, " $8 " HTTP-succeeded"}')
  pct=$(sort -n -k3 "$log" | awk -v n="$(wc -l <"$log")" '
    NR == int(n * 0.50 + 0.5) {p50 = $3} NR == int(n * 0.99 + 0.5) {p99 = $3}
    END {printf "p50 %.2f ms, p99 %.2f ms", p50 / 1000, p99 / 1000}')
  echo "connections $c × streams $m: $rps req/s, $pct ($ok)"
  LAST_DONE=$done_
}
levels() { # URL BODY [AUTH] [check]
  for cm in "1 1" "8 1" "32 1" "128 1" "1 32"; do
    local before_ok before_fail
    if [[ ${4:-} == check ]]; then
      before_ok=$(counter sandkasse_inference_requests_total); before_fail=$(counter sandkasse_inference_failures_total)
    fi
    # shellcheck disable=SC2086
    run "$1" "$2" $cm "${3:-}"
    if [[ ${4:-} == check ]]; then
      local served=$(( $(counter sandkasse_inference_requests_total) - before_ok ))
      local failed=$(( $(counter sandkasse_inference_failures_total) - before_fail ))
      echo "    server: $served calls served, $failed failed"
      if (( failed > 0 || served < LAST_DONE )); then echo "the server refused or failed calls at this level" >&2; exit 1; fi
    fi
  done
}
echo "single-row ModelInfer over gRPC, unemployment-logreg, $secs s per level, $(nproc) cores (h2load and the server share them)"
echo "Sandkasse (isolated workers, tokens, limits, batching):"
levels "http://127.0.0.1:$GPORT/inference.GRPCInferenceService/ModelInfer" "$D/sandkasse.grpc" "$V" check
kill $PID; wait $PID 2>/dev/null || true

# The anchor: KServe's Python model server's gRPC port, the same model and row.
if [[ ! -x .venv-kserve/bin/python ]]; then python3 -m venv .venv-kserve; fi
.venv-kserve/bin/pip install -q --disable-pip-version-check -r benches/kserve-requirements.txt
KPORT=18182
KGPORT=18183
.venv-kserve/bin/python benches/kserve_anchor.py --model models/unemployment-logreg.onnx \
  --manifest models/unemployment-logreg.toml --http-port $KPORT --grpc-port $KGPORT >"$D/kserve.log" 2>&1 &
KPID=$!
trap 'kill $PID $KPID 2>/dev/null; wait $PID $KPID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 300); do curl -fs localhost:$KPORT/v2/health/ready >/dev/null && break; sleep 0.1; done
body kserve unemployment-logreg "" "$KGPORT" || { echo "the KServe anchor did not answer:"; tail -20 "$D/kserve.log"; exit 1; }
echo "KServe $(.venv-kserve/bin/python -c 'from importlib.metadata import version; print(version("kserve"))') Python model server, gRPC (anchor, no isolation or authentication):"
levels "http://127.0.0.1:$KGPORT/inference.GRPCInferenceService/ModelInfer" "$D/kserve.grpc"
kill $KPID; wait $KPID 2>/dev/null || true
