"""Waveform checks at the upstream's door: a clear error instead of a shape traceback deep in a model."""
from __future__ import annotations

import torch
from torch import Tensor

from s3prl_fusion.errors import UserError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE


class InvalidAudioError(UserError, ValueError):
    """A waveform the upstream cannot encode; the message names the utterance and the fix.

    Args:
        upstream: the upstream's label; index: the utterance's place in the batch; problem: what
        is wrong and the fix; names: the batch's utterance names, where the caller knows them.
    """

    def __init__(self, upstream: str, index: int, problem: str, names: list[str] | None = None):
        self.upstream, self.index, self.problem, self.names = upstream, index, problem, names
        utterance = f"utterance {names[index]} (item {index} of the batch)" if names is not None else f"utterance {index}"
        super().__init__(f"{upstream}: {utterance} {problem}")

    def with_names(self, names: list[str]) -> InvalidAudioError:
        """The same error, naming the utterance by its place in ``names`` (the batch's names)."""
        return InvalidAudioError(self.upstream, self.index, self.problem, names)


class EmptyBatchError(UserError, ValueError):
    """A batch without a single waveform."""


def check_waveforms(wavs: list[Tensor], min_samples: int, upstream: str) -> None:
    """Each wav must be 1-D (mono), finite, and at least ``min_samples`` long.

    Args:
        wavs: B waveforms, each (samples,) at 16 kHz.
        min_samples: the shortest input every member's front end accepts.
        upstream: label used in messages.
    """
    if len(wavs) == 0:
        raise EmptyBatchError(f"{upstream} got an empty batch: check the task's data lists")
    for index, wav in enumerate(wavs):
        if wav.dim() != 1:
            raise InvalidAudioError(
                upstream, index, f"has shape {tuple(wav.shape)}; upstreams take mono (samples,) "
                "waveforms: downmix multi-channel audio (audio setting `on_multichannel: downmix`)",
            )
        if wav.numel() < min_samples:
            raise InvalidAudioError(
                upstream, index, f"has {wav.numel()} samples ({wav.numel() / SAMPLE_RATE:.3f} s); "
                f"its members need at least {min_samples} samples: remove or pad such short utterances",
            )
        if not torch.isfinite(wav).all():
            bad = int((~torch.isfinite(wav)).sum())
            raise InvalidAudioError(upstream, index, f"has {bad} NaN/Inf samples: fix or drop the file")


def receptive_field(kernels: list[int], strides: list[int]) -> int:
    """Samples one output frame of a stack of strided 1-D convolutions sees (the minimum input)."""
    field, jump = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * jump
        jump *= stride
    return field
