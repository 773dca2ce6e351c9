"""Every change to s3prl's ``Runner`` (``s3prl.downstream.runner``), applied once, here, when the
module is first imported (``hooks.py``), after ``RUNNER_TARGETS`` are checked:

- ``Runner.__init__``: checks before anything is built, cheapest first: ``-e`` with flags that
  contradict the checkpoint, ``${config_dir}`` expanded in the task config, the audio policy
  (config key ``audio``), ``-u`` / ``-s`` / ``-l`` names, a task a feature cache cannot serve
  (``-u fused_cache -d sv_voxceleb1``) and fine-tuning from one (``-u fused_cache -f``), the
  packages the task's s3prl code imports, data paths; on ``train``, partial files of killed writes removed.
- ``Runner._get_featurizer``: ``-s ws|gumd|hconv|chconv`` builds the plugin's featurizer
  (settings: task config key ``interface.<name>``, ``--upstream_feature_normalize`` adds ``normalize``); any other
  ``-s`` must be a feature of the upstream, and s3prl's own featurizer's trainable parameter
  count is printed as the plugin's interfaces print theirs; a checkpoint's fusion set-up is
  checked before its weights load.
- ``Runner._get_downstream``: the plugin's tasks (``-d ml_superb``) are found as
  ``s3prl.downstream.<task>.expert``; the expert's dataloaders record each batch's utterance
  names (``batch_names.py``).
- ``Runner.train`` / ``Runner.evaluate``: an audio error at the upstream's door names the
  utterance; on ranks > 0 the step counter follows the optimizer's updates; with
  ``S3PRL_FUSION_RANK_REPORT`` each rank reports what it trained and wrote (``distributed.py``).
- module globals the Runner calls: ``torch.save`` writes atomically and ``os.remove`` of an
  old ``states-*.ckpt`` waits until the next one is written (``CheckpointRotation``); ``DDP``
  leaves out ``device_ids`` for modules on the CPU.
"""
from __future__ import annotations

import importlib
import os
import sys
import types

import torch

from s3prl_fusion import compat
from s3prl_fusion.audio.loading import set_audio_policy
from s3prl_fusion.cache.tasks import check_cached_fine_tuning, check_cached_task
from s3prl_fusion.experiments.checkpoints import CheckpointRotation, check_featurizer_state
from s3prl_fusion.experiments.data_paths import check_data_paths
from s3prl_fusion.experiments.task_dependencies import check_task_dependencies
from s3prl_fusion.errors import install_excepthook
from s3prl_fusion.featurizer import FusionFeaturizer, print_interface
from s3prl_fusion.interfaces import INTERFACES, RunLength
from s3prl_fusion.experiments.resume_flags import check_resume_flags
from s3prl_fusion.s3prl_adapter.patches.batch_names import NamedBatches
from s3prl_fusion.s3prl_adapter.patches.distributed import RankReport, ddp_on_module_device, progress_on_every_rank
from s3prl_fusion.s3prl_adapter.internals.hub import check_upstream_name
from s3prl_fusion.s3prl_adapter.patches.run_checks import (
    check_feature_selection,
    check_feature_selection_name,
    check_untrained_task,
    expand_config_dir,
    remove_killed_writes,
)
from s3prl_fusion.s3prl_adapter.patches.script import patch_running_script
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets
from s3prl_fusion.s3prl_adapter.internals.module_views import module_with

RUNNER = "s3prl.downstream.runner"
# our -d tasks -> the module holding their DownstreamExpert
PLUGIN_TASKS = {"ml_superb": "s3prl_fusion.downstreams.ml_superb.expert"}

