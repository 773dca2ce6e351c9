#!/usr/bin/env bash
# SUPERB keyword spotting on Speech Commands v0.01 (10 keywords, _unknown_, _silence_; accuracy),
# s3prl's `speech_commands` task.
#   recipes/ks.sh UPSTREAM INTERFACE SPEECH_COMMANDS_ROOT OUT_DIR [s3prl runner flags...]
# SPEECH_COMMANDS_ROOT holds speech_commands_v0.01/ (training and validation, with _background_noise_)
# and speech_commands_test_set_v0.01/ (the test set), unpacked from speech_commands_v0.01.tar.gz and
# speech_commands_test_set_v0.01.tar.gz (`s3prl-fusion prepare speech-commands --root ...` checks them
# and prints the commands that fetch what is missing). The dev-best checkpoint (the newest if dev was
# never scored) is tested: OUT_DIR/test_predict.txt, scored into OUT_DIR/result.json.
# KS cannot train from a feature cache: every clip passes through sox effects (a -3 dB gain) before
# the upstream, and _silence_ is a random 1 s window of background noise drawn anew on every pass.
# With CACHE=1 (see lib.sh) this recipe says so and runs the members on the fly.
source "$(dirname "$0")/lib.sh"
[ $# -ge 4 ] || fusion_usage SpeechCommands
UPSTREAM="$1" INTERFACE="$2" DATA_ROOT="$3" OUT_DIR="$4"
shift 4
fusion_on_the_fly_note speech_commands "passes every clip through sox effects and cuts random windows of noise for _silence_"

fusion_prepare speech-commands --root "$DATA_ROOT"
OVERRIDE_STRING=$(fusion_overrides \
  "config.downstream_expert.datarc.speech_commands_root='$DATA_ROOT/speech_commands_v0.01'" \
  "config.downstream_expert.datarc.speech_commands_test_root='$DATA_ROOT/speech_commands_test_set_v0.01'")
fusion_train speech_commands "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$OVERRIDE_STRING" "$@"
fusion_evaluate speech_commands "$OUT_DIR" test "$INTERFACE"
