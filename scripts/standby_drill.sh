#!/usr/bin/env bash
# The disaster-recovery drill for a PostgreSQL store: a streaming-replication standby is
# promoted while `retention serve` replicas take predictions, and the predictions lost are
# counted (target: none of those the service answered).
#
#   scripts/standby_drill.sh [WORKDIR]      # RETENTION_BIN: the binary (default: retention)
#                                           # REPLICAS (3), SECONDS_BEFORE (4), SECONDS_AFTER (4)
#
# 1. starts a primary PostgreSQL on loopback and makes a standby of it with pg_basebackup
#    (streaming, synchronous: a commit returns once the standby has it, so a commit the primary
#    acknowledged is never lost by a failover);
# 2. registers, validates and promotes the Telco model, and starts REPLICAS `retention serve`
#    processes whose --db lists both servers with target_session_attrs=read-write (each
#    connects to whichever accepts writes);
# 3. sends single predictions to every replica, kills the primary (immediate shutdown, as a
#    crash), promotes the standby (`pg_ctl promote`), and keeps sending;
# 4. stops the replicas (they drain their queues), then compares the predictions answered with
#    the rows logged in the promoted standby.
# Prints the time without a writable database, the time until every replica was ready again,
# answered, logged and lost; exits 0 when none was lost.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${RETENTION_BIN:-retention}"
replicas="${REPLICAS:-3}"
before="${SECONDS_BEFORE:-4}"
after="${SECONDS_AFTER:-4}"
work="${1:-$(mktemp -d /tmp/retentionai-standby.XXXXXX)}"
mkdir -p "$work"
chmod 755 "$work"
data="$here/../data/telco_customer_churn.csv"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bin_dir="$(dirname "$(readlink -f "$(command -v pg_ctl 2>/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")")"

p1=$(free_port)
p2=$(free_port)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    "$here/postgres.sh" stop "$work/primary"
    "$here/postgres.sh" stop "$work/standby"
}
trap cleanup EXIT

echo "== 1. primary on $p1, standby on $p2 (pg_basebackup, synchronous streaming) =="
url1=$("$here/postgres.sh" start "$work/primary" "$p1")
user="${url1#postgres://}"
user="${user%%@*}"
# Synchronous replication: COMMIT waits until the standby has flushed the commit record.
as_owner "$bin_dir/psql" -q -h 127.0.0.1 -p "$p1" -U "$user" -d postgres \
    -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
mkdir -p "$work/standby"
chmod 700 "$work/standby"
[ "$(id -u)" = 0 ] && chown postgres "$work/standby"
as_owner "$bin_dir/pg_basebackup" -h 127.0.0.1 -p "$p1" -U "$user" -D "$work/standby" -R -X stream -c fast
# The standby must not wait for a standby of its own once promoted.
echo "synchronous_standby_names = ''" | as_owner tee -a "$work/standby/postgresql.auto.conf" >/dev/null
"$here/postgres.sh" start "$work/standby" "$p2" >/dev/null
db="postgres://$user@127.0.0.1:$p1,127.0.0.1:$p2/retentionai?target_session_attrs=read-write"
standby_db="postgres://$user@127.0.0.1:$p2/retentionai"

echo "== 2. registry and $replicas replicas =="
export RETENTIONAI_DB="$db" RETENTIONAI_ACTOR=drill
"$bin" train --data "$data" --algorithm logistic --cv 0 --out "$work/model.json" >/dev/null
"$bin" model register "$work/model.json" >/dev/null
"$bin" model validate 1 --data "$data" >/dev/null
"$bin" model promote 1 >/dev/null
ports=()
for i in $(seq 1 "$replicas"); do
    "$bin" serve --port 0 --no-auth --reload-interval 500 >"$work/serve-$i.out" 2>"$work/serve-$i.err" &
    pids+=($!)
done
for i in $(seq 1 "$replicas"); do
    for _ in $(seq 1 100); do
        grep -q "listening on" "$work/serve-$i.out" 2>/dev/null && break
        sleep 0.1
    done
    ports+=("$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/serve-$i.out" | head -n 1)")
done

echo "== 3. load; kill the primary after ${before}s; promote the standby =="
python3 - "$data" "$before" "$after" "$work/load.json" "$bin_dir" "$work" "${ports[@]}" <<'PY'
import csv, http.client, json, os, subprocess, sys, threading, time

data, before, after, out, bin_dir, work = sys.argv[1:7]
ports = [int(p) for p in sys.argv[7:]]
with open(data, newline="") as f:
    rows = list(csv.DictReader(f))[:500]
answered = [0] * len(ports)
failed = [0] * len(ports)
stop = threading.Event()

def send(i, port):
    conn, n = None, 0
    while not stop.is_set():
        body = json.dumps(rows[n % len(rows)])
        n += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                answered[i] += 1
            else:
                failed[i] += 1
        except OSError:
            failed[i] += 1
            conn = None
            time.sleep(0.05)

def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/ready")
        return c.getresponse().status == 200
    except OSError:
        return False

threads = [threading.Thread(target=send, args=(i, p)) for i, p in enumerate(ports)]
for t in threads:
    t.start()
time.sleep(float(before))
as_owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
killed = time.time()
subprocess.run(as_owner + [f"{bin_dir}/pg_ctl", "-D", f"{work}/primary", "-m", "immediate", "stop"],
               check=True, capture_output=True)
subprocess.run(as_owner + [f"{bin_dir}/pg_ctl", "-D", f"{work}/standby", "-w", "promote"],
               check=True, capture_output=True)
promoted = time.time()
while not all(ready(p) for p in ports):
    if time.time() - promoted > 60:
        sys.exit("drill failed: the replicas did not become ready on the promoted standby")
    time.sleep(0.05)
all_ready = time.time()
time.sleep(float(after))
stop.set()
for t in threads:
    t.join()
json.dump({
    "answered": sum(answered),
    "refused_or_failed": sum(failed),
    "writable_gap_s": round(promoted - killed, 2),
    "ready_again_s": round(all_ready - killed, 2),
}, open(out, "w"))
PY

echo "== 4. stop the replicas (they drain), count =="
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
logged=$(RETENTIONAI_DB="$standby_db" "$bin" db check --json | python3 -c 'import json,sys; print(dict(json.load(sys.stdin)["rows"])["predictions"])')
python3 - "$work/load.json" "$logged" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
logged = int(sys.argv[2])
lost = load["answered"] - logged
print(f"answered {load['answered']} predictions ({load['refused_or_failed']} refused or failed while no database took writes)")
print(f"no writable database for {load['writable_gap_s']} s; every replica ready again {load['ready_again_s']} s after the primary died")
print(f"logged in the promoted standby: {logged}; lost: {max(lost, 0)}")
if lost > 0:
    sys.exit(f"drill failed: {lost} answered predictions are not in the promoted standby")
if lost < 0:
    sys.exit(f"drill failed: {-lost} more rows logged than answered (a duplicate)")
print("drill passed: no answered prediction was lost")
PY
