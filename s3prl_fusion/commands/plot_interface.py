"""Read an s3prl checkpoint and draw how its interface uses each member's layers (PNG + text).

WS: the softmax layer weights; GumD: the share of feature dims whose hard selection picks each
layer; both are read from the weights, as is the softmax of s3prl's stock weighted sum
(-s hidden_states). HConv / CHConv have no such reading: their convolutions share kernel taps
across layers, and which layers count is decided by every convolution and the input. Their layer
use is measured on audio (--data / --wav-list): the checkpoint's upstream is built again from its
flags, runs over the files, and each layer's share of the output's sensitivity is measured
through the whole interface (Jacobian norm times the layer's RMS, see
``s3prl_fusion.interfaces.layer_sensitivity``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor, nn

from s3prl_fusion.cache.sources import collect_audio_files, read_waveform
from s3prl_fusion.cache.storage import MERGED_FEATURE
from s3prl_fusion.experiments.checkpoint_upstream import checkpoint_upstream
from s3prl_fusion.experiments.checkpoints import EXTRA_STATE_KEY, load_checkpoint
from s3prl_fusion.errors import SettingError
from s3prl_fusion.featurizer import member_stacks
from s3prl_fusion.interfaces import build_interface
from s3prl_fusion.interfaces.layer_sensitivity import layer_sensitivities, sensitivity_shares
from s3prl_fusion.plots import plot_layer_weights, summarize_layer_weights

INTERFACE_PREFIX = "interface."
MEASURED_INTERFACES = ("hconv", "chconv")  # no layer use can be read from their weights
READ_MEASURES = {"ws": "softmax layer weight", "gumd": "share of feature dims selecting the layer"}
DEFAULT_UTTERANCES = 20


class AudioNeededError(SettingError):
    """An interface whose layer use is measured on audio, and no audio was given."""


@dataclass(frozen=True)
class LayerUse:
    """Per member ``(L_i,)`` shares, the member names, what the checkpoint is, what a share is."""

    shares: list[Tensor]
    members: list[str]
    title: str
    measure: str


def trained_interface(featurizer_state: dict) -> nn.Module:
    """A checkpoint's fusion ``Featurizer`` entry -> its interface with the trained weights, in eval mode."""
    setup = featurizer_state[EXTRA_STATE_KEY]
    interface = build_interface(setup["interface"], setup["layer_counts"], setup["dims"], **setup["settings"])
    interface.load_state_dict({key[len(INTERFACE_PREFIX):]: value for key, value in featurizer_state.items() if key.startswith(INTERFACE_PREFIX)})
    return interface.eval()


def _description(setup: dict) -> str:
    return f"-s {setup['interface']} over {' + '.join(setup['members'])}"


def read_layer_use(featurizer_state: dict) -> LayerUse:
    """The layer use written in the weights of a checkpoint's ``Featurizer`` entry: s3prl's
    weighted sum, WS or GumD."""
    if EXTRA_STATE_KEY not in featurizer_state:
        if "weights" not in featurizer_state:
            raise SettingError("this checkpoint's featurizer has no layer weights (it selected a single feature with -s/-l)")
        shares = [torch.softmax(featurizer_state["weights"].float(), dim=-1)]
        return LayerUse(shares, ["upstream"], "s3prl weighted sum (-s hidden_states)", READ_MEASURES["ws"])
    setup = featurizer_state[EXTRA_STATE_KEY]
    with torch.no_grad():
        shares = trained_interface(featurizer_state).learned_layer_weights()
    return LayerUse(shares, list(setup["members"]), _description(setup), READ_MEASURES[setup["interface"]])


def utterance_stacks(upstream: nn.Module, files: list[Path], device: str) -> Iterator[list[Tensor]]:
    """Per audio file, the N member stacks ``(L_i, 1, T, D_i)`` the interface reads, as the featurizer gets them."""
    for path in files:
        with torch.no_grad():
            features = upstream([read_waveform(path).to(device)])
        if MERGED_FEATURE in features:
            raise SettingError(
                "the checkpoint was trained on a feature cache of merged storage, which holds the members' stacks already added: "
                "the use of each member's layers cannot be measured from it; train on -u fused or a per-member cache to plot it"
            )
        yield member_stacks(features)[0]


def measured_layer_use(checkpoint: dict, files: list[Path], device: str) -> LayerUse:
    """The layer use of a checkpoint's interface measured on ``files`` with its rebuilt upstream."""
    featurizer_state = checkpoint["Featurizer"]
    setup = featurizer_state[EXTRA_STATE_KEY]
    interface = trained_interface(featurizer_state).to(device)
    upstream = checkpoint_upstream(checkpoint, device)
    sensitivities, frames = layer_sensitivities(interface, utterance_stacks(upstream, files, device))
    measure = f"share of output sensitivity (Jacobian norm x layer RMS), {len(files)} utterances, {frames} frames"
    return LayerUse(sensitivity_shares(sensitivities), list(setup["members"]), _description(setup), measure)


def measured_interface(featurizer_state: dict) -> str | None:
    """The checkpoint's interface name where its layer use is measured on audio, else None."""
    setup = featurizer_state.get(EXTRA_STATE_KEY)
    return setup["interface"] if setup is not None and setup["interface"] in MEASURED_INTERFACES else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="an s3prl checkpoint (states-*.ckpt, dev-best.ckpt)")
    parser.add_argument("--out", help="PNG path (default: <checkpoint>.layers.png)")
    parser.add_argument("--data", action="append", default=[], help="hconv/chconv: folder of .flac/.wav, or an s3prl length table .csv (repeatable)")
    parser.add_argument("--wav-list", action="append", default=[], help="hconv/chconv: text file of audio paths, one per line (repeatable)")
    parser.add_argument("--root", help="folder that relative paths in --data tables / --wav-list files are relative to")
    parser.add_argument("--utterances", type=int, default=DEFAULT_UTTERANCES,
                        help=f"hconv/chconv: measure on the first this many files (default {DEFAULT_UTTERANCES})")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where the upstream and interface run")


def run(args: argparse.Namespace) -> None:
    checkpoint = load_checkpoint(args.checkpoint)
    interface = measured_interface(checkpoint["Featurizer"])
    has_audio = bool(args.data or args.wav_list)
    if interface is None:
        if has_audio:
            print("[plot-interface] - --data/--wav-list not used: this interface's layer use is read from its weights", file=sys.stderr)
        layer_use = read_layer_use(checkpoint["Featurizer"])
    else:
        if not has_audio:
            raise AudioNeededError(
                f"-s {interface} has no layer weights to read: its convolutions share kernel taps across layers, and which layers "
                "its output depends on is decided by every convolution and the input. Measure it on audio: give --data FOLDER "
                "(e.g. a LibriSpeech split) or --wav-list FILE"
            )
        if args.utterances < 1:
            raise SettingError(f"--utterances {args.utterances} must be at least 1")
        files = collect_audio_files(args.wav_list, args.data, args.root)[: args.utterances]
        layer_use = measured_layer_use(checkpoint, files, args.device)
    out = Path(args.out or f"{args.checkpoint}.layers.png")
    plot_layer_weights(layer_use.shares, layer_use.members, f"{layer_use.title}, step {checkpoint.get('Step')}", out, measure=layer_use.measure)
    print(f"{layer_use.title}: {layer_use.measure}")
    print(summarize_layer_weights(layer_use.shares, layer_use.members))
    print(f"wrote {out}")
