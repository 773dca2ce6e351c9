# Shared steps of the task recipes (sourced, not run). Each recipe:
#   recipes/<task>.sh UPSTREAM INTERFACE DATA_ROOT OUT_DIR [more s3prl runner flags...]
# Environment knobs:
#   DEVICE           runner --device (default: cuda when torch sees a GPU, else cpu)
#   UPSTREAM_CONFIG  -g file for the upstream (member options, random-init configs, Whisper length mode)
#   CONFIG           task config (-c); default: the plugin's shipped one
#   STEPS            override runner.total_steps (smoke runs); a save_step / eval_step above STEPS (in the
#                    config or OVERRIDES) is lowered to STEPS, with a note, so the run saves a checkpoint
#   OVERRIDES        extra s3prl -o items, joined with ",,"
#   PYTHON           interpreter with s3prl-fusion installed (default: python)
#   CACHE=1          train and evaluate from a feature cache of a fused upstream's frozen members, built
#                    first over every split the task reads (docs/cache.md, "The recipes' CACHE=1")
#   CACHE_DIR        the cache folder (default: OUT_DIR/cache)
#   CACHE_DTYPE      passed to `cache build` as --dtype (unset: the build's default)
#   CACHE_STORAGE    passed to `cache build` as --storage (unset: the build's default)
#   CACHE_RANKS      build the cache with this many torchrun processes (default 1: one process), one per GPU
#   CACHE_ONLY=1     stop once the feature cache is built (a grid's cache job; without a cache: stop at once)
#   CACHE_READY=1    the cache is complete (a grid's cache job built it): use it without a `cache build` pass
#   SEEDS            e.g. "1 2 3": the recipe runs once per seed, into OUT_DIR/seed<k>/ (its own result.json),
#                    with s3prl's --seed k; a seed whose result.json exists is skipped. Unset: one run in OUT_DIR
#                    with s3prl's default seed
#   SEED             s3prl's --seed of this run (SEEDS sets it for each seed folder)
#   RANKS            train with this many torchrun processes (s3prl's DDP; default 1: one process), one per GPU
# A re-run resumes: it continues training from OUT_DIR's newest checkpoint (the intact one of the
# highest step), and skips a step whose output is already there. A re-run with another UPSTREAM,
# INTERFACE or UPSTREAM_CONFIG stops (exit 2) naming both set-ups: give it another OUT_DIR.
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

fusion_distributed_backend() {  # -> the process group backend of DEVICE: nccl on GPUs, gloo on the CPU
  case "$DEVICE" in cuda*) echo nccl ;; *) echo gloo ;; esac
}

fusion_train_runner() {  # runner flags... -> training, under torchrun with RANKS processes when RANKS > 1
  local ranks="${RANKS:-1}"
  if ! [[ "$ranks" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: RANKS=$ranks is not a number of processes; use RANKS=1 (one process) or the number of GPUs" >&2
    exit 2
  fi
  if [ "$ranks" = 1 ]; then fusion_runner "$@"; return; fi
  echo "[recipe] training with $ranks torchrun processes (s3prl's DDP)"
  "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$ranks" -m s3prl_fusion.run_downstream "$@" \
    --backend "$(fusion_distributed_backend)"
}

fusion_seed_flags() {  # -> s3prl's --seed SEED when SEED is set
  if [ -n "${SEED:-}" ]; then echo --seed; echo "$SEED"; fi
}

fusion_seeds() {  # the recipe's arguments -> with SEEDS, the recipe once per seed into OUT_DIR/seed<k>/, then exit
  if [ -z "${SEEDS:-}" ] || [ $# -lt 4 ]; then return; fi
  local seed out_dir="$4"
  for seed in $SEEDS; do
    if ! [[ "$seed" =~ ^[0-9]+$ ]]; then
      echo "error: SEEDS names '$seed', which is not a whole number; use e.g. SEEDS=\"1 2 3\"" >&2
      exit 2
    fi
  done
  for seed in $SEEDS; do
    if [ -f "$out_dir/seed$seed/result.json" ]; then
      echo "[recipe] seed $seed: $out_dir/seed$seed/result.json exists, skipping"
      continue
    fi
    echo "[recipe] seed $seed -> $out_dir/seed$seed"
    SEEDS="" SEED="$seed" DEVICE="$DEVICE" bash "$0" "$1" "$2" "$3" "$out_dir/seed$seed" "${@:5}"
  done
  exit 0
}

fusion_locked() {  # LOCK_FILE COMMAND... -> COMMAND (a function too) run while holding LOCK_FILE, so that runs
  # sharing a folder (a grid's folds) take turns
  local lock="$1"
  shift
  mkdir -p "$(dirname "$lock")"
  (
    flock 9
    "$@"
  ) 9> "$lock"
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

fusion_use_cache() {  # UPSTREAM OUT_DIR [runner flags...] -> FUSION_CACHE_DIR (empty: members on the fly) and
  # FUSION_RUNNER_FLAGS (the runner flags; with a cache, less the upstream's -k, which goes to the build as FUSION_UPSTREAM_CKPT)
  local upstream="$1" out_dir="$2"
  shift 2
  FUSION_CACHE_DIR="" FUSION_UPSTREAM_CKPT="" FUSION_RUNNER_FLAGS=("$@")
  if [ "${CACHE:-0}" != 1 ]; then return; fi
  case "$upstream" in
    fused_cache) return ;;
    fused | fused_*) ;;
    *)
      echo "[recipe] CACHE=1: -u $upstream is not a fused upstream (a feature cache holds fused members' stacks): running it on the fly"
      return
      ;;
  esac
  FUSION_CACHE_DIR="${CACHE_DIR:-$out_dir/cache}" FUSION_RUNNER_FLAGS=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -k | --upstream_ckpt) FUSION_UPSTREAM_CKPT="${2:-}"; shift $(($# > 1 ? 2 : 1)) ;;
      --upstream_ckpt=*) FUSION_UPSTREAM_CKPT="${1#*=}"; shift ;;
      -f | --upstream_trainable)
        echo "error: -f (--upstream_trainable) fine-tunes the upstream, but CACHE=1 trains from a feature cache of its frozen" \
          "members' features: drop CACHE=1 to fine-tune them (members on the fly), or drop -f to train from the cache" >&2
        exit 2
        ;;
      *) FUSION_RUNNER_FLAGS+=("$1"); shift ;;
    esac
  done
}

