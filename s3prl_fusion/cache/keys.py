"""The cache key of an utterance, computable from the waveform alone.

s3prl's runner hands the upstream waveforms only (no file names), so an utterance is found
by a hash of its samples as float32: the same file decoded the same way always maps to the
same key, and any change to the samples (a crop, a gain, resampling) maps elsewhere.
"""
from __future__ import annotations

import hashlib

import torch
from torch import Tensor

KEY_DIGEST_BYTES = 16


def waveform_key(wav: Tensor) -> str:
    """wav: (samples,) -> hex BLAKE2b digest of its float32 samples (sample count included)."""
    samples = wav.detach().to(device="cpu", dtype=torch.float32).contiguous()
    digest = hashlib.blake2b(digest_size=KEY_DIGEST_BYTES)
    digest.update(samples.numel().to_bytes(8, "little"))
    digest.update(samples.numpy().tobytes())
    return digest.hexdigest()
