# Shared loop of the paper-table recipes (sourced by table1.sh / table2.sh, not run).
# A table script sets TABLE_TITLE and TABLE_ROWS, lines of "ROW_ID INTERFACE UPSTREAM [HF_ID]":
#   UPSTREAM  the -u name with multilingual Whisper; LibriSpeech ASR runs its English-only
#             twin (<name>_en) when the row has a Whisper member
#   HF_ID     the -k of hf_ssl rows (the Hugging Face model the row stands for)
# then calls `table_main "$@"`.
#
#   recipes/tableN.sh OUT_DIR
# Results land in OUT_DIR/<row id>/<task>/ (result.json each) and the report in OUT_DIR/report/.
# Each cell (row x task x emotion fold x seed) is a job of the grid in OUT_DIR/grid/ (s3prl_fusion/grid/):
# a cell whose result.json exists is skipped, a started one resumes from its newest intact checkpoint,
# so a re-run picks up where it stopped; `s3prl-fusion grid status OUT_DIR` shows every cell's state.
# Environment:
#   LAUNCHER  serial (default): one job after another, here; local: JOBS (default 1) at once, one GPU
#             each; slurm: one sbatch job per cell, after its feature cache's build job (CACHE=1), and
#             a report job after every cell; resources from GRID_* (s3prl_fusion/grid/resources.py)
#   SEEDS     e.g. "1 2 3": every cell once per seed, OUT_DIR/<row id>/<task>/seed<k>/ (see lib.sh)
#   FOLDS     the emotion folds, each its own cell (default: 1 2 3 4 5)
#   LIBRISPEECH MLSUPERB VOXCELEB1 IEMOCAP   data roots of the tasks asr / mono,multi / sv / emotion
#   TASKS     tasks to run, from: asr mono multi sv emotion (default: all)
#   ROWS      row ids to run (default: all rows of the table)
#   SMOKE=1   every member becomes a small random model of its family (a generated -g file per
#             upstream), data loaders run in-process, ASR uses the small head of the demo config,
#             and with STEPS a checkpoint is saved at STEPS
#   WHISPER_LENGTH_MODE  exact | pad30: the length mode of every Whisper member of every row (a
#             generated -g file per upstream, in OUT_DIR/upstream_configs/); unset: the members'
#             default (exact). The report prints each Whisper row's mode
#   CACHE=1   every row of a fused upstream trains and is evaluated from a feature cache (see lib.sh):
#             one per upstream set (upstream and its -g) and task data, OUT_DIR/caches/<upstream>/<task>/
#             (asr, ml_superb for mono and multi, emotion for all folds), built once by a job of its own
#             that the cells reading it wait for, and reused by every interface, fold, seed and language.
#             GRID_CACHE_GPUS=G (slurm) builds it with G torchrun ranks. Rows of one model
#             (hf_ssl, whisper_<size>) and the sv task run their members on the fly, and say so
#   CACHE_DTYPE, CACHE_STORAGE   passed on to the cache builds (see lib.sh); part of the cache's name
#   STEPS, DEVICE, OVERRIDES, PYTHON   passed on to the task recipes (see lib.sh: a save_step or
#             eval_step above STEPS is lowered to STEPS, so every cell saves a checkpoint); CONFIG,
#             UPSTREAM_CONFIG and CACHE_DIR are not (each task uses its shipped config, each row its
#             own -g, each upstream set its own cache)
#   LANGUAGES Mono-1h languages (see ml_superb.sh); TEST_TRIALS (see sv.sh)
#   SV_HEAD   default simplified: the paper's SV head (see sv.sh)
#   SV_SELECT default best-test: s3prl's SV protocol, the best of every checkpoint on the test
#             trials (see sv.sh)
set -euo pipefail
shopt -s inherit_errexit

RECIPES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$RECIPES/lib.sh"
source "$RECIPES/cells_lib.sh"
source "$RECIPES/grid_lib.sh"
ALL_TASKS="asr mono multi sv emotion"
export SV_HEAD="${SV_HEAD:-simplified}"

task_recipe() {  # TASK -> recipe file name
  case "$1" in
    asr) echo asr.sh ;;
    mono | multi) echo ml_superb.sh ;;
    sv) echo sv.sh ;;
    emotion) echo emotion.sh ;;
  esac
}

task_data_variable() {  # TASK -> name of the environment variable holding its data root
  case "$1" in
    asr) echo LIBRISPEECH ;;
    mono | multi) echo MLSUPERB ;;
    sv) echo VOXCELEB1 ;;
    emotion) echo IEMOCAP ;;
  esac
}

