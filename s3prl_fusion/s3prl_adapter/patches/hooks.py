"""Post-import hooks: patch s3prl and its dependencies the moment they are first imported.

Installed from a ``.pth`` file, so ``python run_downstream.py`` inside an s3prl checkout sees
the plugin with no import typed by the user. This module imports nothing heavy: a Python
that never imports torchaudio, huggingface_hub or s3prl pays only for a dictionary lookup.

With ``S3PRL_FUSION_COMPAT_ONLY=1`` in the environment only the compatibility patches are
installed (torchaudio, huggingface_hub, s3prl's checkpoint loading): s3prl runs as it would
unpatched on these libraries, without the plugin's upstreams, interfaces, tasks or runner
changes.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys

# module name -> (function run before it executes, function run on it after it executes),
# each "module:function", imported only when the hook fires
_HOOKS = {
    "torchaudio": ("s3prl_fusion.compat:ensure_torchaudio_importable", "s3prl_fusion.compat:patch_torchaudio"),
    "huggingface_hub": (None, "s3prl_fusion.compat:patch_huggingface_hub"),
    "huggingface_hub.hf_api": (None, "s3prl_fusion.compat:patch_hf_api"),
    "huggingface_hub._snapshot_download": (None, "s3prl_fusion.compat:patch_snapshot_download"),
    "s3prl.hub": (None, "s3prl_fusion.s3prl_adapter.patches.registration:register_upstreams"),
    "s3prl.downstream.runner": (None, "s3prl_fusion.s3prl_adapter.patches.runner:patch_runner"),
    "s3prl.downstream.sv_voxceleb1.dataset": (None, "s3prl_fusion.s3prl_adapter.patches.sv_task:patch_sv_dataset"),
    "s3prl.downstream.sv_voxceleb1.expert": (None, "s3prl_fusion.s3prl_adapter.patches.sv_task:patch_sv_expert"),
    "s3prl.downstream.ctc.data": (None, "s3prl_fusion.s3prl_adapter.patches.ctc_task:patch_ctc_data"),
    "s3prl.downstream.asr.expert": (None, "s3prl_fusion.s3prl_adapter.patches.asr_task:patch_asr_expert"),
    "s3prl.downstream.speech_commands.expert": (
        "s3prl_fusion.s3prl_adapter.patches.speech_commands_task:provide_sampler_wrapper",
        "s3prl_fusion.s3prl_adapter.patches.speech_commands_task:remove_sampler_wrapper",
    ),
    "s3prl.downstream.voxceleb1.dataset": (None, "s3prl_fusion.s3prl_adapter.patches.voxceleb1_task:patch_sid_dataset"),
}
COMPAT_ONLY_ENV = "S3PRL_FUSION_COMPAT_ONLY"
_COMPAT_HOOKS = {
    "torchaudio": _HOOKS["torchaudio"],
    "huggingface_hub": _HOOKS["huggingface_hub"],
    "huggingface_hub.hf_api": _HOOKS["huggingface_hub.hf_api"],
    "huggingface_hub._snapshot_download": _HOOKS["huggingface_hub._snapshot_download"],
    "s3prl.downstream.runner": (None, "s3prl_fusion.s3prl_adapter.patches.hooks:allow_s3prl_checkpoints"),
}


def allow_s3prl_checkpoints(runner_module) -> None:
    """The runner's compatibility patch alone: weights-only loading of s3prl checkpoints."""
    from s3prl_fusion import compat

    compat.allow_s3prl_checkpoints()


def _active_hooks() -> dict:
    return _COMPAT_HOOKS if os.environ.get(COMPAT_ONLY_ENV) == "1" else _HOOKS


def _resolve(target: str):
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


class _PatchingLoader(importlib.abc.Loader):
    """Wraps a module's own loader: runs the before-hook, the module, then the after-hook."""

    def __init__(self, loader, before, after):
        self._loader = loader
        self._before = before
        self._after = after

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if self._before:
            _resolve(self._before)()
        self._loader.exec_module(module)
        if self._after:
            _resolve(self._after)(module)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._finding = set()

    def find_spec(self, fullname, path, target=None):
        hooks = _active_hooks()
        if fullname not in hooks or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _PatchingLoader(spec.loader, *hooks[fullname])
        return spec


def install() -> None:
    """Put the finder first on sys.meta_path (once), and patch modules imported before it."""
    if any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _PostImportFinder())
    for name, (_, after) in _active_hooks().items():
        if name in sys.modules and after:
            _resolve(after)(sys.modules[name])
