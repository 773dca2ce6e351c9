#!/usr/bin/env bash
# SUPERB phone recognition on LibriSpeech (train-clean-100 / dev-clean / test-clean, phone error
# rate), s3prl's `ctc` task with the shipped downstream_configs/ctc/libriphone.yaml.
#   recipes/pr.sh UPSTREAM INTERFACE LIBRISPEECH_ROOT OUT_DIR [s3prl runner flags...]
# LIBRISPEECH_ROOT holds train-clean-100/, dev-clean/, test-clean/ (openslr.org/12).
# More knobs (besides those of lib.sh):
#   PR_LEXICON  the lexicon files, space-separated (default: s3prl's two g2p lexicons in
#               LIBRISPEECH_ROOT/lexicon/; `s3prl-fusion prepare libriphone` prints where to fetch them
#               and checks they cover every word of the transcripts)
#   CONFIG      as in lib.sh; default the shipped libriphone.yaml
# The dev-best checkpoint (the newest if dev was never scored) is tested: OUT_DIR/test-hyp.ark,
# scored into OUT_DIR/result.json.
# CACHE=1 (see lib.sh) caches the members' features of the three splits in CACHE_DIR.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage LibriSpeech
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
CONFIG="${CONFIG:-$(dirname "$0")/../downstream_configs/ctc/libriphone.yaml}"
read -r -a LEXICONS <<< "${PR_LEXICON:-$DATA_ROOT/lexicon/librispeech-lexicon-200k-g2p.txt $DATA_ROOT/lexicon/librispeech-lexicon-allothers-g2p.txt}"
SPLITS=(train-clean-100 dev-clean test-clean)

PREPARE_FLAGS=()
for lexicon in "${LEXICONS[@]}"; do PREPARE_FLAGS+=(--lexicon "$lexicon"); done
fusion_prepare libriphone --root "$DATA_ROOT" --splits "${SPLITS[@]}" "${PREPARE_FLAGS[@]}"
fusion_use_cache "$UPSTREAM" "$OUT_DIR" "$@"
fusion_cache_build "$UPSTREAM" --data "$DATA_ROOT/${SPLITS[0]}" --data "$DATA_ROOT/${SPLITS[1]}" --data "$DATA_ROOT/${SPLITS[2]}"

LEXICON_LIST=$(printf "'%s'," "${LEXICONS[@]}")
OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.corpus.path='$DATA_ROOT'" \
  "config.downstream_expert.corpus.lexicon=[${LEXICON_LIST%,}]")
fusion_train ctc "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "${FUSION_RUNNER_FLAGS[@]}"
fusion_evaluate libriphone "$OUT_DIR" test "$INTERFACE"
