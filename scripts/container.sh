#!/usr/bin/env bash
# Builds the RetentionAI image with podman and checks it: starts it with a data volume, waits for
# /ready, scores one customer, stops it (SIGTERM) and shows its last log lines.
#
#   scripts/container.sh            # build the service's image (Containerfile) and check it
#   scripts/container.sh app        # build the Streamlit app's image (Containerfile.app) and check it
#   KEEP=1 scripts/container.sh     # keep the image (the base is always kept and reused)
#
# No public image registry is reachable here and Debian's rustc is too old for this workspace:
# the base is made by debootstrap from the Debian mirror apt uses, and the image holds the
# `retention` binary cargo built on the host (release). Podman runs with the settings this
# machine needs (vfs storage, cgroupfs, runc, host network, no pids limit, no default ulimits).
# Environment: PORT (default 18501), MIRROR (default: the first deb.debian.org-style URI of
# apt's sources), RETENTION_BIN (a prebuilt binary instead of building).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-serve}"
case "$mode" in
  serve | app) ;;
  *) echo "usage: scripts/container.sh [serve|app]" >&2; exit 2 ;;
esac
PORT="${PORT:-18501}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
if [ "$mode" = app ]; then IMAGE="localhost/retentionai-app:$VERSION"; else IMAGE="localhost/retentionai:$VERSION"; fi
BASE="localhost/retentionai-base:bookworm"
NAME="retentionai-check-$$"

need=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${need[*]} (Debian packages) =="
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc debootstrap >/dev/null
  else
    echo "podman, runc and debootstrap are required (Debian: sudo apt-get install podman runc debootstrap)" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
