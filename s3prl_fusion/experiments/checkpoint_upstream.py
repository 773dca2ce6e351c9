"""The upstream a checkpoint of s3prl's runner was trained on, built again from its recorded flags.

s3prl's runner seeds torch with ``--seed`` and then builds ``-u`` from its hub with ``-k`` and
``-g``; the same is done here (inside ``torch.random.fork_rng``, so the caller's random state is
untouched), which gives randomly initialised members their trained-with weights too. A trained
upstream's weights (``upstream_trainable``) are loaded from the checkpoint. The result is checked
against the fusion set-up the checkpoint's featurizer recorded (members, layers, dims, what each
member is, autocast) before anything is measured on it.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from s3prl_fusion.experiments.checkpoints import EXTRA_STATE_KEY
from s3prl_fusion.errors import MissingPathError, SettingError, UnknownNameError, UserError
from s3prl_fusion.featurizer import identity_differences, upstream_layout
from s3prl_fusion.s3prl_adapter.internals.hub import hub_upstream
from s3prl_fusion.upstreams.identity import upstream_identities

UPSTREAM_STATE_KEY = "Upstream"  # s3prl's runner saves the upstream's weights only when it trains them


class RebuiltUpstreamMismatch(UserError, ValueError):
    """The upstream built from a checkpoint's flags is not the one its featurizer was trained on."""


def checkpoint_upstream(checkpoint: dict, device: str) -> nn.Module:
    """An s3prl checkpoint (with ``Args`` and a fusion ``Featurizer`` state) -> its upstream, in
    eval mode on ``device``."""
    args = checkpoint.get("Args")
    if args is None:
        raise SettingError(
            "the checkpoint holds no runner arguments (Args), so its upstream cannot be built again; give a checkpoint written by s3prl's runner"
        )
    if getattr(args, "hub", "torch") != "torch":
        raise SettingError(
            f"the checkpoint's upstream came from --hub {args.hub} ({args.upstream}); only upstreams of s3prl's own hub (--hub torch) are built again here"
        )
    factory = hub_upstream(args.upstream)
    if factory is None:
        raise UnknownNameError(f"the checkpoint's upstream -u {args.upstream} is not in s3prl's hub; `s3prl-fusion list` prints the plugin's names")
    model_config = getattr(args, "upstream_model_config", None)
    if model_config and not os.path.exists(model_config):
        raise MissingPathError(
            f"the checkpoint's upstream config (-g) {model_config} does not exist from {os.getcwd()}; run from the folder the training was started in"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        upstream = factory(ckpt=getattr(args, "upstream_ckpt", None), model_config=model_config, refresh=False)
    if UPSTREAM_STATE_KEY in checkpoint:
        upstream.load_state_dict(checkpoint[UPSTREAM_STATE_KEY])
    upstream = upstream.to(device).eval()
    _check_setup(upstream, args, checkpoint, device)
    return upstream


def _check_setup(upstream: nn.Module, args, checkpoint: dict, device: str) -> None:
    saved = checkpoint["Featurizer"][EXTRA_STATE_KEY]
    members, layer_counts, dims = upstream_layout(upstream, device)
    identities, autocast = upstream_identities(upstream, args.upstream, getattr(args, "upstream_ckpt", None), getattr(args, "upstream_model_config", None))
    differences = [
        f"{key}: checkpoint {saved[key]!r} vs built {value!r}"
        for key, value in (("members", members), ("layer_counts", layer_counts), ("dims", dims))
        if saved[key] != value
    ]
    differences += identity_differences(saved, {"member_identities": identities, "autocast": autocast})
    if differences:
        raise RebuiltUpstreamMismatch(
            f"the upstream built from the checkpoint's flags (-u {args.upstream}) is not the one its interface was trained on ("
            + "; ".join(differences) + "); the members' files or configs have changed since"
        )
