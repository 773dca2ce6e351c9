"""Parameter-free alignment (layers, frames, dims) and merging of hidden-state stacks.

A stack is ``(L, B, T, D)``: layer axis first, then batch, frames, feature dim.
"""
from s3prl_fusion.fusion.align import (
    align_dims,
    align_frames,
    align_layers,
    interpolate_dims,
    interpolate_layers,
    layer_interpolation_matrix,
    normalize_features,
)
from s3prl_fusion.fusion.merge import ConcatProjection, merge_add, merge_concat

__all__ = [
    "align_dims",
    "align_frames",
    "align_layers",
    "interpolate_dims",
    "interpolate_layers",
    "layer_interpolation_matrix",
    "normalize_features",
    "ConcatProjection",
    "merge_add",
    "merge_concat",
]
