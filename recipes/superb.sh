#!/usr/bin/env bash
# The whole SUPERB benchmark for one upstream and interface: every task trained (QbE: its layer sweep),
# tested and scored, then the report.
#   recipes/superb.sh UPSTREAM INTERFACE OUT_DIR [s3prl runner flags..., e.g. -k]
# Each task runs its own recipe into OUT_DIR/<task>/ (result.json there), task folders and recipes:
#   pr   pr.sh        phone recognition, LibriSpeech            LIBRISPEECH
#   ks   ks.sh        keyword spotting, Speech Commands v0.01   SPEECH_COMMANDS
#   ic   ic.sh        intent classification, Fluent Commands    FLUENT_COMMANDS
#   sid  sid.sh       speaker identification, VoxCeleb1         VOXCELEB1
#   er   emotion.sh   emotion recognition, IEMOCAP (fold1..5)   IEMOCAP
#   asr  asr.sh       ASR, LibriSpeech, without and with the LM  LIBRISPEECH, LM_DIR
#   qbe  qbe.sh       query by example (layer sweep), QUESST14  QUESST14
#   sf   sf.sh        slot filling, Audio SNIPS                 SNIPS
#   asv  sv.sh        speaker verification, VoxCeleb1           VOXCELEB1
#   sd   sd.sh        speaker diarization, Libri2Mix            LIBRI2MIX
# and the report of every result.json below OUT_DIR in OUT_DIR/report/.
# Data roots (environment; only the chosen TASKS need theirs):
#   LIBRISPEECH      the folder holding train-clean-100/, dev-clean/, test-clean/ (pr, asr)
#   SPEECH_COMMANDS  the folder holding speech_commands_v0.01/ and its test set speech_commands_test_set_v0.01/ (ks)
#   FLUENT_COMMANDS  the fluent_speech_commands_dataset folder (ic)
#   VOXCELEB1        the folder holding dev/wav/ and test/wav/ (sid with its iden_split.txt; asv with veri_test2.txt)
#   IEMOCAP          the IEMOCAP_full_release folder (er)
#   QUESST14         the quesst14Database folder (qbe)
#   SNIPS            the SNIPS folder (sf)
#   LIBRI2MIX        the Kaldi data folders train/ dev/ test/ sd.sh reads (sd): `s3prl-fusion prepare libri2mix --root
#                    <Libri2Mix> --source-rttm <LibriMix>/metadata/LibriSpeech --out $LIBRI2MIX` writes them
#   LM_DIR           the language model folder of asr.sh's LM decoding (asr; `s3prl-fusion prepare asr-lm` makes a
#                    small one); with SMOKE=1 and no LM_DIR, a small one is made from LIBRISPEECH in OUT_DIR/asr_lm
# Task knobs, passed on to the task recipes (see each): PR_LEXICON (pr.sh), SID_SPLIT (sid.sh),
#   FOLDS (emotion.sh; each fold a cell of its own), TEST_TRIALS, DEV_TRIALS, SV_HEAD, SV_SELECT (sv.sh)
# Environment:
#   TASKS       tasks to run, from: pr ks ic sid er asr qbe sf asv sd (default: all, in that order)
#   SMOKE=1     every member becomes a small random model of its family (a generated -g file in
#               OUT_DIR/upstream_configs/), STEPS defaults to 2 and a checkpoint is saved at STEPS, every
#               update is one batch of two (ASR: the demo config's small head; SF, SD: small heads) read
#               in-process: a run through every task on the bundled corpora (corpora/) in minutes
#   CACHE=1     the cacheable tasks (pr, ic, er, asr, sf) train and are tested from a feature cache of a fused
#               upstream, OUT_DIR/caches/<upstream set>/<data root variable>/ (pr and asr share LibriSpeech's),
#               built once by a job of its own that the task's cells wait for; the others say why not and run
#               the members on the fly (see lib.sh; CACHE_DTYPE, CACHE_STORAGE; GRID_CACHE_GPUS as in table_lib.sh)
#   LAUNCHER    serial (default): one cell after another, here; local: JOBS (default 1) cells at once, one GPU
#               each; slurm: one sbatch job per cell, after its cache build (CACHE=1), and a report job after
#               every cell; resources per task from GRID_* / GRID_<TASK>_* (s3prl_fusion/grid/resources.py)
#   SEEDS       e.g. "1 2 3": every task once per seed, OUT_DIR/<task>/seed<k>/ (see lib.sh)
#   <TASK>_OVERRIDES   s3prl -o items for that task alone (e.g. ASV_OVERRIDES, SD_OVERRIDES), after OVERRIDES
#   UPSTREAM_CONFIG    the upstream's -g file (with SMOKE=1 or WHISPER_LENGTH_MODE a generated one replaces it, except for
#                      -u fused without -k, whose members are those of UPSTREAM_CONFIG as they are)
#   WHISPER_LENGTH_MODE, STEPS, DEVICE, OVERRIDES, PYTHON   as in lib.sh / table_lib.sh
# Each cell (task x er fold x seed) is a job of the grid in OUT_DIR/grid/ (s3prl_fusion/grid/, recipes/grid_lib.sh):
# a cell whose result.json exists is skipped, a stopped one resumes from its newest checkpoint on a re-run;
# `s3prl-fusion grid status OUT_DIR` shows every cell's state.
set -euo pipefail
shopt -s inherit_errexit

