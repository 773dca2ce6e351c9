#!/usr/bin/env bash
# SUPERB speaker identification on VoxCeleb1 (1251 speakers, accuracy), s3prl's `voxceleb1` task.
#   recipes/sid.sh UPSTREAM INTERFACE VOXCELEB1_ROOT OUT_DIR [s3prl runner flags...]
# VOXCELEB1_ROOT holds dev/wav/<speaker>/ and test/wav/<speaker>/ (as for recipes/sv.sh).
# More knobs (besides those of lib.sh):
#   SID_SPLIT   the identification split (default: VOXCELEB1_ROOT/iden_split.txt, from
#               https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt)
# `s3prl-fusion prepare voxceleb1` checks every file of the split is there. The dev-best checkpoint
# (the newest if dev was never scored) is tested: OUT_DIR/test_predict.txt, scored into OUT_DIR/result.json.
# SID cannot train from a feature cache: its training set crops a random 8 s segment
# (datarc.max_timestep) of every longer utterance anew on every pass. With CACHE=1 (see lib.sh) this
# recipe says so and runs the members on the fly.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage VoxCeleb1
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
SID_SPLIT="${SID_SPLIT:-$DATA_ROOT/iden_split.txt}"
fusion_on_the_fly_note voxceleb1 "trains on random crops of its longer utterances"

fusion_prepare voxceleb1 --root "$DATA_ROOT" --split "$SID_SPLIT"
OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.datarc.file_path='$DATA_ROOT'" \
  "config.downstream_expert.datarc.meta_data='$SID_SPLIT'")
fusion_train voxceleb1 "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "$@"
fusion_evaluate voxceleb1 "$OUT_DIR" test "$INTERFACE"
