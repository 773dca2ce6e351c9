"""ESPnet's Transformer encoder with the ``conv2d2`` input layer, in plain torch.

Definitions follow espnet2/asr/encoder/transformer_encoder.py and
espnet/nets/pytorch_backend/transformer/{subsampling,embedding,attention,encoder_layer,
positionwise_feed_forward,layer_norm}.py:

* Conv2dSubsampling2: Conv2d(1, d, 3, stride 2) -> ReLU -> Conv2d(d, d, 3, stride 1) -> ReLU,
  flatten (channels x remaining feature bins) -> Linear(d * ((idim - 1) // 2 - 2), d) ->
  positional encoding. ``T`` frames become ``(T - 1) // 2 - 2``; the frame mask is
  subsampled as ``mask[:, :, :-2:2][:, :, :-2:1]``, so an utterance shorter than the padded
  batch keeps ``min(ceil(T_i / 2), (T - 1) // 2 - 2)`` frames. At least 7 input frames.
* Positional encoding: ``x * sqrt(d) + sinusoid`` (sin on even, cos on odd channels,
  frequencies ``10000 ** (-2i / d)``), then dropout.
* Encoder block with ``normalize_before``: ``x + dropout(attention(LN(x)))`` then
  ``x + dropout(FFN(LN(x)))``; FFN is Linear -> ReLU -> dropout -> Linear; LayerNorm eps
  1e-12; a final LayerNorm after the last block.
* Multi-head attention: scaled dot product, padded keys masked before the softmax and
  their weights zeroed after it, dropout on the weights.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from s3prl_fusion.errors import SettingError, UserError
from s3prl_fusion.fusion.frames import valid_frame_mask

MIN_CONV2D2_FRAMES = 7


class ShortBatchError(UserError, ValueError):
    """A batch whose longest utterance gives too few feature frames for the conv2d2 subsampling."""


def layer_norm(size: int) -> nn.LayerNorm:
    return nn.LayerNorm(size, eps=1e-12)


class PositionalEncoding(nn.Module):
    """(batch, frames, d) -> (batch, frames, d): scale by sqrt(d), add sinusoids, dropout."""

    def __init__(self, d_model: int, dropout_rate: float):
        super().__init__()
        self.d_model = d_model
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        position = torch.arange(x.shape[1], dtype=torch.float32, device=x.device).unsqueeze(1)
        frequency = torch.exp(
            torch.arange(0, self.d_model, 2, dtype=torch.float32, device=x.device) * -(math.log(10000.0) / self.d_model)
        )
        encoding = torch.zeros(x.shape[1], self.d_model, device=x.device)
        encoding[:, 0::2] = torch.sin(position * frequency)
        encoding[:, 1::2] = torch.cos(position * frequency)
        return self.dropout(x * math.sqrt(self.d_model) + encoding.to(x.dtype).unsqueeze(0))


class Conv2dSubsampling2(nn.Module):
    """Halves the frame rate: (batch, T, idim) -> (batch, (T - 1) // 2 - 2, odim)."""

    def __init__(self, idim: int, odim: int, dropout_rate: float):
        super().__init__()
        if (idim - 1) // 2 - 2 < 1:
            raise SettingError(f"conv2d2 needs an input dimension of at least 7, got {idim}")
        self.conv = nn.Sequential(
            nn.Conv2d(1, odim, 3, 2),
            nn.ReLU(),
            nn.Conv2d(odim, odim, 3, 1),
            nn.ReLU(),
        )
        self.out = nn.Sequential(nn.Linear(odim * ((idim - 1) // 2 - 2), odim), PositionalEncoding(odim, dropout_rate))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (batch, T, idim); mask: (batch, 1, T) bool -> (batch, T', odim), (batch, 1, T')."""
        if x.shape[1] < MIN_CONV2D2_FRAMES:
            raise ShortBatchError(
                f"conv2d2 subsampling needs at least {MIN_CONV2D2_FRAMES} feature frames, got {x.shape[1]}; "
                "the batch's longest utterance is too short"
            )
        x = self.conv(x.unsqueeze(1))
        batch, channels, frames, bins = x.shape
        x = self.out(x.transpose(1, 2).reshape(batch, frames, channels * bins))
        return x, mask[:, :, :-2:2][:, :, :-2:1]


class MultiHeadedAttention(nn.Module):
    """Self-attention over (batch, frames, d) with a (batch, 1, frames) key mask."""

    def __init__(self, heads: int, d_model: int, dropout_rate: float):
        super().__init__()
        if d_model % heads:
            raise SettingError(f"attention dimension {d_model} is not divisible by {heads} heads")
        self.heads = heads
        self.d_head = d_model // heads
        self.linear_q = nn.Linear(d_model, d_model)
        self.linear_k = nn.Linear(d_model, d_model)
        self.linear_v = nn.Linear(d_model, d_model)
        self.linear_out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]

        def split_heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, -1, self.heads, self.d_head).transpose(1, 2)

        query, key, value = split_heads(self.linear_q(x)), split_heads(self.linear_k(x)), split_heads(self.linear_v(x))
        scores = query @ key.transpose(-2, -1) / math.sqrt(self.d_head)
        padded = ~mask.unsqueeze(1)
        scores = scores.masked_fill(padded, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1).masked_fill(padded, 0.0)
        context = (self.dropout(weights) @ value).transpose(1, 2).reshape(batch, -1, self.heads * self.d_head)
        return self.linear_out(context)


class EncoderLayer(nn.Module):
    """Pre-norm Transformer block: attention then feed-forward, each with a residual."""

    def __init__(self, d_model: int, heads: int, linear_units: int, dropout_rate: float, attention_dropout_rate: float):
        super().__init__()
        self.self_attn = MultiHeadedAttention(heads, d_model, attention_dropout_rate)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, linear_units),
            nn.ReLU(),
            nn.Dropout(dropout_rate),
            nn.Linear(linear_units, d_model),
        )
        self.norm1 = layer_norm(d_model)
        self.norm2 = layer_norm(d_model)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (batch, frames, d); mask: (batch, 1, frames) bool."""
        x = x + self.dropout(self.self_attn(self.norm1(x), mask))
        return x + self.dropout(self.feed_forward(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """conv2d2 input layer, ``num_blocks`` pre-norm blocks and a final LayerNorm."""

    def __init__(
        self,
        input_size: int,
        output_size: int = 256,
        attention_heads: int = 8,
        linear_units: int = 1024,
        num_blocks: int = 2,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
    ):
        super().__init__()
        self.output_size = output_size
        self.embed = Conv2dSubsampling2(input_size, output_size, positional_dropout_rate)
        self.encoders = nn.ModuleList(
            EncoderLayer(output_size, attention_heads, linear_units, dropout_rate, attention_dropout_rate)
            for _ in range(num_blocks)
        )
        self.after_norm = layer_norm(output_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (batch, T, input_size); lengths: (batch,) -> (batch, T', output_size), (batch,)."""
        mask = valid_frame_mask(lengths, x.shape[1]).unsqueeze(1)
        x, mask = self.embed(x, mask)
        for layer in self.encoders:
            x = layer(x, mask)
        return self.after_norm(x), mask.squeeze(1).sum(dim=1)
