#!/usr/bin/env bash
# The browser pages under load, measured from outside the process with `wrk` (Debian): a logged-in
# session fetching the case page, a run page, the runs list and (as an advisor, whose every read
# appends an audit entry) the audit log, at 8 connections; beside the same data as JSON from the API
# in the same run, which is the anchor: what rendering HTML costs over serializing JSON.
#
#   bash benches/pages_load.sh [seconds per page, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null; }
bash scripts/setup.sh >/dev/null
cargo build --release --locked -q
B=target/release/sandkasse
D=$(mktemp -d)
PORT=18182
A=$($B users add --data-dir "$D" --org Authority --role authority --name a 2>/dev/null)
V=$($B users add --data-dir "$D" --org Vendor --role vendor --name v 2>/dev/null)
R=$($B users add --data-dir "$D" --org Datatilsynet --role advisor --name r 2>/dev/null)
$B serve --data-dir "$D" --bind 127.0.0.1:$PORT --bootstrap 50 >"$D/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 100); do curl -fs localhost:$PORT/healthz >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
H='content-type: application/json'
CASE=$(curl -fs -H "Authorization: Bearer $A" -H "$H" -d '{"name": "load", "members": ["Vendor"]}' \
  localhost:$PORT/api/v1/cases | json '["id"]')
curl -fs -X PUT -H "Authorization: Bearer $A" -H "$H" localhost:$PORT/api/v1/cases/$CASE/criteria -d \
  '{"criteria": [{"attribute": "sex", "metric": "demographic_parity_difference", "op": "<=", "threshold": 0.1}]}' >/dev/null
MODEL=$(curl -fs -H "Authorization: Bearer $V" -F model=@models/unemployment-logreg.onnx \
  -F manifest=@models/unemployment-logreg.toml localhost:$PORT/api/v1/cases/$CASE/models | json '["id"]')
RUN=""
for _ in 1 2 3 4 5; do
  RUN=$(curl -fs -H "Authorization: Bearer $V" -H "$H" -d '{"model_id": "'$MODEL'", "rows": 5000}' \
    localhost:$PORT/api/v1/runs | json '["id"]')
done
for _ in $(seq 300); do
  s=$(curl -fs -H "Authorization: Bearer $V" localhost:$PORT/api/v1/runs/$RUN | json '["state"]')
  [[ $s == succeeded ]] && break; sleep 0.2
done
# A session as a browser gets it: log in with the token, keep the cookie.
session() {
  curl -fs -o /dev/null -D - -d "token=$1" localhost:$PORT/ui/login | tr -d '\r' |
    sed -n 's/^set-cookie: \(sandkasse_session=[0-9a-f]*\).*/\1/p'
}
VC=$(session "$V"); RC=$(session "$R")
lua() { printf 'wrk.headers["%s"] = "%s"\n' "$1" "$2" >"$D/$3.lua"; }
lua Cookie "$VC" vendor-page; lua Cookie "$RC" advisor-page
lua Authorization "Bearer $V" vendor-api; lua Authorization "Bearer $R" advisor-api
U=http://127.0.0.1:$PORT
echo "pages vs API, 8 connections, $secs s each, $(nproc) cores (wrk and the server share them); 1 case, 1 model, 5 runs"
measure() { # label script url
  out=$(wrk -t2 -c8 -d${secs}s --latency -s "$D/$2.lua" "$3")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | grep -E "Non-2xx|Socket errors" | tr '\n' ' ' || true)
  printf '%-34s %9s req/s  p50 %-8s p99 %-8s %s\n' "$1" "$rps" "$p50" "$p99" "${errs:+($errs)}"
}
measure "page  /ui/cases/{case}" vendor-page "$U/ui/cases/$CASE"
measure "json  /api/v1/cases/{case}/runs" vendor-api "$U/api/v1/cases/$CASE/runs"
measure "page  /ui/runs/{run}" vendor-page "$U/ui/runs/$RUN"
measure "json  /api/v1/runs/{run}" vendor-api "$U/api/v1/runs/$RUN"
measure "page  /ui/runs" vendor-page "$U/ui/runs"
measure "json  /api/v1/runs" vendor-api "$U/api/v1/runs"
measure "page  /ui/runs/{run}/report" vendor-page "$U/ui/runs/$RUN/report"
measure "html  /api/v1/runs/{run}/report.html" vendor-api "$U/api/v1/runs/$RUN/report.html"
measure "page  /ui/audit (advisor, audited)" advisor-page "$U/ui/audit"
measure "json  /api/v1/audit (advisor, audited)" advisor-api "$U/api/v1/audit?limit=50"
echo "audit entries at the end: $(curl -fs -H "Authorization: Bearer $R" $U/api/v1/audit/verify | json '["entries"]')"
