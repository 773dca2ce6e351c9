# Shared steps of the recipes that run a grid of cells, each cell one task recipe run into its own
# folder (sourced by table_lib.sh and superb.sh after lib.sh, not run). The sourcing script defines:
#   ALL_TASKS                 its task names, in order
#   task_recipe TASK          -> the task's recipe file name under recipes/ (nothing for an unknown task)
#   task_data_variable TASK   -> the environment variable holding the task's data root
#   task_cache_name TASK      -> the name of the task's feature cache (tasks reading the same files share one)

check_tasks() {  # validates TASKS: known names, recipe present, data root set and present
  local task variable
  for task in $TASKS; do
    if [ -z "$(task_recipe "$task")" ]; then
      echo "error: TASKS names '$task'; tasks are: $ALL_TASKS" >&2
      exit 2
    fi
    if [ ! -f "$RECIPES/$(task_recipe "$task")" ]; then
      echo "error: task $task needs $RECIPES/$(task_recipe "$task"), which does not exist; leave $task out of TASKS" >&2
      exit 2
    fi
    variable=$(task_data_variable "$task")
    if [ -z "${!variable:-}" ]; then
      echo "error: task $task needs its data root: set $variable=/path/to/the/data (or leave $task out of TASKS)" >&2
      exit 2
    fi
    if [ ! -d "${!variable}" ]; then
      echo "error: $variable=${!variable} is not a folder; point it at the $task data" >&2
      exit 2
    fi
  done
}

row_upstream_config() {  # UPSTREAM HF_ID OUT_DIR -> a -g file with SMOKE's random members and WHISPER_LENGTH_MODE
  # on every Whisper member ("" when neither is asked for, or the upstream has nothing to set)
  if [ "${SMOKE:-0}" != 1 ] && [ -z "${WHISPER_LENGTH_MODE:-}" ]; then return; fi
  local suffix=""
  if [ "${SMOKE:-0}" = 1 ]; then suffix+="-random"; fi
  if [ -n "${WHISPER_LENGTH_MODE:-}" ]; then suffix+="-$WHISPER_LENGTH_MODE"; fi
  local file="$3/upstream_configs/$1${2:+-${2//\//_}}$suffix.yaml"
  if [ -f "$file" ]; then echo "$file"; return; fi
  local flags=()
  if [ -n "$2" ]; then flags+=(--ckpt "$2"); fi
  if [ "${SMOKE:-0}" = 1 ]; then flags+=(--random); fi
  if [ -n "${WHISPER_LENGTH_MODE:-}" ]; then flags+=(--whisper-length-mode "$WHISPER_LENGTH_MODE"); fi
  "$PYTHON" -m s3prl_fusion.cli upstream-config "$1" "${flags[@]}" --out "$file"
}

check_whisper_length_mode() {
  case "${WHISPER_LENGTH_MODE:-}" in
    "" | exact | pad30) ;;
    *) echo "error: WHISPER_LENGTH_MODE=$WHISPER_LENGTH_MODE is not a length mode; use exact or pad30 (or leave it unset: each member's default, exact)" >&2; exit 2 ;;
  esac
}

cell_cache_dir() {  # TASK UPSTREAM UPSTREAM_CONFIG OUT_DIR -> the cache folder of the upstream set on the task's data
  local name
  name=$(basename "${3:-$2}" .yaml)${CACHE_DTYPE:+-$CACHE_DTYPE}${CACHE_STORAGE:+-$CACHE_STORAGE}
  echo "$4/caches/$name/$(task_cache_name "$1")"
}

smoke_overrides() {  # [ITEMS...] -> OVERRIDES with the items of a quick in-process run added: the task's ITEMS
  # (default: data loading in-process, datarc.num_workers=0) and a checkpoint saved at STEPS
  local items=("${@:-config.downstream_expert.datarc.num_workers=0}")
  if [ -n "${STEPS:-}" ]; then items+=("config.runner.save_step=${STEPS}"); fi
  if [ -n "${OVERRIDES:-}" ]; then items+=("$OVERRIDES"); fi
  fusion_join_overrides "${items[@]}"
}
