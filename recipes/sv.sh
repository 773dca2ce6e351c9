#!/usr/bin/env bash
# SUPERB speaker verification on VoxCeleb1 (train dev/wav, test trials over test/wav, EER),
# s3prl's `sv_voxceleb1` task.
#   recipes/sv.sh UPSTREAM INTERFACE VOXCELEB1_ROOT OUT_DIR [s3prl runner flags...]
# VOXCELEB1_ROOT holds dev/wav/<speaker>/<video>/<n>.wav and test/wav/... (VoxCeleb1,
# https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html).
# More knobs (besides those of lib.sh):
#   SV_HEAD      superb (default: s3prl's x-vector head) | simplified (no frame-level layers,
#                downstream_configs/sv_voxceleb1/config_simplified.yaml); a CONFIG wins over both
#   TEST_TRIALS  trial list scored for the result (default: VOXCELEB1_ROOT/veri_test2.txt, the
#                cleaned VoxCeleb1-O list)
#   DEV_TRIALS   trial list over dev/wav (s3prl's task reads it even when dev is not scored); scored
#                only if the config's eval_dataloaders names dev (SUPERB's does not; default: TEST_TRIALS)
#   SV_SELECT    the checkpoint whose EER is reported:
#                best-test (default): s3prl's SUPERB SV protocol, the one the paper's SV numbers
#                  follow: every saved checkpoint is scored on the test trials (each once: its
#                  files are kept in OUT_DIR/test_by_step/<step>/) and the lowest EER is reported
#                newest: only the newest checkpoint is scored (no choice made on the test trials)
# OUT_DIR/result.json records the checkpoint and step the EER came from (best-test: every step's EER).
# Either way OUT_DIR/test_predict.txt holds the reported checkpoint's trial scores (the file SUPERB's
# submission packs).
# SV cannot train from a feature cache: s3prl's training set crops a random segment of each
# utterance anew on every pass, and every split passes through sox effects (gain, silence trim)
# before the upstream, so no cache holds the waveforms the members get (-u fused_cache -d
# sv_voxceleb1 stops at start with that message). With CACHE=1 (see lib.sh) this recipe says so
# and runs the members on the fly, so a table run with CACHE=1 stays complete.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage VoxCeleb1
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
fusion_on_the_fly_note sv_voxceleb1 "trains on random crops of sox-processed audio"

case "${SV_HEAD:-superb}" in
  superb) ;;
  simplified) CONFIG="${CONFIG:-$(dirname "$0")/../downstream_configs/sv_voxceleb1/config_simplified.yaml}" ;;
  *) echo "error: SV_HEAD=${SV_HEAD} is not a head; use SV_HEAD=superb or SV_HEAD=simplified" >&2; exit 2 ;;
esac
SV_SELECT="${SV_SELECT:-best-test}"
case "$SV_SELECT" in
  best-test | newest) ;;
  *) echo "error: SV_SELECT=${SV_SELECT} is not a checkpoint choice; use SV_SELECT=best-test or SV_SELECT=newest" >&2; exit 2 ;;
esac
TEST_TRIALS="${TEST_TRIALS:-$DATA_ROOT/veri_test2.txt}"
DEV_TRIALS="${DEV_TRIALS:-$TEST_TRIALS}"

for split in dev test; do
  fusion_require "$DATA_ROOT/$split/wav" "VoxCeleb1 $split audio" "download VoxCeleb1 from https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html and unpack it so that $DATA_ROOT/$split/wav/<speaker>/ exists"
done
fusion_require "$TEST_TRIALS" "VoxCeleb1 test trial list" "download veri_test2.txt from https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/veri_test2.txt into $DATA_ROOT, or set TEST_TRIALS"
fusion_require "$DEV_TRIALS" "dev trial list" "set DEV_TRIALS to a trial list over $DATA_ROOT/dev/wav, or leave it unset to reuse TEST_TRIALS"

OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.datarc.file_path='$DATA_ROOT'" \
  "config.downstream_expert.datarc.train_meta_data='$DATA_ROOT/dev/wav'" \
  "config.downstream_expert.datarc.dev_meta_data='$DEV_TRIALS'" \
  "config.downstream_expert.datarc.test_meta_data='$TEST_TRIALS'")
fusion_train sv_voxceleb1 "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "$@"

evaluate_every_checkpoint() {  # scores each saved checkpoint on the test trials, once, into test_by_step/<step>/
  local checkpoint scored
  while IFS= read -r checkpoint <&3; do
    scored="$OUT_DIR/test_by_step/$(fusion_checkpoint_step "$checkpoint")"
    if [ -f "$scored/test_predict.txt" ] && [ -f "$scored/test_truth.txt" ]; then continue; fi
    fusion_runner -m evaluate -e "$checkpoint" -t test --device "$DEVICE"
    mkdir -p "$scored"
    mv "$OUT_DIR/test_predict.txt" "$OUT_DIR/test_truth.txt" "$scored/"
  done 3< <(fusion_checkpoints "$OUT_DIR")
}

case "$SV_SELECT" in
  best-test)
    fusion_newest_checkpoint "$OUT_DIR" > /dev/null
    evaluate_every_checkpoint
    fusion_score sv_voxceleb1 "$OUT_DIR" test "$INTERFACE" --select best-test
    # the chosen checkpoint's trial scores where SUPERB's submission reads them
    CHOSEN=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["checkpoint"])' "$OUT_DIR/result.json")
    cp "$OUT_DIR/test_by_step/$(fusion_checkpoint_step "$CHOSEN")/test_predict.txt" "$OUT_DIR/test_predict.txt"
    ;;
  newest)
    NEWEST=$(fusion_newest_checkpoint "$OUT_DIR")
    fusion_evaluate sv_voxceleb1 "$OUT_DIR" test "$INTERFACE" "$NEWEST"
    ;;
esac
