"""See a grid recipe's jobs: `s3prl-fusion grid status OUT_DIR`.

Prints every job of the grid the recipe wrote into OUT_DIR/grid/ (feature cache builds, cells, the
report) with its state: done (a cell's number), running, pending (SLURM's reason), failed (the last
error line and the log), waiting; then the failed jobs again. Exit status 1 while any job failed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s3prl_fusion.grid.plan import PLAN_FILE, grid_folder, read_plan
from s3prl_fusion.grid.status import grid_states, status_lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="every job of the grid and its state")
    status.add_argument("out_dir", type=Path, help="the grid recipe's OUT_DIR (or its grid/ folder)")


def run(args: argparse.Namespace) -> None:
    grid = args.out_dir if (args.out_dir / PLAN_FILE).is_file() else grid_folder(args.out_dir)
    states = grid_states(read_plan(grid))
    print("\n".join(status_lines(states)))
    if any(state.state == "failed" for state in states):
        sys.exit(1)
