"""``torchaudio.sox_effects`` for torchaudio builds without sox: soundfile + torch + numpy.

Implements the effects s3prl's sv_voxceleb1 applies, with sox 14.4.2's semantics:

- ``channels 1``: mix down to mono by averaging the channels;
- ``rate R``: resample to R Hz (torchaudio's windowed-sinc resampler, not sox's filter, so
  resampled samples differ slightly; audio already at R Hz is untouched, as in sox);
- ``gain DB``: multiply by 10 ** (DB / 20);
- ``silence A D T [B D' T']``: sox's silence state machine. Loudness is the RMS over the
  last rate/50 samples (20 ms, window cleared at each restart), compared with
  ``> T`` (``T%`` of full scale, or ``Td`` dB). With A = 1 audio is dropped until the RMS
  stays above T for D seconds; those D seconds are kept. With B = 1 (or -1) a run of D'
  seconds below T' ends the copy; that run is dropped and, for B = -1, the search for
  loud audio starts again (so every pause of D' seconds or longer is cut), otherwise the
  output stops. A shorter pause at the end is kept. (sox truncates the RMS to the input's bit
  depth before comparing; the unrounded RMS is compared here, a difference of at most one
  16-bit step at the threshold.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from s3prl_fusion.audio.loading import load

SUPPORTED = "channels 1, rate R, gain DB, silence 0|1 [D T] [1|-1 D T]"


def apply_effects_file(path, effects: Sequence[Sequence[str]], normalize: bool = True, channels_first: bool = True):
    """Read ``path`` and apply ``effects``; returns (float32 waveform, sample_rate), the waveform
    (channels, frames) when ``channels_first`` else (frames, channels)."""
    if not normalize:
        raise ValueError("apply_effects_file(normalize=False) is not supported here: only float32 output is")
    waveform, sample_rate = apply_effects_tensor(*load(path), effects)
    return (waveform if channels_first else waveform.T.contiguous()), sample_rate


def apply_effects_tensor(waveform: torch.Tensor, sample_rate: int, effects: Sequence[Sequence[str]], channels_first: bool = True):
    """Apply ``effects`` to a waveform, (channels, frames) when ``channels_first`` else
    (frames, channels); returns (float32 waveform in the same layout, sample_rate)."""
    waveform = (waveform if channels_first else waveform.T).to(torch.float32)
    for name, *values in effects:
        if name == "channels":
            waveform = _downmix(waveform, values)
        elif name == "rate":
            waveform, sample_rate = _resample(waveform, sample_rate, values)
        elif name == "gain":
            waveform = _gain(waveform, values)
        elif name == "silence":
            waveform = _remove_silence(waveform, sample_rate, values)
        else:
            raise ValueError(f"sox effect {name!r} is not supported here; supported: {SUPPORTED}")
    return (waveform if channels_first else waveform.T.contiguous()), sample_rate


def _downmix(waveform: torch.Tensor, values: Sequence[str]) -> torch.Tensor:
    if list(values) != ["1"]:
        raise ValueError(f"'channels {' '.join(values)}' is not supported here; supported: {SUPPORTED}")
    return waveform.mean(dim=0, keepdim=True)


def _resample(waveform: torch.Tensor, from_rate: int, values: Sequence[str]):
    if len(values) != 1 or not values[0].isdigit():
        raise ValueError(f"'rate {' '.join(values)}' is not supported here (no quality options); supported: {SUPPORTED}")
    to_rate = int(values[0])
    if from_rate == to_rate:
        return waveform, from_rate
    from torchaudio.functional import resample

    return resample(waveform, from_rate, to_rate), to_rate


def _gain(waveform: torch.Tensor, values: Sequence[str]) -> torch.Tensor:
    try:
        (decibels,) = map(float, values)
    except ValueError:
        raise ValueError(f"'gain {' '.join(values)}' is not supported here (no options); supported: {SUPPORTED}") from None
    return waveform * 10 ** (decibels / 20)


@dataclass(frozen=True)
class SilenceSettings:
    """sox ``silence`` arguments in samples (at least 1) and linear amplitude (None: that side is off)."""

    start_samples: int | None
    start_threshold: float | None
    stop_samples: int | None
    stop_threshold: float | None
    restart: bool
    window: int

    @classmethod
    def parse(cls, values: Sequence[str], sample_rate: int) -> "SilenceSettings":
        values = list(values)
        if not values or values[0] not in ("0", "1") or values[0] == "1" and len(values) < 3:
            raise ValueError(f"'silence {' '.join(values)}' is not supported here; supported: {SUPPORTED}")
        start = values[0] == "1"
        rest = values[3:] if start else values[1:]
        if rest and (len(rest) != 3 or rest[0] not in ("1", "-1")):
            raise ValueError(f"'silence {' '.join(values)}' is not supported here; supported: {SUPPORTED}")
        return cls(
            start_samples=max(_duration_samples(values[1], sample_rate), 1) if start else None,
            start_threshold=_threshold(values[2]) if start else None,
            stop_samples=max(_duration_samples(rest[1], sample_rate), 1) if rest else None,
            stop_threshold=_threshold(rest[2]) if rest else None,
            restart=bool(rest) and rest[0] == "-1",
            window=int(sample_rate / 50),
        )


def _duration_samples(text: str, sample_rate: int) -> int:
    """sox duration: ``N`` or ``Ns`` samples, ``S.s`` seconds (rounded to samples)."""
    if text.endswith("s") and text[:-1].isdigit():
        return int(text[:-1])
    if text.isdigit():
        return int(text)
    try:
        return int(float(text) * sample_rate + 0.5)
    except ValueError:
        raise ValueError(f"silence duration {text!r} is not supported here: give seconds (0.1) or samples (1600s)") from None


def _threshold(text: str) -> float:
    """sox threshold ``T%`` (percent of full scale, the default unit) or ``Td`` (dB) -> amplitude."""
    if text.endswith("d"):
        return 10 ** (float(text[:-1]) / 20)
    return float(text.rstrip("%")) / 100


def _remove_silence(waveform: torch.Tensor, sample_rate: int, values: Sequence[str]) -> torch.Tensor:
    """(1, frames) -> (1, kept frames), following sox's silence effect (see the module docstring)."""
    if waveform.shape[0] != 1:
        raise ValueError("silence is supported on mono audio only here: put 'channels 1' before it")
    settings = SilenceSettings.parse(values, sample_rate)
    kept = _kept_spans(waveform[0].double().numpy(), settings)
    if not kept:
        return waveform[:, :0]
    return torch.cat([waveform[:, begin:end] for begin, end in kept], dim=1)


