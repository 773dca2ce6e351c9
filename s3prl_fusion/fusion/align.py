"""Parameter-free alignment of hidden-state stacks from different upstream models.

A *stack* is a tensor ``(L, B, T, D)``: axis 0 is the layer axis, then batch, frames and
feature dim. Batches are zero-padded beyond each utterance's valid frame count.

Alignment upsamples every member to the largest layer count, frame count (per utterance) and,
where asked, feature dim, by linear interpolation along that axis:

- layers: align-corners style, the first and last layers map onto the first and last;
- frames and dims: ``F.interpolate(mode="linear", align_corners=False)`` style.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from s3prl_fusion.fusion.frames import valid_frame_mask


def _linear_taps(
    out_positions: Tensor, in_sizes: Tensor, out_sizes: Tensor, align_corners: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Source taps of a linear resampling from ``in_sizes`` to ``out_sizes`` points.

    All arguments broadcast against each other (sizes as float64 tensors). Returns
    ``(lower, upper, fraction)`` of the broadcast shape: output position ``j`` takes
    ``lerp(x[lower], x[upper], fraction)``. Follows PyTorch's own source-index rule, so the
    result matches ``F.interpolate(mode="linear")``.
    """
    if align_corners:
        source = out_positions * ((in_sizes - 1) / (out_sizes - 1).clamp_min(1))
    else:
        source = ((out_positions + 0.5) * (in_sizes / out_sizes) - 0.5).clamp_min(0)
    last = (in_sizes - 1).long()
    lower = torch.minimum(source.floor().long(), last)
    upper = torch.minimum(lower + 1, last)
    return lower, upper, source - lower


def _resample_axis(x: Tensor, axis: int, size: int, align_corners: bool) -> Tensor:
    """Linearly resample ``x`` along ``axis`` to ``size`` points; ``x`` itself if already that size."""
    if size < 1:
        raise ValueError(f"cannot resample to {size} points; the target size must be at least 1")
    in_size = x.shape[axis]
    if in_size == size:
        return x
    as_float = dict(dtype=torch.float64, device=x.device)
    lower, upper, fraction = _linear_taps(
        torch.arange(size, **as_float),
        torch.tensor(in_size, **as_float),
        torch.tensor(size, **as_float),
        align_corners,
    )
    fraction_shape = [1] * x.dim()
    fraction_shape[axis] = size
    return torch.lerp(
        x.index_select(axis, lower),
        x.index_select(axis, upper),
        fraction.to(x.dtype).view(fraction_shape),
    )


def interpolate_layers(stack: Tensor, num_layers: int) -> Tensor:
    """Resample the layer axis: ``(L, B, T, D) -> (num_layers, B, T, D)``.

    Align-corners linear interpolation: first layer -> first, last -> last. Returns the input
    tensor unchanged when ``L == num_layers``; a single layer is repeated.
    """
    return _resample_axis(stack, 0, num_layers, align_corners=True)


def layer_interpolation_matrix(source_layers: int, target_layers: int) -> Tensor:
    """Matrix ``A`` of shape ``(target_layers, source_layers)`` with
    ``interpolate_layers(stack, target_layers)[j] == sum_l A[j, l] * stack[l]``."""
    identity = torch.eye(source_layers).view(source_layers, 1, 1, source_layers)
    return interpolate_layers(identity, target_layers).view(target_layers, source_layers)


def interpolate_dims(stack: Tensor, dim: int) -> Tensor:
    """Resample the feature axis: ``(L, B, T, D) -> (L, B, T, dim)``, linear, as
    ``F.interpolate(mode="linear")``. Returns the input unchanged when ``D == dim``."""
    return _resample_axis(stack, stack.dim() - 1, dim, align_corners=False)


def align_layers(stacks: Sequence[Tensor]) -> list[Tensor]:
    """Bring every stack ``(L_i, B, T, D_i)`` to ``L = max L_i`` layers: ``(L, B, T, D_i)``."""
    num_layers = max(stack.shape[0] for stack in stacks)
    return [interpolate_layers(stack, num_layers) for stack in stacks]


def align_dims(stacks: Sequence[Tensor], dim: int | None = None) -> list[Tensor]:
    """Bring every stack ``(L_i, B, T, D_i)`` to ``dim`` features (default ``max D_i``)."""
    target = max(stack.shape[-1] for stack in stacks) if dim is None else dim
    return [interpolate_dims(stack, target) for stack in stacks]


