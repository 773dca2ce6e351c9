#!/usr/bin/env bash
# Table III of the paper: Mono-1h error rate per language (eng1 ... xty and their average) for
# the rows of Table I. Runs recipes/table1.sh with TASKS=mono; the table is
# OUT_DIR/report/per_language.{md,csv}. Sharing OUT_DIR with table1.sh reuses its Mono-1h runs.
#   recipes/table3.sh OUT_DIR          (environment: see recipes/table_lib.sh; TASKS is fixed)
TASKS=mono exec bash "$(dirname "$0")/table1.sh" "$@"