def _kept_spans(samples: np.ndarray, settings: SilenceSettings) -> list[tuple[int, int]]:
    """[begin, end) spans of ``samples`` that sox's silence effect outputs."""
    energy = np.concatenate([[0.0], np.cumsum(samples * samples)])
    total = len(samples)
    position, window_start = 0, 0
    spans = []
    trimming = settings.start_samples is not None
    while position < total:
        if trimming:
            loud = _rms(energy, position, window_start, settings.window) > settings.start_threshold
            run_start = _first_run_start(loud, settings.start_samples)
            if run_start is None:
                break
            position += run_start + settings.start_samples
            spans.append((position - settings.start_samples, position))
            trimming = False
            continue
        if settings.stop_samples is None:
            spans.append((position, total))
            break
        quiet = ~(_rms(energy, position, window_start, settings.window) > settings.stop_threshold)
        run_start = _first_run_start(quiet, settings.stop_samples)
        if run_start is None:
            spans.append((position, total))
            break
        spans.append((position, position + run_start))
        if not settings.restart:
            break
        position = window_start = position + run_start + settings.stop_samples
        trimming = settings.start_samples is not None
    return [(begin, end) for begin, end in spans if end > begin]


def _rms(energy: np.ndarray, begin: int, window_start: int, window: int) -> np.ndarray:
    """RMS over the last ``window`` samples at each index from ``begin`` on, counting no sample
    before ``window_start`` (where sox last cleared its window)."""
    ends = np.arange(begin + 1, len(energy))
    starts = np.maximum(ends - window, window_start)
    return np.sqrt(np.maximum(energy[ends] - energy[starts], 0.0) / window)


def _first_run_start(flags: np.ndarray, length: int) -> int | None:
    """Index where the first run of at least ``length`` consecutive True values begins."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = edges[0::2], edges[1::2]
    long_enough = np.flatnonzero(ends - starts >= length)
    return int(starts[long_enough[0]]) if len(long_enough) else None
