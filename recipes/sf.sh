#!/usr/bin/env bash
# SUPERB slot filling on Audio SNIPS (slot-type F1 and slot-value CER), s3prl's `ctc` task with the
# shipped downstream_configs/ctc/snips.yaml.
#   recipes/sf.sh UPSTREAM INTERFACE SNIPS_ROOT OUT_DIR [s3prl runner flags...]
# SNIPS_ROOT is the SNIPS folder ({train,valid,test}/*.wav, all-trans.txt, all.iob.snips.txt,
# slots.txt); `s3prl-fusion prepare snips` checks it and writes slots.txt where it is missing.
# CONFIG (see lib.sh) defaults to the shipped snips.yaml. The dev-best checkpoint (the newest if dev
# was never scored) is tested: OUT_DIR/test-hyp.ark, scored into OUT_DIR/result.json.
# CACHE=1 (see lib.sh) caches the members' features of every wav of the three split folders in CACHE_DIR.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage SNIPS
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
CONFIG="${CONFIG:-$(dirname "$0")/../downstream_configs/ctc/snips.yaml}"

fusion_prepare snips --root "$DATA_ROOT"
fusion_use_cache "$UPSTREAM" "$OUT_DIR" "$@"
fusion_cache_build "$UPSTREAM" --data "$DATA_ROOT/train" --data "$DATA_ROOT/valid" --data "$DATA_ROOT/test"

OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.corpus.path='$DATA_ROOT'" \
  "config.downstream_expert.text.slots_file='$DATA_ROOT/slots.txt'")
fusion_train ctc "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "${FUSION_RUNNER_FLAGS[@]}"
fusion_evaluate snips "$OUT_DIR" test "$INTERFACE"
