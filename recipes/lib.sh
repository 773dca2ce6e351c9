# Shared steps of the task recipes (sourced, not run). Each recipe:
#   recipes/<task>.sh UPSTREAM INTERFACE DATA_ROOT OUT_DIR [more s3prl runner flags...]
# Environment knobs:
#   DEVICE           runner --device (default: cuda when torch sees a GPU, else cpu)
#   UPSTREAM_CONFIG  -g file for the upstream (member options, random-init configs, Whisper length mode)
#   CONFIG           task config (-c); default: the plugin's shipped one
#   STEPS            override runner.total_steps (smoke runs)
#   OVERRIDES        extra s3prl -o items, joined with ",,"
#   PYTHON           interpreter with s3prl-fusion installed (default: python)
# A re-run resumes: it continues training from OUT_DIR's newest checkpoint, and skips a step
# whose output is already there.
set -euo pipefail

PYTHON="${PYTHON:-python}"
DEVICE="${DEVICE:-$("$PYTHON" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}"

fusion_usage() {
  echo "usage: $0 UPSTREAM INTERFACE DATA_ROOT OUT_DIR [s3prl runner flags...]" >&2
  echo "  e.g. $0 fused_wavlm_whisper hconv /data/$1 result/$1/fused_wavlm_whisper-hconv" >&2
  exit 2
}

fusion_require() {  # PATH WHAT HOW_TO_GET_IT
  if [ ! -e "$1" ]; then
    echo "error: $2 not found at $1" >&2
    echo "  $3" >&2
    exit 1
  fi
}

fusion_runner() {
  "$PYTHON" -m s3prl_fusion.run_downstream "$@"
}

fusion_join_overrides() {  # items... -> one s3prl -o string (items joined with ",,")
  local IFS=$'\x1f'
  local joined="$*"
  echo "${joined//$'\x1f'/,,}"
}

fusion_overrides() {  # items... -> one -o string with STEPS and OVERRIDES appended
  local items=("$@")
  if [ -n "${STEPS:-}" ]; then items+=("config.runner.total_steps=${STEPS}"); fi
  if [ -n "${OVERRIDES:-}" ]; then items+=("${OVERRIDES}"); fi
  fusion_join_overrides "${items[@]}"
}

fusion_train() {  # TASK UPSTREAM INTERFACE OUT_DIR OVERRIDE_STRING [flags...]
  local task="$1" upstream="$2" interface="$3" out_dir="$4" overrides="$5"
  shift 5
  if compgen -G "$out_dir/states-*.ckpt" > /dev/null; then
    echo "[recipe] resuming $out_dir from its newest checkpoint"
    fusion_runner -m train -e "$out_dir" --device "$DEVICE" -o "$overrides" "$@"
    return
  fi
  local upstream_flags=(-u "$upstream")
  if [ -n "${UPSTREAM_CONFIG:-}" ]; then upstream_flags+=(-g "$UPSTREAM_CONFIG"); fi
  local config_flags=()
  if [ -n "${CONFIG:-}" ]; then config_flags+=(-c "$CONFIG"); fi
  fusion_runner -m train "${upstream_flags[@]}" -s "$interface" -d "$task" "${config_flags[@]}" \
    -p "$out_dir" --device "$DEVICE" -o "$overrides" "$@"
}

fusion_checkpoint_step() {  # CHECKPOINT -> the step <N> of its file name states-<N>.ckpt (nothing if it has none)
  local name="${1##*/}"
  name="${name#states-}"
  name="${name%.ckpt}"
  if [[ "$name" =~ ^[0-9]+$ ]]; then echo "$((10#$name))"; fi
}

fusion_checkpoints() {  # OUT_DIR -> its states-<step>.ckpt files, one per line, in step order
  local path step
  for path in "$1"/states-*.ckpt; do
    step=$(fusion_checkpoint_step "$path")
    if [ -f "$path" ] && [ -n "$step" ]; then printf '%s\t%s\n' "$step" "$path"; fi
  done | sort -n -k1,1 | cut -f2-
}

fusion_newest_checkpoint() {  # OUT_DIR -> the states-<step>.ckpt of the highest step
  local newest
  newest=$(fusion_checkpoints "$1" | tail -n 1)
  if [ -z "$newest" ]; then
    echo "error: no states-<step>.ckpt in $1: training saved no checkpoint (check config.runner.save_step against total_steps)" >&2
    exit 1
  fi
  echo "$newest"
}

fusion_best_checkpoint() {  # OUT_DIR -> the dev-best checkpoint if any, else the newest states-<step>.ckpt
  local path
  for path in "$1"/*best*.ckpt; do
    if [ -f "$path" ]; then echo "$path"; return; fi
  done
  fusion_newest_checkpoint "$1"
}

fusion_score() {  # TASK OUT_DIR SPLIT UPSTREAM INTERFACE [score flags...] -> OUT_DIR/result.json
  local task="$1" out_dir="$2" split="$3" upstream="$4" interface="$5"
  shift 5
  "$PYTHON" -m s3prl_fusion.cli score --task "$task" --expdir "$out_dir" --split "$split" \
    --upstream "$upstream" --interface "$interface" "$@"
}

fusion_evaluate() {  # TASK OUT_DIR SPLIT UPSTREAM INTERFACE [CHECKPOINT] (default: the dev-best, else the newest)
  local task="$1" out_dir="$2" split="$3" upstream="$4" interface="$5" checkpoint="${6:-}"
  if [ -z "$checkpoint" ]; then checkpoint=$(fusion_best_checkpoint "$out_dir"); fi
  fusion_runner -m evaluate -e "$checkpoint" -t "$split" --device "$DEVICE"
  fusion_score "$task" "$out_dir" "$split" "$upstream" "$interface" --checkpoint "$checkpoint"
}
