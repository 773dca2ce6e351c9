"""The task config an evaluation ran with, as s3prl's runner recorded it in the experiment folder.

Each runner start writes ``args_<time>.yaml`` (its arguments: ``mode``, ``evaluate_split`` ...) and
``config_<time>.yaml`` (the config after ``-o`` overrides) into the experiment folder, the time tag
``YYYY-MM-DD-HH-MM-SS`` sorting by time. The newest pair whose arguments say ``mode: evaluate`` on
the split is the evaluation that wrote the split's predictions: a reader that needs the data it
scored against (the dataset csv of intent classification) takes it from there, not from the
training config, which an evaluation's ``-o`` may have changed.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from s3prl_fusion.errors import MissingPathError


def evaluated_config(expdir: Path, split: str) -> dict:
    """The config of the newest ``-m evaluate -t split`` run recorded in ``expdir``."""
    expdir = Path(expdir)
    for arguments in sorted(expdir.glob("args_*.yaml"), reverse=True):
        recorded = yaml.safe_load(arguments.read_text()) or {}
        config = arguments.with_name(arguments.name.replace("args_", "config_", 1))
        if recorded.get("mode") == "evaluate" and recorded.get("evaluate_split") == split and config.is_file():
            return yaml.safe_load(config.read_text())
    raise MissingPathError(
        f"no evaluation of split {split} is recorded in {expdir} (args_<time>.yaml with mode: evaluate, beside its config_<time>.yaml): "
        f"evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})"
    )
