#!/usr/bin/env bash
# SUPERB intent classification on Fluent Speech Commands (action, object and location; accuracy of
# the whole intent), s3prl's `fluent_commands` task.
#   recipes/ic.sh UPSTREAM INTERFACE FLUENT_COMMANDS_ROOT OUT_DIR [s3prl runner flags...]
# FLUENT_COMMANDS_ROOT is the fluent_speech_commands_dataset folder (wavs/speakers/, data/*.csv);
# `s3prl-fusion prepare fluent-commands` checks it. The dev-best checkpoint (the newest if dev was
# never scored) is tested: OUT_DIR/test_predict.csv, scored into OUT_DIR/result.json.
# CACHE=1 (see lib.sh) caches the members' features of every file of the three csv lists in CACHE_DIR.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage fluent_speech_commands_dataset
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4

fusion_prepare fluent-commands --root "$DATA_ROOT"
fusion_use_cache "$UPSTREAM" "$OUT_DIR" "$@"
fusion_cache_task_files "$UPSTREAM" "$OUT_DIR/cache_files.txt" fluent_commands --root "$DATA_ROOT"

OVERRIDE_STRING=$(fusion_overrides "config.downstream_expert.datarc.file_path='$DATA_ROOT'")
fusion_train fluent_commands "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "${FUSION_RUNNER_FLAGS[@]}"
fusion_evaluate fluent_commands "$OUT_DIR" test "$INTERFACE"
