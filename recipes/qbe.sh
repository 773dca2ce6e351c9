#!/usr/bin/env bash
# SUPERB query-by-example spoken term detection on QUESST 2014 (English; MTWV), s3prl's
# `quesst14_dtw` task, with SUPERB's protocol: nothing is trained; DTW over one layer's features at
# a time, every layer scored on the dev queries, the best one run on the eval queries (test).
#   recipes/qbe.sh UPSTREAM DATA_ROOT OUT_DIR [s3prl runner flags...]
# DATA_ROOT is the quesst14Database folder as released (Audio/, dev_queries/, eval_queries/,
# scoring/ with the language keys and groundtruth_quesst14_{dev,eval}/):
# https://speech.fit.vutbr.cz/files/quesst14Database.tgz. s3prl's task code needs dtw-python and lxml.
# No INTERFACE argument: the layer sweep is the protocol. A fused upstream's layers are each aligned
# layer of the fused stack (`fused.layer<N>`) and each member's own layers (`<member>.layer<N>`);
# the members run once per utterance and split (`s3prl-fusion qbe`, s3prl_fusion/s3prl_adapter/qbe_sweep.py).
# Leaves in OUT_DIR: benchmark.stdlist.xml (the chosen layer's eval detections, the file SUPERB's
# submission packs), dev/<layer>/ and test/<layer>/ (each layer's detection list), qbe_sweep.json
# (every layer's dev MTWV, the chosen layer, the upstream and its members) and result.json (test
# MTWV, from `s3prl-fusion score --task quesst14_dtw`). A re-run skips the layers already scored
# and, once result.json is written, everything. Knobs: DEVICE, UPSTREAM_CONFIG (-g), CONFIG (-c),
# OVERRIDES (extra -o items), PYTHON (see lib.sh), and LAYERS_PER_PASS: the dev sweep keeps every
# layer's features on disk (OUT_DIR/dev/.features: layers x frames x dim x 4 bytes) from one pass of
# the members; LAYERS_PER_PASS=N keeps N at a time and runs the members once per N layers. STEPS and
# CACHE do not apply (nothing is trained; the sweep extracts every layer of the members itself).
source "$(dirname "$0")/lib.sh"
if [ $# -lt 3 ]; then
  echo "usage: $0 UPSTREAM DATA_ROOT OUT_DIR [s3prl runner flags...]" >&2
  echo "  e.g. $0 fused_wavlm_whisper /data/quesst14Database result/qbe/fused_wavlm_whisper" >&2
  exit 2
fi
UPSTREAM="$1" DATA_ROOT="$2" OUT_DIR="$3"
shift 3
if [ "${CACHE:-0}" = 1 ]; then
  echo "[recipe] CACHE=1: the QbE sweep extracts every layer of the members once per split itself: running the members on the fly"
fi

if [ -f "$OUT_DIR/result.json" ]; then
  echo "[recipe] $OUT_DIR/result.json exists: QbE is done (remove it to score again)"
  exit 0
fi
flags=(-u "$UPSTREAM" --device "$DEVICE")
if [ -n "${UPSTREAM_CONFIG:-}" ]; then flags+=(-g "$UPSTREAM_CONFIG"); fi
if [ -n "${CONFIG:-}" ]; then flags+=(-c "$CONFIG"); fi
OVERRIDE_STRING=$(fusion_join_overrides "config.downstream_expert.datarc.dataset_root='$DATA_ROOT'" ${OVERRIDES:+"$OVERRIDES"})
sweep_flags=()
if [ -n "${LAYERS_PER_PASS:-}" ]; then sweep_flags+=(--layers-per-pass "$LAYERS_PER_PASS"); fi
"$PYTHON" -m s3prl_fusion.cli qbe "${sweep_flags[@]}" "$OUT_DIR" "${flags[@]}" -o "$OVERRIDE_STRING" "$@"
"$PYTHON" -m s3prl_fusion.cli score --task quesst14_dtw --expdir "$OUT_DIR" --split test
