"""Registration with s3prl's hub and the patches of s3prl's Runner (other touches of s3prl:
distributed.py, task_patches.py, past_experiment.py, nn.py, _autoload.py).

- ``register_upstreams``: adds the plugin's upstream names to ``s3prl.hub`` (``-u``).
- ``patch_runner``: makes s3prl's Runner build the plugin's featurizer for ``-s ws|gumd|
  hconv|chconv`` (settings from the task config key ``interface.<name>``), find the
  plugin's tasks for ``-d``, expand ``${config_dir}`` in the task config, check a
  checkpoint's fusion set-up before loading it, refuse ``-e`` with contradicting flags, write
  checkpoints atomically and delete old ones only after the new one is written.
Both run from post-import hooks (``s3prl_fusion._autoload``), so s3prl's files stay untouched.
"""
from __future__ import annotations

import importlib
import os
import sys
import types

import torch

from s3prl_fusion import compat
from s3prl_fusion.atomic import remove_partial_writes
from s3prl_fusion.audio_io import set_audio_policy
from s3prl_fusion.checkpoints import CheckpointRotation, check_featurizer_state
from s3prl_fusion.data_checks import check_data_paths
from s3prl_fusion.distributed import patch_distributed
from s3prl_fusion.errors import UnknownNameError, did_you_mean, install_excepthook
from s3prl_fusion.featurizer import FeatureSelectionError, FusionFeaturizer, probe_forward
from s3prl_fusion.interfaces import INTERFACES, RunLength
from s3prl_fusion.past_experiment import check_s3prl_script_arguments
from s3prl_fusion.resume_checks import check_resume_flags

# our -d tasks -> the module holding their DownstreamExpert
PLUGIN_TASKS = {"ml_superb": "s3prl_fusion.downstreams.ml_superb.expert"}
CONFIG_DIR_PLACEHOLDER = "${config_dir}"


def register_upstreams(hub_module) -> None:
    from s3prl_fusion.upstreams import hub_entries

    for name, factory in hub_entries().items():
        setattr(hub_module, name, factory)


def patch_runner(runner_module) -> None:
    compat.allow_s3prl_checkpoints()
    install_excepthook()
    check_s3prl_script_arguments()
    runner_class = runner_module.Runner
    if getattr(runner_class, "_s3prl_fusion_patched", False):
        return
    stock_init = runner_class.__init__
    stock_get_featurizer = runner_class._get_featurizer
    stock_get_downstream = runner_class._get_downstream

    def __init__(self, args, config):
        check_resume_flags(sys.argv[1:], args)
        expand_config_dir(config, getattr(args, "config", None))
        set_audio_policy(config.get("audio"))
        check_upstream_name(args)
        check_feature_selection_name(args)
        if args.mode in ("train", "evaluate"):
            check_data_paths(args.downstream, config)
        if args.mode == "train":
            remove_killed_writes(args.expdir)
        stock_init(self, args, config)

    def _get_featurizer(self):
        name = self.args.upstream_feature_selection
        check_featurizer_state(self.init_ckpt.get("Featurizer"), uses_fusion_interface=name in INTERFACES)
        check_feature_selection(name, self.upstream.model, self.args.device)
        if name not in INTERFACES:
            return stock_get_featurizer(self)
        settings = dict((self.config.get("interface") or {}).get(name) or {})
        if self.args.upstream_feature_normalize:
            settings["normalize"] = True
        runner_config = self.config.get("runner") or {}
        model = FusionFeaturizer(
            upstream=self.upstream.model,
            interface=name,
            settings=settings,
            upstream_device=self.args.device,
            upstream_name=self.args.upstream,
            upstream_ckpt=getattr(self.args, "upstream_ckpt", None),
            upstream_model_config=getattr(self.args, "upstream_model_config", None),
            run=RunLength(runner_config.get("total_steps"), runner_config.get("gradient_accumulate_steps") or 1),
        ).to(self.args.device)
        return self._init_model(model=model, name="Featurizer", trainable=True, interfaces=["output_dim", "downsample_rate"])

    def _get_downstream(self):
        task_module = PLUGIN_TASKS.get(self.args.downstream)
        if task_module is not None:
            sys.modules.setdefault(f"s3prl.downstream.{self.args.downstream}.expert", importlib.import_module(task_module))
        return stock_get_downstream(self)

    runner_class.__init__ = __init__
    runner_class._get_featurizer = _get_featurizer
    runner_class._get_downstream = _get_downstream
    runner_class._s3prl_fusion_patched = True
    rotation = CheckpointRotation()
    runner_module.torch = _module_with(torch, save=rotation.save)
    runner_module.os = _module_with(os, remove=rotation.remove)
    patch_distributed(runner_module)


def check_upstream_name(args) -> None:
    """An unknown ``-u`` stops with the nearest names instead of an AttributeError from the hub."""
    if getattr(args, "from_hf_hub", False):
        return
    from s3prl import hub

    if not args.upstream or args.upstream.startswith("_") or not hasattr(hub, args.upstream):
        raise UnknownNameError(
            f"-u {args.upstream} is not an upstream of s3prl's hub.{did_you_mean(args.upstream, hub.options(), cutoff=0.6)} "
            "`s3prl-fusion list` prints the plugin's names."
        )


PLUGIN_UPSTREAM_FEATURES = ("hidden_states", "last_hidden_state")  # -s keys of the plugin's upstreams


def check_feature_selection_name(args) -> None:
    """What can be said of ``-s`` / ``-l`` before anything is built: ``-l`` (one layer) with an
    interface, which fuses every layer of every member, and, for the plugin's own upstreams
    (whose features are known), a name that is neither an interface nor one of their features."""
    from s3prl_fusion.upstreams import hub_entries

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


def _module_with(module: types.ModuleType, **replacements) -> types.ModuleType:
    """A view of ``module`` that is identical but for the attributes in ``replacements``."""

    class ModuleView(types.ModuleType):
        def __getattr__(self, name):
            return getattr(module, name)

    view = ModuleView(module.__name__)
    for name, value in replacements.items():
        setattr(view, name, value)
    return view
