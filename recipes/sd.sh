#!/usr/bin/env bash
# SUPERB speaker diarization on Libri2Mix (two speakers, diarization error rate), s3prl's `diarization` task.
#   recipes/sd.sh UPSTREAM INTERFACE DATA OUT_DIR [s3prl runner flags...]
# DATA holds the Kaldi folders train/, dev/, test/ (wav.scp, segments, utt2spk, spk2utt, reco2dur, rttm)
# that `s3prl-fusion prepare libri2mix` writes from a Libri2Mix made with s3prl's LibriMix fork.
# Trains in OUT_DIR, then tests the dev-best checkpoint (the newest one if dev was never scored):
# s3prl writes OUT_DIR/scoring/predictions/*.h5 and OUT_DIR/frame_shift, which SUPERB's submission
# packs as they are. Scoring writes OUT_DIR/scoring/hyp_<threshold>_<median>.rttm for SUPERB's ten
# settings and OUT_DIR/result.json with the lowest DER (s3prl_fusion/results/diarization.py).
# A re-run resumes training and skips the test evaluation when OUT_DIR/scoring/tested names the
# checkpoint it would test and is newer than it.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage libri2mix_data
UPSTREAM="$1" INTERFACE="$2" DATA="$3" OUT_DIR="$4"
shift 4

for split in train dev test; do
  fusion_require "$DATA/$split/wav.scp" "Libri2Mix $split Kaldi folder" \
    "prepare it: s3prl-fusion prepare libri2mix --root <Libri2Mix> --source-rttm <LibriMix>/metadata/LibriSpeech --out $DATA"
done
fusion_require "$DATA/test/rttm" "the test split's reference RTTM" "prepare DATA with s3prl-fusion prepare libri2mix"

if [ "${CACHE:-0}" = 1 ]; then
  echo "error: CACHE=1: recipes/sd.sh trains on the fly (a feature cache of the Libri2Mix recordings is not built by this recipe); drop CACHE=1" >&2
  exit 2
fi
OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.loaderrc.train_dir='$DATA/train'" \
  "config.downstream_expert.loaderrc.dev_dir='$DATA/dev'" \
  "config.downstream_expert.loaderrc.test_dir='$DATA/test'")
fusion_train diarization "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "$@"

CHECKPOINT=$(fusion_best_checkpoint "$OUT_DIR")
TESTED="$OUT_DIR/scoring/tested"
if [ -f "$TESTED" ] && [ "$(cat "$TESTED")" = "$CHECKPOINT" ] && [ "$TESTED" -nt "$CHECKPOINT" ]; then
  echo "[recipe] $CHECKPOINT was tested already: scoring its predictions"
else
  rm -f "$TESTED"
  fusion_runner -m evaluate -e "$CHECKPOINT" -t test --device "$DEVICE"
  echo "$CHECKPOINT" > "$TESTED"
fi
fusion_score diarization "$OUT_DIR" test "$INTERFACE" --checkpoint "$CHECKPOINT"
