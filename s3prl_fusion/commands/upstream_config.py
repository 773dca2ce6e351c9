"""Write the -g file of a table row: random stand-ins for its members and/or one Whisper length mode for all its Whisper members.

    s3prl-fusion upstream-config fused_wavlm_whisper --whisper-length-mode pad30 --out row.yaml
    s3prl-fusion upstream-config hf_ssl --ckpt microsoft/wavlm-base-plus --random --out row.yaml
Prints the file's path, or nothing (and writes nothing) when the upstream has nothing to set.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from s3prl_fusion.commands.random_config import random_upstream_options
from s3prl_fusion.upstreams import WHISPER_SIZE_NAMES
from s3prl_fusion.upstreams.members import normalize_member
from s3prl_fusion.upstreams.presets import PRESETS
from s3prl_fusion.upstreams.whisper import LENGTH_MODES

SINGLE_WHISPER_UPSTREAMS = ("whisper", *(f"whisper_{size}" for size in WHISPER_SIZE_NAMES))


def row_upstream_options(upstream: str, ckpt: str | None, random: bool, whisper_length_mode: str | None) -> dict:
    """The ``-g`` mapping for ``-u upstream [-k ckpt]``: random members (``random``) and
    ``length_mode: whisper_length_mode`` on every Whisper member (when given)."""
    options = random_upstream_options(upstream, ckpt) if random else {}
    if not whisper_length_mode:
        return options
    if upstream in PRESETS:
        overrides = options.setdefault("members", [{} for _ in PRESETS[upstream]])
        for override, member in zip(overrides, PRESETS[upstream]):
            if normalize_member(member)["kind"] == "whisper":
                override["length_mode"] = whisper_length_mode
    elif upstream in SINGLE_WHISPER_UPSTREAMS:
        options["length_mode"] = whisper_length_mode
    return options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("upstream", help="the -u name of the row")
    parser.add_argument("--ckpt", help="the -k the upstream is run with (hf_ssl, whisper, fused)")
    parser.add_argument("--random", action="store_true", help="small random stand-ins for every member (as random-config)")
    parser.add_argument("--whisper-length-mode", choices=LENGTH_MODES, help="the length mode of every Whisper member")
    parser.add_argument("--out", required=True, help="the YAML file to write (pass it to the runner as -g)")


def run(args: argparse.Namespace) -> None:
    options = row_upstream_options(args.upstream, args.ckpt, args.random, args.whisper_length_mode)
    if not options:
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(options, sort_keys=False))
    print(out)
