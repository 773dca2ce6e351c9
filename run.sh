#!/usr/bin/env bash
# One-step set-up and run on a fresh machine with Python 3.11:
#   bash run.sh demo    train + evaluate the bundled demo (fused upstream + HConv vs s3prl's weighted sum)
#   bash run.sh test    the test suite
# Both create ./.venv on first use and install the package with the tested pins (constraints.txt).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import s3prl_fusion, pytest, hypothesis" 2>/dev/null || [ constraints.txt -nt .venv/.installed ] || [ setup.cfg -nt .venv/.installed ]; then
  # torch first, alone: pip then takes the CPU build this machine offers instead of a CUDA one
  .venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt torch
  .venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
  touch .venv/.installed
fi

case "${1:-}" in
  demo)
    shift
    exec .venv/bin/s3prl-fusion demo "$@"
    ;;
  test)
    shift
    # pytest exits 5 when it collected no test: that is a failure here too
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: bash run.sh demo|test [args...]" >&2
    exit 2
    ;;
esac
