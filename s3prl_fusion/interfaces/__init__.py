"""Trainable interfaces that fuse N stacks of hidden states ``(L_i, B, T, D_i)`` (layer axis
first) into one feature sequence ``(B, T, output_dim)``, found by name in ``INTERFACES``.

Every interface is built as ``cls(layer_counts, dims, **settings)`` (one entry per fused
upstream), has an int ``output_dim`` and ``learned_layer_weights() -> list[(L_i,)]``.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Sequence

from torch import nn

from s3prl_fusion.interfaces.gumd import GumbelLayerSelect
from s3prl_fusion.interfaces.hconv import (
    CHConv,
    HConv,
    HierarchicalConv,
    parameter_counts_by_projection,
)
from s3prl_fusion.interfaces.ws import WeightedSum

INTERFACES: dict[str, type[nn.Module]] = {
    "ws": WeightedSum,
    "gumd": GumbelLayerSelect,
    "hconv": HConv,
    "chconv": CHConv,
}


def _nearest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing."""
    matches = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def interface_settings(name: str) -> list[str]:
    """The setting keys the interface ``name`` accepts."""
    parameters = inspect.signature(INTERFACES[name]).parameters
    return [key for key in parameters if key not in ("layer_counts", "dims")]


def build_interface(
    name: str, layer_counts: Sequence[int], dims: Sequence[int], **settings
) -> nn.Module:
    """Build the interface ``name`` for members with ``layer_counts`` and ``dims``."""
    if name not in INTERFACES:
        raise ValueError(
            f"unknown interface {name!r}{_nearest(name, list(INTERFACES))}; "
            f"valid names: {', '.join(INTERFACES)}"
        )
    valid = interface_settings(name)
    for key in settings:
        if key not in valid:
            raise ValueError(
                f"unknown setting {key!r}{_nearest(key, valid)} for interface {name!r}; "
                f"valid settings: {', '.join(valid)}"
            )
    return INTERFACES[name](layer_counts, dims, **settings)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


__all__ = [
    "INTERFACES",
    "CHConv",
    "GumbelLayerSelect",
    "HConv",
    "HierarchicalConv",
    "WeightedSum",
    "build_interface",
    "count_parameters",
    "interface_settings",
    "parameter_counts_by_projection",
]
