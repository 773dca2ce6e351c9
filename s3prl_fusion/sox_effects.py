"""The sox effect chain s3prl's sv_voxceleb1 applies, without sox: soundfile + torch.

Supports the effects s3prl uses: ``channels 1`` (downmix), ``rate R`` (resample), ``gain dB``
and ``silence 1 D T% -1 D T%`` (drop silent runs of at least D seconds below T% of full
scale, at the start and everywhere after it, as sox's negative below-periods do).
"""
from __future__ import annotations

from typing import Sequence

import torch

from s3prl_fusion.audio_io import load


def apply_effects_file(path, effects: Sequence[Sequence[str]], normalize: bool = True, channels_first: bool = True, **kwargs):
    """Read ``path`` and apply ``effects``; returns ((channels, frames) float32, sample_rate)."""
    waveform, sample_rate = load(path)
    return apply_effects_tensor(waveform, sample_rate, effects, channels_first=True)


def apply_effects_tensor(waveform: torch.Tensor, sample_rate: int, effects: Sequence[Sequence[str]], channels_first: bool = True):
    """Apply ``effects`` to a (channels, frames) tensor; returns (tensor, sample_rate)."""
    if not channels_first:
        waveform = waveform.T
    for name, *values in effects:
        if name == "channels":
            waveform = _downmix(waveform, int(values[0]))
        elif name == "rate":
            waveform, sample_rate = _resample(waveform, sample_rate, int(values[0]))
        elif name == "gain":
            waveform = waveform * 10 ** (float(values[-1]) / 20)
        elif name == "silence":
            waveform = _remove_silence(waveform, sample_rate, values)
        else:
            raise ValueError(f"sox effect {name!r} is not supported here; supported: channels, rate, gain, silence")
    return (waveform if channels_first else waveform.T), sample_rate


def _downmix(waveform: torch.Tensor, channels: int) -> torch.Tensor:
    if channels != 1:
        raise ValueError(f"only 'channels 1' (downmix to mono) is supported, got {channels}")
    return waveform.mean(dim=0, keepdim=True)


def _resample(waveform: torch.Tensor, from_rate: int, to_rate: int):
    if from_rate == to_rate:
        return waveform, from_rate
    from torchaudio.functional import resample

    return resample(waveform, from_rate, to_rate), to_rate


def _remove_silence(waveform: torch.Tensor, sample_rate: int, values: Sequence[str]) -> torch.Tensor:
    """(channels, frames) -> (channels, kept frames): drop silent runs longer than the duration."""
    duration = float(values[1])
    threshold = float(values[2].rstrip("%")) / 100 if values[2].endswith("%") else float(values[2])
    min_run = max(1, round(duration * sample_rate))
    loud = (waveform.abs() > threshold).any(dim=0)
    if loud.numel() == 0:
        return waveform
    boundaries = torch.nonzero(loud[1:] != loud[:-1]).flatten() + 1
    starts = torch.cat([torch.zeros(1, dtype=torch.long), boundaries])
    ends = torch.cat([boundaries, torch.tensor([loud.numel()])])
    keep = torch.ones_like(loud)
    for run_start, run_end in zip(starts.tolist(), ends.tolist()):
        silent = not bool(loud[run_start])
        if silent and (run_start == 0 or run_end - run_start >= min_run):
            keep[run_start:run_end] = False
    return waveform[:, keep]
