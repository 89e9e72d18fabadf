#!/usr/bin/env bash
# The restore drill: proves the newest backup can be restored, without touching the live
# database. Run it after each backup schedule change and monthly (the runbook's recovery test).
#
#   scripts/restore_drill.sh BACKUP_FOLDER      # e.g. /var/lib/retentionai/backups
#
# 1. picks the newest backup in the folder and verifies it (checksums, database integrity);
# 2. restores it into a scratch database (never the live one);
# 3. checks the scratch database (integrity, foreign keys), that its tables hold the rows the
#    backup's manifest recorded, and that its champion and challenger load and match their
#    SHA-256 (`retention doctor`);
# 4. prints the recovery point (the backup's age) and the time the restore took.
# Exit status 0 when the drill passed, non-zero naming the step that failed.
set -euo pipefail
folder="${1:?usage: scripts/restore_drill.sh BACKUP_FOLDER}"
bin="${RETENTION_BIN:-retention}"
newest="$(find "$folder" -maxdepth 1 -type d -name 'retentionai-*' | sort | tail -n 1)"
[ -n "$newest" ] || { echo "drill failed: no backup in $folder" >&2; exit 1; }
echo "== 1. verify $newest =="
"$bin" backup verify "$newest" --json >/dev/null || { echo "drill failed: the backup does not verify" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
start="$(date +%s.%N)"
echo "== 2. restore into $scratch/drill.db =="
"$bin" --db "$scratch/drill.db" restore --from "$newest" >/dev/null
took="$(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$start")"
echo "== 3. check the restored database =="
"$bin" --db "$scratch/drill.db" db check --json >"$scratch/check.json" \
  || { echo "drill failed: the restored database fails its check" >&2; exit 1; }
python3 - "$newest/manifest.json" "$scratch/check.json" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
check = json.load(open(sys.argv[2]))
expected = {t: n for t, n in manifest["rows"]}
found = {t: n for t, n in check["rows"]}
# The restored database records the restore itself in its audit log.
missing = {t: (n, found.get(t)) for t, n in expected.items() if found.get(t, -1) < n}
if missing:
    sys.exit(f"drill failed: tables hold fewer rows than the backup recorded: {missing}")
print("rows as recorded:", ", ".join(f"{t} {n}" for t, n in expected.items()))
PY
"$bin" --db "$scratch/drill.db" doctor --json >"$scratch/doctor.json" || true
python3 - "$scratch/doctor.json" <<'PY'
import json, sys
checks = {c["check"]: c for c in json.load(open(sys.argv[1]))["checks"]}
for name in ("integrity", "champion", "challenger"):
    c = checks.get(name)
    if c and c["status"] == "fail":
        sys.exit(f"drill failed: {name}: {c['detail']}")
print("restored champion:", checks["champion"]["detail"])
PY
age="$(python3 - "$newest/manifest.json" <<'PY'
import json, sys, datetime
at = json.load(open(sys.argv[1]))["created_at"].replace("Z", "+00:00")
age = datetime.datetime.now(datetime.timezone.utc) - datetime.datetime.fromisoformat(at)
print(f"{age.total_seconds() / 3600:.2f}")
PY
)"
echo "restore drill passed: recovery point ${age} h (the newest backup's age), restore took ${took} s"
