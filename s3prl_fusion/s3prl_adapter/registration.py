"""The plugin's upstream names in s3prl's hub, so ``-u fused_wavlm_whisper`` (and the others of
``s3prl-fusion list``) resolve like s3prl's own."""
from __future__ import annotations

import types

from s3prl_fusion.hub_names import hub_entries
from s3prl_fusion.s3prl_adapter.hub import HUB_TARGETS
from s3prl_fusion.s3prl_adapter.targets import check_targets


def register_upstreams(hub_module: types.ModuleType) -> None:
    """Add every name of ``hub_entries`` to ``s3prl.hub`` (run when it is first imported)."""
    check_targets(hub_module, HUB_TARGETS)
    for name, factory in hub_entries().items():
        setattr(hub_module, name, factory)
