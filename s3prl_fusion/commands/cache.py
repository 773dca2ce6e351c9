"""Build or check a feature cache of a fused upstream's frozen members.

    s3prl-fusion cache build -u fused -g members.yaml --data LibriSpeech/train-clean-100 --out cache/train --dtype fp16
    s3prl-fusion cache build -u fused_wavlm_whisper_en --data len_for_bucket/train-clean-100.csv --root LibriSpeech --out cache/train
    s3prl-fusion cache build -u fused_wavlm_whisper_en --data ... --out cache/train-hconv --storage merged --dtype int8
    torchrun --nproc_per_node 8 -m s3prl_fusion.cli cache build -u fused_wavlm_whisper_en --data ... --out cache/train
    s3prl-fusion cache verify cache/train
    s3prl-fusion cache plan -u fused_wavlm_whisper_en --data len_for_bucket/train-clean-100.csv -d asr

Inputs: --wav-list FILE (one audio path per line), --data FOLDER (every .flac/.wav below it)
or --data TABLE.csv (an s3prl length table; relative paths against --root). Train with
``-u fused_cache -k cache/train [-g members.yaml]``. Running ``build`` again on the same
folder adds new files and rebuilds damaged shards. Under torchrun (or any launcher setting
RANK / WORLD_SIZE / LOCAL_RANK) every rank encodes its share of the files on GPU LOCAL_RANK and
rank 0 merges their manifests (see ``cache.ranks``); an interrupted build, re-run on any number of
ranks, keeps what was written. Utterances go through the members longest first in batches of up to
--batch-size utterances and --batch-seconds of padded audio (see ``cache.batches``). --storage and
--dtype choose the storage form (see ``cache.storage``): every member's stack or HConv's merged
one, in fp16, fp32, int8 or int8-calibrated; ``build`` and ``verify`` print each stored stack's reconstruction
error against the computed float32 values. ``plan`` prints what a run costs before it starts
(see ``plan``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from s3prl_fusion.cache.batches import ACCELERATOR_BATCH_SECONDS, CPU_BATCH_SECONDS, DEFAULT_BATCH_UTTERANCES, BatchLimits
from s3prl_fusion.cache.builder import build_cache, build_fused_upstream, cache_settings
from s3prl_fusion.cache.calibration import CALIBRATION_UTTERANCES, check_calibration_utterances
from s3prl_fusion.cache.manifest import Manifest
from s3prl_fusion.cache.plan import audio_from_data, audio_from_hours, fused_members, member_shape, plan_lines, read_training
from s3prl_fusion.cache.ranks import launched_ranks, rank_device, start_process_group, stop_process_group
from s3prl_fusion.cache.shards import CorruptShardError, shard_problems
from s3prl_fusion.cache.sources import collect_audio_files
from s3prl_fusion.cache.storage import DTYPES, PER_MEMBER, STORAGE_FORMS, check_storage
from s3prl_fusion.errors import SettingError
from s3prl_fusion.experiments.task_configs import resolve_task_config


def _add_upstream_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-u", "--upstream", required=True, help="a fused upstream: fused, or a fused_* preset")
    parser.add_argument("-k", "--upstream_ckpt", help="as s3prl's -k (members of -u fused: a,b)")
    parser.add_argument("-g", "--upstream_model_config", help="as s3prl's -g (members.yaml)")


def _add_build_arguments(parser: argparse.ArgumentParser) -> None:
    _add_upstream_arguments(parser)
    parser.add_argument("--wav-list", action="append", default=[], help="text file of audio paths, one per line (repeatable)")
    parser.add_argument("--data", action="append", default=[], help="folder of .flac/.wav, or an s3prl length table .csv (repeatable)")
    parser.add_argument("--root", help="folder that relative paths in --data tables / --wav-list files are relative to")
    parser.add_argument("--out", required=True, help="cache folder")
    parser.add_argument("--storage", choices=STORAGE_FORMS, default=PER_MEMBER,
                        help="per-member: every member's stack, for every interface (default); merged: HConv's merged stack, "
                             "for -s hconv with normalize off only, N times smaller")
    parser.add_argument("--dtype", choices=DTYPES, default="fp16",
                        help="stored precision (default fp16); int8: 8 bits per value with per-utterance (layer, channel) scales; "
                             "int8-calibrated: 8 bits per value, one scale per (layer, channel) for the whole cache from a calibration "
                             "sample (exactly half of fp16, larger error, values beyond the sample's range clipped)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="under torchrun, cuda means GPU LOCAL_RANK")
    parser.add_argument("--backend", help="torch.distributed backend under torchrun (default nccl on CUDA, gloo on the CPU)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_UTTERANCES,
                        help=f"at most this many utterances per member forward (default {DEFAULT_BATCH_UTTERANCES}; 1: one at a time)")
    parser.add_argument("--batch-seconds", type=float,
                        help=f"at most this many seconds of padded audio per member forward (default {CPU_BATCH_SECONDS:g} on the CPU, "
                             f"{ACCELERATOR_BATCH_SECONDS:g} on a GPU)")
    parser.add_argument("--calibration-utterances", type=int, default=CALIBRATION_UTTERANCES,
                        help=f"int8-calibrated: how many of the files set the cache's scales (default {CALIBRATION_UTTERANCES}; "
                             "a build into a folder that has scales keeps them)")
    parser.add_argument("--shard-mb", type=float, default=256, help="approximate shard size in MiB (default 256)")
    parser.add_argument("--seed", type=int, default=1337, help="torch seed before building the members, as the runner's --seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="cache_action", required=True)
    _add_build_arguments(actions.add_parser("build", help="run the members over audio files and store their stacks"))
    verify = actions.add_parser("verify", help="check every shard's checksum and print the cache's settings")
    verify.add_argument("folder")
    _add_plan_arguments(actions.add_parser("plan", help="print hours of audio, cache sizes and member passes before a run"))


def _add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    _add_upstream_arguments(parser)
    parser.add_argument("--data", action="append", default=[], help="folder of .flac/.wav, s3prl length table .csv or ML-SUPERB transcript .txt (repeatable)")
    parser.add_argument("--hours", type=float, help="plan for this many hours of audio instead of --data")
    parser.add_argument("--utterances", type=int, help="with --hours: how many utterances they are")
    parser.add_argument("-d", "--downstream", help="the task (-d of s3prl's runner: asr, ctc (with -c), fluent_commands, ...): count its member passes")
    parser.add_argument("-c", "--config", help="the task config (default: as `s3prl-fusion run` finds it for -d)")


def run_build(args: argparse.Namespace) -> None:
    check_calibration_utterances(args.calibration_utterances)
    files = collect_audio_files(args.wav_list, args.data, args.root)
    ranks = launched_ranks()
    device = rank_device(ranks, args.device)
    start_process_group(ranks, device, args.backend)
    try:
        fused = build_fused_upstream(args.upstream, args.upstream_ckpt, args.upstream_model_config, args.seed).to(device)
        check_storage(args.storage, len(fused.member_names))
        settings = cache_settings(fused, args.upstream, args.upstream_ckpt, args.seed, args.dtype, device, args.storage)
        on_ranks = f" on {ranks.world_size} ranks" if ranks.distributed else ""
        if ranks.rank == 0:
            print(f"caching {len(files)} files with members {fused.member_names} into {args.out}{on_ranks}")
        limits = BatchLimits.default_for(device.type, args.batch_size, args.batch_seconds)
        manifest = build_cache(fused, settings, files, Path(args.out), device, limits, args.shard_mb,
                               lambda line: print(ranks.log_prefix() + line), ranks, args.calibration_utterances)
    finally:
        stop_process_group(ranks)
    if ranks.rank == 0:
        print("\n".join(manifest.disk_usage_lines()))


def run_verify(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    manifest = Manifest.load(folder)
    settings = manifest.settings
    print(f"upstream {settings['upstream']}, storage {settings['storage']}, dtype {settings['dtype']}, autocast {settings['autocast']}, "
          f"weights {settings['weights_fingerprint']}")
    for member in settings["members"]:
        print(f"  member {member}")
    print("\n".join(manifest.disk_usage_lines()))
    damaged = {shard["name"]: shard_problems(folder, shard) for shard in manifest.shards}
    damaged = {name: problems for name, problems in damaged.items() if problems}
    for name, problems in damaged.items():
        print(f"DAMAGED {name}: {'; '.join(problems)}")
    if damaged:
        raise CorruptShardError(f"{len(damaged)} of {len(manifest.shards)} shards are damaged: run the same `cache build` again to rebuild them")
    print(f"all {len(manifest.shards)} shards intact")


def run_plan(args: argparse.Namespace) -> None:
    if bool(args.data) == (args.hours is not None):
        raise SettingError("give the audio to plan for: --data (folders, length tables, transcripts) or --hours H, not both")
    if args.utterances is not None and args.hours is None:
        raise SettingError("--utterances goes with --hours; with --data the plan counts the utterances itself")
    if args.config and not args.downstream:
        raise SettingError("-c needs -d <task>: the task says which datarc key holds its training batch size")
    shapes = [member_shape(entry) for entry in fused_members(args.upstream, args.upstream_ckpt, args.upstream_model_config)]
    audio = audio_from_hours(args.hours, args.utterances) if args.hours is not None else audio_from_data(args.data)
    training = None
    if args.downstream:
        training = read_training(args.downstream, Path(args.config) if args.config else resolve_task_config(args.downstream))
    print("\n".join(plan_lines(args.upstream, shapes, audio, training)))


def run(args: argparse.Namespace) -> None:
    {"build": run_build, "verify": run_verify, "plan": run_plan}[args.cache_action](args)
