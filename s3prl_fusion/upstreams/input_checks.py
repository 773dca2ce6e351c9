"""Waveform checks at the upstream's door: a clear error instead of a shape traceback deep in a model."""
from __future__ import annotations

import torch
from torch import Tensor

from s3prl_fusion.errors import UserError


class InvalidAudioError(UserError, ValueError):
    """A waveform the upstream cannot encode; the message names the utterance and the fix."""


def check_waveforms(wavs: list[Tensor], min_samples: int, upstream: str) -> None:
    """Each wav must be 1-D (mono), finite, and at least ``min_samples`` long.

    Args:
        wavs: B waveforms, each (samples,) at 16 kHz.
        min_samples: the shortest input every member's front end accepts.
        upstream: label used in messages.
    """
    if len(wavs) == 0:
        raise InvalidAudioError(f"{upstream} got an empty batch")
    for index, wav in enumerate(wavs):
        if wav.dim() != 1:
            raise InvalidAudioError(
                f"{upstream}: utterance {index} has shape {tuple(wav.shape)}; upstreams take mono (samples,) "
                "waveforms: downmix multi-channel audio (audio setting `on_multichannel: downmix`)"
            )
        if wav.numel() < min_samples:
            raise InvalidAudioError(
                f"{upstream}: utterance {index} has {wav.numel()} samples ({wav.numel() / 16000:.3f} s); "
                f"its members need at least {min_samples} samples: remove or pad such short utterances"
            )
        if not torch.isfinite(wav).all():
            bad = int((~torch.isfinite(wav)).sum())
            raise InvalidAudioError(f"{upstream}: utterance {index} has {bad} NaN/Inf samples: fix or drop the file")


def receptive_field(kernels: list[int], strides: list[int]) -> int:
    """Samples one output frame of a stack of strided 1-D convolutions sees (the minimum input)."""
    field, jump = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * jump
        jump *= stride
    return field
