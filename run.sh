#!/usr/bin/env bash
# One-step set-up and run on a fresh machine with Python 3.11:
#   bash run.sh demo         train + evaluate the bundled demo (fused upstream + HConv vs s3prl's weighted sum)
#   bash run.sh test         the test suite
#   bash run.sh test-oldest  the tests of the version-sensitive code, on the oldest versions setup.cfg admits, with ESPnet
#   bash run.sh setup-oldest only the set-up of test-oldest (CI runs it while the main suite runs)
# demo and test create ./.venv on first use and install the package with the tested pins (constraints.txt);
# test-oldest does the same in ./.venv/oldest with constraints-oldest.txt, and adds ESPnet's current release.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
# what the oldest versions must run: every import of torch, torchaudio, transformers, huggingface_hub and s3prl's runner
OLDEST_TESTS=(
  tests/test_version_ranges.py tests/test_whisper_upstream.py tests/test_member_loading.py tests/test_registration.py
  tests/test_runner_asr.py tests/test_checkpoint_rotation.py tests/test_export.py tests/test_sox_effects.py
  tests/test_audio_reliability.py tests/test_hub_huggingface.py tests/test_s3prl_adapter.py tests/test_sv_task.py
  tests/test_espnet_frontend.py
)
# ESPnet's current release, whose s3prl frontend tests/test_espnet_frontend.py runs. Its whole requirement tree (numpy>=2,
# lightning, hydra, ...) would move the oldest pins and take minutes, so it is installed without it, next to what
# espnet2.asr.frontend.s3prl imports; the test checks that every requirement of ESPnet installed here holds, numpy aside.
ESPNET=espnet==202511
ESPNET_FRONTEND_IMPORTS=(humanfriendly typeguard torch_complex)
ESPNET_BOUNDS=("setuptools<74" "importlib-metadata<5")  # ESPnet's own bounds on what the package's requirements bring

ensure_venv() {  # ensure_venv VENV CONSTRAINTS [EXTRA]: create VENV and install the package there with CONSTRAINTS
  # (and the extra EXTRA besides test: superb, the packages SD's and QbE's s3prl code imports, whose dtw-python needs numpy 2)
  local venv="$1" constraints="$2" extras="test${3:+,$3}"
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import s3prl_fusion, pytest, hypothesis" 2>/dev/null || [ "$constraints" -nt "$venv/.installed" ] || [ setup.cfg -nt "$venv/.installed" ]; then
    # torch first, alone: pip then takes the CPU build this machine offers instead of a CUDA one (torch 2.12.1 of
    # constraints-oldest.txt has none)
    "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$constraints" torch
    "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$constraints" -e ".[$extras]"
    touch "$venv/.installed"
  fi
}

ensure_espnet() {  # ensure_espnet VENV CONSTRAINTS: ESPnet's s3prl frontend in VENV, the CONSTRAINTS pins kept
  local venv="$1" constraints="$2"
  if ! "$venv/bin/python" -c "import espnet2.asr.frontend.s3prl, importlib.metadata as m; assert 'espnet==' + m.version('espnet') == '$ESPNET'" 2>/dev/null; then
    echo "installing $ESPNET without its requirement tree: pip's errors on ESPnet's missing requirements and numpy are expected" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$ESPNET"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$constraints" "${ESPNET_FRONTEND_IMPORTS[@]}" "${ESPNET_BOUNDS[@]}"
  fi
}

case "${1:-}" in
  demo)
    shift
    ensure_venv .venv constraints.txt
    exec .venv/bin/s3prl-fusion demo "$@"
    ;;
  test)
    shift
    ensure_venv .venv constraints.txt superb
    # pytest exits 5 when it collected no test: that is a failure here too
    exec .venv/bin/python -m pytest -q -n auto "$@"
    ;;
  setup-oldest)
    ensure_venv .venv/oldest constraints-oldest.txt
    ensure_espnet .venv/oldest constraints-oldest.txt
    ;;
  test-oldest)
    shift
    ensure_venv .venv/oldest constraints-oldest.txt
    ensure_espnet .venv/oldest constraints-oldest.txt
    exec .venv/oldest/bin/python -m pytest -q -n auto "${OLDEST_TESTS[@]}" "$@"
    ;;
  *)
    echo "usage: bash run.sh demo|test|test-oldest|setup-oldest [args...]" >&2
    exit 2
    ;;
esac
