"""Train a fused upstream + HConv + ASR head on the bundled mini LibriSpeech, next to s3prl's weighted sum, and print test WER/CER.

Runs s3prl's own runner (train, then evaluate on test-clean) for each interface, plus the
untrained head as the floor to beat. Members are two small randomly initialised encoders of
different kinds (WavLM-style and Whisper-style), so nothing is downloaded.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from s3prl_fusion.errors import MissingPathError, UnknownNameError, UserError, did_you_mean
from s3prl_fusion.interfaces import INTERFACES
from s3prl_fusion.prepare.librispeech import write_length_tables
from s3prl_fusion.results.error_rates import asr_error_rates
from s3prl_fusion.experiments.task_configs import config_root

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CORPUS = REPO_ROOT / "corpora" / "LibriSpeech"
DEMO_SPLITS = ("train-clean-100", "dev-clean", "test-clean")
S3PRL_FEATURES = ("hidden_states", "last_hidden_state")  # what s3prl's own featurizer selects from the fused upstream


class RunnerFailedError(UserError):
    """A runner the demo started ended with an error; the runner printed its own message first."""


def runner_command(mode: str, interface: str, expdir: Path, overrides: list[str], device: str, extra: list[str] = ()) -> list[str]:
    asr_configs = config_root() / "asr"
    return [
        sys.executable, "-m", "s3prl_fusion.run_downstream",
        "-m", mode, "-u", "fused", "-g", str(asr_configs / "demo_upstream.yaml"), "-s", interface,
        "-d", "asr", "-c", str(asr_configs / "demo.yaml"), "-p", str(expdir), "--device", device,
        "-o", ",,".join(overrides), *extra,
    ]


def _run(command: list[str]) -> None:
    result = subprocess.run(command)
    if result.returncode != 0:
        raise RunnerFailedError(f"the s3prl runner failed (exit {result.returncode}): {' '.join(command)}")


def run_demo(out: Path, steps: int, interfaces: list[str], device: str = "cpu") -> dict[str, dict[str, float]]:
    """Returns {row label: {"wer", "cer"}} for the untrained head and each trained interface."""
    unknown = [name for name in interfaces if name not in (*INTERFACES, *S3PRL_FEATURES)]
    if unknown:
        raise UnknownNameError(
            f"--interfaces {unknown[0]} is neither an interface ({', '.join(INTERFACES)}) nor a feature s3prl's featurizer selects "
            f"({', '.join(S3PRL_FEATURES)}).{did_you_mean(unknown[0], (*INTERFACES, *S3PRL_FEATURES))}"
        )
    if not DEMO_CORPUS.is_dir():
        raise MissingPathError(f"the bundled corpus {DEMO_CORPUS} is missing; run corpora/make_corpora.py")
    out = Path(out)
    buckets = out / "len_for_bucket"
    write_length_tables(DEMO_CORPUS, buckets, DEMO_SPLITS)
    overrides = [
        f"config.downstream_expert.datarc.libri_root='{DEMO_CORPUS}'",
        f"config.downstream_expert.datarc.bucket_file='{buckets}'",
        f"config.runner.total_steps={steps}",
        f"config.runner.save_step={max(1, steps // 2)}",
    ]
    results = {}
    untrained = out / "untrained_hconv"
    _run(runner_command("evaluate", "hconv", untrained, overrides, device, ["-t", "test-clean"]))
    results["untrained head (hconv)"] = asr_error_rates(untrained, "test-clean")
    for interface in interfaces:
        expdir = out / interface
        _run(runner_command("train", interface, expdir, overrides, device))
        _run([sys.executable, "-m", "s3prl_fusion.run_downstream", "-m", "evaluate", "-e", str(expdir), "-t", "test-clean", "--device", device])
        results[f"{interface}, {steps} steps"] = asr_error_rates(expdir, "test-clean")
    return results


def format_results(results: dict[str, dict[str, float]]) -> str:
    width = max(len(label) for label in results)
    lines = [f"{'test-clean':<{width}}  {'WER %':>7}  {'CER %':>7}"]
    lines += [f"{label:<{width}}  {scores['wer']:7.2f}  {scores['cer']:7.2f}" for label, scores in results.items()]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="result/demo", help="experiment folder (default: result/demo)")
    parser.add_argument("--steps", type=int, default=1200, help="training steps per interface (default: 1200)")
    parser.add_argument("--interfaces", nargs="+", default=["hconv", "hidden_states"], help="-s values to compare")
    parser.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> None:
    results = run_demo(Path(args.out), args.steps, args.interfaces, args.device)
    print(format_results(results))