RECIPES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$RECIPES/lib.sh"
source "$RECIPES/cells_lib.sh"
source "$RECIPES/grid_lib.sh"
ALL_TASKS="pr ks ic sid er asr qbe sf asv sd"

task_recipe() {  # TASK -> recipe file name
  case "$1" in
    pr | ks | ic | sid | asr | qbe | sf | sd) echo "$1.sh" ;;
    er) echo emotion.sh ;;
    asv) echo sv.sh ;;
  esac
}

task_data_variable() {  # TASK -> name of the environment variable holding its data root
  case "$1" in
    pr | asr) echo LIBRISPEECH ;;
    ks) echo SPEECH_COMMANDS ;;
    ic) echo FLUENT_COMMANDS ;;
    sid | asv) echo VOXCELEB1 ;;
    er) echo IEMOCAP ;;
    qbe) echo QUESST14 ;;
    sf) echo SNIPS ;;
    sd) echo LIBRI2MIX ;;
  esac
}

task_cache_name() {  # TASK -> its cache's name: its data root's (tasks reading the same files share a cache)
  local variable
  variable=$(task_data_variable "$1")
  echo "${variable,,}"
}

task_smoke_items() {  # TASK -> the -o items of a quick in-process run of the task on a bundled miniature
  local expert=config.downstream_expert
  echo "config.runner.gradient_accumulate_steps=1"
  case "$1" in
    pr) echo "$expert.corpus.batch_size=2" "$expert.corpus.num_workers=0" ;;
    sf) echo "$expert.corpus.batch_size=2" "$expert.corpus.num_workers=0" "$expert.model.project_dim=32" "$expert.model.RNNs.dim=[32,32]" ;;
    ks) echo "$expert.datarc.batch_size=2" "$expert.datarc.num_workers=0" ;;
    ic | sid) echo "$expert.datarc.train_batch_size=2" "$expert.datarc.eval_batch_size=4" "$expert.datarc.num_workers=0" ;;
    er) echo "$expert.datarc.train_batch_size=2" "$expert.datarc.num_workers=0" ;;
    asr | asv) echo "$expert.datarc.num_workers=0" ;;
    qbe) echo "$expert.datarc.num_workers=0" "$expert.max_workers=1" ;;
    sd) echo "$expert.loaderrc.train_batchsize=2" "$expert.loaderrc.num_workers=0" "$expert.modelrc.hidden_size=32" ;;
  esac
}

task_overrides() {  # TASK -> the -o string of the task's run: SMOKE's items, OVERRIDES, then <TASK>_OVERRIDES
  local task_variable="${1^^}_OVERRIDES" overrides="${OVERRIDES:-}"
  if [ "${SMOKE:-0}" = 1 ]; then
    local items
    read -r -a items <<< "$(task_smoke_items "$1" | tr '\n' ' ')"
    overrides=$(smoke_overrides "${items[@]}")
  fi
  if [ -n "${!task_variable:-}" ]; then overrides=$(fusion_join_overrides ${overrides:+"$overrides"} "${!task_variable}"); fi
  echo "$overrides"
}

asr_lm_dir() {  # OUT_DIR -> LM_DIR, or with SMOKE=1 and none set, a small LM of LIBRISPEECH made once in OUT_DIR/asr_lm
  if [ -n "${LM_DIR:-}" ] || [ "${SMOKE:-0}" != 1 ]; then echo "${LM_DIR:-}"; return; fi
  if [ ! -d "$1/asr_lm" ]; then
    "$PYTHON" -m s3prl_fusion.cli prepare asr-lm --librispeech "$LIBRISPEECH" --out "$1/asr_lm" >&2
  fi
  echo "$1/asr_lm"
}

check_lm() {  # asr in TASKS needs LM_DIR (SMOKE=1 makes one)
  if [[ " $TASKS " == *" asr "* ]] && [ -z "${LM_DIR:-}" ] && [ "${SMOKE:-0}" != 1 ]; then
    echo "error: task asr decodes with and without a language model: set LM_DIR (\`s3prl-fusion prepare asr-lm\` makes one; see recipes/asr.sh), or leave asr out of TASKS" >&2
    exit 2
  fi
}

upstream_ckpt() {  # [runner flags...] -> the value of their -k (--upstream_ckpt), if any
  while [ $# -gt 0 ]; do
    case "$1" in
      -k | --upstream_ckpt) echo "${2:-}"; return ;;
      --upstream_ckpt=*) echo "${1#*=}"; return ;;
    esac
    shift
  done
}

