"""Average the n checkpoints best by dev loss into one that s3prl's ``-m evaluate -e`` loads.

    python -m s3prl_fusion.downstreams.ml_superb.average --expdir result/mono/eng1 [--nbest 5]

ESPnet's recipe decodes ``valid.loss.ave.pth``: ``espnet2/main_funcs/average_nbest_models.py``
sums the state of the ``keep_nbest_models`` (5) epochs of lowest validation loss and divides
by their count (fewer when fewer exist). Here the candidates are the ``dev-loss-step-*.ckpt``
files the ML-SUPERB expert kept during training, ranked by the dev loss each one records;
every trainable module the runner saved (``Featurizer`` with its interface, ``Downstream``,
``Upstream`` under ``-f``) is averaged:

- floating-point tensors (parameters, float buffers): the mean, computed in float64 and
  stored in the tensor's own dtype;
- any other entry (integer buffers such as GumD's ``step``, the featurizer's fusion set-up,
  the expert's ranking): the value of the newest of the averaged checkpoints. ESPnet sums
  integer tensors (its BatchNorm counters) instead; a summed step counter would be 5x too far
  along its schedule.

The result, ``<expdir>/dev-loss-ave.ckpt``, is a runner checkpoint of the newest averaged
step (without optimizer or scheduler state, so it is for evaluation, not for resuming) plus an
``Averaged`` entry naming the averaged files, their steps and dev losses.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from s3prl_fusion.experiments.checkpoints import EXTRA_STATE_KEY, atomic_save, load_checkpoint
from s3prl_fusion.downstreams.ml_superb.nbest import DEFAULT_NBEST, DevEvaluation, dev_loss_checkpoint_step, ranked_checkpoint_files
from s3prl_fusion.errors import MissingPathError, SettingError, UserError, report_user_errors

AVERAGED_NAME = "dev-loss-ave.ckpt"
MODULE_ENTRIES = ("Upstream", "Featurizer", "Downstream")
TRAINING_ONLY_ENTRIES = ("Optimizer", "Scheduler")


class CheckpointAverageError(UserError, ValueError):
    """The dev-loss checkpoints are missing or cannot be averaged together."""


def recorded_dev_evaluation(path: Path, checkpoint: dict) -> DevEvaluation:
    """The dev evaluation a ``dev-loss-step-<step>.ckpt`` was saved for, read from its expert state."""
    last = (checkpoint.get("Downstream") or {}).get(EXTRA_STATE_KEY, {}).get("last_dev_evaluation")
    if last is None or int(last["step"]) != dev_loss_checkpoint_step(path) or checkpoint.get("Step") != dev_loss_checkpoint_step(path):
        raise CheckpointAverageError(
            f"{path} does not record the dev evaluation of step {dev_loss_checkpoint_step(path)}; "
            "it was not written by the ml_superb expert during training"
        )
    return DevEvaluation(int(last["step"]), float(last["loss"]))


def nbest_by_dev_loss(expdir: Path, nbest: int) -> list[tuple[Path, DevEvaluation]]:
    """The (at most) ``nbest`` dev-loss checkpoints of ``expdir`` of lowest dev loss, best first."""
    files = ranked_checkpoint_files(expdir) if Path(expdir).is_dir() else []
    if not files:
        raise CheckpointAverageError(
            f"no dev-loss-step-*.ckpt in {expdir}: train with -d ml_superb and at least one dev evaluation "
            "(config.runner.eval_step <= total_steps, 'dev' in config.runner.eval_dataloaders)"
        )
    ranked = [(path, recorded_dev_evaluation(path, load_checkpoint(path))) for path in files]
    return sorted(ranked, key=lambda item: (item[1].loss, item[1].step))[:nbest]


def module_entries(checkpoint: dict) -> list[str]:
    return [name for name in MODULE_ENTRIES if name in checkpoint]


def _check_compatible(path: Path, checkpoint: dict, reference: dict, reference_path: Path) -> None:
    if module_entries(checkpoint) != module_entries(reference):
        raise CheckpointAverageError(f"{path} holds modules {module_entries(checkpoint)}, {reference_path} {module_entries(reference)}")
    for name in module_entries(reference):
        state, expected = checkpoint[name], reference[name]
        if state.keys() != expected.keys():
            raise CheckpointAverageError(f"{path} and {reference_path} hold different {name} states: {sorted(state.keys() ^ expected.keys())}")
        for key, value in expected.items():
            if torch.is_tensor(value) and (not torch.is_tensor(state[key]) or state[key].shape != value.shape):
                raise CheckpointAverageError(f"{name}.{key} differs in shape between {path} and {reference_path}")
    if fusion_setup(checkpoint) != fusion_setup(reference):
        raise CheckpointAverageError(f"{path} and {reference_path} were trained with different fusion set-ups")


def fusion_setup(checkpoint: dict):
    return (checkpoint.get("Featurizer") or {}).get(EXTRA_STATE_KEY)


def average_checkpoints(paths: list[Path]) -> dict:
    """The runner checkpoint whose module states average those of ``paths`` (rules: module docstring)."""
    if not paths:
        raise CheckpointAverageError("no checkpoints to average")
    checkpoints = {path: load_checkpoint(path) for path in paths}
    newest_path = max(paths, key=lambda path: checkpoints[path]["Step"])
    newest = checkpoints[newest_path]
    for path, checkpoint in checkpoints.items():
        _check_compatible(path, checkpoint, newest, newest_path)
    averaged = {key: value for key, value in newest.items() if key not in TRAINING_ONLY_ENTRIES}
    for name in module_entries(newest):
        state = dict(newest[name])
        for key, value in newest[name].items():
            if torch.is_tensor(value) and value.is_floating_point():
                total = sum(checkpoints[path][name][key].double() for path in paths)
                state[key] = (total / len(paths)).to(value.dtype)
        averaged[name] = state
    return averaged


def write_average(expdir: Path, nbest: int = DEFAULT_NBEST, out: Path | None = None) -> Path:
    """Average ``expdir``'s ``nbest`` best dev-loss checkpoints into ``out`` (default ``expdir/dev-loss-ave.ckpt``)."""
    expdir = Path(expdir)
    selected = nbest_by_dev_loss(expdir, nbest)
    averaged = average_checkpoints([path for path, _ in selected])
    averaged["Averaged"] = {
        "criterion": "dev loss (min)",
        "checkpoints": [path.name for path, _ in selected],
        "steps": [evaluation.step for _, evaluation in selected],
        "dev_losses": [evaluation.loss for _, evaluation in selected],
    }
    out = Path(out) if out else expdir / AVERAGED_NAME
    atomic_save(averaged, out)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--expdir", required=True, help="the ml_superb experiment folder (-p of the runner)")
    parser.add_argument("--nbest", type=int, default=DEFAULT_NBEST, help="how many of the best dev-loss checkpoints to average (ESPnet: 5)")
    parser.add_argument("--out", default=None, help=f"output checkpoint (default: EXPDIR/{AVERAGED_NAME})")


def run(args: argparse.Namespace) -> None:
    if args.nbest < 1:
        raise SettingError(f"--nbest must be at least 1, got {args.nbest}")
    if args.out and not Path(args.out).parent.is_dir():
        raise MissingPathError(f"--out {args.out}: the folder {Path(args.out).parent} does not exist")
    out = write_average(Path(args.expdir), args.nbest, args.out)
    averaged = load_checkpoint(out)["Averaged"]
    print(f"[ml_superb] averaged {len(averaged['checkpoints'])} checkpoints best by dev loss "
          f"(steps {averaged['steps']}, losses {[round(loss, 4) for loss in averaged['dev_losses']]}) -> {out}", file=sys.stderr)
    print(out)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.downstreams.ml_superb.average", description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