fusion_on_the_fly_note() {  # TASK WHAT_IT_DOES -> with CACHE=1, a note that TASK runs its members on the fly, and why
  if [ "${CACHE:-0}" = 1 ]; then
    echo "[recipe] CACHE=1: $1 $2, which no feature cache holds: running the members on the fly"
  fi
}

fusion_prepare() {  # DATA_SET [prepare flags...] -> `s3prl-fusion prepare DATA_SET ...` (checks the data; stops naming what is missing)
  "$PYTHON" -m s3prl_fusion.cli prepare "$@"
}

fusion_stop_after_cache() {  # with CACHE_ONLY=1: the recipe ends here
  if [ "${CACHE_ONLY:-0}" = 1 ]; then
    echo "[recipe] CACHE_ONLY=1: the cache is built, stopping before training"
    exit 0
  fi
}

fusion_cache_build() {  # UPSTREAM [cache build inputs: --data / --wav-list / --root ...] -> the members over those
  # inputs into FUSION_CACHE_DIR (nothing without a cache; `cache build` adds only the files it lacks)
  local upstream="$1"
  shift
  if [ -z "${FUSION_CACHE_DIR:-}" ]; then fusion_stop_after_cache; return; fi
  if [ "${CACHE_READY:-0}" = 1 ]; then
    echo "[recipe] CACHE=1: feature cache $FUSION_CACHE_DIR of -u $upstream, built by its own job"
    return
  fi
  local flags=(-u "$upstream")
  if [ -n "$FUSION_UPSTREAM_CKPT" ]; then flags+=(-k "$FUSION_UPSTREAM_CKPT"); fi
  if [ -n "${UPSTREAM_CONFIG:-}" ]; then flags+=(-g "$UPSTREAM_CONFIG"); fi
  if [ -n "${CACHE_DTYPE:-}" ]; then flags+=(--dtype "$CACHE_DTYPE"); fi
  if [ -n "${CACHE_STORAGE:-}" ]; then flags+=(--storage "$CACHE_STORAGE"); fi
  echo "[recipe] CACHE=1: feature cache $FUSION_CACHE_DIR of -u $upstream (built once; later runs add only missing files)"
  local launch=("$PYTHON" -m s3prl_fusion.cli)
  if [ "${CACHE_RANKS:-1}" != 1 ]; then
    launch=("$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$CACHE_RANKS" -m s3prl_fusion.cli)
  fi
  "${launch[@]}" cache build "${flags[@]}" "$@" --out "$FUSION_CACHE_DIR" --device "$DEVICE"
  fusion_stop_after_cache
}

fusion_cache_task_files() {  # UPSTREAM LIST_FILE TASK [task_files flags...] -> the task's audio files
  # (`python -m s3prl_fusion.cache.task_files`) listed in LIST_FILE and cached (nothing without a cache)
  local upstream="$1" list="$2"
  shift 2
  if [ -z "${FUSION_CACHE_DIR:-}" ] || [ "${CACHE_READY:-0}" = 1 ]; then fusion_cache_build "$upstream"; return; fi
  "$PYTHON" -m s3prl_fusion.cache.task_files "$@" --out "$list"
  fusion_cache_build "$upstream" --wav-list "$list"
}

