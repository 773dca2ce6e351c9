"""HConv: hierarchical convolution over the layer axis, and its two fusion interfaces.

- ``HierarchicalConv``: the single-model HConv of "Interface Design for Self-Supervised
  Speech Models" (Shih & Harwath, 2024) on one stack ``(L, B, T, D)``.
- ``HConv``: fusion by addition: ``merged_stack`` (align layers and dims, add), then
  HierarchicalConv.
- ``CHConv``: fusion by concatenation: align layers, concatenate along D, optionally project,
  then HierarchicalConv.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s3prl_fusion.errors import SettingError
from s3prl_fusion.fusion.align import align_dims, align_layers, check_members, check_stacks, normalize_features
from s3prl_fusion.fusion.merge import merge_add, merge_concat

MATCH_DIMS = ("interpolate", "error")
PROJECTIONS = ("linear", "none")


def conv_layer_lengths(num_layers: int, kernel_size: int, stride: int) -> list[int]:
    """Layer-axis lengths through the convs: ``[L, L_1, ..., L_final]``.

    The number of convs is ``floor(log(L) / log(stride))``, computed exactly as the largest
    ``k`` with ``stride ** k <= L``; each conv maps ``L -> floor((L + 2 * (kernel_size // 2)
    - kernel_size) / stride) + 1``. E.g. kernel 5, stride 3: 13 -> 5 -> 2 and 25 -> 9 -> 3.
    """
    if stride < 2:
        raise SettingError(f"stride={stride} must be at least 2 for HConv to shrink the layer axis")
    if kernel_size < 1:
        raise SettingError(f"kernel_size={kernel_size} must be a positive integer")
    if num_layers < stride:
        raise SettingError(
            f"HConv needs at least stride={stride} layers for one convolution, but the stack has "
            f"{num_layers}; lower the HConv `stride` setting or use the ws interface"
        )
    lengths = [num_layers]
    reach = stride
    while reach <= num_layers:
        lengths.append((lengths[-1] + 2 * (kernel_size // 2) - kernel_size) // stride + 1)
        reach *= stride
    return lengths


class KernelWindow(NamedTuple):
    """Where one output position of a layer-axis conv reads: kernel taps ``first_tap`` to
    ``end_tap - 1`` land on input layers ``start + first_tap`` to ``start + end_tap - 1``
    (``start`` may be negative: taps before ``first_tap`` fall on the zero padding)."""

    start: int
    first_tap: int
    end_tap: int


def inside_windows(num_layers: int, kernel_size: int, stride: int) -> list[KernelWindow]:
    """One ``KernelWindow`` per output position of a conv with ``padding = kernel_size // 2``
    over ``num_layers`` layers, keeping only the taps that land inside the stack."""
    padding = kernel_size // 2
    output_length = (num_layers + 2 * padding - kernel_size) // stride + 1
    windows = []
    for position in range(output_length):
        start = position * stride - padding
        windows.append(KernelWindow(start, max(0, -start), min(kernel_size, num_layers - start)))
    return windows


def layer_axis_conv(layers: Sequence[Tensor], conv: nn.Conv1d) -> list[Tensor]:
    """``conv`` along the layer axis: L layers ``(N, C_in)`` -> L_out layers ``(N, C_out)``.

    Equals ``conv`` applied to ``torch.stack(layers, dim=-1)`` (``(N, C_in, L)``) with the zero
    padding ``conv.padding == kernel_size // 2``, output position ``j`` returned as the j-th
    tensor. Computed as one ``(N, C_in) @ (C_in, C_out)`` matrix product per kernel tap that
    lands inside the stack: the products with the padding are skipped (13 layers, kernel 5,
    stride 3: 21 of 25 in the first conv, 7 of 10 in the second), and the layers are read as
    they are, so no stack is unfolded, permuted or assembled.
    """
    tap_weights = conv.weight.permute(2, 1, 0).contiguous().unbind(0)
    outputs = []
    for window in inside_windows(len(layers), conv.kernel_size[0], conv.stride[0]):
        output = conv.bias
        for tap in range(window.first_tap, window.end_tap):
            output = torch.addmm(output, layers[window.start + tap], tap_weights[tap])
        outputs.append(output)
    return outputs


class HierarchicalConv(nn.Module):
    """Convolutions along the layer axis of one stack: ``(L, B, T, D) -> (B, T, output_dim)``.

    Each frame is processed on its own: D is the Conv1d channel axis and the layer axis the
    convolution length, so frames never mix. The convs run on the L layers as ``(B * T, D)``
    matrices through ``layer_axis_conv``, which skips the products with the zero padding.
    ``floor(log(L) / log(stride))`` convs with ``padding = kernel_size // 2``; each is D -> D
    except the last, D -> ``floor(D / L_final)``; ReLU after every conv, the last included.
    The ``(channels, L_final)`` grid is flattened channel-major per frame (index
    ``channel * L_final + layer``): ``output_dim = floor(D / L_final) * L_final``.
    L=13, D=768: 13 -> 5 -> 2, output 768, 4,424,832 parameters. L=25, D=1024: 25 -> 9 -> 3,
    output 1023, 6,990,165 parameters.

    ``normalize``: parameter-free layer norm over D of every layer first.
    """

    def __init__(
        self,
        num_layers: int,
        dim: int,
        kernel_size: int = 5,
        stride: int = 3,
        normalize: bool = False,
    ):
        super().__init__()
        self.num_layers = int(num_layers)
        self.dim = int(dim)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.normalize = bool(normalize)
        self.layer_lengths = conv_layer_lengths(self.num_layers, self.kernel_size, self.stride)
        final_length = self.layer_lengths[-1]
        final_channels = self.dim // final_length
        if final_channels < 1:
            raise SettingError(
                f"HConv needs a feature dim of at least {final_length} (the final layer length), "
                f"got dim={self.dim}"
            )
        num_convs = len(self.layer_lengths) - 1
        out_channels = [self.dim] * (num_convs - 1) + [final_channels]
        self.convs = nn.ModuleList(
            nn.Conv1d(
                self.dim,
                channels,
                self.kernel_size,
                stride=self.stride,
                padding=self.kernel_size // 2,
            )
            for channels in out_channels
        )
        self.output_dim = final_channels * final_length

    def forward(self, stack: Tensor) -> Tensor:
        """``(L, B, T, D)`` (layer axis first) -> ``(B, T, output_dim)``."""
        num_layers, batch, frames, dim = stack.shape
        if (num_layers, dim) != (self.num_layers, self.dim):
            raise ValueError(
                f"HierarchicalConv was built for {self.num_layers} layers of dim {self.dim} but got "
                f"a stack of shape {tuple(stack.shape)}; build it with the stack's layers and dim"
            )
        if self.normalize:
            stack = normalize_features(stack)
        layers = stack.reshape(num_layers, batch * frames, dim).unbind(0)
        for conv in self.convs:
            layers = [F.relu(layer) for layer in layer_axis_conv(layers, conv)]
        return torch.stack(layers, dim=-1).reshape(batch, frames, self.output_dim)

def merged_stack(stacks: Sequence[Tensor]) -> Tensor:
    """HConv's parameter-free merge: N stacks ``(L_i, B, T, D_i)`` (layer axis first) ->
    ``(L, B, T, D)``, ``L = max L_i``, ``D = max D_i``: layers interpolated to L, dims to D where
    they differ, then added. Each frame's result depends on that frame alone."""
    return merge_add(align_dims(align_layers(stacks)))


class HConv(nn.Module):
    """Fusion by addition: ``HierarchicalConv(merged_stack(stacks))``.

    Members are interpolated to ``L = max L_i`` layers; if their dims differ they are
    interpolated along D to ``max D_i`` (``match_dims: "interpolate"``) or rejected
    (``match_dims: "error"``); then added and fed to HierarchicalConv. A single member is plain
    HConv.

    Settings:
        kernel_size, stride: of the layer-axis convs (default 5 and 3).
        normalize: parameter-free layer norm over D of every member's layers before merging.
        match_dims: ``"interpolate"`` or ``"error"`` when the members' dims differ.
    """

    def __init__(
        self,
        layer_counts: Sequence[int],
        dims: Sequence[int],
        kernel_size: int = 5,
        stride: int = 3,
        normalize: bool = False,
        match_dims: str = "interpolate",
    ):
        super().__init__()
        check_members(layer_counts, dims)
        if match_dims not in MATCH_DIMS:
            raise SettingError(f"match_dims={match_dims!r} is not one of {list(MATCH_DIMS)}")
        if match_dims == "error" and len(set(dims)) > 1:
            raise SettingError(
                f"the hconv interface adds members, but their dims {list(dims)} differ; set "
                "`match_dims: interpolate` to interpolate them to one dim, or use the chconv "
                "interface, which concatenates"
            )
        self.layer_counts = [int(count) for count in layer_counts]
        self.dims = [int(dim) for dim in dims]
        self.normalize = bool(normalize)
        self.conv = HierarchicalConv(max(self.layer_counts), max(self.dims), kernel_size, stride)
        self.output_dim = self.conv.output_dim

    def forward(self, stacks: Sequence[Tensor]) -> Tensor:
        """N stacks ``(L_i, B, T, D_i)`` (layer axis first) -> ``(B, T, output_dim)``."""
        check_stacks(stacks, self.layer_counts, self.dims)
        if self.normalize:
            stacks = [normalize_features(stack) for stack in stacks]
        return self.conv(merged_stack(stacks))

class CHConv(nn.Module):
    """Fusion by concatenation: ``HierarchicalConv(projection(merge_concat(aligned stacks)))``.

    Members are interpolated to ``L = max L_i`` layers and concatenated along D to
    ``sum D_i`` channels. ``projection: "linear"`` applies ``Linear(sum D_i -> projection_dim)``
    to every layer of every frame (``projection_dim`` default ``max D_i``) before
    HierarchicalConv; ``projection: "none"`` runs HierarchicalConv on the ``sum D_i`` channels.

    Settings:
        projection: ``"linear"`` or ``"none"``.
        projection_dim: output size of the linear projection.
        kernel_size, stride: of the layer-axis convs (default 5 and 3).
        normalize: parameter-free layer norm over D of every member's layers before merging.
    """

    def __init__(
        self,
        layer_counts: Sequence[int],
        dims: Sequence[int],
        projection: str = "linear",
        projection_dim: int | None = None,
        kernel_size: int = 5,
        stride: int = 3,
        normalize: bool = False,
    ):
        super().__init__()
        check_members(layer_counts, dims)
        if projection not in PROJECTIONS:
            raise SettingError(f"projection={projection!r} is not one of {list(PROJECTIONS)}")
        if projection == "none" and projection_dim is not None:
            raise SettingError(
                f"projection_dim={projection_dim} needs `projection: linear`; with "
                "`projection: none` leave projection_dim unset"
            )
        self.layer_counts = [int(count) for count in layer_counts]
        self.dims = [int(dim) for dim in dims]
        self.normalize = bool(normalize)
        self.projection_kind = projection
        concat_dim = sum(self.dims)
        if projection == "linear":
            conv_dim = max(self.dims) if projection_dim is None else int(projection_dim)
            self.projection: nn.Module = nn.Linear(concat_dim, conv_dim)
        else:
            conv_dim = concat_dim
            self.projection = nn.Identity()
        self.conv = HierarchicalConv(max(self.layer_counts), conv_dim, kernel_size, stride)
        self.output_dim = self.conv.output_dim

    def forward(self, stacks: Sequence[Tensor]) -> Tensor:
        """N stacks ``(L_i, B, T, D_i)`` (layer axis first) -> ``(B, T, output_dim)``."""
        check_stacks(stacks, self.layer_counts, self.dims)
        if self.normalize:
            stacks = [normalize_features(stack) for stack in stacks]
        return self.conv(self.projection(merge_concat(align_layers(stacks))))

    def describe(self) -> list[str]:
        """Start-up lines: the parameter counts with either projection, for the same members."""
        projection_dim = self.conv.dim if self.projection_kind == "linear" else None
        counts = parameter_counts_by_projection(
            self.layer_counts, self.dims, projection_dim=projection_dim,
            kernel_size=self.conv.kernel_size, stride=self.conv.stride,
        )
        return [
            f"chconv parameters by projection: linear {counts['linear']:,}, none {counts['none']:,} "
            f"(this run: {self.projection_kind})"
        ]


def parameter_counts_by_projection(
    layer_counts: Sequence[int], dims: Sequence[int], **settings
) -> dict[str, int]:
    """Parameter counts of CHConv with each projection, ``{"linear": n, "none": m}``, for the
    same members and remaining settings (``projection_dim`` applies to "linear" only).
    Builds on the meta device, so nothing is allocated."""
    shared = {
        key: value for key, value in settings.items() if key not in ("projection", "projection_dim")
    }
    projection_dim = settings.get("projection_dim")
    with torch.device("meta"):
        modules = {
            "linear": CHConv(layer_counts, dims, "linear", projection_dim, **shared),
            "none": CHConv(layer_counts, dims, "none", **shared),
        }
    return {
        kind: sum(parameter.numel() for parameter in module.parameters())
        for kind, module in modules.items()
    }
