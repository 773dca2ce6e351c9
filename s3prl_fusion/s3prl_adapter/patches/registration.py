"""The upstream names the plugin adds to s3prl's hub (``-u``), their factories, and their
registration, so ``-u fused_wavlm_whisper`` (and the others of ``s3prl-fusion list``) resolve like
s3prl's own.

    whisper_<size>   Whisper encoder (tiny ... large_v3, and the English-only ``_en`` sizes)
    whisper          a Whisper encoder from ``-k`` (Hugging Face id or local directory)
    hf_ssl           a Hugging Face speech SSL encoder from ``-k`` (id or local directory)
    fused            a fused upstream whose members come from ``-k a,b`` or ``-g members.yaml``
    fused_<...>      the paper's member combinations (``s3prl_fusion.upstreams.presets``)
    fused_cache      a fused upstream's output read from a feature cache (``-k CACHE_DIR``)
Every factory takes s3prl's upstream arguments ``(ckpt, model_config, refresh)``.
"""
from __future__ import annotations

import types
from typing import Callable

from torch import nn

from s3prl_fusion.cache.tasks import CACHED_UPSTREAM
from s3prl_fusion.cache.upstream import cached_fused_factory
from s3prl_fusion.s3prl_adapter.internals.hub import HUB_TARGETS
from s3prl_fusion.s3prl_adapter.internals.targets import check_targets
from s3prl_fusion.upstreams import upstream_factories


def hub_entries() -> dict[str, Callable[..., nn.Module]]:
    """Every upstream name the plugin registers in ``s3prl.hub``, with its factory."""
    return {**upstream_factories(), CACHED_UPSTREAM: cached_fused_factory}


def register_upstreams(hub_module: types.ModuleType) -> None:
    """Add every name of ``hub_entries`` to ``s3prl.hub`` (run when it is first imported)."""
    check_targets(hub_module, HUB_TARGETS)
    for name, factory in hub_entries().items():
        setattr(hub_module, name, factory)
