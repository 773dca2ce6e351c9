#!/usr/bin/env bash
# SUPERB emotion recognition on IEMOCAP (4 classes, leave-one-session-out over 5 folds, accuracy),
# s3prl's `emotion` task.
#   recipes/emotion.sh UPSTREAM INTERFACE IEMOCAP_ROOT OUT_DIR [s3prl runner flags...]
# IEMOCAP_ROOT is the IEMOCAP_full_release folder holding Session1/ ... Session5/
# (https://sail.usc.edu/iemocap/). Each fold trains in OUT_DIR/fold<n> and is tested with its
# dev-best checkpoint (the newest one if dev was never scored); OUT_DIR/result.json holds the
# mean accuracy over the folds and each fold's accuracy.
# More knobs (besides those of lib.sh):
#   FOLDS   the test folds to run (default: 1 2 3 4 5, the SUPERB protocol; fewer for smoke runs)
#   FOLD    run this one of FOLDS only (a grid's cell); OUT_DIR/result.json is written by the run that
#           finds every fold of FOLDS scored
# A fold whose OUT_DIR/fold<n>/result.json exists is not run again.
# CACHE=1 (see lib.sh) caches the members' features of every utterance of the meta data in
# CACHE_DIR (default OUT_DIR/cache), built once: all folds train and test from it.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage IEMOCAP
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
FOLDS="${FOLDS:-1 2 3 4 5}"

for session in 1 2 3 4 5; do
  fusion_require "$DATA_ROOT/Session$session/dialog/EmoEvaluation" "IEMOCAP Session$session labels" "request IEMOCAP from https://sail.usc.edu/iemocap/ and pass its IEMOCAP_full_release folder as IEMOCAP_ROOT"
done
META_DATA="$OUT_DIR/meta_data"
prepare_meta_data() {
  if [ ! -f "$META_DATA/Session5/test_meta_data.json" ]; then
    "$PYTHON" -m s3prl_fusion.cli prepare iemocap --root "$DATA_ROOT" --out "$META_DATA"
  fi
}
fusion_locked "$OUT_DIR/.prepare.lock" prepare_meta_data

fusion_use_cache "$UPSTREAM" "$OUT_DIR" "$@"
fusion_cache_task_files "$UPSTREAM" "$OUT_DIR/cache_files.txt" emotion --root "$DATA_ROOT" --meta-data "$META_DATA"

RUN_FOLDS="${FOLD:-$FOLDS}"
if [ -n "${FOLD:-}" ] && [[ " $FOLDS " != *" $FOLD "* ]]; then
  echo "error: FOLD=$FOLD is not one of FOLDS ($FOLDS)" >&2
  exit 2
fi

for fold in $RUN_FOLDS; do
  if [ -f "$OUT_DIR/fold$fold/result.json" ]; then
    echo "[recipe] fold $fold: $OUT_DIR/fold$fold/result.json exists, skipping"
    continue
  fi
  OVERRIDE_STRING=$(fusion_overrides \
    "config.downstream_expert.datarc.root='$DATA_ROOT'" \
    "config.downstream_expert.datarc.meta_data='$META_DATA'" \
    "config.downstream_expert.datarc.test_fold='fold$fold'")
  fusion_train emotion "$UPSTREAM" "$INTERFACE" "$OUT_DIR/fold$fold" "$OVERRIDE_STRING" "${FUSION_RUNNER_FLAGS[@]}"
  fusion_evaluate emotion "$OUT_DIR/fold$fold" test "$INTERFACE"
done
for fold in $FOLDS; do
  if [ ! -f "$OUT_DIR/fold$fold/result.json" ]; then
    echo "[recipe] fold $fold has no result yet: $OUT_DIR/result.json waits for it"
    exit 0
  fi
done
fusion_locked "$OUT_DIR/.score.lock" fusion_score emotion "$OUT_DIR" test "$INTERFACE"
