"""int8-calibrated's scales (``storage``): the members run once over a calibration sample of the
build's files before anything is stored, and the absmax of each stored stack's (layer, channel)
over the sample, times ``storage.CALIBRATION_MARGIN``, sets that channel's scale for the whole
cache.

The sample is ``--calibration-utterances`` files (default ``CALIBRATION_UTTERANCES``) spread
evenly over the build's files sorted by path: the same for any rank count, file order or batch
size, so a build on several ranks stores the same values as one on a single rank. Those files
go through the members again when they are stored: 64 of a corpus's tens of thousands. Rank 0 calibrates and the manifest keeps the scales; a
later build into the same folder (a resume, new files) reuses them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from s3prl_fusion.cache.batches import BatchLimits, length_batches
from s3prl_fusion.cache.encoding import stored_arrays
from s3prl_fusion.cache.sources import longest_first, read_waveform
from s3prl_fusion.cache.storage import CALIBRATION_MARGIN, calibrated_scales, scales_entry, scales_from_entry
from s3prl_fusion.errors import SettingError
from s3prl_fusion.upstreams.fused import FusedUpstream

CALIBRATION_UTTERANCES = 64
SCALES_KEY = "int8_scales"  # the manifest setting holding them: one ``storage.scales_entry`` per stored stack


def check_calibration_utterances(count: int) -> None:
    if count < 1:
        raise SettingError(f"--calibration-utterances must be at least 1 (got {count}): int8-calibrated's scales come from that many files")


def calibration_sample(sources: list[str], count: int = CALIBRATION_UTTERANCES) -> list[str]:
    """``count`` of ``sources`` spread evenly over them sorted by path, first and last included (every one when fewer)."""
    check_calibration_utterances(count)
    ordered = sorted(set(sources))
    if len(ordered) <= count:
        return ordered
    return [ordered[int(position)] for position in np.linspace(0, len(ordered) - 1, count).round()]


def recorded_scales(settings: dict) -> list[np.ndarray] | None:
    """A manifest's int8-calibrated scales, float32 ``(L_i, D_i)`` per stored stack; None where it has none."""
    entries = settings.get(SCALES_KEY)
    return [scales_from_entry(entry) for entry in entries] if entries else None


def calibrate(
    fused: FusedUpstream,
    sources: list[str],
    storage: str,
    device: torch.device,
    limits: BatchLimits,
    count: int = CALIBRATION_UTTERANCES,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """The manifest's scales (``SCALES_KEY``) for a cache of ``fused`` (in eval mode) over
    ``sources``, from ``count`` of them (``calibration_sample``)."""
    sample = calibration_sample(sources, count)
    log(f"int8-calibrated: scales from {CALIBRATION_MARGIN:g} x the absmax over {len(sample)} of the {len(set(sources))} files")
    absmax: list[np.ndarray] = []
    waveforms = [read_waveform(Path(source)) for source in longest_first(sample)]
    for batch in length_batches(waveforms, lambda wav: wav.numel(), limits):
        for arrays in stored_arrays(fused, batch, device, storage)[1]:
            maxima = [np.abs(array).max(axis=0) for array in arrays]
            absmax = [np.maximum(held, new) for held, new in zip(absmax, maxima)] if absmax else maxima
    return [scales_entry(calibrated_scales(values)) for values in absmax]
