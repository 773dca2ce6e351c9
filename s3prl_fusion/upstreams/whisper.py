"""The Whisper encoder as an s3prl-style upstream: waveforms in, every hidden state out.

Two ways to handle Whisper's fixed 30 s input (``length_mode``):

* ``"pad30"``: as Whisper was trained. Every utterance is zero-padded to 30 s (3000 mel
  frames), the whole encoder runs, and every layer is cropped to the utterance's frames.
* ``"exact"``: the log-mel, the convolutions and the layers run on the true length only; the
  positional embedding is sliced to the frame count. In a batch, mel frames and first-conv
  outputs beyond each utterance are zeroed and padded frames are masked out of
  self-attention, so an utterance gets the same features alone or batched.

Inputs longer than 30 s are cut into consecutive 30 s windows whose frames are concatenated.
An N-sample utterance yields ``whisper_frame_count(N)`` frames in both modes, and the same
features whatever batch it is in. Every layer runs, in train mode too (no LayerDrop); weights
load in float32 whatever dtype the checkpoint is stored in.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from s3prl_fusion.errors import SettingError
from s3prl_fusion.fusion.frames import valid_frame_mask
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE
from s3prl_fusion.upstreams.input_checks import EmptyBatchError, InvalidAudioError
from s3prl_fusion.upstreams.local_sources import check_local_source
from s3prl_fusion.upstreams.whisper_features import WhisperLogMel

HOP_LENGTH = 160
DOWNSAMPLE_RATE = 320
MIN_SAMPLES = HOP_LENGTH
LENGTH_MODES = ("exact", "pad30")
DEFAULT_LENGTH_MODE = "exact"
WHISPER_LABEL = "Whisper upstream"


def whisper_frame_count(num_samples: int) -> int:
    """Encoder frames for ``num_samples`` samples at 16 kHz: ceil((num_samples // 160) / 2)."""
    return -(-(num_samples // HOP_LENGTH) // 2)


def _check_feature_extractor(feature_extractor: WhisperFeatureExtractor, config: WhisperConfig) -> None:
    if feature_extractor.sampling_rate != SAMPLE_RATE or feature_extractor.hop_length != HOP_LENGTH:
        raise SettingError(
            f"the Whisper feature extractor must use {SAMPLE_RATE} Hz audio and a hop of {HOP_LENGTH} "
            f"samples; got {feature_extractor.sampling_rate} Hz and a hop of {feature_extractor.hop_length}"
        )
    if feature_extractor.feature_size != config.num_mel_bins:
        raise SettingError(
            f"the feature extractor makes {feature_extractor.feature_size} mel bins but the encoder "
            f"expects num_mel_bins={config.num_mel_bins}; use a preprocessor_config.json that matches the model"
        )


def _load_pretrained(source: str) -> tuple[WhisperEncoder, WhisperFeatureExtractor]:
    """The encoder of a saved WhisperModel (the decoder is dropped) in float32, whatever dtype the
    checkpoint is stored in, and its feature extractor, built from ``num_mel_bins`` when the
    source has no preprocessor_config.json."""
    check_local_source(source)
    encoder = WhisperModel.from_pretrained(source, dtype=torch.float32).get_encoder()
    try:
        feature_extractor = WhisperFeatureExtractor.from_pretrained(source)
    except OSError:
        feature_extractor = WhisperFeatureExtractor(feature_size=encoder.config.num_mel_bins)
    return encoder, feature_extractor


def _build_random(config: dict) -> tuple[WhisperEncoder, WhisperFeatureExtractor]:
    whisper_config = WhisperConfig(**config)
    return WhisperEncoder(whisper_config), WhisperFeatureExtractor(feature_size=whisper_config.num_mel_bins)


class WhisperEncoderUpstream(nn.Module):
    """Frozen-or-trainable Whisper encoder returning the embedding output and every layer.

    Pass exactly one of ``source`` (a Hugging Face id such as ``"openai/whisper-small"`` or a
    local directory written by ``save_pretrained``) or ``config`` (keyword arguments of
    ``transformers.WhisperConfig`` for a randomly initialised encoder, no download).
    """

    def __init__(self, source: str | None = None, config: dict | None = None, length_mode: str = DEFAULT_LENGTH_MODE):
        super().__init__()
        if length_mode not in LENGTH_MODES:
            raise SettingError(f"length_mode must be 'exact' or 'pad30', got {length_mode!r}")
        if (source is None) == (config is None):
            raise ValueError(
                "pass exactly one of source= (a Hugging Face id such as 'openai/whisper-small', or a local "
                "directory) or config= (WhisperConfig keyword arguments for a randomly initialised encoder)"
            )
        encoder, feature_extractor = _load_pretrained(source) if source is not None else _build_random(config)
        _check_feature_extractor(feature_extractor, encoder.config)
        encoder.layerdrop = encoder.config.encoder_layerdrop = 0.0  # a trained member keeps every layer
        self.encoder = encoder
        self.log_mel = WhisperLogMel(feature_extractor)
        self.length_mode = length_mode
        conv_stride = self.encoder.conv1.stride[0] * self.encoder.conv2.stride[0]
        self.window_samples = self.encoder.max_source_positions * conv_stride * HOP_LENGTH

    @property
    def num_hidden_states(self) -> int:
        return len(self.encoder.layers) + 1

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.d_model

    @property
    def min_samples(self) -> int:
        """The shortest waveform that yields one encoder frame."""
        return MIN_SAMPLES

    def get_downsample_rates(self, key: str) -> int:
        return DOWNSAMPLE_RATE

    def forward(self, wavs: list[torch.Tensor]) -> dict:
        """wavs: B waveforms (samples,) at 16 kHz ->
        "hidden_states": num_hidden_states tensors (B, T, D), zero beyond each utterance's frames,
        "last_hidden_state": (B, T, D), the last of them,
        "feature_lengths": LongTensor (B,), whisper_frame_count of each utterance's length.
        """
        self._check_inputs(wavs)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.training):
            windows, owners = self._split_into_windows(wavs)
            mel, mel_lengths = self._log_mel_of_windows(windows)
            window_states = self._encode(mel, mel_lengths)
            window_frames = [whisper_frame_count(window.numel()) for window in windows]
            hidden_states = [self._join_windows(states, window_frames, owners) for states in window_states]
        feature_lengths = torch.tensor(
            [whisper_frame_count(wav.numel()) for wav in wavs], dtype=torch.long, device=hidden_states[0].device
        )
        return {
            "hidden_states": hidden_states,
            "last_hidden_state": hidden_states[-1],
            "feature_lengths": feature_lengths,
        }

    @staticmethod
    def _check_inputs(wavs: list[torch.Tensor]) -> None:
        if len(wavs) == 0:
            raise EmptyBatchError("the Whisper upstream needs at least one waveform, got an empty list")
        for index, wav in enumerate(wavs):
            if wav.dim() != 1:
                raise InvalidAudioError(
                    WHISPER_LABEL, index, f"has shape {tuple(wav.shape)}; pass each waveform as a 1-D tensor (samples,)"
                )
            if wav.numel() < MIN_SAMPLES:
                raise InvalidAudioError(
                    WHISPER_LABEL, index, f"has {wav.numel()} samples; the Whisper encoder needs at least "
                    f"{MIN_SAMPLES} samples ({MIN_SAMPLES * 1000 // SAMPLE_RATE} ms at {SAMPLE_RATE} Hz) "
                    f"to produce one frame"
                )

    def _split_into_windows(self, wavs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
        """Cut each waveform into consecutive windows of at most 30 s. A final window too short
        to make a mel frame is dropped: it adds no frame to whisper_frame_count either.
        Returns the windows and, for each, the index of the utterance it came from."""
        windows, owners = [], []
        for index, wav in enumerate(wavs):
            for window in torch.split(wav, self.window_samples):
                if window.numel() >= MIN_SAMPLES:
                    windows.append(window)
                    owners.append(index)
        return windows, owners

    def _log_mel_of_windows(self, windows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """windows: W waveforms of at most 30 s -> log-mel (W, num_mel_bins, T_mel) and the
        valid mel frames of each (W,).

        ``pad30``: every window zero-padded to 30 s, T_mel = 3000, all frames valid.
        ``exact``: zero-padded by n_fft samples past the longest window (capped at 30 s), so each
        valid frame and each window's clamp maximum equal the official processor's 30 s features;
        T_mel = the longest window's length // 160.
        """
        lengths = torch.tensor([window.numel() for window in windows], device=windows[0].device)
        if self.length_mode == "pad30":
            padded_samples = self.window_samples
        else:
            padded_samples = min(int(lengths.max()) + self.log_mel.n_fft, self.window_samples)
        padded = windows[0].new_zeros(len(windows), padded_samples)
        for row, window in enumerate(windows):
            padded[row, : window.numel()] = window
        mel = self.log_mel(padded)
        if self.length_mode == "pad30":
            return mel, torch.full_like(lengths, mel.shape[-1])
        mel_lengths = lengths // HOP_LENGTH
        return mel[..., : int(mel_lengths.max())], mel_lengths

    def _encode(self, mel: torch.Tensor, mel_lengths: torch.Tensor) -> list[torch.Tensor]:
        """mel (W, num_mel_bins, T_mel), mel_lengths (W,) -> num_hidden_states tensors (W, T, D),
        T = ceil(T_mel / 2). Frames past a row's valid mel frames are treated as absent: zeroed
        before each convolution and masked out of self-attention as keys."""
        encoder = self.encoder
        mel = mel.to(encoder.conv1.weight.dtype)
        mel_mask = valid_frame_mask(mel_lengths, mel.shape[-1])
        all_valid = bool(mel_mask.all())
        if not all_valid:
            mel = mel * mel_mask[:, None, :]
        conv1_out = nn.functional.gelu(encoder.conv1(mel))
        if not all_valid:
            conv1_out = conv1_out * mel_mask[:, None, :]
        embeddings = nn.functional.gelu(encoder.conv2(conv1_out)).transpose(1, 2)  # (W, T, D)
        num_frames = embeddings.shape[1]
        hidden = embeddings + encoder.embed_positions.weight[:num_frames]
        hidden = nn.functional.dropout(hidden, p=encoder.dropout, training=self.training)
        attention_mask = None if all_valid else self._key_padding_mask((mel_lengths + 1) // 2, num_frames, hidden.dtype)
        hidden_states = [hidden]
        for layer in encoder.layers:
            hidden = layer(hidden, attention_mask)
            hidden_states.append(hidden)
        hidden_states[-1] = encoder.layer_norm(hidden)
        return hidden_states

    @staticmethod
    def _key_padding_mask(frame_lengths: torch.Tensor, num_frames: int, dtype: torch.dtype) -> torch.Tensor:
        """frame_lengths (W,) -> additive mask (W, 1, 1, T): 0 on valid keys, the dtype's minimum on padding."""
        valid = valid_frame_mask(frame_lengths, num_frames)
        mask = torch.zeros(valid.shape, dtype=dtype, device=valid.device)
        mask.masked_fill_(~valid, torch.finfo(dtype).min)
        return mask[:, None, None, :]

    @staticmethod
    def _join_windows(states: torch.Tensor, window_frames: list[int], owners: list[int]) -> torch.Tensor:
        """states (W, T, D) -> (B, T_max, D): each utterance's windows cropped to their frames,
        concatenated in order, zero-padded to the longest utterance."""
        per_utterance: list[list[torch.Tensor]] = [[] for _ in range(owners[-1] + 1)]
        for window_states, frames, owner in zip(states, window_frames, owners):
            per_utterance[owner].append(window_states[:frames])
        return pad_sequence([torch.cat(pieces) for pieces in per_utterance], batch_first=True)
