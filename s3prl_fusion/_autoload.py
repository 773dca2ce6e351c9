"""Post-import hooks: patch s3prl and its dependencies the moment they are first imported.

Installed from a ``.pth`` file, so ``python run_downstream.py`` inside an s3prl checkout sees
the plugin with no import typed by the user. This module imports nothing heavy: a Python
that never imports torchaudio, huggingface_hub or s3prl pays only for a dictionary lookup.
"""
from __future__ import annotations

import importlib
import importlib.util
import importlib.abc
import sys

# module name -> (function run before it executes, function run on it after it executes),
# each "module:function", imported only when the hook fires
_HOOKS = {
    "torchaudio": ("s3prl_fusion.compat:ensure_torchaudio_importable", "s3prl_fusion.compat:patch_torchaudio"),
    "huggingface_hub": (None, "s3prl_fusion.compat:patch_huggingface_hub"),
    "s3prl.hub": (None, "s3prl_fusion.plugin:register_upstreams"),
    "s3prl.downstream.runner": (None, "s3prl_fusion.plugin:patch_runner"),
    "s3prl.downstream.sv_voxceleb1.dataset": (None, "s3prl_fusion.task_patches:patch_sv_dataset"),
    "s3prl.downstream.sv_voxceleb1.expert": (None, "s3prl_fusion.task_patches:patch_sv_expert"),
}


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
        if fullname not in _HOOKS or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _PatchingLoader(spec.loader, *_HOOKS[fullname])
        return spec


def install() -> None:
    """Put the finder first on sys.meta_path (once), and patch modules imported before it."""
    if any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _PostImportFinder())
    for name, (_, after) in _HOOKS.items():
        if name in sys.modules and after:
            _resolve(after)(sys.modules[name])
