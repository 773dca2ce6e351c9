"""Hugging Face speech SSL encoders (WavLM, HuBERT, Data2Vec-Audio, wav2vec 2.0) as s3prl upstreams.

An utterance's features do not depend on the batch it is in. Padding reaches Hugging Face's
forward in three places, and each is closed here while the batch still runs as one:
    self-attention         an attention mask is always passed when the batch has padding;
    group-norm front end   the first conv layer's GroupNorm (base WavLM / HuBERT / wav2vec 2.0)
                           takes its statistics over each utterance's valid conv frames only
                           (``MaskedFrontEnd`` swaps in a ``MaskedGroupNorm``: same parameters
                           and state-dict keys; s3prl hub members use it too);
    stacked position convs Data2Vec's positional embedding is a stack of convolutions whose
                           outputs are zeroed beyond each utterance between layers, as the
                           zero padding an utterance alone sees (``MaskedPositionConvs``;
                           s3prl's Data2Vec hub members use it too).
Members also never skip layers (``layerdrop`` 0) nor mask time steps (SpecAugment off) when
trained, as s3prl's own upstreams, and load in float32 whatever dtype the checkpoint is stored in.
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s3prl_fusion.errors import UnknownNameError
from s3prl_fusion.fusion.frames import valid_frame_mask
from s3prl_fusion.upstreams.input_checks import receptive_field
from s3prl_fusion.upstreams.local_sources import check_local_source

SSL_MODEL_TYPES = ("wavlm", "hubert", "data2vec-audio", "wav2vec2")


class MaskedGroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` over (B, C, T) whose statistics cover each row's first ``valid_frames[b]``
    frames only; frames beyond are normalised with the same statistics.

    With ``valid_frames`` None it is the GroupNorm it replaced, bit for bit.
    """

    valid_frames: list[int] | None = None

    @classmethod
    def replacing(cls, norm: nn.GroupNorm) -> "MaskedGroupNorm":
        """A MaskedGroupNorm holding ``norm``'s own parameters (so state-dict keys are unchanged)."""
        masked = cls(norm.num_groups, norm.num_channels, norm.eps, norm.affine, device="meta")
        if norm.affine:
            masked.weight, masked.bias = norm.weight, norm.bias
        return masked

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, T) -> (B, C, T)."""
        if self.valid_frames is None:
            return super().forward(x)
        batch, channels, _ = x.shape
        means, inverse_stds = [], []
        for row, frames in enumerate(self.valid_frames):
            valid = x[row, :, :frames].float().reshape(self.num_groups, -1)
            variance, mean = torch.var_mean(valid, dim=1, correction=0)
            means.append(mean)
            inverse_stds.append(torch.rsqrt(variance + self.eps))
        group_size = channels // self.num_groups
        mean = torch.stack(means).repeat_interleave(group_size, dim=1)  # (B, C)
        scale = torch.stack(inverse_stds).repeat_interleave(group_size, dim=1)
        shift = -mean * scale
        if self.affine:
            scale, shift = scale * self.weight.float(), shift * self.weight.float() + self.bias.float()
        return torch.addcmul(shift[:, :, None], x.float(), scale[:, :, None]).to(x.dtype)


class ZeroBeyondValidFrames:
    """A forward hook for a module returning (B, D, T): frames at or beyond ``valid_frames[b]``
    become zero. Inactive while ``valid_frames`` is None."""

    valid_frames: Tensor | None = None

    def __call__(self, module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        if self.valid_frames is None:
            return output
        valid = valid_frame_mask(self.valid_frames, output.size(-1))
        return output * valid[:, None, :].to(output.dtype)


class MaskedFrontEnd:
    """The GroupNorms of a wav2vec 2.0-style conv front end (a ``feature_extractor`` module with
    ``conv_layers``, in Hugging Face's models and s3prl's own WavLM / HuBERT / wav2vec 2.0),
    swapped for MaskedGroupNorms that ``padding(lengths)`` points at each utterance's valid frames.
    ``convs`` are the front end's convolutions, in order (empty for a model without such a front
    end, whose MaskedFrontEnd is inert).
    """

    def __init__(self, model: nn.Module):
        self.norms: list[tuple[list[nn.Conv1d], MaskedGroupNorm]] = []
        self.convs: list[nn.Conv1d] = []
        for name, module in model.named_modules():
            if name.split(".")[-1] == "feature_extractor" and isinstance(getattr(module, "conv_layers", None), nn.ModuleList):
                self.convs = self._swap_group_norms(module.conv_layers)

    def _swap_group_norms(self, conv_layers: nn.ModuleList) -> list[nn.Conv1d]:
        """Swap the GroupNorms found in ``conv_layers``; returns the front end's convolutions."""
        convs: list[nn.Conv1d] = []
        for conv_layer in conv_layers:
            convs += [module for module in conv_layer.modules() if isinstance(module, nn.Conv1d)]
            for name, child in list(conv_layer.named_children()):
                if isinstance(child, nn.GroupNorm):
                    masked = MaskedGroupNorm.replacing(child)
                    setattr(conv_layer, name, masked)
                    self.norms.append((list(convs), masked))
        return convs

    def frames(self, lengths: Tensor) -> Tensor:
        """Samples (B,) -> the front end's frames (B,) for each utterance alone."""
        return _conv_output_lengths(lengths, self.convs)

    def exact_padding_mask(self, features: Tensor, padding_mask: Tensor) -> Tensor:
        """s3prl's ``forward_padding_mask(features (B, T, C), padding_mask (B, samples))`` -> (B, T),
        True on frames past each utterance's conv frame count (s3prl's own WavLM / HuBERT count a
        frame as padding only when all its stride's samples are, so the frames past
        ``floor((N - 400) / 320) + 1`` that overlap the padding would enter their positional conv
        and attention)."""
        return ~valid_frame_mask(self.frames((~padding_mask).sum(-1)), features.size(1))

    @contextmanager
    def padding(self, lengths: Tensor):
        """While encoding a batch of waveforms of ``lengths`` (B,) samples; inert without padding."""
        if not self.norms or bool((lengths == lengths.max()).all()):
            yield
            return
        for convs, norm in self.norms:
            norm.valid_frames = _conv_output_lengths(lengths, convs).tolist()
        try:
            yield
        finally:
            for _, norm in self.norms:
                norm.valid_frames = None


