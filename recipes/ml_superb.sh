#!/usr/bin/env bash
# ML-SUPERB ASR, Mono-1h or Multi-1h (CER), with the plugin's ml_superb downstream.
#   recipes/ml_superb.sh UPSTREAM INTERFACE ML_SUPERB_ROOT OUT_DIR [s3prl runner flags...]
# ML_SUPERB_ROOT holds {dataset}/{lang}/wav/*.wav and the transcript_*.txt lists
# (the ML-SUPERB release, https://multilingual.superbbenchmark.org).
# Environment knobs (besides lib.sh's):
#   MODE       mono (default): one model per Mono-1h language in OUT_DIR/<language>/, CER averaged
#              multi: one model over every language in OUT_DIR
#   LANGUAGES  mono only: the Mono-1h languages to run (default: all 13)
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage ml_superb
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
MODE="${MODE:-mono}"
MONO_LANGUAGES="eng1 eng2 eng3 fra1 fra2 deu1 deu2 rus swa swe jpn cmn xty"
LANGUAGES="${LANGUAGES:-$MONO_LANGUAGES}"
TEST_SPLIT=test

fusion_require "$DATA_ROOT" "the ML-SUPERB data root" "download ML-SUPERB and pass the folder holding {dataset}/{lang}/ as ML_SUPERB_ROOT"

train_and_evaluate() {  # OUT_DIR DATARC_ITEMS... (runner flags come from the recipe's arguments)
  local out_dir="$1"
  shift
  local datarc=("config.downstream_expert.datarc.root='$DATA_ROOT'")
  for item in "$@"; do datarc+=("config.downstream_expert.datarc.$item"); done
  mkdir -p "$out_dir"
  fusion_train ml_superb "$UPSTREAM" "$INTERFACE" "$out_dir" "$(fusion_overrides "${datarc[@]}")" "${RUNNER_FLAGS[@]}"
  fusion_runner -m evaluate -e "$(fusion_best_checkpoint "$out_dir")" -t "$TEST_SPLIT" --device "$DEVICE"
}

RUNNER_FLAGS=("$@")
case "$MODE" in
  mono)
    for language in $LANGUAGES; do
      case " $MONO_LANGUAGES " in
        *" $language "*) ;;
        *) echo "error: LANGUAGES names '$language', which is not a Mono-1h language ($MONO_LANGUAGES)" >&2; exit 2 ;;
      esac
      train_and_evaluate "$OUT_DIR/$language" "mode='mono'" "language='$language'"
    done
    ;;
  multi)
    train_and_evaluate "$OUT_DIR" "mode='multi'"
    ;;
  *)
    echo "error: MODE must be mono or multi, got '$MODE'" >&2
    exit 2
    ;;
esac
"$PYTHON" -m s3prl_fusion.cli score --task ml_superb --expdir "$OUT_DIR" --split "$TEST_SPLIT" \
  --upstream "$UPSTREAM" --interface "$INTERFACE"
