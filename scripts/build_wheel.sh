#!/usr/bin/env bash
# Builds the `retentionai` wheel (the `retention` Python module) with maturin: one abi3 wheel for
# every CPython >= 3.9 on this platform, the optimised build, with no Rust needed where it is
# installed. The wheel's path is the last line printed.
#
#   scripts/build_wheel.sh                 # -> dist/retentionai-<version>-cp39-abi3-<platform>.whl
#   scripts/build_wheel.sh --out DIR       # somewhere else
#   scripts/build_wheel.sh --dev           # unoptimised (minutes faster; for tests of packaging only)
#
#   pip install "dist/retentionai-0.1.0-cp39-abi3-....whl[app,plot]"
#   python -m retention.app
#
# maturin comes from retention-py/.venv (scripts/python_setup.sh) when it is there, else from a
# small environment of its own made here, at the version retention-py/requirements-dev.txt pins.
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist
profile=(--release)
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "--out needs a folder" >&2; exit 2; }; out="$2"; shift 2 ;;
    --dev) profile=(); shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: scripts/build_wheel.sh [--out DIR] [--dev]" >&2; exit 2 ;;
  esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retentionai/target}"
maturin="${MATURIN:-}"
if [ -z "$maturin" ] && [ -x retention-py/.venv/bin/maturin ]; then
  maturin=retention-py/.venv/bin/maturin
fi
if [ -z "$maturin" ]; then
  pin="$(grep -E '^maturin==' retention-py/requirements-dev.txt)"
  tools="$HOME/.cache/retentionai/maturin-${pin#maturin==}"
  if [ ! -x "$tools/bin/maturin" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check "$pin"
  fi
  maturin="$tools/bin/maturin"
fi

mkdir -p "$out"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' retention-py/pyproject.toml | head -n1)"
rm -f "$out"/retentionai-"$version"-*.whl
# `--compatibility linux`: the wheel is for machines like the one that built it (glibc at least
# this one's); a manylinux build needs an older toolchain (a manylinux container) than here.
"$maturin" build --quiet --locked "${profile[@]}" --compatibility linux \
  --manifest-path retention-py/Cargo.toml --out "$out" >&2
wheel="$(ls "$out"/retentionai-"$version"-*.whl)"
case "$wheel" in
  *-abi3-*) ;;
  *) echo "expected an abi3 wheel, got $wheel" >&2; exit 1 ;;
esac
echo "$wheel"