conf="$work/containers.conf"
cat >"$conf" <<'CONF'
[containers]
default_ulimits = []
pids_limit = 0
CONF
export CONTAINERS_CONF="$conf"
podman=(podman --storage-driver vfs --cgroup-manager cgroupfs --runtime runc)
# Without systemd, podman cannot schedule the image's HEALTHCHECK and says so on every run; the
# script runs the check itself (`podman healthcheck run`).
quiet_systemd() { grep -v 'unable to get systemd connection' >&2 || true; }
cleanup() {
  "${podman[@]}" rm -f "$NAME" >/dev/null 2>&1 || true
  if [ -z "${KEEP:-}" ]; then "${podman[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Waits up to $2 seconds for $1 to answer 200; else shows the container's log and fails.
wait_for() {
  local deadline=$((SECONDS + $2))
  until curl -sf "$1" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$1 did not answer within $2 s; the container's log:" >&2
      "${podman[@]}" logs "$NAME" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

if ! "${podman[@]}" image exists "$BASE"; then
  mirror="${MIRROR:-$( { cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true; } \
    | grep -oE 'https?://[^ ]*debian[^ ]*' | grep -v -e security -e snapshot | head -n1 || true)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "== base image: debootstrap bookworm from $mirror =="
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | "${podman[@]}" import - "$BASE" >/dev/null 2>&1
  rm -rf "$work/rootfs"
fi

if [ "$mode" = app ]; then
  echo "== the Python module's wheel (maturin, release) =="
  context="$work/context"
  mkdir -p "$context/wheels"
  scripts/build_wheel.sh --out "$context/wheels" >/dev/null
  grep -E '^(polars|pandas|pyarrow|streamlit|matplotlib)==' retention-py/requirements-dev.txt >"$context/requirements-app.txt"
  cp Containerfile.app data/telco_customer_churn.csv "$context/"
  # pip inside the build trusts what this host trusts (a proxy that re-signs TLS, say).
  cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$context/build-ca.crt" 2>/dev/null || : >"$context/build-ca.crt"
  echo "== image $IMAGE =="
  "${podman[@]}" build --quiet --isolation chroot --format docker --network host \
    --build-arg "BASE=$BASE" -f "$context/Containerfile.app" -t "$IMAGE" "$context" >/dev/null
  size="$("${podman[@]}" image inspect --format '{{.Size}}' "$IMAGE")"
  echo "image size: $((size / 1024 / 1024)) MiB"
  APP_PORT="${APP_PORT:-18502}"
  data="$work/data"
  mkdir -p "$data" && chown 10001:10001 "$data"
  # The app listens on 8502 inside; with the host network, run it on APP_PORT instead.
  "${podman[@]}" run -d --name "$NAME" --network host --pids-limit 0 -v "$data:/var/lib/retentionai" \
    "$IMAGE" --server.port "$APP_PORT" >/dev/null 2> >(quiet_systemd)
  wait_for "http://127.0.0.1:$APP_PORT/_stcore/health" 30
  echo "/_stcore/health: $(curl -s "http://127.0.0.1:$APP_PORT/_stcore/health")"
  curl -sf "http://127.0.0.1:$APP_PORT/" | grep -q '<title>' && echo "the app's page is served"
  echo "runs as uid $("${podman[@]}" exec "$NAME" id -u)"
  "${podman[@]}" exec "$NAME" /opt/retentionai/venv/bin/python -c \
    'import retention, sys; print("retention", retention.__version__, "settings", retention.settings()); sys.exit(0)'
  "${podman[@]}" stop -t 10 "$NAME" >/dev/null 2> >(quiet_systemd)
  echo "app image check passed: $IMAGE ($((size / 1024 / 1024)) MiB)"
  exit 0
fi

if [ -n "${RETENTION_BIN:-}" ]; then
  bin="$RETENTION_BIN"
else
  echo "== building the binary (release) =="
  cargo build --release --quiet -p retention-cli
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target_dir/release/retention"
fi

echo "== image $IMAGE =="
context="$work/context"
mkdir -p "$context/bin" "$context/deploy"
cp Containerfile "$context/"
# Without its debug symbols: the image carries only what runs.
objcopy --strip-debug "$bin" "$context/bin/retention" 2>/dev/null || cp "$bin" "$context/bin/retention"
cp deploy/config.toml "$context/deploy/"
"${podman[@]}" build --quiet --isolation chroot --format docker --network host \
  --build-arg "BASE=$BASE" -t "$IMAGE" "$context" >/dev/null
size="$("${podman[@]}" image inspect --format '{{.Size}}' "$IMAGE")"
echo "image size: $((size / 1024 / 1024)) MiB"

echo "== data volume: a registry with the Telco model and an API key =="
data="$work/data"
mkdir -p "$data"
"$bin" train --data data/telco_customer_churn.csv --algorithm logistic --cv 0 --out "$data/model.json" >/dev/null
chown -R 10001:10001 "$data"
run=("${podman[@]}" run --rm --network host --pids-limit 0 -v "$data:/var/lib/retentionai")
"${run[@]}" "$IMAGE" model register /var/lib/retentionai/model.json --notes "container check" >/dev/null 2> >(quiet_systemd)
"${run[@]}" "$IMAGE" model promote 1 --force --reason "container check: no holdout" >/dev/null 2>&1
key="$("${run[@]}" "$IMAGE" auth create-key --name container-check 2>/dev/null)"

echo "== starting (port $PORT) =="
"${podman[@]}" run -d --name "$NAME" --network host --pids-limit 0 \
  -v "$data:/var/lib/retentionai" -e "RETENTIONAI_PORT=$PORT" "$IMAGE" >/dev/null 2> >(quiet_systemd)
wait_for "http://127.0.0.1:$PORT/ready" 20
echo "/ready: $(curl -s "http://127.0.0.1:$PORT/ready")"
customer="$(python3 - <<'PY'
import csv, json
with open("data/telco_customer_churn.csv", newline="") as f:
    row = next(csv.DictReader(f))
print(json.dumps(row))
PY
)"
answer="$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "$customer" "http://127.0.0.1:$PORT/v1/predict")"
echo "prediction: $answer"
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert 0 <= a["churn_probability"] <= 1 and a["model_version"] == 1, a' "$answer"
"${podman[@]}" healthcheck run "$NAME" 2> >(quiet_systemd) && echo "HEALTHCHECK (/live): healthy"
user="$("${podman[@]}" exec "$NAME" id -u)"
echo "runs as uid $user"
[ "$user" != 0 ] || { echo "the service runs as root" >&2; exit 1; }

echo "== stopping (SIGTERM) =="
"${podman[@]}" stop -t 30 "$NAME" >/dev/null 2> >(quiet_systemd)
echo "exit status: $("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")"
echo "last log lines:"
"${podman[@]}" logs "$NAME" 2>&1 | tail -n 4
# The PostgreSQL store from the image, when a server is given (CI passes its test server):
# a registry in a fresh database, then `retention backup` with the image's pg_dump, verified by
# a restore into a scratch database.
pg_url="${PG_URL:-${TEST_POSTGRES_URL:-}}"
if [ -n "$pg_url" ]; then
  echo "== PostgreSQL store: backup from the image =="
  db="retentionai_image_check_$$"
  psql=("${podman[@]}" run --rm --network host --pids-limit 0 --entrypoint psql "$IMAGE" -q -v ON_ERROR_STOP=1 "$pg_url")
  "${psql[@]}" -c "CREATE DATABASE $db" >/dev/null 2> >(quiet_systemd)
  drop_db() { "${psql[@]}" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
  trap 'drop_db; cleanup' EXIT
  db_url="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$pg_url" "$db")"
  pg_run=("${run[@]}" -e "RETENTIONAI_DB=$db_url" "$IMAGE")
  "${pg_run[@]}" model register /var/lib/retentionai/model.json --notes "container check" >/dev/null 2> >(quiet_systemd)
  "${pg_run[@]}" model promote 1 --force --reason "container check: no holdout" >/dev/null 2> >(quiet_systemd)
  made="$("${pg_run[@]}" backup --out /var/lib/retentionai/pg-backups --json 2> >(quiet_systemd))"
  folder="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["dir"])' "$made")"
  echo "backup (pg_dump, custom format): $folder"
  "${pg_run[@]}" backup verify "$folder" 2> >(quiet_systemd)
  "${podman[@]}" run --rm --network host --pids-limit 0 --entrypoint pg_dump "$IMAGE" --version 2> >(quiet_systemd)
  drop_db
fi

echo "container check passed: $IMAGE ($((size / 1024 / 1024)) MiB) served /ready and a prediction"
