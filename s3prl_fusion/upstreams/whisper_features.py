"""Whisper's log-mel spectrogram, batched in torch on the waveforms' device.

The math is that of ``transformers.WhisperFeatureExtractor`` (its torch path): a centred,
reflect-padded STFT with a periodic Hann window, power spectrum without the last STFT frame,
Slaney mel filters, log10 floored at 1e-10, clamped to eight decades below each utterance's
own maximum, then ``(x + 4) / 4``.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import WhisperFeatureExtractor


class WhisperLogMel(nn.Module):
    """Maps zero-padded waveforms (B, S) to log-mel features (B, num_mel_bins, S // hop_length).

    Each row is clamped against its own maximum, so a row's features depend only on that row.
    Frames whose window reaches into the zero padding see zeros, as with the official processor,
    which always pads to 30 s with zeros.
    """

    def __init__(self, feature_extractor: WhisperFeatureExtractor):
        super().__init__()
        self.n_fft = feature_extractor.n_fft
        self.hop_length = feature_extractor.hop_length
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        # (n_fft // 2 + 1, num_mel_bins)
        mel_filters = torch.as_tensor(feature_extractor.mel_filters, dtype=torch.float32)
        self.register_buffer("mel_filters", mel_filters, persistent=False)

    @property
    def num_mel_bins(self) -> int:
        return self.mel_filters.shape[1]

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """waveforms: (B, S) float, S > n_fft // 2 -> log-mel (B, num_mel_bins, S // hop_length)."""
        stft = torch.stft(
            waveforms.float(),
            self.n_fft,
            self.hop_length,
            window=self.window.float(),
            return_complex=True,
        )
        power = (stft[..., :-1].abs() ** 2).contiguous()  # (B, n_fft // 2 + 1, S // hop_length)
        mel = self.mel_filters.float().T @ power  # (B, num_mel_bins, S // hop_length)
        log_mel = torch.clamp(mel, min=1e-10).log10()
        per_row_max = log_mel.amax(dim=(1, 2), keepdim=True)
        log_mel = torch.maximum(log_mel, per_row_max - 8.0)
        return (log_mel + 4.0) / 4.0
