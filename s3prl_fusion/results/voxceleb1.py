"""Speaker identification (VoxCeleb1, 1,251 speakers): accuracy in percent.

s3prl's ``voxceleb1`` expert writes ``<split>_predict.txt``, lines ``<utterance id> <speaker>``, the
utterance id being ``<speaker>-<video>-<clip>`` of the wav's path ``<speaker>/<video>/<clip>.wav``.
The true speaker is the id's first part (VoxCeleb1's speaker folder, ``id1xxxx``), so the labels are
read from the ids themselves. Resampling unit: the recording (speaker and video), whose clips share
a channel.
"""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import MissingPathError
from s3prl_fusion.results import ScoringError
from s3prl_fusion.results.accuracy import METRIC as METRIC  # re-exported: the task's metric name
from s3prl_fusion.results.accuracy import accuracy_result, read_labels

LOWER_IS_BETTER = False


def recording(utterance: str) -> str:
    """``<speaker>-<video>`` of ``<speaker>-<video>-<clip>`` (a video id may hold ``-`` itself)."""
    return utterance.rsplit("-", 1)[0]


def read_result(expdir: Path, split: str) -> dict:
    predict = Path(expdir) / f"{split}_predict.txt"
    if not predict.is_file():
        raise MissingPathError(f"{predict} is missing: evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})")
    predicted = read_labels(predict)
    malformed = [name for name in predicted if not name.startswith("id") or name.count("-") < 2]
    if malformed:
        raise ScoringError(f"{predict} names utterances {malformed[:3]} that are not <speaker>-<video>-<clip> of VoxCeleb1")
    expected = {name: name.split("-", 1)[0] for name in predicted}
    return accuracy_result(predicted, expected, {name: recording(name) for name in predicted}, "recording", predict)
