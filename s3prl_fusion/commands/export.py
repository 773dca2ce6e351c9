"""Export an upstream as a self-contained folder that s3prl loads with ``--hub huggingface``.

    s3prl-fusion export --upstream fused_wavlm_whisper -g members.yaml --out my_upstream/

The folder holds what s3prl's runner expects of a Hub upstream repository (it puts the folder
on ``sys.path``, imports ``expert.UpstreamExpert`` and builds it with
``ckpt=<folder>/model.pt``):
    expert.py            ``UpstreamExpert``, rebuilding the upstream from the files below
    model.pt             the -u name, its -k, and the weights of every member built from a
                         ``config`` (randomly initialised members have no other source)
    upstream_config.yaml the -g options (member entries, ids of pretrained members, configs)
    requirements.txt     the package the expert imports
Members named by a Hugging Face id or path are loaded from there again, as at export time.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from s3prl_fusion.export import export_upstream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--upstream", "-u", required=True, help="the upstream name, as given to the runner's -u")
    parser.add_argument("-k", "--ckpt", help="the runner's -k for it (member names or an id/path)")
    parser.add_argument("-g", "--model-config", help="the runner's -g YAML for it (member options, random-init configs)")
    parser.add_argument("--out", required=True, help="the folder to write (then: run_downstream.py --hub huggingface -u <its repo>)")


def run(args: argparse.Namespace) -> None:
    print(export_upstream(args.upstream, Path(args.out), args.ckpt, args.model_config))
