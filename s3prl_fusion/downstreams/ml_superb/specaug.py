"""SpecAugment on upstream features, as ESPnet's ``specaug`` (espnet2/asr/specaug/specaug.py).

Applied in order: time warp, frequency masks, time masks. Here the "frequency" axis is
the upstream feature dimension, since ESPnet augments the frontend (s3prl) output.

* Time warp (espnet2/layers/time_warp.py): pick a centre ``c`` in
  ``[window, T - window)`` and a new position ``w`` in ``[c - window, c + window] + 1``;
  the frames before ``c`` are resized to ``w`` frames and the rest to ``T - w`` frames by
  bicubic interpolation (align_corners False). Skipped when ``T - window <= window``.
  One warp for the whole batch when all lengths are equal, else one per utterance over
  its valid frames.
* Masks (espnet2/layers/mask_along_axis.py): each utterance gets ``num_mask`` masks whose
  widths are drawn from ``[low, high)`` and start positions from
  ``[0, max(1, axis_size - widest mask))``; masked values become 0. Time-mask widths are
  ratios of the padded length: ``[floor(T * low), floor(T * high))``, no mask when that
  range is empty.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def time_warp(features: torch.Tensor, window: int, mode: str = "bicubic") -> torch.Tensor:
    """Warps the time axis of ``features`` (batch, frames, dim); one warp for the batch."""
    frames = features.shape[1]
    if frames - window <= window:
        return features
    center = int(torch.randint(window, frames - window, (1,)))
    warped = int(torch.randint(center - window, center + window, (1,))) + 1
    image = features.unsqueeze(1)
    left = F.interpolate(image[:, :, :center], (warped, features.shape[2]), mode=mode, align_corners=False)
    right = F.interpolate(image[:, :, center:], (frames - warped, features.shape[2]), mode=mode, align_corners=False)
    return torch.cat([left, right], dim=2).squeeze(1)


def mask_along_axis(features: torch.Tensor, width_range: Sequence[int], num_mask: int, axis: int) -> torch.Tensor:
    """Zeroes ``num_mask`` random stripes per utterance along ``axis`` (1 time, 2 dim).

    Args:
        features: (batch, frames, dim).
        width_range: ``(low, high)``: widths are drawn from ``[low, high)``.
    """
    batch, size = features.shape[0], features.shape[axis]
    widths = torch.randint(width_range[0], width_range[1], (batch, num_mask), device=features.device).unsqueeze(2)
    starts = torch.randint(0, max(1, size - int(widths.max())), (batch, num_mask), device=features.device).unsqueeze(2)
    positions = torch.arange(size, device=features.device)[None, None, :]
    mask = ((starts <= positions) & (positions < starts + widths)).any(dim=1)
    mask = mask.unsqueeze(2) if axis == 1 else mask.unsqueeze(1)
    return features.masked_fill(mask, 0.0)


class SpecAugment(nn.Module):
    """Time warp, frequency masks and time-ratio masks on (batch, frames, dim) features."""

    def __init__(
        self,
        time_warp_window: int = 5,
        time_warp_mode: str = "bicubic",
        freq_mask_width_range: Sequence[int] = (0, 27),
        num_freq_mask: int = 2,
        time_mask_width_ratio_range: Sequence[float] = (0.0, 0.05),
        num_time_mask: int = 10,
    ):
        super().__init__()
        self.time_warp_window = time_warp_window
        self.time_warp_mode = time_warp_mode
        self.freq_mask_width_range = tuple(freq_mask_width_range)
        self.num_freq_mask = num_freq_mask
        self.time_mask_width_ratio_range = tuple(time_mask_width_ratio_range)
        self.num_time_mask = num_time_mask

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features: (batch, frames, dim), zero padded; lengths: (batch,) valid frames."""
        features = self._time_warp(features, lengths)
        features = mask_along_axis(features, self.freq_mask_width_range, self.num_freq_mask, axis=2)
        frames = features.shape[1]
        low = max(0, math.floor(frames * self.time_mask_width_ratio_range[0]))
        high = min(frames, math.floor(frames * self.time_mask_width_ratio_range[1]))
        if high > low:
            features = mask_along_axis(features, (low, high), self.num_time_mask, axis=1)
        return features

    def _time_warp(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if bool((lengths == lengths[0]).all()):
            return time_warp(features, self.time_warp_window, self.time_warp_mode)
        warped = [
            time_warp(utterance[None, :length], self.time_warp_window, self.time_warp_mode)[0]
            for utterance, length in zip(features, lengths.tolist())
        ]
        return nn.utils.rnn.pad_sequence(warped, batch_first=True)
