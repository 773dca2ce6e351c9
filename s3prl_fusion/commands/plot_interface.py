"""Read an s3prl checkpoint and draw what its interface learned per member and layer (PNG + text).

WS: the softmax layer weights; GumD: the share of feature dims whose hard selection picks each
layer; HConv / CHConv: first-conv weight norms per input layer, mapped back to each member's
layers. A checkpoint of s3prl's stock weighted sum (-s hidden_states) shows its softmax weights.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from s3prl_fusion.experiments.checkpoints import EXTRA_STATE_KEY, load_checkpoint
from s3prl_fusion.errors import SettingError
from s3prl_fusion.interfaces import build_interface
from s3prl_fusion.plots import plot_layer_weights, summarize_layer_weights

INTERFACE_PREFIX = "interface."


def learned_layer_weights(featurizer_state: dict) -> tuple[list[Tensor], list[str], str]:
    """A checkpoint's ``Featurizer`` entry -> (per-member (L_i,) shares, member names, title)."""
    if EXTRA_STATE_KEY not in featurizer_state:
        if "weights" not in featurizer_state:
            raise SettingError("this checkpoint's featurizer has no layer weights (it selected a single feature with -s/-l)")
        return [torch.softmax(featurizer_state["weights"].float(), dim=-1)], ["upstream"], "s3prl weighted sum (-s hidden_states)"
    setup = featurizer_state[EXTRA_STATE_KEY]
    interface = build_interface(setup["interface"], setup["layer_counts"], setup["dims"], **setup["settings"])
    interface.load_state_dict({key[len(INTERFACE_PREFIX):]: value for key, value in featurizer_state.items() if key.startswith(INTERFACE_PREFIX)})
    interface.eval()
    with torch.no_grad():
        weights = interface.learned_layer_weights()
    return weights, list(setup["members"]), f"-s {setup['interface']} over {' + '.join(setup['members'])}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="an s3prl checkpoint (states-*.ckpt, dev-best.ckpt)")
    parser.add_argument("--out", help="PNG path (default: <checkpoint>.layers.png)")


def run(args: argparse.Namespace) -> None:
    checkpoint = load_checkpoint(args.checkpoint)
    weights, members, title = learned_layer_weights(checkpoint["Featurizer"])
    out = Path(args.out or f"{args.checkpoint}.layers.png")
    plot_layer_weights(weights, members, f"{title}, step {checkpoint.get('Step')}", out)
    print(summarize_layer_weights(weights, members))
    print(f"wrote {out}")
