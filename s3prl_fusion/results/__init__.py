"""Per-task result extraction: an evaluated s3prl experiment folder -> ``result.json``.

Each task module defines ``METRIC`` (e.g. ``"wer"``), ``LOWER_IS_BETTER`` and
``read_result(expdir, split) -> dict`` returning at least ``{"metric": METRIC, "value": float}``
(and, where the task has them, ``"per_language"`` or ``"per_fold"`` breakdowns). SV also offers
``read_best_result`` (s3prl's protocol: the best of every saved checkpoint on the test trials).

Each result also records the checkpoint it came from, the ``upstream`` / ``interface`` it was
trained with and its members, all read from the checkpoint (``provenance``); ``error_rates``
scores s3prl's ASR hypothesis / reference files.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.errors import MissingPathError, UnknownNameError, UserError
from s3prl_fusion.results.provenance import SETUP_KEYS, newest_checkpoints_under, provenance

TASK_MODULES = {
    "asr": "s3prl_fusion.results.asr",
    "sv_voxceleb1": "s3prl_fusion.results.sv",
    "emotion": "s3prl_fusion.results.emotion",
    "ml_superb": "s3prl_fusion.results.ml_superb",
    "fluent_commands": "s3prl_fusion.results.fluent_commands",
    "speech_commands": "s3prl_fusion.results.speech_commands",
    "voxceleb1": "s3prl_fusion.results.voxceleb1",
    "libriphone": "s3prl_fusion.results.libriphone",
    "snips": "s3prl_fusion.results.snips",
}
RESULT_FILE = "result.json"
SELECTIONS = ("best-test",)


class ScoringError(UserError, ValueError):
    """The score command was asked for something the experiment cannot give."""


def task_module(task: str):
    if task not in TASK_MODULES:
        raise UnknownNameError(f"no result reader for task {task!r}; tasks: {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[task])


def checked_origin(expdir: Path, checkpoint: Path | None, labels: dict) -> dict:
    """The provenance of ``checkpoint``, or without one the set-up shared by the newest checkpoint
    of each run of ``expdir`` (each fold or language); a ScoringError when the runs' set-ups differ
    or a given label (``upstream`` / ``interface``, "" for none) contradicts the checkpoint's."""
    sources = [checkpoint] if checkpoint is not None else newest_checkpoints_under(expdir)
    if not sources:
        raise MissingPathError(f"no states-<step>.ckpt in {expdir} or its run folders: the result's set-up is read from the checkpoint training wrote")
    origins = [provenance(source) for source in sources]
    for other in origins[1:]:
        differences = [key for key in SETUP_KEYS if other.get(key) != origins[0].get(key)]
        if differences:
            raise ScoringError(
                f"{origins[0]['checkpoint']} and {other['checkpoint']} were trained with different set-ups ({', '.join(differences)}: "
                f"{[origins[0].get(key) for key in differences]} vs {[other.get(key) for key in differences]}): one result holds runs of one "
                "set-up; move the other runs to a folder of their own"
            )
    origin = origins[0]
    for key, given in labels.items():
        if given and given != origin.get(key):
            raise ScoringError(
                f"--{key} {given} contradicts {origin['checkpoint']}, trained with {key} {origin.get(key)}: drop --{key} "
                "(the result is labelled with the checkpoint's set-up) or score the experiment folder of that set-up"
            )
    if checkpoint is None:
        origin.pop("checkpoint", None)
        origin.pop("step", None)
    return origin


def write_result(task: str, expdir: Path, split: str, checkpoint: Path | None = None, select: str | None = None, **labels) -> dict:
    """Read the task's metric from ``expdir`` and write ``expdir/result.json`` (atomically).

    ``checkpoint``: the file the split was evaluated with (recorded with its step, set-up and
    members; without it the set-up and members come from the newest checkpoint of each run under
    ``expdir``, which must agree). ``select="best-test"`` (SV): report the best of every saved
    checkpoint scored on ``split``. ``labels`` (``upstream`` / ``interface``): checked against the
    checkpoint's set-up, never written in its place.
    """
    expdir = Path(expdir)
    module = task_module(task)
    if select is None:
        metric = module.read_result(expdir, split)
    elif select == "best-test" and hasattr(module, "read_best_result"):
        metric = module.read_best_result(expdir, split)
        checkpoint = Path(metric["checkpoint"])
    else:
        raise ScoringError(f"--select {select} is not offered for task {task}; it is s3prl's SV protocol (--task sv_voxceleb1 --select best-test)")
    origin = checked_origin(expdir, checkpoint, labels)
    result = {"task": task, "split": split, "lower_is_better": module.LOWER_IS_BETTER, **origin, **metric}
    write_atomically(expdir / RESULT_FILE, lambda handle: handle.write(json.dumps(result, indent=2, sort_keys=True).encode()))
    return result
