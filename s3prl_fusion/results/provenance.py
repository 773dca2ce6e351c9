"""Where a result came from: the checkpoint (file and step) and the members that built its features.

A result records ``checkpoint`` (the evaluated file), ``step`` (its optimizer update) and, where
the checkpoint's featurizer recorded them, ``members``: one dict per member with ``label``,
``kind``, ``source`` (Hugging Face id, local path, s3prl hub name, or the random-init config)
and, for Whisper members, ``length_mode``; plus the upstream's ``autocast``. Checkpoints made before members were recorded carry only the member
labels (``member_labels``).
"""
from __future__ import annotations

import json
from pathlib import Path

from s3prl_fusion.experiments.checkpoints import EXTRA_STATE_KEY, checkpoint_step, load_checkpoint


def saved_checkpoints(expdir: Path) -> list[Path]:
    """The ``states-<step>.ckpt`` files of ``expdir``, in step order (numerically, from the file name)."""
    paths = [path for path in Path(expdir).glob("states-*.ckpt") if checkpoint_step(path) is not None]
    return sorted(paths, key=checkpoint_step)


def newest_checkpoint_under(expdir: Path) -> Path | None:
    """The most recently written checkpoint in ``expdir`` or its sub-folders (per-fold, per-language runs)."""
    paths = [path for path in Path(expdir).rglob("*.ckpt") if path.is_file()]
    return max(paths, key=lambda path: path.stat().st_mtime) if paths else None


def recorded_members(checkpoint: dict) -> dict:
    """What a loaded checkpoint says about its upstream's members (see the module docstring)."""
    setup = (checkpoint.get("Featurizer") or {}).get(EXTRA_STATE_KEY) or {}
    identities = setup.get("member_identities")
    if identities:
        members = json.loads(json.dumps(list(identities), default=str))
        autocast = setup.get("autocast", next((identity["autocast"] for identity in identities if "autocast" in identity), None))
        return {"members": members, "autocast": autocast}
    if setup.get("members"):
        return {"member_labels": list(setup["members"])}
    return {}


def provenance(checkpoint_path: Path) -> dict:
    """``checkpoint``, ``step`` and the recorded members of the checkpoint a result was evaluated with."""
    checkpoint = load_checkpoint(checkpoint_path)
    step = checkpoint.get("Step", checkpoint_step(checkpoint_path))
    return {"checkpoint": str(checkpoint_path), "step": step, **recorded_members(checkpoint)}
