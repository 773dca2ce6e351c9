# The grid steps of the grid recipes (sourced after lib.sh, not run): the table recipes (table_lib.sh) and
# any recipe whose cells are jobs. A recipe validates its settings, then
#   grid_check_settings            SEEDS, LAUNCHER and JOBS (exit 2 naming the one to fix)
#   grid_begin OUT_DIR             a new plan started in GRID_DIR=OUT_DIR/grid/ (an absolute path)
#   grid_job KIND ID TASK FOLDER AFTER COMMAND...        a cache build (KIND cache) or any job
#   grid_cells ID TASK FOLDS AFTER COMMAND...            a cell: one job per seed and fold
#   grid_launch REPORT_COMMAND...  the report job added, the plan run by LAUNCHER
# The plan's format and the launchers: s3prl_fusion/grid/. Environment:
#   LAUNCHER  serial (default): one job after another, here, stopping at the first failure;
#             local: JOBS (default 1) jobs at once, one GPU each (CUDA_VISIBLE_DEVICES) where there are GPUs;
#             slurm: one sbatch job per job of the plan (resources: GRID_* variables, s3prl_fusion/grid/resources.py)
#   SEEDS     e.g. "1 2 3": every cell once per seed, into its folder's seed<k>/ (the task recipes' SEEDS, lib.sh)

grid_check_settings() {  # validates SEEDS, LAUNCHER and JOBS
  local seed
  for seed in ${SEEDS:-}; do
    if ! [[ "$seed" =~ ^[0-9]+$ ]]; then
      echo "error: SEEDS names '$seed', which is not a whole number; use e.g. SEEDS=\"1 2 3\"" >&2
      exit 2
    fi
  done
  case "${LAUNCHER:=serial}" in
    serial | local | slurm) ;;
    *) echo "error: LAUNCHER=$LAUNCHER is not a launcher; use serial (one cell after another), local (JOBS=N at once) or slurm" >&2; exit 2 ;;
  esac
  if ! [[ "${JOBS:=1}" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: JOBS=$JOBS is not a number of cells to run at once; use e.g. JOBS=4" >&2
    exit 2
  fi
}

grid_begin() {  # OUT_DIR -> GRID_DIR=OUT_DIR/grid (absolute) with an empty plan
  mkdir -p "$1"
  GRID_DIR="$(cd "$1" && pwd)/grid"
  rm -rf "$GRID_DIR/scripts" "$GRID_DIR/plan.tsv.partial"
  mkdir -p "$GRID_DIR/scripts"
}

grid_job() {  # KIND ID TASK FOLDER AFTER COMMAND... -> the job in the plan (s3prl_fusion/grid/plan.py), COMMAND in its
  # script; a job planned again with another COMMAND (a feature cache two tasks share) runs it after the first
  local kind="$1" id="$2" task="$3" folder="$4" after="$5" line
  shift 5
  local script="$GRID_DIR/scripts/${id//\//__}.sh"
  line=$(printf '%q ' "$@")
  if [ ! -f "$script" ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$kind" "$id" "$task" "$folder" "${after:--}" >> "$GRID_DIR/plan.tsv.partial"
    printf '#!/usr/bin/env bash\nset -euo pipefail\ncd %q\n' "$PWD" > "$script"
  elif grep -qxF -- "$line" "$script"; then
    return
  fi
  echo "$line" >> "$script"
}

grid_cells() {  # ID TASK FOLDS AFTER COMMAND... -> one cell job per seed of SEEDS and fold of FOLDS (a word list, "" for
  # none): ID/seed<k>/fold<n>, running COMMAND with SEEDS=<k> and FOLD=<n> in its environment (the task recipe then
  # writes FOLDER/seed<k>/fold<n>, see lib.sh and emotion.sh)
  local id="$1" task="$2" folds="$3" after="$4" seed fold cell
  shift 4
  for seed in ${SEEDS:-""}; do
    for fold in ${folds:-""}; do
      cell="$id${seed:+/seed$seed}${fold:+/fold$fold}"
      grid_job cell "$cell" "$task" "$(dirname "$GRID_DIR")/$cell" "$after" env SEEDS="$seed" FOLD="$fold" "$@"
    done
  done
}

grid_launch() {  # REPORT_COMMAND... -> the report job added (after every cell), the plan run by LAUNCHER
  grid_job report report report "$(dirname "$GRID_DIR")/report" "" "$@"
  mv "$GRID_DIR/plan.tsv.partial" "$GRID_DIR/plan.tsv"
  "$PYTHON" -m s3prl_fusion.grid.launch --launcher "$LAUNCHER" --jobs "$JOBS" "$GRID_DIR"
}
