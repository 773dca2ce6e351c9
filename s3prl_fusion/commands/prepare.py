"""Prepare a data set's index files that s3prl's tasks read (the s3prl wheel lacks these steps)."""
from __future__ import annotations

import argparse
import importlib

DATASETS = {
    "librispeech": "s3prl_fusion.prepare.librispeech",
    "iemocap": "s3prl_fusion.prepare.iemocap",
    "libri2mix": "s3prl_fusion.prepare.libri2mix",
    "asr-lm": "s3prl_fusion.prepare.asr_lm",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    datasets = parser.add_subparsers(dest="dataset", required=True)
    for name, module_name in DATASETS.items():
        module = importlib.import_module(module_name)
        subparser = datasets.add_parser(name, help=module.__doc__.strip().splitlines()[0])
        module.add_arguments(subparser)
        subparser.set_defaults(prepare=module.run)


def run(args: argparse.Namespace) -> None:
    args.prepare(args)
