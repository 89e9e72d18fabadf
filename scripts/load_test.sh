#!/usr/bin/env bash
# Load test of `retention serve` on loopback with wrk (Debian package `wrk`).
#
#   scripts/load_test.sh baseline   # ~2,000 single predictions/s for 60 s, logging on: latency at a steady rate
#   scripts/load_test.sh full       # as many single predictions/s as the machine sustains for 60 s
#   scripts/load_test.sh replicas   # `full` on one server with SQLite, then on REPLICAS servers
#                                   # (default 3) sharing one PostgreSQL database, load spread
#                                   # over them (one wrk per server): total req/s, p99, logged rows
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
  baseline | full | replicas) ;;
  *) echo "usage: scripts/load_test.sh baseline|full|replicas" >&2; exit 2 ;;
esac
REPLICAS="${REPLICAS:-3}"
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
chmod 755 "$work"
server_pids=()
load_pids=()
pg_data=""
cleanup() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" || true; wait "$pid" || true; fi
  done
  if [ -n "$pg_data" ]; then scripts/postgres.sh stop "$pg_data" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$bin" train --data data/telco_customer_churn.csv --algorithm logistic --out "$work/model.json" >/dev/null

# A registry with the model promoted and an API key, in the store $1; prints the key.
# --db on every command (not the environment): earlier builds measured beside this one read
# another variable.
registry() {
  "$bin" --db "$1" model register "$work/model.json" >/dev/null
  "$bin" --db "$1" model validate 1 --data data/telco_customer_churn.csv >/dev/null
  "$bin" --db "$1" model promote 1 >/dev/null
  "$bin" --db "$1" auth create-key --name load-test 2>/dev/null
}

# 200 customers as JSON request bodies, in a Lua script that paces each connection in baseline
# mode: $1 the script, $2 connections, $3 the key.
lua() {
python3 - "$1" "$mode" "$RATE" "$2" "$3" <<'PY'
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
}

# Starts a server on the store $1 (log in $work/serve-$2.*); sets $url.
start_server() {
  local threads=()
  if [ -n "${THREADS:-}" ]; then threads=(--threads "$THREADS"); fi
  "$bin" --db "$1" serve --port 0 "${threads[@]}" >"$work/serve-$2.out" 2>"$work/serve-$2.err" &
  server_pids+=($!)
  for _ in $(seq 100); do
    grep -q '^listening on ' "$work/serve-$2.out" 2>/dev/null && break
    sleep 0.1
  done
  url="$(sed -n 's/^listening on //p' "$work/serve-$2.out")"
  curl -sf "$url/ready" >/dev/null || { echo "the server is not ready:" >&2; cat "$work/serve-$2.err" >&2; exit 1; }
}

# Stops every server (SIGTERM drains the prediction log); sums their dropped entries first.
stop_servers() {
  dropped=0
  for u in "$@"; do
    d="$(curl -sf "$u/metrics" | sed -n 's/^retentionai_prediction_log_dropped_total //p')"
    dropped=$((dropped + ${d:-0}))
  done
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; done
  server_pids=()
}

# Rows in the prediction log of the store $1.
logged_rows() {
  case "$1" in
    postgres://*) "$bin" --db "$1" db check --json | python3 -c 'import json,sys; print(dict(json.load(sys.stdin)["rows"])["predictions"])' ;;
    *) python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from predictions").fetchone()[0])' "$1" ;;
  esac
}

# One server on SQLite, as `baseline` and `full` always ran.
single() {
  local db="$work/ops.db" key
  echo "== registry in $db =="
  key="$(registry "$db")"
  lua "$work/load.lua" "$CONNECTIONS" "$key"
  echo "== starting retention serve =="
  start_server "$db" 0
  if [ "$mode" = baseline ]; then
    echo "== baseline: $CONNECTIONS connections paced to ~$RATE req/s for ${DURATION}s, logging on =="
  else
    echo "== full: $CONNECTIONS connections, unpaced, for ${DURATION}s, logging on, SQLite =="
  fi
  # wrk's own 2 threads share the machine's cores with the server.
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency -s "$work/load.lua" "$url" | tee "$work/wrk.out"
  stop_servers "$url"
  logged="$(logged_rows "$db")"
  echo
  echo "== summary (one server, SQLite; $mode, $(nproc) cores, $(date -u +%Y-%m-%d)) =="
  sed -n 's/^RESULT //p' "$work/wrk.out" | tr ' ' '\n' | sed 's/^/  /'
  echo "  predictions logged to the database: $logged (dropped from the queue: $dropped)"
  tail -n 1 "$work/serve-0.err" | sed 's/^/  server: /'
}

# $REPLICAS servers on one PostgreSQL database, one wrk per server (connections split evenly).
replicas() {
  local port db key urls=() i per
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_data="$work/pg"
  db="$(scripts/postgres.sh start "$pg_data" "$port")"
  echo "== registry in $db =="
  key="$(registry "$db")"
  per=$(( (CONNECTIONS + REPLICAS - 1) / REPLICAS ))
  lua "$work/load.lua" "$per" "$key"
  echo "== starting $REPLICAS replicas =="
  for i in $(seq 1 "$REPLICAS"); do
    start_server "$db" "$i"
    urls+=("$url")
  done
  echo "== replicas: $REPLICAS servers × $per connections, unpaced, for ${DURATION}s, logging on, PostgreSQL =="
  for i in "${!urls[@]}"; do
    wrk -t1 -c"$per" -d"${DURATION}s" --timeout 5s --latency -s "$work/load.lua" "${urls[$i]}" >"$work/wrk-$i.out" &
    load_pids+=($!)
  done
  for pid in "${load_pids[@]}"; do wait "$pid"; done
  load_pids=()
  stop_servers "${urls[@]}"
  logged="$(logged_rows "$db")"
  echo
  echo "== summary ($REPLICAS replicas on PostgreSQL, $(nproc) cores, $(date -u +%Y-%m-%d)) =="
  python3 - "$work" "${#urls[@]}" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
runs = []
for i in range(n):
    for line in open(f"{work}/wrk-{i}.out"):
        if line.startswith("RESULT "):
            runs.append(dict(kv.split("=") for kv in line.split()[1:]))
total = sum(float(r["rps"]) for r in runs)
print(f"  rps (total)={total:.0f}")
print("  rps per replica=" + ", ".join(f'{float(r["rps"]):.0f}' for r in runs))
print(f'  p99_ms (worst replica)={max(float(r["p99_ms"]) for r in runs):.3f}')
print(f'  requests={sum(int(r["requests"]) for r in runs)} non2xx={sum(int(r["non2xx"]) for r in runs)} socket_errors={sum(int(r["socket_errors"]) for r in runs)}')
PY
  echo "  predictions logged to the database: $logged (dropped from the queue: $dropped)"
}

if [ "$mode" = replicas ]; then
  mode=full
  single
  mode=replicas
  replicas
else
  single
fi
