"""Checkpoint files: atomic writes, write-before-delete rotation, and the fusion set-up check
before any weight is loaded."""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from s3prl_fusion.experiments.atomic_files import DiskFullError, write_atomically
from s3prl_fusion.errors import MissingPathError

EXTRA_STATE_KEY = "_extra_state"
RUNNER_CHECKPOINT = re.compile(r"states-(\d+)\.ckpt")


def checkpoint_step(path, name_pattern: re.Pattern = RUNNER_CHECKPOINT) -> int | None:
    """The step of a checkpoint named by ``name_pattern`` (default: the runner's
    ``states-<step>.ckpt``), from the file name alone whatever its folder is called; None for
    any other file."""
    match = name_pattern.fullmatch(Path(path).name)
    return int(match.group(1)) if match else None


def runner_checkpoints(folder) -> list[Path]:
    """The runner's ``states-<step>.ckpt`` files in ``folder`` (not its sub-folders), in step order
    (the number in the file name, never the file time)."""
    paths = [path for path in Path(folder).glob("states-*.ckpt") if checkpoint_step(path) is not None and path.is_file()]
    return sorted(paths, key=checkpoint_step)


def newest_checkpoint(folder, other_than=None) -> Path | None:
    """The runner checkpoint of the highest step in ``folder`` (leaving out ``other_than``), or None;
    whether it loads is ``experiments.resume.newest_intact_checkpoint``'s to say."""
    candidates = [path for path in runner_checkpoints(folder) if path != other_than]
    return candidates[-1] if candidates else None


def atomic_save(obj, path, *args, **kwargs) -> None:
    """torch.save through ``write_atomically``: a run killed while writing leaves the previous
    file intact and no partial ``states-*.ckpt``."""
    if not isinstance(path, (str, os.PathLike)):
        torch.save(obj, path, *args, **kwargs)
        return
    write_atomically(Path(path), lambda handle: torch.save(obj, handle, *args, **kwargs))


class CheckpointRotation:
    """Keeps the newest checkpoint on disk until the next one is complete.

    s3prl's ``Runner.train`` makes room for ``states-<step>.ckpt`` by deleting the oldest
    ones before it writes the new one, so with ``max_keep: 1`` a run killed while saving has no
    checkpoint left. Through this object the runner's deletions of ``states-*.ckpt`` wait until
    the next ``states-*.ckpt`` has been written (atomically); other files go at once.
    """

    def __init__(self):
        self.pending: list[Path] = []

    def remove(self, path) -> None:
        """The runner's ``os.remove``."""
        if checkpoint_step(path) is None:
            os.remove(path)
        else:
            self.pending.append(Path(path))

    def save(self, obj, path, *args, **kwargs) -> None:
        """The runner's ``torch.save``: an atomic write, then the deletions it was waiting for. A
        write that finds the disk full ends the run with a message; every earlier checkpoint stays."""
        try:
            atomic_save(obj, path, *args, **kwargs)
        except DiskFullError as error:
            kept = newest_checkpoint(Path(path).parent, other_than=Path(path))
            resume = f"the previous checkpoint {kept} is kept: free space and run again with -e {kept.parent} to resume from it" if kept else (
                "no earlier checkpoint was written: free space and run again"
            )
            raise DiskFullError(f"{error}; {resume}") from error
        if not isinstance(path, (str, os.PathLike)) or checkpoint_step(path) is None:
            return
        written = Path(path).resolve()
        for old in self.pending:
            if old.resolve() != written:
                old.unlink(missing_ok=True)
        self.pending.clear()


def check_featurizer_state(checkpoint_state: dict | None, uses_fusion_interface: bool) -> None:
    """Refuse, with a message, a checkpoint whose featurizer kind differs from the one built now.

    (A fusion featurizer compares its detailed set-up itself when its state is loaded.)
    """
    from s3prl_fusion.featurizer import FusionSetupMismatch  # imports the models: only when checking

    if not checkpoint_state:
        return
    saved_fusion = EXTRA_STATE_KEY in checkpoint_state
    if saved_fusion and not uses_fusion_interface:
        setup = checkpoint_state[EXTRA_STATE_KEY]
        raise FusionSetupMismatch(
            f"the checkpoint was trained with -s {setup.get('interface')} over members {setup.get('members')}, "
            "but this run builds s3prl's weighted sum (-s hidden_states); use the checkpoint's -s"
        )
    if uses_fusion_interface and not saved_fusion:
        raise FusionSetupMismatch(
            "the checkpoint's featurizer is s3prl's weighted sum (-s hidden_states) or another stock feature, "
            "but this run builds a fusion interface; use the checkpoint's -s or start a new experiment"
        )


def load_checkpoint(path, mmap: bool = False) -> dict:
    """An s3prl checkpoint, loaded weights-only on the CPU with ``argparse.Namespace`` allowed for
    good, as the runner's compatibility patch allows it (a ``safe_globals`` context would withdraw
    it on exit, from s3prl's own loads too). ``mmap``: map the tensors instead of reading them."""
    from s3prl_fusion import compat

    if not Path(path).is_file():
        raise MissingPathError(f"checkpoint {path} does not exist")
    compat.allow_s3prl_checkpoints()
    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
