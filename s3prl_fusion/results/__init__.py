"""Per-task result extraction: an evaluated s3prl experiment folder -> ``result.json``.

Each task module defines ``METRIC`` (e.g. ``"wer"``), ``LOWER_IS_BETTER`` and
``read_result(expdir, split) -> dict`` returning at least ``{"metric": METRIC, "value": float}``
(and, where the task has them, ``"per_language"`` or ``"per_fold"`` breakdowns). SV also offers
``read_best_result`` (s3prl's protocol: the best of every saved checkpoint on the test trials).

Each result also records the checkpoint it came from and its members (``provenance``);
``error_rates`` scores s3prl's ASR hypothesis / reference files.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.errors import UnknownNameError, UserError
from s3prl_fusion.results.provenance import newest_checkpoint_under, provenance

TASK_MODULES = {
    "asr": "s3prl_fusion.results.asr",
    "sv_voxceleb1": "s3prl_fusion.results.sv",
    "emotion": "s3prl_fusion.results.emotion",
    "ml_superb": "s3prl_fusion.results.ml_superb",
}
RESULT_FILE = "result.json"
SELECTIONS = ("best-test",)


class ScoringError(UserError, ValueError):
    """The score command was asked for something the experiment cannot give."""


def task_module(task: str):
    if task not in TASK_MODULES:
        raise UnknownNameError(f"no result reader for task {task!r}; tasks: {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[task])


def write_result(task: str, expdir: Path, split: str, checkpoint: Path | None = None, select: str | None = None, **labels) -> dict:
    """Read the task's metric from ``expdir`` and write ``expdir/result.json`` (atomically).

    ``checkpoint``: the file the split was evaluated with (recorded with its step and members;
    without it the members come from the newest checkpoint under ``expdir``). ``select="best-test"``
    (SV): report the best of every saved checkpoint scored on ``split``.
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
    source = checkpoint or newest_checkpoint_under(expdir)
    origin = provenance(source) if source is not None else {}
    if checkpoint is None:
        origin.pop("checkpoint", None)
        origin.pop("step", None)
    result = {"task": task, "split": split, "lower_is_better": module.LOWER_IS_BETTER, **labels, **origin, **metric}
    write_atomically(expdir / RESULT_FILE, lambda handle: handle.write(json.dumps(result, indent=2, sort_keys=True).encode()))
    return result
