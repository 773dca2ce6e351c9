"""Per-task result extraction: an evaluated s3prl experiment folder -> ``result.json``.

Each task module defines ``METRIC`` (e.g. ``"wer"``), ``LOWER_IS_BETTER`` and
``read_result(expdir, split) -> dict`` returning at least ``{"metric": METRIC, "value": float}``
(and, where the task has them, ``"per_language"`` or ``"per_fold"`` breakdowns).
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from s3prl_fusion.atomic import write_atomically

TASK_MODULES = {
    "asr": "s3prl_fusion.results.asr",
    "sv_voxceleb1": "s3prl_fusion.results.sv",
    "emotion": "s3prl_fusion.results.emotion",
    "ml_superb": "s3prl_fusion.results.ml_superb",
}
RESULT_FILE = "result.json"


def task_module(task: str):
    if task not in TASK_MODULES:
        raise ValueError(f"no result reader for task {task!r}; tasks: {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[task])


def write_result(task: str, expdir: Path, split: str, **labels) -> dict:
    """Read the task's metric from ``expdir`` and write ``expdir/result.json`` (atomically)."""
    module = task_module(task)
    result = {"task": task, "split": split, "lower_is_better": module.LOWER_IS_BETTER, **labels, **module.read_result(Path(expdir), split)}
    write_atomically(Path(expdir) / RESULT_FILE, lambda handle: handle.write(json.dumps(result, indent=2, sort_keys=True).encode()))
    return result
