#!/usr/bin/env bash
# Sets up the Python side: a virtual environment at retention-py/.venv with the pinned
# requirements, and the `retention` module built from this checkout by maturin and installed
# into it. `--release` builds the optimised module (for benchmarks and real use).
#
#   scripts/python_setup.sh [--release]
#   retention-py/.venv/bin/python -c "import retention; print(retention.__version__)"
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=()
case "${1:-}" in
  --release) PROFILE=(--release) ;;
  "") ;;
  *) echo "usage: scripts/python_setup.sh [--release]" >&2; exit 2 ;;
esac

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
  echo "Python 3.9 or newer is required (set PYTHON=...)" >&2
  exit 1
fi
VENV=retention-py/.venv
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r retention-py/requirements-dev.txt

# Compiled dependencies are shared with the rest of the workspace (see .ci/run).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retentionai/target}"
VIRTUAL_ENV="$PWD/$VENV" PATH="$PWD/$VENV/bin:$PATH" \
  "$VENV/bin/maturin" develop --locked --manifest-path retention-py/Cargo.toml "${PROFILE[@]}"
"$VENV/bin/python" -c 'import retention; print("retention", retention.__version__, "installed in retention-py/.venv")'
