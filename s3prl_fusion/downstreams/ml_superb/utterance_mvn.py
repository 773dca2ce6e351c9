"""Per-utterance mean (and optionally variance) normalisation over valid frames.

ESPnet's ``utterance_mvn`` (espnet2/layers/utterance_mvn.py), which ML-SUPERB's recipe
selects with ``--feats_normalize utterance_mvn``, defaults to ``norm_means=True,
norm_vars=False``; those are the defaults here. Statistics use only the valid frames and
padded frames stay zero (ESPnet leaves them at ``-mean``), so a result does not depend
on what else is in the batch.
"""
from __future__ import annotations

import torch

from s3prl_fusion.fusion.frames import valid_frame_mask


def utterance_mvn(
    features: torch.Tensor,
    lengths: torch.Tensor,
    norm_means: bool = True,
    norm_vars: bool = False,
    eps: float = 1.0e-20,
) -> torch.Tensor:
    """features: (batch, frames, dim); lengths: (batch,) -> normalised (batch, frames, dim)."""
    valid = valid_frame_mask(lengths, features.shape[1]).unsqueeze(2).to(features.dtype)
    counts = lengths.to(features.dtype).clamp(min=1).view(-1, 1, 1)
    mean = (features * valid).sum(dim=1, keepdim=True) / counts
    centred = (features - mean) * valid
    normalised = centred if norm_means else features * valid
    if norm_vars:
        normalised = normalised / (centred.pow(2).sum(dim=1, keepdim=True) / counts).sqrt().clamp(min=eps)
    return normalised
