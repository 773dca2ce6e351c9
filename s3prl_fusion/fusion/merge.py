"""Merging aligned members: add stacks, concatenate stacks, or concatenate-and-project features."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from s3prl_fusion.errors import SettingError


def _shapes(stacks: Sequence[Tensor]) -> list[tuple[int, ...]]:
    return [tuple(stack.shape) for stack in stacks]


def merge_add(stacks: Sequence[Tensor]) -> Tensor:
    """Sum N stacks of one shape: N x ``(L, B, T, D)`` -> ``(L, B, T, D)``."""
    shapes = _shapes(stacks)
    if len({shape[:-1] for shape in shapes}) != 1:
        raise ValueError(
            f"merge_add needs stacks with equal layers, batch and frames, got {shapes}; "
            "align layers (align_layers) and frames (align_frames) first"
        )
    if len({shape[-1] for shape in shapes}) != 1:
        raise ValueError(
            f"merge_add needs equal feature dims, got {[shape[-1] for shape in shapes]}; set "
            "`match_dims: interpolate` to interpolate them to one dim, or merge by concatenation "
            "(merge_concat, the chconv interface)"
        )
    merged = stacks[0]
    for stack in stacks[1:]:
        merged = merged + stack
    return merged


def merge_concat(stacks: Sequence[Tensor]) -> Tensor:
    """Concatenate N stacks along the feature axis: ``(L, B, T, D_i)`` -> ``(L, B, T, sum D_i)``."""
    shapes = _shapes(stacks)
    if len({shape[:-1] for shape in shapes}) != 1:
        raise ValueError(
            f"merge_concat needs stacks with equal layers, batch and frames, got {shapes}; "
            "align layers (align_layers) and frames (align_frames) first"
        )
    return torch.cat(list(stacks), dim=-1)


class ConcatProjection(nn.Module):
    """Fuse N per-member features ``(B, T, D_i)`` into ``(B, T, output_dim)``.

    N > 1: concatenate along the feature axis, then ``Linear(sum D_i -> output_dim)``;
    ``output_dim`` defaults to ``max D_i``. N = 1: the member's features unchanged, so
    ``output_dim`` must be left unset or equal ``D_1``.
    """

    def __init__(self, dims: Sequence[int], output_dim: int | None = None):
        super().__init__()
        if len(dims) == 1:
            if output_dim not in (None, dims[0]):
                raise SettingError(
                    f"output_dim={output_dim} needs several fused upstreams; with a single "
                    f"upstream the output dim is its own ({dims[0]}): leave output_dim unset"
                )
            self.output_dim = int(dims[0])
            self.projection: nn.Module = nn.Identity()
        else:
            self.output_dim = int(max(dims) if output_dim is None else output_dim)
            if self.output_dim < 1:
                raise SettingError(f"output_dim={output_dim} must be a positive integer")
            self.projection = nn.Linear(int(sum(dims)), self.output_dim)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """N tensors ``(B, T, D_i)`` -> ``(B, T, output_dim)``."""
        return self.projection(torch.cat(list(features), dim=-1))
