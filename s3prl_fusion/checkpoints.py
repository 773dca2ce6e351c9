"""Checkpoint files: atomic writes, and the fusion set-up check before any weight is loaded."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from s3prl_fusion.atomic import write_atomically
from s3prl_fusion.featurizer import FusionSetupMismatch

EXTRA_STATE_KEY = "_extra_state"


def atomic_save(obj, path, *args, **kwargs) -> None:
    """torch.save through ``write_atomically``: a run killed while writing leaves the previous
    file intact and no partial ``states-*.ckpt``."""
    if not isinstance(path, (str, os.PathLike)):
        torch.save(obj, path, *args, **kwargs)
        return
    write_atomically(Path(path), lambda handle: torch.save(obj, handle, *args, **kwargs))


def check_featurizer_state(checkpoint_state: dict | None, uses_fusion_interface: bool) -> None:
    """Refuse, with a message, a checkpoint whose featurizer kind differs from the one built now.

    (A fusion featurizer compares its detailed set-up itself when its state is loaded.)
    """
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


def load_checkpoint(path) -> dict:
    """An s3prl checkpoint (it pickles an argparse.Namespace, so weights-only loading is widened
    to allow exactly that class)."""
    import argparse

    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu")
