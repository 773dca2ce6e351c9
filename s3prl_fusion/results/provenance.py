"""Where a result came from: the checkpoint (file and step), the set-up it was trained with and the
members that built its features.

A result records ``checkpoint`` (the evaluated file), ``step`` (its optimizer update), ``upstream``
and ``interface`` (the ``-u`` and ``-s`` the checkpoint was trained with, as its fusion featurizer
recorded them, else as s3prl's runner saved its arguments: never the scoring command's), ``seed``
(the runner's ``--seed`` as its saved arguments hold it, by which a report groups the runs of one
set-up over seeds) and, where
the checkpoint's featurizer recorded them, ``members``: one dict per member with ``label``,
``kind``, ``source`` (Hugging Face id, local path, s3prl hub name, or the random-init config)
and, for Whisper members, ``length_mode``; plus the upstream's ``autocast``. Checkpoints made before members were recorded carry only the member
labels (``member_labels``).
"""
from __future__ import annotations

import json
from pathlib import Path

from s3prl_fusion.experiments.checkpoints import EXTRA_STATE_KEY, checkpoint_step, load_checkpoint, runner_checkpoints
from s3prl_fusion.experiments.resume import newest_intact_checkpoint

SETUP_KEYS = ("upstream", "interface", "members", "member_labels", "seed")  # what every run of one result must share


def run_folders(expdir: Path) -> list[Path]:
    """``expdir`` when training wrote its checkpoints there, else its sub-folders that hold some
    (one run per fold or Mono-1h language, as the recipes lay them out)."""
    expdir = Path(expdir)
    if runner_checkpoints(expdir):
        return [expdir]
    return [folder for folder in sorted(expdir.iterdir()) if folder.is_dir() and runner_checkpoints(folder)] if expdir.is_dir() else []


def newest_checkpoints_under(expdir: Path) -> list[Path]:
    """The newest checkpoint of each run of ``expdir`` (``run_folders``), by the one rule of
    ``s3prl_fusion.experiments.resume.newest_intact_checkpoint``: the highest intact step."""
    return [newest_intact_checkpoint(folder) for folder in run_folders(expdir)]


def recorded_setup(checkpoint: dict) -> dict:
    """``upstream`` and ``interface`` (``-u``, ``-s``) a loaded checkpoint was trained with: its
    fusion featurizer's recorded set-up, else the arguments s3prl's runner saved in it."""
    setup = (checkpoint.get("Featurizer") or {}).get(EXTRA_STATE_KEY) or {}
    args = checkpoint.get("Args")
    return {
        "upstream": setup.get("upstream") or getattr(args, "upstream", None),
        "interface": setup.get("interface") or getattr(args, "upstream_feature_selection", None),
    }


def recorded_seed(checkpoint: dict) -> int | None:
    """The ``--seed`` s3prl's runner was started with (its saved ``Args``); None where it saved none."""
    return getattr(checkpoint.get("Args"), "seed", None)


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
    """``checkpoint``, ``step``, the recorded set-up and members of the checkpoint a result was evaluated with."""
    checkpoint = load_checkpoint(checkpoint_path)
    step = checkpoint.get("Step", checkpoint_step(checkpoint_path))
    return {
        "checkpoint": str(checkpoint_path),
        "step": step,
        "seed": recorded_seed(checkpoint),
        **recorded_setup(checkpoint),
        **recorded_members(checkpoint),
    }
