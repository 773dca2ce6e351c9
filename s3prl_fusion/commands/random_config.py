"""Write a -g file that swaps every member of an upstream for a small random stand-in of its family (CPU smoke runs, no downloads).

    s3prl-fusion random-config fused_hubert_wavlm_whisper --out smoke.yaml
    s3prl-fusion random-config whisper_small_en --out smoke.yaml
    s3prl-fusion random-config hf_ssl --ckpt microsoft/wavlm-base-plus --out smoke.yaml
    s3prl-fusion random-config fused --ckpt microsoft/wavlm-base-plus,whisper_small --out smoke.yaml
The file is then passed to the runner with the same -u (and -k): ``-u NAME -g smoke.yaml``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from s3prl_fusion.errors import SettingError, UnknownNameError
from s3prl_fusion.upstreams import WHISPER_SIZE_NAMES
from s3prl_fusion.upstreams.presets import PRESETS
from s3prl_fusion.upstreams.random_members import random_member_override, random_preset_options

GENERIC_SINGLE_UPSTREAMS = ("hf_ssl", "whisper")


def random_upstream_options(upstream: str, ckpt: str | None = None) -> dict:
    """The ``-g`` mapping that makes ``-u upstream [-k ckpt]`` build small random members."""
    if upstream in PRESETS:
        return random_preset_options(PRESETS[upstream])
    if upstream in {f"whisper_{size}" for size in WHISPER_SIZE_NAMES}:
        return random_member_override({"upstream": upstream})
    if upstream in GENERIC_SINGLE_UPSTREAMS:
        if not ckpt:
            raise SettingError(f"-u {upstream} takes its model from -k: pass --ckpt with the Hugging Face id it stands for")
        return random_member_override({"upstream": ckpt})
    if upstream == "fused":
        names = [name.strip() for name in (ckpt or "").split(",") if name.strip()]
        if not names:
            raise SettingError("-u fused takes its members from -k: pass --ckpt with the comma-separated member names")
        return random_preset_options([{"upstream": name} for name in names])
    raise UnknownNameError(
        f"no random stand-in for upstream {upstream!r}: give a preset (fused_...), whisper_<size>, "
        f"fused --ckpt a,b, or {' / '.join(GENERIC_SINGLE_UPSTREAMS)} --ckpt <Hugging Face id>. "
        "s3prl's own hub upstreams ignore -g; use -u hf_ssl -k <id> for an SSL model instead"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("upstream", help="the -u name: a preset, whisper_<size>, hf_ssl, whisper or fused")
    parser.add_argument("--ckpt", help="the -k the upstream is run with (needed for hf_ssl, whisper and fused)")
    parser.add_argument("--out", required=True, help="the YAML file to write (pass it to the runner as -g)")


def run(args: argparse.Namespace) -> None:
    options = random_upstream_options(args.upstream, args.ckpt)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(options, sort_keys=False))
    print(out)
