"""One pass of a fused upstream's frozen members over a batch, as a cache build stores it."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from s3prl_fusion.cache.storage import stored_stacks
from s3prl_fusion.upstreams.fused import FusedUpstream


def stored_arrays(fused: FusedUpstream, wavs: list[Tensor], device: torch.device, storage: str) -> tuple[list[Tensor], list[list[np.ndarray]]]:
    """B waveforms (samples,) -> the members' aligned stacks N x (L_i, B, T, D_i), and per
    utterance its stored stacks (``storage.stored_stacks``) as float32 arrays (frames, L, D)."""
    with torch.no_grad():
        features = fused([wav.to(device) for wav in wavs])
    stacks, lengths = features["fusion_stacks"], features["fusion_lengths"].tolist()
    stored = stored_stacks(storage, stacks)
    return stacks, [[stack[:, position, :length].permute(1, 0, 2).cpu().numpy() for stack in stored] for position, length in enumerate(lengths)]