def align_frames(
    stacks: Sequence[Tensor], lengths: Sequence[Tensor]
) -> tuple[list[Tensor], Tensor]:
    """Resample every member's frames, per utterance, to the longest member's frame count.

    Args:
        stacks: N stacks ``(L_i, B, T_i, D_i)``, zero-padded beyond each utterance's length.
        lengths: N LongTensors ``(B,)``: valid frames of each utterance in each stack.

    Returns:
        ``(aligned, target)``: N stacks ``(L_i, B, T, D_i)`` and ``target`` ``(B,)`` with
        ``target[b] = max_i lengths[i][b]`` and ``T = max_b target[b]``. Utterance ``b`` of member
        ``i`` is its ``lengths[i][b]`` valid frames linearly resampled (``align_corners=False``)
        to ``target[b]`` frames, zero beyond. Each utterance's result depends on that utterance
        alone, not on the rest of the batch. A member already at the target lengths is returned
        as a view cropped to ``T`` frames.
    """
    if len(stacks) != len(lengths):
        raise ValueError(
            f"align_frames got {len(stacks)} stacks but {len(lengths)} length vectors; "
            "pass one length vector per stack"
        )
    batch = stacks[0].shape[1]
    for index, (stack, length) in enumerate(zip(stacks, lengths)):
        if stack.dim() != 4 or stack.shape[1] != batch:
            raise ValueError(
                f"stack {index} has shape {tuple(stack.shape)}; every stack must be "
                f"(layers, batch={batch}, frames, dim)"
            )
        if tuple(length.shape) != (batch,):
            raise ValueError(
                f"lengths[{index}] has shape {tuple(length.shape)}; it must be ({batch},), "
                "one valid frame count per utterance"
            )
        if batch and (length.min() < 1 or length.max() > stack.shape[2]):
            raise ValueError(
                f"lengths[{index}] = {length.tolist()} must lie in 1..{stack.shape[2]} "
                f"(the frame axis of stack {index})"
            )
    device = stacks[0].device
    lengths = [length.to(device) for length in lengths]
    target = torch.stack(lengths).amax(dim=0)
    frames = int(target.max()) if batch else 0
    positions = torch.arange(frames, dtype=torch.float64, device=device).unsqueeze(0)
    out_sizes = target.to(torch.float64).unsqueeze(1)
    valid = valid_frame_mask(target, frames).view(1, batch, frames, 1)
    utterance = torch.arange(batch, device=device).unsqueeze(1).expand(batch, frames)
    aligned = []
    for stack, length in zip(stacks, lengths):
        if torch.equal(length, target):
            aligned.append(stack[:, :, :frames])
            continue
        lower, upper, fraction = _linear_taps(
            positions, length.to(torch.float64).unsqueeze(1), out_sizes, align_corners=False
        )
        resampled = stack[:, utterance, lower]
        resampled.lerp_(stack[:, utterance, upper], fraction.to(stack.dtype).view(1, batch, frames, 1))
        aligned.append(resampled.masked_fill_(~valid, 0))
    return aligned, target


def normalize_features(stack: Tensor) -> Tensor:
    """Parameter-free layer norm over the feature axis of every layer and frame, as s3prl's
    Featurizer ``normalize``: ``(L, B, T, D) -> (L, B, T, D)``. Evens out the scale of members."""
    return F.layer_norm(stack, stack.shape[-1:])


def check_members(layer_counts: Sequence[int], dims: Sequence[int]) -> None:
    """Validate an interface's member description: one layer count and one dim per member."""
    if len(layer_counts) == 0 or len(layer_counts) != len(dims):
        raise ValueError(
            f"layer_counts {list(layer_counts)} and dims {list(dims)} must be non-empty and of "
            "equal length: one entry per fused upstream"
        )
    if any(int(count) < 1 for count in layer_counts) or any(int(dim) < 1 for dim in dims):
        raise ValueError(
            f"layer_counts {list(layer_counts)} and dims {list(dims)} must all be positive"
        )


def check_stacks(
    stacks: Sequence[Tensor], layer_counts: Sequence[int], dims: Sequence[int]
) -> None:
    """Validate the input of an interface: N stacks ``(L_i, B, T, D_i)`` matching the members
    it was built for and sharing ``B`` and ``T``."""
    expected = [(int(count), int(dim)) for count, dim in zip(layer_counts, dims)]
    shapes = [tuple(stack.shape) for stack in stacks]
    got = [(shape[0], shape[-1]) if len(shape) == 4 else shape for shape in shapes]
    if got != expected:
        raise ValueError(
            f"the interface was built for (layers, dim) per member {expected} but received "
            f"stacks of shapes {shapes}; build it with the layer_counts and dims of the upstreams "
            "it is fed"
        )
    if len({shape[1:3] for shape in shapes}) != 1:
        raise ValueError(
            f"stacks of shapes {shapes} differ in batch or frames; align them first with "
            "align_frames"
        )
