#!/usr/bin/env bash
# SUPERB ASR on LibriSpeech (train-clean-100 / dev-clean / test-clean), WER.
#   recipes/asr.sh UPSTREAM INTERFACE LIBRISPEECH_ROOT OUT_DIR [s3prl runner flags...]
# LIBRISPEECH_ROOT holds train-clean-100/, dev-clean/, test-clean/ (openslr.org/12).
# CACHE=1 (see lib.sh) caches the members' features of the three splits in CACHE_DIR.
# More knobs (besides those of lib.sh):
#   LM_DIR  also decode test-clean with SUPERB's KenLM setting (s3prl's test-clean-LM-hyp.ark, WER in
#           result.json as wer_lm): a folder holding one KenLM model (*.arpa, *.arpa.gz, *.bin) and
#           librispeech_lexicon.lst (`s3prl-fusion prepare asr-lm --help` says what to download)
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage librispeech
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4

for split in train-clean-100 dev-clean test-clean; do
  fusion_require "$DATA_ROOT/$split" "LibriSpeech $split" "download it from https://www.openslr.org/12 and unpack under $DATA_ROOT"
done
if [ -n "${LM_DIR:-}" ]; then  # checked first: a missing LM file stops here
  LM_OVERRIDES=$("$PYTHON" -m s3prl_fusion.experiments.lm_decoding "$LM_DIR")
fi
BUCKETS="$OUT_DIR/len_for_bucket"
if [ ! -f "$BUCKETS/test-clean.csv" ]; then
  "$PYTHON" -m s3prl_fusion.cli prepare librispeech --root "$DATA_ROOT" --out "$BUCKETS" --splits train-clean-100 dev-clean test-clean
fi

fusion_use_cache "$UPSTREAM" "$OUT_DIR" "$@"
fusion_cache_build "$UPSTREAM" --root "$DATA_ROOT" \
  --data "$BUCKETS/train-clean-100.csv" --data "$BUCKETS/dev-clean.csv" --data "$BUCKETS/test-clean.csv"

OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.datarc.libri_root='$DATA_ROOT'" \
  "config.downstream_expert.datarc.bucket_file='$BUCKETS'")
fusion_train asr "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "${FUSION_RUNNER_FLAGS[@]}"
CHECKPOINT=$(fusion_best_checkpoint "$OUT_DIR")
fusion_runner -m evaluate -e "$CHECKPOINT" -t test-clean --device "$DEVICE"
if [ -n "${LM_DIR:-}" ]; then
  fusion_runner -m evaluate -e "$CHECKPOINT" -t test-clean --device "$DEVICE" -o "$LM_OVERRIDES"
else
  rm -f "$OUT_DIR/test-clean-LM-hyp.ark" "$OUT_DIR/test-clean-LM-ref.ark"  # an earlier LM decoding of another checkpoint
fi
fusion_score asr "$OUT_DIR" test-clean "$INTERFACE" --checkpoint "$CHECKPOINT"
