"""Guarded patches that let s3prl 0.4.18 run on current torch / torchaudio / huggingface_hub.

Each patch detects its need first and does nothing where the library still works.
No file of s3prl is edited: every fix replaces a missing attribute or module at run time.
"""
from __future__ import annotations

import argparse
import ctypes
import functools
import importlib.util
import inspect
import os
import sys
import types
from pathlib import Path

from s3prl_fusion.errors import UserError


class UnavailableHereError(UserError, RuntimeError):
    """What s3prl asked for needs a library part these versions no longer have; the message says what to do instead."""


def _torchaudio_extension_loads() -> bool:
    """True when torchaudio's compiled extension can be loaded with the installed torch."""
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        return True
    import torch  # noqa: F401  (torch's own libraries must be loaded first)

    lib_dir = Path(next(iter(spec.submodule_search_locations))) / "lib"
    # the extension links against libtorchaudio, which must be loaded (globally) before it
    for pattern in ("libtorchaudio*.so", "_torchaudio*.so"):
        for library in sorted(lib_dir.glob(pattern)):
            try:
                ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                return False
    return True


def ensure_torchaudio_importable() -> None:
    """P1: a CUDA build of torchaudio next to CPU torch cannot load its extension.

    Before torchaudio is first imported, install a stand-in ``torchaudio._extension`` that
    reports the extension as unavailable; torchaudio's pure-Python parts (kaldi fbank,
    transforms, resample) then work, which is all s3prl and transformers need.
    """
    if "torchaudio._extension" in sys.modules:
        return
    if _torchaudio_extension_loads():
        return

    def fail_if_no_align(func):
        def raiser(*args, **kwargs):
            raise UnavailableHereError(
                f"{func.__name__} needs torchaudio's compiled extension, which cannot be "
                "loaded with this torch build (install the torchaudio matching your torch)."
            )

        return raiser

    stand_in = types.ModuleType("torchaudio._extension")
    stand_in._IS_TORCHAUDIO_EXT_AVAILABLE = False  # why: CUDA-only torchaudio wheel on CPU torch
    stand_in._IS_ALIGN_AVAILABLE = False
    stand_in._load_lib = lambda name: False
    stand_in._check_cuda_version = lambda: None
    stand_in.fail_if_no_align = fail_if_no_align
    stand_in.__all__ = ["_check_cuda_version", "_IS_TORCHAUDIO_EXT_AVAILABLE"]
    sys.modules["torchaudio._extension"] = stand_in


def patch_torchaudio(torchaudio_module) -> None:
    """P2, P3, P5: run s3prl's audio calls on a torchaudio that dropped them."""
    if not hasattr(torchaudio_module, "set_audio_backend"):
        # why: removed in torchaudio 2.9; s3prl calls it at import and in run_downstream.main
        torchaudio_module.set_audio_backend = lambda backend=None: None
    if "torchaudio.sox_effects" not in sys.modules and importlib.util.find_spec("torchaudio.sox_effects") is None:
        # why: sox_effects is gone; sv_voxceleb1 needs its effect chain, done here with soundfile
        from s3prl_fusion.audio import sox_effects

        sys.modules["torchaudio.sox_effects"] = sox_effects
        torchaudio_module.sox_effects = sox_effects
    if not _torchcodec_decodes():
        # why: torchaudio >= 2.9 decodes only through torchcodec, whose CPU build needs FFmpeg
        from s3prl_fusion.audio import loading

        torchaudio_module.load = loading.load
        torchaudio_module.info = loading.info


def _torchcodec_decodes() -> bool:
    try:
        from torchcodec.decoders import AudioDecoder  # noqa: F401
    except Exception:  # any failure to load its native libraries means it cannot decode
        return False
    return True


def patch_huggingface_hub(hub_module) -> None:
    """P4: s3prl's runner imports HfFolder and Repository, both gone in huggingface_hub 1.x."""
    if not hasattr(hub_module, "HfFolder"):

        class HfFolder:
            """Token calls of the removed HfFolder, mapped onto get_token / login."""

            get_token = staticmethod(hub_module.get_token)

            @staticmethod
            def save_token(token: str | None) -> None:
                # s3prl saves what HfApi().login returned: None (no login) or the active token
                if token is not None and token != hub_module.get_token():
                    hub_module.login(token=token)

        hub_module.HfFolder = HfFolder
    if not hasattr(hub_module, "Repository"):

        class Repository:
            """Only s3prl's --push_to_hf_hub path clones a repository; say how to do it instead."""

            def __init__(self, *args, **kwargs):
                raise UnavailableHereError(
                    "--push_to_hf_hub needs huggingface_hub.Repository, removed in huggingface_hub 1.x: "
                    "upload the experiment directory with `hf upload <org>/<name> <expdir>` instead."
                )

        hub_module.Repository = Repository


def patch_hf_api(hf_api_module) -> None:
    """P7: s3prl's ``--hub huggingface`` starts with ``HfApi().login(username, password)``, gone in huggingface_hub 1.x."""
    if hasattr(hf_api_module.HfApi, "login"):
        return

    def login(self, username: str | None = None, password: str | None = None) -> str | None:
        """The Hub takes access tokens only: the password (s3prl reads ``HF_PASSWORD``) is used as
        this run's token (``HF_TOKEN``), with no request, so offline runs work too; without one, the
        token already in ``HF_TOKEN`` or saved by ``hf auth login`` is kept, or none (public repositories)."""
        if password:
            os.environ["HF_TOKEN"] = password
        return hf_api_module.get_token()

    hf_api_module.HfApi.login = login


def patch_snapshot_download(snapshot_module) -> None:
    """P8: s3prl's runner calls ``snapshot_download(repo, revision, use_auth_token=True)``; huggingface_hub
    1.x takes the revision by keyword only and ``token=`` instead of ``use_auth_token=``."""
    download = snapshot_module.snapshot_download
    if "use_auth_token" in inspect.signature(download, follow_wrapped=False).parameters:
        return

    @functools.wraps(download)
    def snapshot_download(repo_id, revision=None, *, use_auth_token=None, **kwargs):
        if use_auth_token is not None and "token" not in kwargs:
            # True meant "the saved token"; None sends it when there is one and lets public repositories
            # download without one (token=True refuses to run without a saved token, even offline)
            kwargs["token"] = None if use_auth_token is True else use_auth_token
        return download(repo_id, revision=revision, **kwargs)

    snapshot_module.snapshot_download = snapshot_download


def allow_s3prl_checkpoints() -> None:
    """P6: torch >= 2.6 loads weights only; s3prl's checkpoints hold an argparse.Namespace."""
    import torch

    add_safe_globals = getattr(torch.serialization, "add_safe_globals", None)
    if add_safe_globals is not None:
        add_safe_globals([argparse.Namespace])
