#!/usr/bin/env bash
# The attacks of issue 12 (items 2-6 and 11) against the real release binary, one at a time, each
# on a fresh `sandkasse serve --demo` for a bounded time, while a probe measures `/v2/health/live`
# (p50/p99/max on fresh and keep-alive connections) and the memory of the service and all its
# workers (RSS from /proc, every 200 ms). The goal: live p99 under 50 ms and memory under the
# configured budget during every attack. Prints each attack's figures and writes a Markdown table
# (machine and command line included) to target/attacks.md for BENCHMARKS.md, the raw figures to
# target/attacks.json and each server's log to target/tmp/attacks/logs/.
#
#   bash benches/attacks.sh [seconds per attack, default 30]
#
# Environment (all optional):
#   SERVE_FLAGS     extra `sandkasse serve` flags for every server, e.g.
#                   SERVE_FLAGS='--memory-budget-mb 2048 --max-connections 512 --header-timeout-secs 5'
#   BUDGET_MB       the memory budget to check against [default: --memory-budget-mb in SERVE_FLAGS]
#   ONLY            a comma-separated subset of 0 (baseline), 2, 3, 4, 5, 6, 11
#   SERVER_NOFILE   the server's open-file soft limit [1024, systemd's default for a service; 0 inherits]
#   PROBE_RATE      live probes a second on each of the two kinds of connection [10]
#   SKIP_BUILD=1    use target/release/sandkasse as it is
#   sizes: AMP_ROWS [1024], AMP_REPEATS [14000], MEM_ROWS [4096], SLOW_CONNS [1000], IDLE_CONNS [100],
#          FLOOD_CONNS [32], QUEUE_RUNS [40], QUEUE_ROWS [2000000], POISON_CALLERS [4],
#          POISON_BATCH_TIMEOUT [5: --batch-timeout of the item-11 server unless SERVE_FLAGS sets one]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
cmdline="bash benches/attacks.sh${*:+ $*}"
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian) for the flood of item 5"
  apt-get install -y wrk >/dev/null 2>&1 || echo "no wrk: item 5 floods from Python threads instead"
fi
bash scripts/setup.sh >/dev/null
if [[ ${SKIP_BUILD:-0} != 1 ]]; then cargo build --release --locked -q; fi
B=target/release/sandkasse
W=target/tmp/attacks
rm -rf "$W"
mkdir -p "$W"
PIDS="$W/pids"
PY=""
# Every process started here ends with the script: the Python driver stops each server (SIGTERM,
# then SIGKILL to its process group and every descendant seen); if the driver itself is killed,
# the process groups it recorded (servers and their workers) are killed here.
cleanup() {
  local rc=$?
  if [[ -n $PY ]] && kill -0 "$PY" 2>/dev/null; then
    kill -TERM "$PY" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$PY" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PY" 2>/dev/null || true
  fi
  if [[ -s $PIDS ]]; then
    while read -r p; do
      [[ -n $p ]] || continue
      kill -KILL -- "-$p" 2>/dev/null || true
      kill -KILL "$p" 2>/dev/null || true
    done <"$PIDS"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "attacks of issue 12: $secs s each; $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
echo "SERVE_FLAGS=${SERVE_FLAGS:-}"
python3 benches/attacks.py run --root . --bin "$B" --work "$W" --md target/attacks.md --json target/attacks.json \
  --seconds "$secs" --only "${ONLY:-}" --serve-flags "${SERVE_FLAGS:-}" --budget-mb "${BUDGET_MB:-0}" \
  --server-nofile "${SERVER_NOFILE:-1024}" --rate "${PROBE_RATE:-10}" --pidfile "$PIDS" \
  --wrk "$(command -v wrk || true)" --command "$cmdline" &
PY=$!
wait "$PY"
PY=""
cat target/attacks.md
