"""Accuracy of a classification task's predictions against its true labels, with the per-utterance
outcomes behind it (``s3prl_fusion.results.outcomes``: column ``correct`` 0/1 over ``count`` 1).

Shared by the readers of keyword spotting, intent classification and speaker identification; each
finds its own honest source of the labels and its resampling unit.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.results import ScoringError

METRIC = "acc"


def read_labels(path: Path) -> dict[str, str]:
    """{utterance: label} of a file of ``<utterance> <label>`` lines (s3prl's ``<split>_predict.txt``)."""
    labels = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ScoringError(f"{path} line {number} is {line!r}, not '<utterance> <label>': the file was not written by s3prl's evaluation")
        labels[fields[0]] = fields[1]
    return labels


def accuracy_result(predicted: dict[str, str | tuple], expected: dict[str, str | tuple], units: dict[str, str], unit_word: str, source: Path) -> dict:
    """``{"metric": "acc", "value": percent, "outcomes": entry, "outcome_units": unit_word}`` over
    the utterances of ``expected`` (a prediction is right when it equals the label; tuples compare
    every slot). ``units``: each utterance's resampling unit. ``source``: the prediction file, named
    when it does not list exactly the expected utterances."""
    missing = sorted(set(expected) - set(predicted))
    unknown = sorted(set(predicted) - set(expected))
    if not expected or missing or unknown:
        raise ScoringError(
            f"{source} does not predict exactly the evaluated utterances ({len(missing)} missing, e.g. {missing[:3]}; "
            f"{len(unknown)} unknown, e.g. {unknown[:3]}): evaluate the experiment again on the data it is scored against"
        )
    ids = sorted(expected)
    correct = [float(predicted[name] == expected[name]) for name in ids]
    entry = {
        "ids": ids,
        "units": [units[name] for name in ids],
        "strata": None,
        "columns": {"correct": correct, "count": [1.0] * len(ids)},
        "metrics": {"value": {"statistic": "ratio", "numerator": "correct", "denominator": "count", "scale": 100.0, "combine": "pooled"}},
    }
    return {"metric": METRIC, "value": 100.0 * sum(correct) / len(ids), "outcomes": entry, "outcome_units": unit_word}
