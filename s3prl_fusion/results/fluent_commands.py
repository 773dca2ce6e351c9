"""Intent classification (Fluent Speech Commands): accuracy in percent, an utterance counting as
right only when its action, object and location are all right.

s3prl's ``fluent_commands`` expert writes ``<split>_predict.csv``, lines ``<wav stem>,<action>,<object>,<location>``
(no header). The true intents are read from the dataset's own csv (``data/test_data.csv`` for
``test``, ``valid_data.csv`` for ``dev``, columns ``path``, ``speakerId``, ``action``, ``object``,
``location``) in the data folder the evaluation ran on (its recorded config,
``s3prl_fusion.results.evaluated_config``), not from the ``<split>_truth.csv`` the expert writes.
Resampling unit: the speaker (``speakerId``).
"""
from __future__ import annotations

import csv
from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.accuracy import METRIC as METRIC  # re-exported: the task's metric name
from s3prl_fusion.results.accuracy import accuracy_result
from s3prl_fusion.results.evaluated_config import evaluated_config

LOWER_IS_BETTER = False
SLOTS = ("action", "object", "location")
SPLIT_FILES = {"train": "train_data.csv", "dev": "valid_data.csv", "test": "test_data.csv"}


def read_predictions(path: Path) -> dict[str, tuple[str, str, str]]:
    """{wav stem: (action, object, location)} of s3prl's ``<split>_predict.csv``."""
    predicted = {}
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != 4:
                raise ScoringError(f"{path} line {number} has {len(row)} fields, not <file>,<action>,<object>,<location>")
            predicted[row[0]] = tuple(row[1:])
    return predicted


def read_dataset_intents(dataset_csv: Path) -> tuple[dict[str, tuple[str, str, str]], dict[str, str]]:
    """({wav stem: (action, object, location)}, {wav stem: speakerId}) of a Fluent Speech Commands csv."""
    if not dataset_csv.is_file():
        raise MissingPathError(f"{dataset_csv}, the intents the evaluation ran on, is missing: score where the data folder is")
    intents, speakers = {}, {}
    with open(dataset_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            stem = Path(row["path"]).stem
            intents[stem] = tuple(row[slot] for slot in SLOTS)
            speakers[stem] = row["speakerId"]
    return intents, speakers


def read_result(expdir: Path, split: str) -> dict:
    predict = Path(expdir) / f"{split}_predict.csv"
    if not predict.is_file():
        raise MissingPathError(f"{predict} is missing: evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})")
    if split not in SPLIT_FILES:
        raise ScoringError(f"split {split!r} is not one of fluent_commands' splits {sorted(SPLIT_FILES)}")
    data_folder = Path(evaluated_config(expdir, split)["downstream_expert"]["datarc"]["file_path"])
    expected, speakers = read_dataset_intents(data_folder / "data" / SPLIT_FILES[split])
    return accuracy_result(read_predictions(predict), expected, speakers, "speaker", predict)
