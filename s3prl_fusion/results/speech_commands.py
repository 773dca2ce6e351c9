"""Keyword spotting (Speech Commands v1, 12 classes): accuracy in percent.

s3prl's ``speech_commands`` expert writes ``<split>_predict.txt``, lines ``<file id> <class>``, the
file id being ``<folder>-<file name>`` of the wav. The true class is the folder the file lies in
(the separate test set has one folder per class, ``_unknown_`` and ``_silence_`` included; in the
training folder a word outside the ten keywords is ``_unknown_`` and ``_background_noise_`` is
``_silence_``, as s3prl's dataset labels them), so the labels are read from the ids themselves, not
from the ``<split>_truth.txt`` the expert also writes. Resampling unit: the speaker, the part of a
Speech Commands file name before ``_nohash_``.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results.accuracy import METRIC as METRIC  # re-exported: the task's metric name
from s3prl_fusion.results.accuracy import accuracy_result, read_labels

LOWER_IS_BETTER = False
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
CLASSES = (*KEYWORDS, "_unknown_", "_silence_")


def true_class(file_id: str) -> str:
    """The class of ``<folder>-<file name>``: the folder where it names a class, ``_silence_`` for
    ``_background_noise_``, else ``_unknown_``."""
    folder = file_id.partition("-")[0]
    if folder == "_background_noise_":
        return "_silence_"
    return folder if folder in CLASSES else "_unknown_"


def speaker(file_id: str) -> str:
    name = file_id.partition("-")[2]
    return name.split("_nohash_")[0] if "_nohash_" in name else file_id


def read_result(expdir: Path, split: str) -> dict:
    predict = Path(expdir) / f"{split}_predict.txt"
    if not predict.is_file():
        raise MissingPathError(f"{predict} is missing: evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})")
    predicted = read_labels(predict)
    return accuracy_result(predicted, {name: true_class(name) for name in predicted}, {name: speaker(name) for name in predicted}, "speaker", predict)