class MaskedPositionConvs:
    """A stacked positional conv embedding (Data2Vec, Hugging Face's or s3prl's) whose blocks'
    outputs (B, D, T) are zeroed past each utterance's frames while ``padding(frames)`` is on, so
    each block sees the zero padding the utterance alone sees. Inert for no blocks."""

    def __init__(self, blocks: list[nn.Module]):
        self.masks = []
        for block in blocks:
            mask = ZeroBeyondValidFrames()
            block.register_forward_hook(mask)
            self.masks.append(mask)

    @contextmanager
    def padding(self, frames: Tensor):
        """While encoding a padded batch whose utterances have ``frames`` (B,) encoder frames."""
        for mask in self.masks:
            mask.valid_frames = frames
        try:
            yield
        finally:
            for mask in self.masks:
                mask.valid_frames = None


def _conv_output_lengths(lengths: Tensor, convs: list[nn.Conv1d]) -> Tensor:
    """Samples (B,) -> frames (B,) after the strided convolutions ``convs``, in order."""
    for conv in convs:
        lengths = torch.div(lengths + 2 * conv.padding[0] - conv.kernel_size[0], conv.stride[0], rounding_mode="floor") + 1
    return lengths


class HFSpeechUpstream(nn.Module):
    """A Hugging Face speech SSL encoder returning s3prl's upstream output dict.

    Args:
        source: a Hugging Face id or a local directory for ``from_pretrained`` (loaded in float32).
        config: ``{"model_type": ..., **config_kwargs}`` to build a randomly initialised
            model from the config class instead (no download). Exactly one of the two.
    """

    def __init__(self, source: str | None = None, config: dict | None = None):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if (source is None) == (config is None):
            raise ValueError("give exactly one of `source` (Hugging Face id or local path) or `config` (random init)")
        if source is not None:
            check_local_source(source)
            self.model = AutoModel.from_pretrained(source, dtype=torch.float32)
        else:
            settings = dict(config)
            model_type = settings.pop("model_type", None)
            if model_type not in SSL_MODEL_TYPES:
                raise UnknownNameError(f"a randomly initialised member needs `model_type`, one of {SSL_MODEL_TYPES}; got {model_type!r}")
            self.model = AutoModel.from_config(AutoConfig.for_model(model_type, **settings))
        _disable_layer_skipping_and_masking(self.model)
        self.normalize_waveform = _normalizes_waveform(self.model.config, source)
        self.front_end = MaskedFrontEnd(self.model)
        self.position_convs = MaskedPositionConvs(list(getattr(self.model.encoder.pos_conv_embed, "layers", [])))

    @property
    def num_hidden_states(self) -> int:
        return self.model.config.num_hidden_layers + 1

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def min_samples(self) -> int:
        """The shortest waveform the convolutional front end turns into one frame."""
        return receptive_field(list(self.model.config.conv_kernel), list(self.model.config.conv_stride))

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        return math.prod(self.model.config.conv_stride)

    def forward(self, wavs: list[Tensor]) -> dict:
        """wavs: list of (samples,) at 16 kHz -> {"hidden_states": L x (B, T, D), "feature_lengths": (B,)}."""
        lengths = torch.tensor([len(wav) for wav in wavs], device=wavs[0].device)
        if self.normalize_waveform:
            wavs = [(wav - wav.mean()) / torch.sqrt(wav.var(unbiased=False) + 1e-7) for wav in wavs]
        padded = torch.stack([F.pad(wav, (0, int(lengths.max()) - len(wav))) for wav in wavs])
        feature_lengths = self.model._get_feat_extract_output_lengths(lengths).long()
        padding = any(len(wav) < padded.size(1) for wav in wavs)
        attention_mask = valid_frame_mask(lengths, padded.size(1)).long() if padding else None
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.training), self._padding_known(lengths, feature_lengths, padding):
            output = self.model(padded, attention_mask=attention_mask, output_hidden_states=True)
        hidden_states = [zero_padding(layer, feature_lengths) for layer in output.hidden_states]
        return {"hidden_states": hidden_states, "last_hidden_state": hidden_states[-1], "feature_lengths": feature_lengths}

    @contextmanager
    def _padding_known(self, lengths: Tensor, feature_lengths: Tensor, padding: bool):
        """While encoding a padded batch, tell the padding-aware modules each utterance's valid
        samples (front-end norms) and encoder frames (position conv masks)."""
        if not padding:
            yield
            return
        with self.position_convs.padding(feature_lengths), self.front_end.padding(lengths):
            yield


