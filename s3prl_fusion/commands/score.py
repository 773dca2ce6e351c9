"""Write an evaluated experiment's metric to ``<expdir>/result.json`` (read by ``s3prl-fusion report``).

The result's ``upstream`` and ``interface`` are the checkpoint's recorded set-up (QbE, which trains
nothing: what its layer sweep recorded in ``qbe_sweep.json``); ``--upstream`` / ``--interface`` only
check it (a contradiction stops the command)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from s3prl_fusion.results import SELECTIONS, TASK_MODULES, write_result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=sorted(TASK_MODULES))
    parser.add_argument("--expdir", required=True, help="the experiment folder (-p of the runner)")
    parser.add_argument("--split", required=True, help="the evaluated split, e.g. test-clean")
    parser.add_argument("--upstream", default="", help="the -u expected: refused when the checkpoint was trained with another (the result records the checkpoint's)")
    parser.add_argument("--interface", default="", help="the -s expected: refused when the checkpoint was trained with another (the result records the checkpoint's)")
    parser.add_argument("--checkpoint", help="the checkpoint the split was evaluated with (its step and members are recorded)")
    parser.add_argument(
        "--select", choices=SELECTIONS,
        help="best-test (sv_voxceleb1): every saved checkpoint was scored into <split>_by_step/<step>/; report the best (s3prl's SV protocol)",
    )


def run(args: argparse.Namespace) -> None:
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    result = write_result(
        args.task, Path(args.expdir), args.split, checkpoint=checkpoint, select=args.select, upstream=args.upstream, interface=args.interface
    )
    print(json.dumps(result, sort_keys=True))