fusion_steps_overrides() {  # TASK OVERRIDE_STRING -> OVERRIDE_STRING, with save_step / eval_step lowered to STEPS
  # where the task config (CONFIG, else the shipped one) and the overrides leave them above it, so a short run saves
  # a checkpoint (`python -m s3prl_fusion.experiments.run_steps` prints a note for each)
  local task="$1" overrides="$2"
  if [ -z "${STEPS:-}" ]; then echo "$overrides"; return; fi
  local flags=(--task "$task" --steps "$STEPS" --overrides "$overrides")
  if [ -n "${CONFIG:-}" ]; then flags+=(--config "$CONFIG"); fi
  "$PYTHON" -m s3prl_fusion.experiments.run_steps "${flags[@]}"
}

fusion_train() {  # TASK UPSTREAM INTERFACE OUT_DIR OVERRIDE_STRING [flags...] (from FUSION_CACHE_DIR when set)
  # A re-run resumes OUT_DIR with the same -u / -s / -g / -k, which the runner checks against the checkpoint's:
  # another set-up stops with a message (a new set-up needs another OUT_DIR)
  local task="$1" upstream="$2" interface="$3" out_dir="$4" overrides
  overrides=$(fusion_steps_overrides "$task" "$5")
  shift 5
  local upstream_flags=(-u "$upstream")
  if [ -n "${FUSION_CACHE_DIR:-}" ]; then
    upstream_flags=(-u fused_cache -k "$FUSION_CACHE_DIR")
    # a -u fused run without -k has its members in the -g file: the cache is checked against them
    if [ "$upstream" = fused ] && [ -z "${FUSION_UPSTREAM_CKPT:-}" ] && [ -n "${UPSTREAM_CONFIG:-}" ]; then
      upstream_flags+=(-g "$UPSTREAM_CONFIG")
    fi
  elif [ -n "${UPSTREAM_CONFIG:-}" ]; then
    upstream_flags+=(-g "$UPSTREAM_CONFIG")
  fi
  if compgen -G "$out_dir/states-*.ckpt" > /dev/null; then
    echo "[recipe] resuming $out_dir from its newest checkpoint"
    fusion_train_runner -m train -e "$out_dir" "${upstream_flags[@]}" -s "$interface" --device "$DEVICE" -o "$overrides" "$@"
    return
  fi
  local config_flags=()
  if [ -n "${CONFIG:-}" ]; then config_flags+=(-c "$CONFIG"); fi
  local seed_flags
  mapfile -t seed_flags < <(fusion_seed_flags)
  fusion_train_runner -m train "${upstream_flags[@]}" -s "$interface" -d "$task" "${config_flags[@]}" "${seed_flags[@]}" \
    -p "$out_dir" --device "$DEVICE" -o "$overrides" "$@"
}

fusion_checkpoint_step() {  # CHECKPOINT -> the step <N> of its file name states-<N>.ckpt (nothing if it has none)
  local name="${1##*/}"
  name="${name#states-}"
  name="${name%.ckpt}"
  if [[ "$name" =~ ^[0-9]+$ ]]; then echo "$((10#$name))"; fi
}

fusion_checkpoints() {  # OUT_DIR -> its states-<step>.ckpt files, one per line, in step order
  "$PYTHON" -m s3prl_fusion.experiments.resume list "$1"
}

fusion_newest_checkpoint() {  # OUT_DIR -> the intact states-<step>.ckpt of the highest step (what -e OUT_DIR resumes)
  "$PYTHON" -m s3prl_fusion.experiments.resume newest "$1"
}

fusion_best_checkpoint() {  # OUT_DIR -> the dev-best checkpoint if any, else the newest states-<step>.ckpt
  local path
  for path in "$1"/*best*.ckpt; do
    if [ -f "$path" ]; then echo "$path"; return; fi
  done
  fusion_newest_checkpoint "$1"
}

fusion_score() {  # TASK OUT_DIR SPLIT INTERFACE [score flags...] -> OUT_DIR/result.json, labelled with the checkpoint's
  # set-up (-u / -s as it recorded them; --interface only checks it)
  local task="$1" out_dir="$2" split="$3" interface="$4"
  shift 4
  "$PYTHON" -m s3prl_fusion.cli score --task "$task" --expdir "$out_dir" --split "$split" --interface "$interface" "$@"
}

fusion_evaluate() {  # TASK OUT_DIR SPLIT INTERFACE [CHECKPOINT] (default: the dev-best, else the newest)
  local task="$1" out_dir="$2" split="$3" interface="$4" checkpoint="${5:-}"
  if [ -z "$checkpoint" ]; then checkpoint=$(fusion_best_checkpoint "$out_dir"); fi
  fusion_runner -m evaluate -e "$checkpoint" -t "$split" --device "$DEVICE"
  fusion_score "$task" "$out_dir" "$split" "$interface" --checkpoint "$checkpoint"
}

fusion_seeds "$@"
