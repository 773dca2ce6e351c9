#!/usr/bin/env bash
# ML-SUPERB ASR, Mono-1h or Multi-1h (CER), with the plugin's ml_superb downstream.
#   recipes/ml_superb.sh UPSTREAM INTERFACE ML_SUPERB_ROOT OUT_DIR [s3prl runner flags...]
# ML_SUPERB_ROOT holds {dataset}/{lang}/wav/*.wav and the transcript_*.txt lists
# (the ML-SUPERB release, https://multilingual.superbbenchmark.org).
# Environment knobs (besides lib.sh's):
#   MODE       mono (default): one model per Mono-1h language in OUT_DIR/<language>/, CER averaged
#              multi: one model over every language in OUT_DIR
#   LANGUAGES  mono only: the Mono-1h languages to run (default: all 13)
#   SELECTION  the checkpoint decoded on test:
#              dev-loss-ave (default, as ESPnet's recipe decodes valid.loss.ave.pth): the average
#                of the NBEST (default 5) checkpoints of lowest dev loss, OUT_DIR/.../dev-loss-ave.ckpt
#              dev-cer-best: the checkpoint of lowest dev error rate, dev-best.ckpt
#              A run that never evaluated dev (eval_step > total_steps) decodes its newest checkpoint.
#   CACHE=1    (see lib.sh) caches the members' features of every split the run reads (mono: of each
#              of LANGUAGES) in CACHE_DIR (default OUT_DIR/cache), built once before training; mono and
#              multi runs on the same data can share one CACHE_DIR (a build adds only what it lacks)
# The Mono-1h result is ESPnet's mean over languages of the mean over each language's pairs.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage ml_superb
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
MODE="${MODE:-mono}"
MONO_LANGUAGES="eng1 eng2 eng3 fra1 fra2 deu1 deu2 rus swa swe jpn cmn xty"
LANGUAGES="${LANGUAGES:-$MONO_LANGUAGES}"
SELECTION="${SELECTION:-dev-loss-ave}"
NBEST="${NBEST:-5}"
TEST_SPLIT=test
case "$SELECTION" in
  dev-loss-ave | dev-cer-best) ;;
  *) echo "error: SELECTION must be dev-loss-ave or dev-cer-best, got '$SELECTION'" >&2; exit 2 ;;
esac

fusion_require "$DATA_ROOT" "the ML-SUPERB data root" "download ML-SUPERB and pass the folder holding {dataset}/{lang}/ as ML_SUPERB_ROOT"

selected_checkpoint() {  # OUT_DIR -> the checkpoint SELECTION decodes
  local out_dir="$1"
  if [ "$SELECTION" = dev-loss-ave ] && compgen -G "$out_dir/dev-loss-step-*.ckpt" > /dev/null; then
    "$PYTHON" -m s3prl_fusion.downstreams.ml_superb.average --expdir "$out_dir" --nbest "$NBEST"
    return
  fi
  if [ "$SELECTION" = dev-cer-best ] && [ -f "$out_dir/dev-best.ckpt" ]; then
    echo "$out_dir/dev-best.ckpt"
    return
  fi
  echo "[recipe] $out_dir has no dev evaluation to select by ($SELECTION): decoding its newest checkpoint" >&2
  fusion_newest_checkpoint "$out_dir"
}

train_and_evaluate() {  # OUT_DIR DATARC_ITEMS... (runner flags come from the recipe's arguments)
  local out_dir="$1"
  shift
  local datarc=("config.downstream_expert.datarc.root='$DATA_ROOT'")
  for item in "$@"; do datarc+=("config.downstream_expert.datarc.$item"); done
  mkdir -p "$out_dir"
  fusion_train ml_superb "$UPSTREAM" "$INTERFACE" "$out_dir" "$(fusion_overrides "${datarc[@]}")" "${FUSION_RUNNER_FLAGS[@]}"
  local checkpoint
  checkpoint=$(selected_checkpoint "$out_dir")
  echo "[recipe] decoding $checkpoint"
  fusion_runner -m evaluate -e "$checkpoint" -t "$TEST_SPLIT" --device "$DEVICE"
}

case "$MODE" in
  mono)
    language_flags=()
    for language in $LANGUAGES; do
      case " $MONO_LANGUAGES " in
        *" $language "*) ;;
        *) echo "error: LANGUAGES names '$language', which is not a Mono-1h language ($MONO_LANGUAGES)" >&2; exit 2 ;;
      esac
      language_flags+=(--language "$language")
    done
    ;;
  multi) ;;
  *)
    echo "error: MODE must be mono or multi, got '$MODE'" >&2
    exit 2
    ;;
esac

fusion_use_cache "$UPSTREAM" "$OUT_DIR" "$@"
if [ "$MODE" = mono ]; then
  fusion_cache_task_files "$UPSTREAM" "$OUT_DIR/cache_files.txt" ml_superb --root "$DATA_ROOT" --mode mono "${language_flags[@]}"
  for language in $LANGUAGES; do
    train_and_evaluate "$OUT_DIR/$language" "mode='mono'" "language='$language'"
  done
else
  fusion_cache_task_files "$UPSTREAM" "$OUT_DIR/cache_files.txt" ml_superb --root "$DATA_ROOT" --mode multi
  train_and_evaluate "$OUT_DIR" "mode='multi'"
fi
fusion_score ml_superb "$OUT_DIR" "$TEST_SPLIT" "$INTERFACE"
