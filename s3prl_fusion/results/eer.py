"""The equal error rate of speaker verification, as s3prl's ``sv_voxceleb1.utils.EER`` computes it:
where the interpolated ROC curve crosses FPR = 1 - TPR."""
from __future__ import annotations

import numpy as np


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """EER as a fraction, from 0/1 ``labels`` and similarity ``scores`` (higher = same speaker)."""
    from scipy.interpolate import interp1d
    from scipy.optimize import brentq
    from sklearn.metrics import roc_curve

    false_positive_rate, true_positive_rate, _ = roc_curve(labels, scores)
    true_positive_at = interp1d(false_positive_rate, true_positive_rate)
    return float(brentq(lambda rate: 1.0 - rate - true_positive_at(rate), 0.0, 1.0))
