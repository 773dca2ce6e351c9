"""Pack an output folder of recipes/superb.sh into SUPERB's leaderboard predict.zip (s3prl's submit.py layout), each file checked.

Every task folder under OUT (pr ks ic sid er asr qbe sf asv sd; with several seeds, OUT/<task>/seed<k>/)
gives its prediction file; a malformed one stops the command naming the task and file. Tasks
missing from OUT are named in a warning and left out of the zip, or stop it with --require-all."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s3prl_fusion.submission.build import build_submission


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="the output folder of recipes/superb.sh (its task folders pr, ks, ... sd)")
    parser.add_argument("--out", dest="zip_path", help="the zip to write (default: OUT/predict.zip)")
    parser.add_argument("--seed", type=int, help="submit the runs in OUT/<task>/seed<K>/ (needed when a task folder holds several seeds)")
    parser.add_argument("--require-all", action="store_true", help="stop (exit 2) unless every task of SUPERB is there")


def run(args: argparse.Namespace) -> None:
    zip_path = Path(args.zip_path) if args.zip_path else Path(args.out) / "predict.zip"
    submission = build_submission(Path(args.out), zip_path, seed=args.seed, require_all=args.require_all)
    for warning in submission.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if submission.missing:
        print(f"warning: partial submission, the leaderboard gets nothing for: {submission.missing_summary()}", file=sys.stderr)
    included = sorted({entry.name for entry, _ in submission.files})
    print(f"{zip_path}: {len(included)} entries: {' '.join(included)}")
