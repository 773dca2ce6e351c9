"""Per-task result extraction: an evaluated s3prl experiment folder -> ``result.json``.

Each task module defines ``METRIC`` (e.g. ``"wer"``), ``LOWER_IS_BETTER`` and
``read_result(expdir, split) -> dict`` returning at least ``{"metric": METRIC, "value": float}``
(and, where the task has them, ``"per_language"`` or ``"per_fold"`` breakdowns). SV also offers
``read_best_result`` (s3prl's protocol: the best of every saved checkpoint on the test trials).

A reader also returns what the evaluation saw row by row, ``"outcomes"`` (``outcomes.Outcomes``'s
entry) with ``"outcome_units"`` (what a resampling unit is); ``write_result`` writes them to
``<expdir>/<split>_outcomes.tsv`` and records that file (name, SHA-256, rows, units, metrics) as
the result's ``outcomes``: the rows themselves never go into ``result.json``. A reader that has
none (or an experiment evaluated before they were kept) leaves ``outcomes`` null and says why in
``outcomes_missing``.

Each result also records the checkpoint it came from, the ``upstream`` / ``interface`` it was
trained with and its members, all read from the checkpoint (``provenance``); a task that trains
nothing (QbE) has no checkpoint, and its module's ``recorded_origin(expdir)`` gives what its run
recorded of the upstream and members instead; ``error_rates``
scores s3prl's ASR hypothesis / reference files.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.errors import MissingPathError, UnknownNameError, UserError
from s3prl_fusion.results.outcomes import outcomes_path, write_outcomes
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
    "diarization": "s3prl_fusion.results.diarization",
    "quesst14_dtw": "s3prl_fusion.results.qbe",
}
RESULT_FILE = "result.json"
SELECTIONS = ("best-test",)


class ScoringError(UserError, ValueError):
    """The score command was asked for something the experiment cannot give."""


def task_module(task: str):
    if task not in TASK_MODULES:
        raise UnknownNameError(f"no result reader for task {task!r}; tasks: {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[task])


def checked_origin(expdir: Path, checkpoint: Path | None, labels: dict, recorded_origin=None) -> dict:
    """The provenance of ``checkpoint``, or without one the set-up shared by the newest checkpoint
    of each run of ``expdir`` (each fold or language), or for a task that trains nothing what its
    run recorded (``recorded_origin(expdir)``); a ScoringError when the runs' set-ups differ or a
    given label (``upstream`` / ``interface``, "" for none) contradicts the recorded one."""
    if recorded_origin is not None:
        origins = [{"checkpoint": f"{expdir}'s run record", **recorded_origin(expdir)}]
    else:
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


def recorded_outcomes(task: str, expdir: Path, split: str, metric: dict) -> dict:
    """Takes the reader's ``outcomes`` / ``outcome_units`` (or ``outcomes_missing``) out of ``metric``;
    the ``outcomes`` record ``result.json`` keeps (written to ``<split>_outcomes.tsv``), or a null
    record and why there is none (a stale file of an earlier scoring is removed)."""
    entry, units = metric.pop("outcomes", None), metric.pop("outcome_units", None)
    missing = metric.pop("outcomes_missing", None)
    if entry is None:
        outcomes_path(expdir, split).unlink(missing_ok=True)
        return {"outcomes": None, "outcomes_missing": missing or f"the {task} result reader keeps no per-utterance outcomes"}
    return {"outcomes": write_outcomes(expdir, split, entry, units)}


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
    origin = checked_origin(expdir, checkpoint, labels, getattr(module, "recorded_origin", None))
    outcomes = recorded_outcomes(task, expdir, split, metric)
    result = {"task": task, "split": split, "lower_is_better": module.LOWER_IS_BETTER, **origin, **metric, **outcomes}
    write_atomically(expdir / RESULT_FILE, lambda handle: handle.write(json.dumps(result, indent=2, sort_keys=True).encode()))
    return result
