"""Speaker verification (VoxCeleb1): equal error rate, in percent, of the evaluated split's trials.

Reads the files s3prl's sv_voxceleb1 expert writes when a split is evaluated:
``<split>_predict.txt`` (``<pair> <cosine score>``) and ``<split>_truth.txt``
(``<pair> <label>``, filled in by the plugin), line by line in trial order. The EER is computed
as s3prl's ``sv_voxceleb1.utils.EER`` does: where the interpolated ROC crosses FPR = 1 - TPR.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

METRIC = "eer"
LOWER_IS_BETTER = True


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """EER as a fraction, from 0/1 ``labels`` and similarity ``scores`` (higher = same speaker)."""
    from scipy.interpolate import interp1d
    from scipy.optimize import brentq
    from sklearn.metrics import roc_curve

    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    true_positive_at = interp1d(false_positive_rate, true_positive_rate)
    return float(brentq(lambda rate: 1.0 - rate - true_positive_at(rate), 0.0, 1.0))


def read_trial_column(path: Path) -> tuple[list[str], list[str]]:
    """(pair names, second column) of a ``<pair> <value>`` file."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [row[0] for row in rows], [row[1] for row in rows]


def read_result(expdir: Path, split: str) -> dict:
    predict, truth = expdir / f"{split}_predict.txt", expdir / f"{split}_truth.txt"
    if not predict.is_file():
        raise FileNotFoundError(f"{predict} not found: evaluate the experiment first (run_downstream.py -m evaluate -e <checkpoint> -t {split})")
    predicted_pairs, scores = read_trial_column(predict)
    truth_pairs, labels = read_trial_column(truth) if truth.is_file() else ([], [])
    if truth_pairs != predicted_pairs:
        raise ValueError(
            f"{truth} does not list the trial labels of {predict} in the same order: re-evaluate with s3prl-fusion "
            "installed (it writes the labels s3prl's sv_voxceleb1 leaves out)"
        )
    eer = equal_error_rate(np.array(labels, dtype=int), np.array(scores, dtype=float))
    return {"metric": METRIC, "value": 100.0 * eer, "trials": len(labels)}