task_cache_name() {  # TASK -> its cache's name: the recipe's (mono and multi share ml_superb's; the folds one emotion cache)
  local recipe
  recipe=$(task_recipe "$1")
  echo "${recipe%.sh}"
}

task_upstream() {  # TASK UPSTREAM -> the -u name the task runs
  if [ "$1" = asr ] && [[ "$2" == *whisper* ]]; then echo "${2}_en"; else echo "$2"; fi
}

table_rows() {  # the selected rows of TABLE_ROWS, one per line
  local ids row_ids="" wanted
  ids=$(awk 'NF {print $1}' <<< "$TABLE_ROWS")
  for wanted in ${ROWS:-$ids}; do
    if ! grep -qx -- "$wanted" <<< "$ids"; then
      echo "error: ROWS names '$wanted', which is not a row of $TABLE_TITLE; rows: $(echo $ids)" >&2
      exit 2
    fi
    row_ids+=" $wanted"
  done
  awk -v wanted="$row_ids" 'BEGIN {n = split(wanted, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1} NF && ($1 in keep)' <<< "$TABLE_ROWS"
}

task_folds() {  # TASK -> the folds that are cells of their own (emotion: FOLDS), else one empty word
  if [ "$1" = emotion ]; then echo "${FOLDS:-1 2 3 4 5}"; else echo ""; fi
}

plan_cell() {  # ROW_ID INTERFACE UPSTREAM HF_ID TASK OUT_DIR -> the cell's jobs (one per seed and fold), and the
  # feature cache build they read, in the plan
  local row="$1" interface="$2" task="$5" out_dir="$6"
  local upstream hf_id="$4" cell="$6/$1/$5" variable upstream_config="" overrides="${OVERRIDES:-}"
  upstream=$(task_upstream "$task" "$3")
  upstream_config=$(row_upstream_config "$upstream" "$hf_id" "$out_dir")
  if [ "${SMOKE:-0}" = 1 ]; then overrides=$(smoke_overrides); fi
  variable=$(task_data_variable "$task")
  local config=""
  if [ "${SMOKE:-0}" = 1 ] && [ "$task" = asr ]; then config="$RECIPES/../downstream_configs/asr/demo.yaml"; fi
  local flags=() task_env=(UPSTREAM_CONFIG="$upstream_config" CONFIG="$config" OVERRIDES="$overrides")
  if [ -n "$hf_id" ]; then flags+=(-k "$hf_id"); fi
  case "$task" in mono | multi) task_env+=(MODE="$task") ;; esac
  local recipe=(bash "$RECIPES/$(task_recipe "$task")" "$upstream")
  local cache_job=""
  if [ "${CACHE:-0}" = 1 ] && [ "$task" != sv ] && [[ "$upstream" == fused || "$upstream" == fused_* ]]; then
    local cache_dir
    cache_dir=$(cell_cache_dir "$task" "$upstream" "$upstream_config" "$out_dir")
    cache_job="${cache_dir#"$out_dir"/}"
    task_env+=(CACHE_DIR="$cache_dir")
    # one build per upstream set and task data, whatever the interface (the recipe stops before using it)
    grid_job cache "$cache_job" cache "$cache_dir" "" env "${task_env[@]}" SEEDS="" CACHE_ONLY=1 "${recipe[@]}" ws "${!variable}" \
      "$cache_dir-inputs" "${flags[@]}"
    task_env+=(CACHE_READY=1)
  fi
  echo "[$TABLE_TITLE] $row / $task: -u $upstream${hf_id:+ -k $hf_id} -s $interface -> $cell"
  grid_cells "$row/$task" "$task" "$(task_folds "$task")" "$cache_job" env "${task_env[@]}" "${recipe[@]}" "$interface" "${!variable}" \
    "$cell" "${flags[@]}"
}

table_main() {
  [ $# -eq 1 ] || { echo "usage: $0 OUT_DIR   (environment: see recipes/table_lib.sh)" >&2; exit 2; }
  local out_dir="$1" rows row interface upstream hf_id task
  TASKS="${TASKS:-$ALL_TASKS}"
  rows=$(table_rows)
  check_tasks
  check_whisper_length_mode
  grid_check_settings
  grid_begin "$out_dir"
  out_dir=$(dirname "$GRID_DIR")
  while read -r row interface upstream hf_id <&3; do
    for task in $TASKS; do
      plan_cell "$row" "$interface" "$upstream" "${hf_id:-}" "$task" "$out_dir"
    done
  done 3<<< "$rows"
  grid_launch "$PYTHON" -m s3prl_fusion.cli report --results "$out_dir" --out "$out_dir/report"
}
