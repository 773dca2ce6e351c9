"""Build or check a feature cache of a fused upstream's frozen members.

    s3prl-fusion cache build -u fused -g members.yaml --data LibriSpeech/train-clean-100 --out cache/train --dtype fp16
    s3prl-fusion cache build -u fused_wavlm_whisper_en --data len_for_bucket/train-clean-100.csv --root LibriSpeech --out cache/train
    s3prl-fusion cache verify cache/train

Inputs: --wav-list FILE (one audio path per line), --data FOLDER (every .flac/.wav below it)
or --data TABLE.csv (an s3prl length table; relative paths against --root). Train with
``-u fused_cache -k cache/train [-g members.yaml]``. Running ``build`` again on the same
folder adds new files and rebuilds damaged shards.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from s3prl_fusion.cache.builder import build_cache, build_fused_upstream, cache_settings
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.cache.shards import STORAGE_DTYPES, shard_problems
from s3prl_fusion.cache.sources import collect_audio_files


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-u", "--upstream", required=True, help="a fused upstream: fused, or a fused_* preset")
    parser.add_argument("-k", "--upstream_ckpt", help="as s3prl's -k (members of -u fused: a,b)")
    parser.add_argument("-g", "--upstream_model_config", help="as s3prl's -g (members.yaml)")
    parser.add_argument("--wav-list", action="append", default=[], help="text file of audio paths, one per line (repeatable)")
    parser.add_argument("--data", action="append", default=[], help="folder of .flac/.wav, or an s3prl length table .csv (repeatable)")
    parser.add_argument("--root", help="folder that relative paths in --data tables / --wav-list files are relative to")
    parser.add_argument("--out", required=True, help="cache folder")
    parser.add_argument("--dtype", choices=sorted(STORAGE_DTYPES), default="fp16", help="stored precision (default fp16)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=1, help="utterances per member forward (default 1)")
    parser.add_argument("--shard-mb", type=float, default=256, help="approximate shard size in MiB (default 256)")
    parser.add_argument("--seed", type=int, default=1337, help="torch seed before building the members, as the runner's --seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="cache_action", required=True)
    _add_build_arguments(actions.add_parser("build", help="run the members over audio files and store their stacks"))
    verify = actions.add_parser("verify", help="check every shard's checksum and print the cache's settings")
    verify.add_argument("folder")


def run_build(args: argparse.Namespace) -> None:
    files = collect_audio_files(args.wav_list, args.data, args.root)
    device = torch.device(args.device)
    fused = build_fused_upstream(args.upstream, args.upstream_ckpt, args.upstream_model_config, args.seed).to(device)
    settings = cache_settings(fused, args.upstream, args.upstream_ckpt, args.seed, args.dtype, device)
    print(f"caching {len(files)} files with members {fused.member_names} into {args.out}")
    manifest = build_cache(fused, settings, files, Path(args.out), device, args.batch_size, args.shard_mb)
    print("\n".join(manifest.disk_usage_lines()))


def run_verify(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    manifest = Manifest.load(folder)
    settings = manifest.settings
    print(f"upstream {settings['upstream']}, dtype {settings['dtype']}, autocast {settings['autocast']}, weights {settings['weights_fingerprint']}")
    for member in settings["members"]:
        print(f"  member {member}")
    print("\n".join(manifest.disk_usage_lines()))
    damaged = {shard["name"]: shard_problems(folder, shard) for shard in manifest.shards}
    damaged = {name: problems for name, problems in damaged.items() if problems}
    for name, problems in damaged.items():
        print(f"DAMAGED {name}: {'; '.join(problems)}")
    if damaged:
        raise SystemExit(f"{len(damaged)} of {len(manifest.shards)} shards are damaged: run the same `cache build` again to rebuild them")
    print(f"all {len(manifest.shards)} shards intact")


def run(args: argparse.Namespace) -> None:
    {"build": run_build, "verify": run_verify}[args.cache_action](args)
