"""SUPERB's QbE protocol (-d quesst14_dtw): every layer scored on dev by MTWV, the best one run on test.

    s3prl-fusion qbe [--layers-per-pass N] OUT_DIR -u UPSTREAM [-g CONFIG] -o "config.downstream_expert.datarc.dataset_root='/data/quesst14Database'" [--device cpu ...]

Takes s3prl's runner flags after OUT_DIR (not -d, -s, -l, -m, -p, -n, -e, -a: the sweep sets
them). Writes OUT_DIR/benchmark.stdlist.xml (the chosen layer's eval detections) and
OUT_DIR/qbe_sweep.json (every layer's dev MTWV, the chosen layer); `s3prl-fusion score --task
quesst14_dtw --expdir OUT_DIR --split test` then writes result.json. See
s3prl_fusion/s3prl_adapter/qbe_sweep.py for the layers a fused upstream sweeps."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layers-per-pass", type=int,
        help="keep at most N layers' features on disk at once (layers x frames x dim x 4 bytes), running the members once per N layers "
             "(default: every layer from one pass of the members)",
    )
    parser.add_argument("out_dir", help="the experiment folder the sweep writes")
    parser.add_argument("runner_flags", nargs=argparse.REMAINDER, help="s3prl's runner flags: -u, -g, -k, -o, --device ...")


def run(args: argparse.Namespace) -> None:
    from s3prl_fusion.s3prl_adapter.qbe_sweep import sweep

    sweep(Path(args.out_dir), args.runner_flags, args.layers_per_pass)