RUNNER_TARGETS = (
    PatchTarget("checks before the Runner builds anything", RUNNER, "Runner.__init__", ("self", "args", "config")),
    PatchTarget(
        "-s ws|gumd|hconv|chconv build the plugin's featurizer", RUNNER, "Runner._get_featurizer", ("self",),
        source_contains=("self._init_model(", "name = 'Featurizer'"),
    ),
    PatchTarget("the featurizer registered as s3prl registers its own", RUNNER, "Runner._init_model", ("self", "model", "name", "trainable", "interfaces")),
    PatchTarget(
        "the plugin's tasks found as s3prl.downstream.<task>.expert", RUNNER, "Runner._get_downstream", ("self",),
        source_contains=('importlib.import_module(f"s3prl.downstream.{self.args.downstream}.expert")', "interfaces = ['get_dataloader', 'log_records']"),
    ),
    PatchTarget(
        "audio errors name the utterance; ranks > 0 follow the optimizer's updates", RUNNER, "Runner.train", ("self",),
        source_contains=("desc='overall'", "optimizer.zero_grad()", "self.downstream.model.get_dataloader(", "for batch_id, (wavs, *others) in"),
    ),
    PatchTarget("the optimizer whose zero_grad advances ranks > 0", RUNNER, "Runner._get_optimizer", ("self", "model_params")),
    PatchTarget("audio errors name the utterance", RUNNER, "Runner.evaluate", ("self", "split", "logger", "global_step")),
    PatchTarget(
        "checkpoints written atomically, old ones deleted after the new one is written", RUNNER, "Runner.train",
        source_contains=("os.remove(ckpt_pth)", "torch.save(all_states, path)"),
    ),
    PatchTarget(
        "DDP without device_ids for modules on the CPU", RUNNER, "Runner._init_model",
        source_contains=("DDP(model, device_ids=[self.args.local_rank]",),
    ),
    *(PatchTarget("module globals the Runner's patches replace or call", RUNNER, name) for name in ("torch", "os", "DDP", "tqdm", "SummaryWriter")),
)


def patch_runner(runner_module: types.ModuleType) -> None:
    """Apply every change listed in the module docstring to ``runner_module`` (once)."""
    compat.allow_s3prl_checkpoints()
    install_excepthook()
    patch_running_script()
    runner_class = runner_module.Runner
    if getattr(runner_class, "_s3prl_fusion_patched", False):
        return
    check_targets(runner_module, RUNNER_TARGETS)
    stock_init, stock_train, stock_evaluate = runner_class.__init__, runner_class.train, runner_class.evaluate
    stock_get_featurizer, stock_get_downstream = runner_class._get_featurizer, runner_class._get_downstream
    report = RankReport.from_environment()
    rotation = CheckpointRotation()

    def __init__(self, args, config):
        check_resume_flags(sys.argv[1:], args)
        expand_config_dir(config, getattr(args, "config", None))
        set_audio_policy(config.get("audio"))
        check_upstream_name(args)
        check_feature_selection_name(args)
        check_untrained_task(args)
        check_cached_task(args.upstream, args.downstream, getattr(args, "upstream_ckpt", None))
        check_cached_fine_tuning(args.upstream, getattr(args, "upstream_trainable", False), getattr(args, "upstream_ckpt", None))
        check_task_dependencies(args.downstream)
        if args.mode in ("train", "evaluate"):
            check_data_paths(args.downstream, config)
        if args.mode == "train":
            remove_killed_writes(args.expdir)
        self._s3prl_fusion_batches = NamedBatches()
        stock_init(self, args, config)

    def _get_featurizer(self):
        name = self.args.upstream_feature_selection
        check_featurizer_state(self.init_ckpt.get("Featurizer"), uses_fusion_interface=name in INTERFACES)
        check_feature_selection(name, self.upstream.model, self.args.device)
        if name not in INTERFACES:
            entry = stock_get_featurizer(self)
            print_stock_featurizer(entry.model, name, self.args.upstream_layer_selection)
            crop_at_fused_lengths(getattr(entry.model, "module", entry.model))  # under DDP: its module
            return entry
        return self._init_model(model=_fusion_featurizer(self), name="Featurizer", trainable=True, interfaces=["output_dim", "downsample_rate"])

    def _get_downstream(self):
        task_module = PLUGIN_TASKS.get(self.args.downstream)
        if task_module is not None:
            sys.modules.setdefault(f"s3prl.downstream.{self.args.downstream}.expert", importlib.import_module(task_module))
        entry = stock_get_downstream(self)
        entry.model.get_dataloader = self._s3prl_fusion_batches.wrapping(entry.model.get_dataloader)
        return entry

    def train(self):
        with progress_on_every_rank(self, runner_module), self._s3prl_fusion_batches.naming_audio_errors():
            stock_train(self)
        if report is not None:
            report.write(self)

    def evaluate(self, *args, **kwargs):
        with self._s3prl_fusion_batches.naming_audio_errors():
            return stock_evaluate(self, *args, **kwargs)

    runner_class.__init__ = __init__
    runner_class._get_featurizer = _get_featurizer
    runner_class._get_downstream = _get_downstream
    runner_class.train = train
    runner_class.evaluate = evaluate
    runner_class._s3prl_fusion_patched = True
    save = rotation.save if report is None else report.recording_saves(rotation.save)
    runner_module.torch = module_with(torch, save=save)
    runner_module.os = module_with(os, remove=rotation.remove)
    runner_module.DDP = ddp_on_module_device
    if report is not None:
        runner_module.SummaryWriter = report.recording_log_dirs(runner_module.SummaryWriter)


