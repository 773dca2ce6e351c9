"""Trainable interfaces that fuse N stacks of hidden states ``(L_i, B, T, D_i)`` (layer axis
first) into one feature sequence ``(B, T, output_dim)``, found by name in ``INTERFACES``.

Every interface is built as ``cls(layer_counts, dims, **settings)`` (one entry per fused
upstream); its constructor's keyword defaults are the one place the settings' defaults (the
paper's) are written (``interface_defaults``). It has an int ``output_dim``; WS and GumD, whose
weights say how they use each layer, have ``learned_layer_weights() -> list[(L_i,)]`` (HConv and
CHConv share kernel taps across layers, so theirs is measured on audio: ``layer_sensitivity``). An interface that follows a schedule also takes
``run`` (a ``RunLength``: the training run's optimizer updates), counts the optimizer's steps
itself, and has ``checked_setup() -> dict`` (what a checkpoint must share with it beyond its
settings) and ``SCHEDULE_SETTINGS`` (the settings that set it); one with more to say at start-up
than its parameter count has ``describe() -> list[str]``.
"""
from __future__ import annotations

import inspect
import typing
from typing import Sequence

from torch import nn

from s3prl_fusion.errors import SettingError, UnknownNameError, did_you_mean
from s3prl_fusion.interfaces.gumd import GumbelLayerSelect
from s3prl_fusion.interfaces.hconv import CHConv, HConv, HierarchicalConv, parameter_counts_by_projection
from s3prl_fusion.interfaces.run_length import RunLength
from s3prl_fusion.interfaces.ws import WeightedSum

INTERFACES: dict[str, type[nn.Module]] = {
    "ws": WeightedSum,
    "gumd": GumbelLayerSelect,
    "hconv": HConv,
    "chconv": CHConv,
}


def interface_settings(name: str) -> list[str]:
    """The setting keys the interface ``name`` accepts."""
    return [key for key in _parameters(name) if key not in ("layer_counts", "dims", "run")]


def follows_run(name: str) -> bool:
    """Whether the interface ``name`` follows a schedule over the training run (takes ``run``)."""
    return name in INTERFACES and "run" in _parameters(name)


def interface_defaults(name: str) -> dict:
    """{setting: default} of the interface ``name``: its constructor's keyword defaults."""
    parameters = inspect.signature(INTERFACES[name]).parameters
    return {key: parameters[key].default for key in interface_settings(name)}


def _parameters(name: str) -> list[str]:
    return list(inspect.signature(INTERFACES[name]).parameters)


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}


def _accepts(kind: type, value) -> bool:
    """Whether ``value`` (as YAML or s3prl's ``-o`` parses it) is of the annotated ``kind``: a bool
    is no integer here, an integer is a float."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def check_setting_types(name: str, settings: dict) -> None:
    """Raise a ``SettingError`` for a setting of the interface ``name`` whose value is not of the
    type its constructor's annotation names (``kernel_size: abc``, ``normalize: 'yes'``)."""
    parameters = inspect.signature(INTERFACES[name], eval_str=True).parameters
    for key, value in settings.items():
        annotation = parameters[key].annotation
        kinds = typing.get_args(annotation) or (annotation,)
        if not set(kinds) <= set(_TYPE_WORDS):
            continue  # a setting of another type is the constructor's to check
        if not any(_accepts(kind, value) for kind in kinds):
            wanted = " or ".join(_TYPE_WORDS[kind] for kind in kinds)
            raise SettingError(f"interface.{name}.{key}={value!r} must be {wanted}")


def build_interface(
    name: str,
    layer_counts: Sequence[int],
    dims: Sequence[int],
    run: RunLength | None = None,
    **settings,
) -> nn.Module:
    """Build the interface ``name`` for members with ``layer_counts`` and ``dims``; ``run``
    reaches the interfaces that follow a schedule over the training run."""
    if name not in INTERFACES:
        raise UnknownNameError(f"unknown interface {name!r}; valid names: {', '.join(INTERFACES)}.{did_you_mean(name, INTERFACES)}")
    valid = interface_settings(name)
    for key in settings:
        if key not in valid:
            raise UnknownNameError(
                f"unknown setting {key!r} for interface {name!r}; valid settings: {', '.join(valid)}.{did_you_mean(key, valid)}"
            )
    check_setting_types(name, settings)
    if run is not None and "run" in _parameters(name):
        settings["run"] = run
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
    "RunLength",
    "WeightedSum",
    "build_interface",
    "count_parameters",
    "follows_run",
    "interface_defaults",
    "interface_settings",
    "parameter_counts_by_projection",
]
