"""Hugging Face speech SSL encoders (WavLM, HuBERT, Data2Vec-Audio, wav2vec 2.0) as s3prl upstreams."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s3prl_fusion.upstreams.input_checks import receptive_field

SSL_MODEL_TYPES = ("wavlm", "hubert", "data2vec-audio", "wav2vec2")


class HFSpeechUpstream(nn.Module):
    """A Hugging Face speech SSL encoder returning s3prl's upstream output dict.

    Args:
        source: a Hugging Face id or a local directory for ``from_pretrained``.
        config: ``{"model_type": ..., **config_kwargs}`` to build a randomly initialised
            model from the config class instead (no download). Exactly one of the two.
    """

    def __init__(self, source: str | None = None, config: dict | None = None):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if (source is None) == (config is None):
            raise ValueError("give exactly one of `source` (Hugging Face id or local path) or `config` (random init)")
        if source is not None:
            self.model = AutoModel.from_pretrained(source)
        else:
            settings = dict(config)
            model_type = settings.pop("model_type", None)
            if model_type not in SSL_MODEL_TYPES:
                raise ValueError(f"a randomly initialised member needs `model_type`, one of {SSL_MODEL_TYPES}; got {model_type!r}")
            self.model = AutoModel.from_config(AutoConfig.for_model(model_type, **settings))
        self.normalize_waveform, self.use_attention_mask = _preprocessing(self.model.config, source)

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
        attention_mask = None
        if self.use_attention_mask:
            attention_mask = (torch.arange(padded.size(1), device=padded.device)[None] < lengths[:, None]).long()
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.training):
            output = self.model(padded, attention_mask=attention_mask, output_hidden_states=True)
        feature_lengths = self.model._get_feat_extract_output_lengths(lengths).long()
        hidden_states = [_zero_padding(layer, feature_lengths) for layer in output.hidden_states]
        return {"hidden_states": hidden_states, "last_hidden_state": hidden_states[-1], "feature_lengths": feature_lengths}


def _preprocessing(config, source: str | None) -> tuple[bool, bool]:
    """(normalise each waveform, pass an attention mask), from the checkpoint's feature extractor
    settings when it has them, else Hugging Face's defaults: layer-norm front ends (large
    models, Data2Vec) normalise and take a mask, group-norm ones (base WavLM/HuBERT) do neither."""
    layer_norm_front_end = getattr(config, "feat_extract_norm", "layer") == "layer"
    settings = {}
    if source is not None and (Path(source) / "preprocessor_config.json").is_file():
        settings = json.loads((Path(source) / "preprocessor_config.json").read_text())
    elif source is not None and not Path(source).exists():
        try:
            from transformers import AutoFeatureExtractor

            settings = AutoFeatureExtractor.from_pretrained(source).to_dict()
        except OSError:
            settings = {}
    return (
        bool(settings.get("do_normalize", layer_norm_front_end)),
        bool(settings.get("return_attention_mask", layer_norm_front_end)),
    )


def _zero_padding(layer: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, D) -> (B, T, D) with frames at or beyond each utterance's length set to zero."""
    valid = torch.arange(layer.size(1), device=layer.device)[None, :] < lengths[:, None]
    return layer * valid.unsqueeze(-1).to(layer.dtype)