def print_stock_featurizer(featurizer: torch.nn.Module, selection: str, layer: int | None) -> None:
    """s3prl's own featurizer's start-up line in the plugin's interfaces' format (its weighted sum's
    trainable parameters: one weight per hidden state, none for one selected layer or feature)."""
    stock = getattr(featurizer, "module", featurizer)  # DDP
    what = f"s3prl's featurizer of -s {selection}" + ("" if layer is None else f" -l {layer}")
    if hasattr(stock, "weights"):
        what = f"s3prl's weighted sum of -s {selection} over {stock.weights.numel()} layers"
    print_interface("Featurizer", what, stock)


def crop_at_fused_lengths(featurizer: torch.nn.Module) -> None:
    """Make s3prl's own featurizer hand the head each utterance's valid frames where the upstream
    is the plugin's (it reports ``fusion_lengths``: a fused upstream, a feature cache): s3prl crops
    at ``round(samples / downsample_rate)``, one padded frame past a 49-frame second of a WavLM /
    HuBERT / Data2Vec member in a longer batch. Each utterance gets the fewer of the two, so its
    frames do not depend on the batch. A stock upstream reports no ``fusion_lengths`` and is cropped
    as s3prl crops it, unchanged."""
    stock_forward = featurizer.forward

    def forward(paired_wavs, paired_features):
        features = stock_forward(paired_wavs, paired_features)
        lengths = paired_features.get("fusion_lengths") if isinstance(paired_features, dict) else None
        if lengths is None:
            return features
        return [feature[: int(length)] for feature, length in zip(features, lengths)]

    featurizer.forward = forward


def _fusion_featurizer(runner) -> FusionFeaturizer:
    """The plugin's featurizer for the runner's ``-s`` interface, on the runner's device."""
    name = runner.args.upstream_feature_selection
    settings = dict((runner.config.get("interface") or {}).get(name) or {})
    if runner.args.upstream_feature_normalize:
        settings["normalize"] = True
    runner_config = runner.config.get("runner") or {}
    return FusionFeaturizer(
        upstream=runner.upstream.model,
        interface=name,
        settings=settings,
        upstream_device=runner.args.device,
        upstream_name=runner.args.upstream,
        upstream_ckpt=getattr(runner.args, "upstream_ckpt", None),
        upstream_model_config=getattr(runner.args, "upstream_model_config", None),
        run=RunLength(runner_config.get("total_steps")),
    ).to(runner.args.device)
