"""Audio reading with soundfile, in torchaudio's ``load`` / ``info`` calling convention.

Used in place of torchaudio's decoders where those need torchcodec + FFmpeg. Unreadable or
truncated files raise an error that names the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import soundfile
import torch


class AudioReadError(RuntimeError):
    """An audio file could not be decoded; the message names the file."""


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
    """Read an audio file as torchaudio.load does.

    Returns:
        (waveform, sample_rate): waveform is float32 (channels, frames) when
        ``channels_first`` else (frames, channels); ``normalize=False`` keeps integer PCM.
    """
    dtype = "float32" if normalize else None
    try:
        with soundfile.SoundFile(os.fspath(uri)) as audio:
            if frame_offset:
                audio.seek(frame_offset)
            data = audio.read(frames=num_frames, dtype=dtype or _native_dtype(audio), always_2d=True)
            sample_rate = audio.samplerate
    except Exception as error:
        raise AudioReadError(f"cannot read audio file {uri}: {error}") from error
    waveform = torch.from_numpy(np.ascontiguousarray(data))
    return (waveform.T.contiguous() if channels_first else waveform), sample_rate


def _native_dtype(audio: soundfile.SoundFile) -> str:
    return {"PCM_16": "int16", "PCM_32": "int32"}.get(audio.subtype, "float32")
