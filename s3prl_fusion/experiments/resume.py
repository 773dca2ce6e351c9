"""The checkpoint that ``-e`` resumes or evaluates, checked before s3prl's argparse reads it.

s3prl's ``run_downstream.py`` takes ``-e <checkpoint file>`` or ``-e <experiment folder>`` (whose
newest ``states-<step>.ckpt`` it loads), and ends in a bare AssertionError on a folder without
checkpoints and in torch's traceback on a missing, truncated or foreign file. Here, instead:

- a folder resumes from its newest intact ``states-<step>.ckpt`` (the step read from the file
  name, as a number, whatever the files' times; the one rule for "newest checkpoint", which the
  results and the recipes use too: ``python -m s3prl_fusion.experiments.resume newest FOLDER``); newer ones that cannot be read (a crash, a full disk) are skipped with a
  warning naming them; a folder with no intact one stops with a message naming the folder;
- a file that does not exist, cannot be read, or is not a checkpoint of s3prl's runner stops
  with a message naming the file and what is wrong.

``checked_past_experiment(argv)`` returns the arguments with ``-e`` naming the checkpoint file to
load; ``s3prl_fusion.s3prl_adapter.patches.script`` calls it on the arguments of s3prl's script, whichever
way that is run.
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from s3prl_fusion.experiments.checkpoints import load_checkpoint, runner_checkpoints
from s3prl_fusion.errors import MissingPathError, UserError, report_user_errors
from s3prl_fusion.experiments.command_line import typed_flags

RUNNER_CHECKPOINT_KEYS = ("Args", "Config")  # what s3prl's run_downstream.py reads from an -e checkpoint


class UnreadableCheckpointError(UserError, ValueError):
    """``-e`` names a file that cannot be read as a checkpoint of s3prl's runner."""


def typed_past_experiment(argv: list[str]) -> str | None:
    """The value of ``-e`` / ``--past_exp`` in s3prl arguments (the last one, as argparse takes), or None."""
    return typed_flags(argv, "past_exp").get("past_exp")


def checkpoint_problem(path: Path) -> str | None:
    """What keeps ``path`` from being loaded as a checkpoint of s3prl's runner, or None.

    Its tensors are memory-mapped, not read, so the check costs little at any checkpoint size.
    """
    try:
        checkpoint = load_checkpoint(path, mmap=zipfile.is_zipfile(path))
    except Exception as error:  # every way a load fails makes the file unusable; the reason is shown
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"it cannot be read, it may be truncated or damaged ({reason})"
    missing = [key for key in RUNNER_CHECKPOINT_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        return f"it is not a checkpoint of s3prl's runner (it holds no {' and '.join(missing)})"
    return None


def newest_intact_checkpoint(folder: Path) -> Path:
    """The ``states-<step>.ckpt`` of ``folder`` with the highest step that can be loaded; a warning
    names each newer one skipped. MissingPathError when there is none."""
    skipped = []
    for candidate in reversed(runner_checkpoints(folder)):
        problem = checkpoint_problem(candidate)
        if problem is None:
            for name in skipped:
                print(f"[s3prl_fusion] - warning: skipped {name}", file=sys.stderr)
            if skipped:
                print(f"[s3prl_fusion] - warning: resuming from the newest intact checkpoint, {candidate}", file=sys.stderr)
            return candidate
        skipped.append(f"{folder / candidate.name}: {problem}")
    details = f" ({'; '.join(skipped)})" if skipped else ""
    raise MissingPathError(
        f"-e {folder}: the folder holds no intact states-<step>.ckpt checkpoint to resume from{details}. "
        "Give -e a checkpoint file, or start the experiment without -e (a run saves a checkpoint every runner.save_step updates)."
    )


def checked_past_experiment(argv: list[str]) -> list[str]:
    """s3prl arguments -> the same, with ``-e <folder>`` replaced by its newest intact checkpoint
    file (appended as a last ``-e``, which argparse takes); raises a UserError naming the folder
    or file when there is nothing to load."""
    past_experiment = typed_past_experiment(argv)
    if past_experiment is None:
        return list(argv)
    path = Path(past_experiment)
    if path.is_dir():
        return [*argv, "-e", str(newest_intact_checkpoint(path))]
    if not path.exists():
        raise MissingPathError(f"-e {past_experiment}: no such checkpoint file or experiment folder")
    problem = checkpoint_problem(path)
    if problem is not None:
        raise UnreadableCheckpointError(
            f"-e {past_experiment} cannot be resumed or evaluated: {problem}. "
            "Give -e a states-<step>.ckpt or *-best.ckpt written by s3prl's runner, or its experiment folder."
        )
    return list(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    """``python -m s3prl_fusion.experiments.resume newest FOLDER``: print the checkpoint ``-e FOLDER``
    resumes (the recipes' "newest checkpoint"); ``list FOLDER``: print its states-<step>.ckpt
    files in step order, one a line."""
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.experiments.resume", description=main.__doc__)
    parser.add_argument("action", choices=("newest", "list"))
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.action == "newest":
        print(newest_intact_checkpoint(args.folder))
    else:
        print("\n".join(str(path) for path in runner_checkpoints(args.folder)))


if __name__ == "__main__":
    main()
