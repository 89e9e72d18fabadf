#!/usr/bin/env bash
# Load test of `retention serve` on loopback with wrk (Debian package `wrk`).
#
#   scripts/load_test.sh baseline   # ~2,000 single predictions/s for 60 s, logging on: latency at a steady rate
#   scripts/load_test.sh full       # as many single predictions/s as the machine sustains for 60 s
#
# Builds the release binary, trains the Telco logistic model into a temporary registry, promotes
# it, creates an API key, starts the server (prediction logging on), drives POST /v1/predict with
# 200 different Telco customers, then stops the server with SIGTERM (which drains the log) and
# prints throughput, latency percentiles, errors, and the predictions written to the database.
# Environment: DURATION (seconds, default 60), CONNECTIONS (default 20 for baseline, 64 for
# full), RATE (baseline requests/s, default 2000), THREADS (server workers, default all cores),
# RETENTION_BIN (a `retention` binary to test instead of building this checkout's: how an earlier
# build is measured beside this one in the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-baseline}"
case "$mode" in
  baseline | full) ;;
  *) echo "usage: scripts/load_test.sh baseline|full" >&2; exit 2 ;;
esac
DURATION="${DURATION:-60}"
RATE="${RATE:-2000}"
if [ "$mode" = baseline ]; then CONNECTIONS="${CONNECTIONS:-20}"; else CONNECTIONS="${CONNECTIONS:-64}"; fi

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
  else
    echo "wrk is required (Debian/Ubuntu: sudo apt-get install wrk)" >&2; exit 1
  fi
fi

if [ -n "${RETENTION_BIN:-}" ]; then
  bin="$RETENTION_BIN"
else
  echo "== building (release) =="
  cargo build --release --quiet -p retention-cli
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target_dir/release/retention"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# --db on every command (not the environment): earlier builds measured beside this one read
# another variable.
db="$work/ops.db"
echo "== registry in $work =="
"$bin" train --data data/telco_customer_churn.csv --algorithm logistic --out "$work/model.json" >/dev/null
"$bin" --db "$db" model register "$work/model.json" >/dev/null
"$bin" --db "$db" model validate 1 --data data/telco_customer_churn.csv >/dev/null
"$bin" --db "$db" model promote 1 >/dev/null
key="$("$bin" --db "$db" auth create-key --name load-test 2>/dev/null)"

# 200 customers as JSON request bodies, in a Lua script that paces each connection in baseline mode.
python3 - "$work/load.lua" "$mode" "$RATE" "$CONNECTIONS" "$key" <<'PY'
import csv, json, sys
path, mode, rate, connections, key = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
with open("data/telco_customer_churn.csv", newline="") as f:
    rows = [r for _, r in zip(range(200), csv.DictReader(f))]
for r in rows:
    r.pop("Churn", None)
bodies = ",\n".join(json.dumps(json.dumps(r)) for r in rows)
# Each connection waits `delay` ms after an answer: connections / (delay + ~0.6 ms answer) = the target rate.
delay = connections / rate * 1000.0 * 0.94 if mode == "baseline" else 0
with open(path, "w") as out:
    out.write(f"""
local bodies = {{ {bodies} }}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
request = function()
  i = i + 1
  return wrk.format(nil, "/v1/predict", nil, bodies[(i % #bodies) + 1])
end
{"delay = function() return %.3f end" % delay if delay > 0 else ""}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.1f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
""")
PY

echo "== starting retention serve =="
threads=()
if [ -n "${THREADS:-}" ]; then threads=(--threads "$THREADS"); fi
"$bin" --db "$db" serve --port 0 "${threads[@]}" >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$work/serve.out")"
curl -sf "$url/ready" >/dev/null || { echo "the server is not ready:" >&2; cat "$work/serve.err" >&2; exit 1; }

if [ "$mode" = baseline ]; then
  echo "== baseline: $CONNECTIONS connections paced to ~$RATE req/s for ${DURATION}s, logging on =="
else
  echo "== full: $CONNECTIONS connections, unpaced, for ${DURATION}s, logging on =="
fi
# wrk's own 2 threads share the machine's cores with the server.
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency -s "$work/load.lua" "$url" | tee "$work/wrk.out"

metrics="$(curl -sf "$url/metrics")"
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
logged="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from predictions").fetchone()[0])' "$db")"
dropped="$(printf '%s\n' "$metrics" | sed -n 's/^retentionai_prediction_log_dropped_total //p')"
echo
echo "== summary ($mode, $(nproc) cores, $(date -u +%Y-%m-%d)) =="
sed -n 's/^RESULT //p' "$work/wrk.out" | tr ' ' '\n' | sed 's/^/  /'
echo "  predictions logged to the database: $logged (dropped from the queue: ${dropped:-?})"
tail -n 1 "$work/serve.err" | sed 's/^/  server: /'