def _disable_layer_skipping_and_masking(model: nn.Module) -> None:
    """No LayerDrop (a trained member would return fewer hidden states on some forwards) and no
    SpecAugment time / feature masking in train mode, as s3prl's own upstreams."""
    model.config.layerdrop = 0.0
    model.config.apply_spec_augment = False
    for module in model.modules():
        if hasattr(module, "layerdrop"):
            module.layerdrop = 0.0


def _normalizes_waveform(config, source: str | None) -> bool:
    """Whether each waveform is normalised to zero mean and unit variance: the checkpoint's feature
    extractor setting when it has one, else Hugging Face's default (layer-norm front ends, i.e.
    large models and Data2Vec, normalise; group-norm ones, base WavLM / HuBERT, do not)."""
    settings = {}
    if source is not None and (Path(source) / "preprocessor_config.json").is_file():
        settings = json.loads((Path(source) / "preprocessor_config.json").read_text())
    elif source is not None and not Path(source).exists():
        try:
            from transformers import AutoFeatureExtractor

            settings = AutoFeatureExtractor.from_pretrained(source).to_dict()
        except OSError:
            settings = {}
    return bool(settings.get("do_normalize", getattr(config, "feat_extract_norm", "layer") == "layer"))


def zero_padding(layer: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, D) -> (B, T, D) with frames at or beyond each utterance's length set to zero."""
    valid = valid_frame_mask(lengths, layer.size(1))
    return layer * valid.unsqueeze(-1).to(layer.dtype)
