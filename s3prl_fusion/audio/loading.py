"""Audio reading with soundfile, in torchaudio's ``load`` / ``info`` calling convention.

Used in place of torchaudio's decoders where those need torchcodec + FFmpeg. Every problem
names the file: unreadable, truncated, empty, NaN/Inf samples. Files at another sample rate
or with several channels are handled by the run's audio policy (task config key ``audio``):

    audio:
      on_wrong_rate: resample      # resample to 16 kHz with a warning | error
      on_multichannel: downmix     # average the channels with a warning | error
      warn_clipping: 0.01          # warn when more than this share of samples sits at full scale
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields

import numpy as np
import soundfile
import torch

from s3prl_fusion.errors import SettingError, UnknownNameError, UserError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE

_LOGGER = logging.getLogger(__name__)


class AudioReadError(UserError, RuntimeError):
    """An audio file could not be used; the message names the file and what to do."""


@dataclass
class AudioPolicy:
    on_wrong_rate: str = "resample"
    on_multichannel: str = "downmix"
    warn_clipping: float = 0.01

    def __post_init__(self):
        if self.on_wrong_rate not in ("resample", "error"):
            raise SettingError(f"audio.on_wrong_rate must be resample or error, got {self.on_wrong_rate!r}")
        if self.on_multichannel not in ("downmix", "error"):
            raise SettingError(f"audio.on_multichannel must be downmix or error, got {self.on_multichannel!r}")


_policy = AudioPolicy()


def set_audio_policy(settings: dict | None) -> AudioPolicy:
    """Set the process-wide policy from the task config's ``audio`` mapping (None: defaults)."""
    global _policy
    settings = dict(settings or {})
    unknown = set(settings) - {field.name for field in fields(AudioPolicy)}
    if unknown:
        raise UnknownNameError(f"unknown audio setting(s) {sorted(unknown)}; valid: {[field.name for field in fields(AudioPolicy)]}")
    _policy = AudioPolicy(**settings)
    return _policy


@dataclass
class AudioInfo:
    """The fields of torchaudio's AudioMetaData that s3prl's preprocessing reads."""

    sample_rate: int
    num_frames: int
    num_channels: int


def info(uri, *args, **kwargs) -> AudioInfo:
    """Header facts of an audio file: sample rate, frames, channels."""
    try:
        header = soundfile.info(os.fspath(uri))
    except Exception as error:  # soundfile raises RuntimeError / LibsndfileError / OSError
        raise AudioReadError(f"cannot read audio file {uri}: {error}") from error
    return AudioInfo(header.samplerate, header.frames, header.channels)


def load(
    uri,
    frame_offset: int = 0,
    num_frames: int = -1,
    normalize: bool = True,
    channels_first: bool = True,
    *args,
    **kwargs,
) -> tuple[torch.Tensor, int]:
    """Read an audio file as torchaudio.load does, applying the audio policy.

    Returns:
        (waveform, sample_rate): float32 (channels, frames) when ``channels_first`` else
        (frames, channels); 16 kHz and mono where the policy resamples / downmixes.
    """
    path = os.fspath(uri)
    data, sample_rate = _read(path, frame_offset, num_frames)
    if data.shape[0] == 0:
        raise AudioReadError(f"audio file {path} holds no samples: remove it from the data list")
    if not np.isfinite(data).all():
        raise AudioReadError(f"audio file {path} has NaN/Inf samples: re-encode or drop it")
    _warn_if_clipped(data, path)
    waveform = torch.from_numpy(np.ascontiguousarray(data.T))
    waveform = _apply_channel_policy(waveform, path)
    waveform, sample_rate = _apply_rate_policy(waveform, sample_rate, path)
    if not normalize:
        waveform = (waveform * 32768).round().clamp(-32768, 32767).to(torch.int16)
    return (waveform if channels_first else waveform.T.contiguous()), sample_rate


def _read(path: str, frame_offset: int, num_frames: int) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and the rate; a file shorter than its header says is an error."""
    try:
        with soundfile.SoundFile(path) as audio:
            expected = (audio.frames - frame_offset) if num_frames < 0 else min(num_frames, audio.frames - frame_offset)
            if frame_offset:
                audio.seek(frame_offset)
            data = audio.read(frames=num_frames, dtype="float32", always_2d=True)
            sample_rate = audio.samplerate
    except Exception as error:
        raise AudioReadError(f"cannot read audio file {path}: {error}") from error
    if data.shape[0] < expected or _riff_truncated(path):
        raise AudioReadError(f"audio file {path} is truncated: it is shorter than its header declares; re-copy or drop it")
    return data, sample_rate


def _riff_truncated(path: str) -> bool:
    """A WAV whose RIFF header declares more bytes than the file has (libsndfile reads what is
    there without complaint)."""
    with open(path, "rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[:4] != b"RIFF":
        return False
    return int.from_bytes(header[4:8], "little") + 8 > os.path.getsize(path)


def _warn_if_clipped(data: np.ndarray, path: str) -> None:
    clipped = float(np.mean(np.abs(data) >= 0.99997))
    if clipped > _policy.warn_clipping:
        _LOGGER.warning("audio file %s: %.1f%% of samples at full scale (clipped PCM); its features will be distorted", path, 100 * clipped)


def _apply_channel_policy(waveform: torch.Tensor, path: str) -> torch.Tensor:
    if waveform.size(0) == 1:
        return waveform
    if _policy.on_multichannel == "error":
        raise AudioReadError(f"audio file {path} has {waveform.size(0)} channels; set audio.on_multichannel: downmix or convert it to mono")
    _LOGGER.warning("audio file %s has %d channels: averaged to mono", path, waveform.size(0))
    return waveform.mean(dim=0, keepdim=True)


def _apply_rate_policy(waveform: torch.Tensor, sample_rate: int, path: str) -> tuple[torch.Tensor, int]:
    if sample_rate == SAMPLE_RATE:
        return waveform, sample_rate
    if _policy.on_wrong_rate == "error":
        raise AudioReadError(f"audio file {path} is {sample_rate} Hz, upstreams take {SAMPLE_RATE} Hz; set audio.on_wrong_rate: resample or resample it")
    from torchaudio.functional import resample

    _LOGGER.warning("audio file %s is %d Hz: resampled to %d Hz", path, sample_rate, SAMPLE_RATE)
    return resample(waveform, sample_rate, SAMPLE_RATE), SAMPLE_RATE
