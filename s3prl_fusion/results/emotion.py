"""Emotion recognition (IEMOCAP): accuracy in percent, averaged over the evaluated folds.

Reads the files s3prl's emotion expert writes when a fold's split is evaluated,
``<split>_fold<n>_predict.txt`` and ``<split>_fold<n>_truth.txt`` (``<utterance> <label>``),
from the experiment folder itself (one fold) or from its sub-folders (one per fold, as
recipes/emotion.sh lays them out).
"""
from __future__ import annotations

import re
from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError

METRIC = "acc"
LOWER_IS_BETTER = False


def read_labels(path: Path) -> dict[str, str]:
    """{utterance: label} of a ``<utterance> <label>`` file."""
    return dict(line.split() for line in path.read_text().splitlines() if line.strip())


def fold_accuracy(predict: Path, truth: Path) -> float:
    """Percentage of the fold's utterances whose predicted label is the true one."""
    predicted, expected = read_labels(predict), read_labels(truth)
    if not expected or predicted.keys() != expected.keys():
        raise ScoringError(f"{predict} and {truth} do not list the same utterances: re-evaluate this fold")
    return 100.0 * sum(predicted[name] == label for name, label in expected.items()) / len(expected)


def read_result(expdir: Path, split: str) -> dict:
    pattern = re.compile(rf"{re.escape(split)}_(fold\d+)_predict\.txt")
    per_fold = {}
    for predict in sorted([*expdir.glob(f"{split}_fold*_predict.txt"), *expdir.glob(f"*/{split}_fold*_predict.txt")]):
        fold = pattern.fullmatch(predict.name).group(1)
        if fold in per_fold:
            raise ScoringError(f"{fold} is evaluated twice under {expdir}: keep one experiment folder per fold")
        per_fold[fold] = fold_accuracy(predict, predict.with_name(predict.name.replace("_predict.txt", "_truth.txt")))
    if not per_fold:
        raise MissingPathError(
            f"no {split}_fold<n>_predict.txt in {expdir} or its sub-folders: evaluate each fold first "
            f"(run_downstream.py -m evaluate -e <checkpoint> -t {split})"
        )
    return {"metric": METRIC, "value": sum(per_fold.values()) / len(per_fold), "per_fold": per_fold}
