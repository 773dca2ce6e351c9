"""Resuming (``-e``) with upstream or interface flags that differ from the checkpoint's.

s3prl's ``run_downstream.py`` replaces the command line's arguments by the checkpoint's when
``-e`` is given (all but mode, split, override, backend, local rank, device), so
``-e <an hconv experiment> -s ws`` would silently go on training HConv. The flags below, when
typed together with ``-e``, must agree with the checkpoint; otherwise the run stops and names
each difference.
"""
from __future__ import annotations

import argparse
import os

from s3prl_fusion.errors import UserError
from s3prl_fusion.experiments.command_line import SHORT_FLAGS, typed_flags

SET_UP_FLAGS = ("upstream", "upstream_ckpt", "upstream_model_config", "upstream_feature_selection", "upstream_layer_selection")


class ResumeFlagsMismatch(UserError, ValueError):
    """Flags given with ``-e`` contradict the checkpoint being resumed or evaluated."""


def _same(typed: str, saved) -> bool:
    if saved is None:
        return False
    if str(typed) == str(saved):
        return True
    both_paths = os.path.exists(str(typed)) and os.path.exists(str(saved))
    return both_paths and os.path.samefile(str(typed), str(saved))


def check_resume_flags(argv: list[str], args: argparse.Namespace) -> None:
    """Raise ResumeFlagsMismatch when ``argv`` resumes (``-e``) and types a set-up flag whose value
    differs from the checkpoint's (``args`` are s3prl's, already merged from the checkpoint)."""
    if not getattr(args, "past_exp", None):
        return
    typed = typed_flags(argv, *SET_UP_FLAGS)
    differences = [
        f"{SHORT_FLAGS[name]} {typed[name]} (checkpoint: {getattr(args, name, None)})"
        for name in SET_UP_FLAGS
        if name in typed and not _same(typed[name], getattr(args, name, None))
    ]
    if differences:
        raise ResumeFlagsMismatch(
            f"-e {args.past_exp} resumes a checkpoint made with other flags: {'; '.join(differences)}. "
            "Drop these flags to continue the checkpoint as it was made, or start a new experiment in another folder "
            "(-p; a recipe: another OUT_DIR) to use them."
        )
