"""WS: the SUPERB weighted sum of layers, per member, fused by concatenation and projection."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s3prl_fusion.fusion.align import check_members, check_stacks, normalize_features
from s3prl_fusion.fusion.merge import ConcatProjection


class WeightedSum(nn.Module):
    """Softmax-weighted sum over each member's layers.

    Every member ``i`` has ``L_i`` weights, zero at start, softmax-normalised; its layers are
    summed with them to ``(B, T, D_i)``. A single member gives exactly s3prl's Featurizer
    (``output_dim = D``). Several members (Chiu et al.'s fusion baseline): the N weighted
    sums are concatenated and projected, ``Linear(sum D_i -> output_dim)``.

    Settings:
        normalize: parameter-free layer norm over D of every layer before the sum.
        output_dim: projection size when fusing several members (default ``max D_i``).
    """

    def __init__(
        self,
        layer_counts: Sequence[int],
        dims: Sequence[int],
        normalize: bool = False,
        output_dim: int | None = None,
    ):
        super().__init__()
        check_members(layer_counts, dims)
        self.layer_counts = [int(count) for count in layer_counts]
        self.dims = [int(dim) for dim in dims]
        self.normalize = bool(normalize)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.zeros(count)) for count in self.layer_counts
        )
        self.merge = ConcatProjection(self.dims, output_dim)
        self.output_dim = self.merge.output_dim

    def _weighted_sum(self, stack: Tensor, weights: Tensor) -> Tensor:
        """``(L, B, T, D)`` (layer axis first) -> ``(B, T, D)``, as s3prl's Featurizer."""
        if self.normalize:
            stack = normalize_features(stack)
        num_layers, *frame_shape = stack.shape
        summed = (F.softmax(weights, dim=-1).unsqueeze(-1) * stack.reshape(num_layers, -1)).sum(dim=0)
        return summed.view(*frame_shape)

    def forward(self, stacks: Sequence[Tensor]) -> Tensor:
        """N stacks ``(L_i, B, T, D_i)`` (layer axis first) -> ``(B, T, output_dim)``."""
        check_stacks(stacks, self.layer_counts, self.dims)
        return self.merge(
            [self._weighted_sum(stack, weights) for stack, weights in zip(stacks, self.weights)]
        )

    @torch.no_grad()
    def learned_layer_weights(self) -> list[Tensor]:
        """Per member ``(L_i,)``: the softmax layer weights."""
        return [F.softmax(weights.detach(), dim=-1) for weights in self.weights]
