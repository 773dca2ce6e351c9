"""Which frames of a zero-padded batch belong to each utterance."""
from __future__ import annotations

import torch
from torch import Tensor


def valid_frame_mask(lengths: Tensor, frames: int) -> Tensor:
    """lengths ``(B,)``: each utterance's valid frames -> bool ``(B, frames)``, True on row ``b``'s
    first ``lengths[b]`` frames (on ``lengths``' device)."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]
