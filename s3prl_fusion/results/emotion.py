"""Emotion recognition (IEMOCAP): accuracy in percent, averaged over the evaluated folds.

Reads the files s3prl's emotion expert writes when a fold's split is evaluated,
``<split>_fold<n>_predict.txt`` and ``<split>_fold<n>_truth.txt`` (``<utterance> <label>``),
from the experiment folder itself (one fold) or from its sub-folders (one per fold, as
recipes/emotion.sh lays them out).

Outcomes: one row per test utterance (the resampling unit), ``correct`` (0/1) over ``count`` (1),
its fold as stratum; the reported accuracy is the mean of the fold accuracies
(``mean_over_strata``), as SUPERB averages IEMOCAP's five folds.
"""
from __future__ import annotations

import re
from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.outcomes import ratio_metric

METRIC = "acc"
LOWER_IS_BETTER = False


def read_labels(path: Path) -> dict[str, str]:
    """{utterance: label} of a ``<utterance> <label>`` file."""
    return dict(line.split() for line in path.read_text().splitlines() if line.strip())


def fold_correctness(predict: Path, truth: Path) -> dict[str, bool]:
    """{utterance: whether its predicted label is the true one} over the fold's utterances."""
    predicted, expected = read_labels(predict), read_labels(truth)
    if not expected or predicted.keys() != expected.keys():
        raise ScoringError(f"{predict} and {truth} do not list the same utterances: re-evaluate this fold")
    return {name: predicted[name] == label for name, label in expected.items()}


def accuracy(correctness: dict[str, bool]) -> float:
    """Percentage of correct utterances."""
    return 100.0 * sum(correctness.values()) / len(correctness)


def read_result(expdir: Path, split: str) -> dict:
    pattern = re.compile(rf"{re.escape(split)}_(fold\d+)_predict\.txt")
    per_fold_correctness = {}
    for predict in sorted([*expdir.glob(f"{split}_fold*_predict.txt"), *expdir.glob(f"*/{split}_fold*_predict.txt")]):
        fold = pattern.fullmatch(predict.name).group(1)
        if fold in per_fold_correctness:
            raise ScoringError(f"{fold} is evaluated twice under {expdir}: keep one experiment folder per fold")
        per_fold_correctness[fold] = fold_correctness(predict, predict.with_name(predict.name.replace("_predict.txt", "_truth.txt")))
    if not per_fold_correctness:
        raise MissingPathError(
            f"no {split}_fold<n>_predict.txt in {expdir} or its sub-folders: evaluate each fold first "
            f"(run_downstream.py -m evaluate -e <checkpoint> -t {split})"
        )
    per_fold = {fold: accuracy(correctness) for fold, correctness in per_fold_correctness.items()}
    rows = [(fold, name, correct) for fold, correctness in per_fold_correctness.items() for name, correct in correctness.items()]
    outcomes = {
        "ids": [name for _, name, _ in rows],
        "units": [name for _, name, _ in rows],
        "strata": [fold for fold, _, _ in rows],
        "columns": {"correct": [int(correct) for _, _, correct in rows], "count": [1] * len(rows)},
        "metrics": {"value": ratio_metric("correct", "count", combine="mean_over_strata")},
    }
    return {
        "metric": METRIC,
        "value": sum(per_fold.values()) / len(per_fold),
        "per_fold": per_fold,
        "outcomes": outcomes,
        "outcome_units": "utterance",
    }
