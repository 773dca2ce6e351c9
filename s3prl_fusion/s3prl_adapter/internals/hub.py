"""s3prl's hub (``s3prl.hub``): the upstream names of ``-u`` and their factories."""
from __future__ import annotations

from typing import Callable

from torch import nn

from s3prl_fusion.errors import UnknownNameError, did_you_mean
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget

HUB_TARGETS = (
    PatchTarget("upstream names registered for -u, and the names -u suggests", "s3prl.hub", "options", ("only_registered_ckpt",)),
)


def hub_upstream(name: str) -> Callable[..., nn.Module] | None:
    """The factory s3prl's hub has for ``name`` (called with ``ckpt``, ``model_config``), or None."""
    from s3prl import hub

    return getattr(hub, name, None) if name and not name.startswith("_") else None


def s3prl_upstream_names() -> list[str]:
    """Every upstream name of s3prl's hub, the plugin's included."""
    from s3prl import hub

    return hub.options()


def check_upstream_name(args) -> None:
    """An unknown ``-u`` stops with the nearest names instead of an AttributeError from the hub."""
    if getattr(args, "from_hf_hub", False) or hub_upstream(args.upstream) is not None:
        return
    raise UnknownNameError(
        f"-u {args.upstream} is not an upstream of s3prl's hub.{did_you_mean(args.upstream, s3prl_upstream_names(), cutoff=0.6)} "
        "`s3prl-fusion list` prints the plugin's names."
    )
