"""Checks of a run's flags and task config made before s3prl's Runner builds anything, so a
mistake stops with a message naming the flag or setting instead of a traceback mid-run.
Cheapest first: names (``-u``, ``-s``, ``-l``), then data paths."""
from __future__ import annotations

import os
import sys

import torch

from s3prl_fusion.experiments.atomic_files import remove_partial_writes
from s3prl_fusion.errors import did_you_mean
from s3prl_fusion.featurizer import FeatureSelectionError, probe_forward
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.interfaces import INTERFACES

PLUGIN_UPSTREAM_FEATURES = ("hidden_states", "last_hidden_state")  # -s keys of the plugin's upstreams
CONFIG_DIR_PLACEHOLDER = "${config_dir}"


def check_feature_selection_name(args) -> None:
    """What can be said of ``-s`` / ``-l`` before anything is built: ``-l`` (one layer) with an
    interface, which fuses every layer of every member, and, for the plugin's own upstreams
    (whose features are known), a name that is neither an interface nor one of their features."""
    name, layer = args.upstream_feature_selection, args.upstream_layer_selection
    if name in INTERFACES:
        if layer is not None:
            raise FeatureSelectionError(
                f"-l {layer} selects one hidden state for s3prl's featurizer (-s hidden_states -l {layer}); "
                f"-s {name} fuses every layer of every member and takes no -l: drop -l, or use -s hidden_states -l {layer}"
            )
        return
    if args.upstream in hub_entries() and name not in PLUGIN_UPSTREAM_FEATURES:
        raise unknown_feature_selection(name, list(PLUGIN_UPSTREAM_FEATURES))


# tasks SUPERB scores without training anything: the upstream's features as they are, layer by layer
UNTRAINED_TASKS = {
    "quesst14_dtw": "SUPERB's QbE protocol trains nothing: DTW over one hidden state's features, the layer chosen on dev "
                    "and reported on test",
}


def check_untrained_task(args) -> None:
    """A trainable interface with a task that trains nothing would be evaluated as initialised (random weights)."""
    name, task = args.upstream_feature_selection, args.downstream
    if name in INTERFACES and task in UNTRAINED_TASKS:
        raise FeatureSelectionError(
            f"-d {task} with -s {name}: {UNTRAINED_TASKS[task]}, so -s {name} would be scored with the weights it was built "
            f"with. Run -s hidden_states -l <layer> for each layer of the (fused) upstream and keep the best on dev: "
            f"`s3prl-fusion qbe` (recipes/qbe.sh) sweeps every layer so"
        )


def check_feature_selection(name: str, upstream, device: str) -> None:
    """An ``-s`` that is neither an interface nor a feature of the upstream's output is a mistake:
    stock s3prl would silently train a weighted sum instead."""
    if name in INTERFACES:
        return
    if hasattr(upstream, "fusion_layout"):
        raise FeatureSelectionError(f"-s {name}: a feature cache (-u fused_cache) serves the fusion interfaces only: -s {', '.join(sorted(INTERFACES))}")
    features = probe_forward(upstream, device)
    keys = [key for key in features.keys() if not key.startswith("_") and _is_selectable(features[key])]
    if name not in keys:
        raise unknown_feature_selection(name, keys)


def _is_selectable(feature) -> bool:
    """s3prl's Featurizer takes a (B, T, D) tensor or a list of them."""
    layers = feature if isinstance(feature, (list, tuple)) else [feature]
    return bool(layers) and all(isinstance(layer, torch.Tensor) and layer.dim() == 3 for layer in layers)


def unknown_feature_selection(name: str, features: list[str]) -> FeatureSelectionError:
    return FeatureSelectionError(
        f"-s {name} is neither a fusion interface ({', '.join(sorted(INTERFACES))}) nor a feature of this upstream "
        f"({', '.join(features)}).{did_you_mean(name, sorted(INTERFACES) + sorted(features))}"
    )


def remove_killed_writes(expdir: str) -> None:
    """Delete the partial files that writes killed in an earlier run left in ``expdir`` (on the
    process that writes checkpoints: rank 0, or the only one)."""
    from s3prl.utility.helper import is_leader_process

    if not is_leader_process():
        return
    for leftover in remove_partial_writes(expdir):
        print(f"[s3prl_fusion] - removed {leftover}, left by a write that was killed", file=sys.stderr)


def expand_config_dir(config, config_path: str | None) -> None:
    """Replace ``${config_dir}`` in every string of the task config by the config file's folder,
    so shipped configs can name files that sit beside them (e.g. ``char.dict``)."""
    if not config_path:
        return
    folder = os.path.dirname(os.path.abspath(config_path))
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and CONFIG_DIR_PLACEHOLDER in value:
            config[key] = value.replace(CONFIG_DIR_PLACEHOLDER, folder)
        elif isinstance(value, (dict, list)):
            expand_config_dir(value, config_path)