cell_upstream_config() {  # UPSTREAM OUT_DIR [runner flags...] -> the -g file of the cells: UPSTREAM_CONFIG, or with SMOKE=1 /
  # WHISPER_LENGTH_MODE one generated for UPSTREAM (and its -k); -u fused without -k keeps UPSTREAM_CONFIG's members as they are
  local upstream="$1" out_dir="$2" ckpt
  shift 2
  ckpt=$(upstream_ckpt "$@")
  if { [ "${SMOKE:-0}" = 1 ] || [ -n "${WHISPER_LENGTH_MODE:-}" ]; } && { [ "$upstream" != fused ] || [ -n "$ckpt" ]; }; then
    row_upstream_config "$upstream" "$ckpt" "$out_dir"
  else
    echo "${UPSTREAM_CONFIG:-}"
  fi
}

task_folds() {  # TASK -> the folds that are cells of their own (er: FOLDS), else one empty word
  if [ "$1" = er ]; then echo "${FOLDS:-1 2 3 4 5}"; else echo ""; fi
}

task_is_cached() {  # TASK UPSTREAM -> true when CACHE=1 builds the task's feature cache in a job of its own (the tasks
  # a cache serves, of a fused upstream; the others run their members on the fly and say why)
  case "$1" in pr | ic | er | asr | sf) [[ "$2" == fused || "$2" == fused_* ]] ;; *) false ;; esac
}

plan_superb_cell() {  # TASK UPSTREAM INTERFACE OUT_DIR [runner flags...] -> the task's cells (one per seed, and for er
  # per fold: OUT_DIR/TASK[/seed<k>][/fold<n>]) and, with CACHE=1, the feature cache build they read, in the plan
  local task="$1" upstream="$2" interface="$3" out_dir="$4"
  shift 4
  local cell="$out_dir/$task" variable upstream_config config=""
  variable=$(task_data_variable "$task")
  upstream_config=$(cell_upstream_config "$upstream" "$out_dir" "$@")
  if [ "${SMOKE:-0}" = 1 ] && [ "$task" = asr ]; then config="$RECIPES/../downstream_configs/asr/demo.yaml"; fi
  local task_env=(UPSTREAM_CONFIG="$upstream_config" CONFIG="$config" OVERRIDES="$(task_overrides "$task")")
  if [ "$task" = asr ]; then task_env+=(LM_DIR="$(asr_lm_dir "$out_dir")"); fi
  local recipe="$RECIPES/$(task_recipe "$task")" cache_job=""
  if [ "${CACHE:-0}" = 1 ] && [ "$task" = sd ]; then
    echo "[superb] sd: CACHE=1: diarization trains on chunks of each recording, which no feature cache holds: running the members on the fly"
    task_env+=(CACHE=0)  # sd.sh refuses CACHE=1
  elif [ "${CACHE:-0}" = 1 ]; then
    local cache_dir
    cache_dir=$(cell_cache_dir "$task" "$upstream" "$upstream_config" "$out_dir")
    task_env+=(CACHE_DIR="$cache_dir")
    if task_is_cached "$task" "$upstream"; then
      # one build per upstream set and data root, whatever the interface (the recipe stops before using it); pr and
      # asr plan the same job, which runs both recipes' builds, the second adding only what the first left out
      cache_job="${cache_dir#"$out_dir"/}"
      grid_job cache "$cache_job" cache "$cache_dir" "" env "${task_env[@]}" SEEDS="" FOLD="" CACHE_ONLY=1 bash "$recipe" "$upstream" ws \
        "${!variable}" "$cache_dir-inputs/$task" "$@"
      task_env+=(CACHE_READY=1)
    fi
  fi
  if [ ! -f "$cell/result.json" ]; then echo "[superb] $task: -u $upstream -s $interface, data ${!variable} -> $cell"; fi
  local run=(bash "$recipe" "$upstream" "$interface" "${!variable}" "$cell" "$@")
  if [ "$task" = qbe ]; then run=(bash "$recipe" "$upstream" "${!variable}" "$cell" "$@"); fi  # no interface: a sweep over layers
  grid_cells "$task" "$task" "$(task_folds "$task")" "$cache_job" env "${task_env[@]}" "${run[@]}"
}

[ $# -ge 3 ] || { echo "usage: $0 UPSTREAM INTERFACE OUT_DIR [s3prl runner flags...]   (environment: see recipes/superb.sh)" >&2; exit 2; }
UPSTREAM="$1" INTERFACE="$2" OUT_DIR="$3"
shift 3
TASKS="${TASKS:-$ALL_TASKS}"
if [ "${SMOKE:-0}" = 1 ]; then export STEPS="${STEPS:-2}"; fi
check_tasks
check_lm
check_whisper_length_mode
grid_check_settings
grid_begin "$OUT_DIR"
OUT_DIR=$(dirname "$GRID_DIR")
for task in $TASKS; do
  plan_superb_cell "$task" "$UPSTREAM" "$INTERFACE" "$OUT_DIR" "$@"
done
grid_launch "$PYTHON" -m s3prl_fusion.cli report --results "$OUT_DIR" --out "$OUT_DIR/report"
