"""s3prl's ``speech_commands`` (keyword spotting) expert without catalyst.

The expert imports ``catalyst.data.sampler.DistributedSamplerWrapper`` for one purpose: splitting
its class-balanced ``WeightedRandomSampler`` across ranks in distributed runs. catalyst is a whole
training framework in s3prl's dev extras only, so a fresh install stops at that import. When
catalyst is not installed, ``provide_sampler_wrapper`` (run just before the expert module executes,
``hooks.py``) puts a stand-in ``catalyst.data.sampler`` holding ``DistributedSamplerWrapper`` below
in ``sys.modules``, and ``remove_sampler_wrapper`` (run just after) takes it out again, so nothing
else ever sees a ``catalyst`` module; an installed catalyst is used as is.
"""
from __future__ import annotations

import importlib.util
import sys
import types

from torch.utils.data import DistributedSampler, Sampler

STAND_IN_MODULES = ("catalyst", "catalyst.data", "catalyst.data.sampler")


class DistributedSamplerWrapper(DistributedSampler):
    """Each rank's share of the indices ``sampler`` draws, as catalyst's wrapper of the same name:
    every epoch ``sampler`` is drawn once (the same draw on every rank when the ranks share a seed),
    and ``DistributedSampler`` splits the positions of that draw, shuffled by its own seeded generator."""

    def __init__(self, sampler: Sampler, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True):
        super().__init__(list(range(len(sampler))), num_replicas=num_replicas, rank=rank, shuffle=shuffle)
        self.sampler = sampler

    def __iter__(self):
        drawn = list(self.sampler)
        return iter([drawn[position] for position in super().__iter__()])


def provide_sampler_wrapper() -> None:
    if any(name in sys.modules for name in STAND_IN_MODULES) or importlib.util.find_spec("catalyst") is not None:
        return
    modules = {name: types.ModuleType(name) for name in STAND_IN_MODULES}
    modules["catalyst.data.sampler"].DistributedSamplerWrapper = DistributedSamplerWrapper
    modules["catalyst.data.sampler"].__s3prl_fusion_stand_in__ = True
    sys.modules.update(modules)


def remove_sampler_wrapper(expert_module) -> None:
    if getattr(sys.modules.get("catalyst.data.sampler"), "__s3prl_fusion_stand_in__", False):
        for name in STAND_IN_MODULES:
            del sys.modules[name]
