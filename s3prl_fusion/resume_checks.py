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

# (short flag, long flag = the argument's name in s3prl's Namespace)
SET_UP_FLAGS = (
    ("-u", "upstream"),
    ("-k", "upstream_ckpt"),
    ("-g", "upstream_model_config"),
    ("-s", "upstream_feature_selection"),
    ("-l", "upstream_layer_selection"),
)


class ResumeFlagsMismatch(UserError, ValueError):
    """Flags given with ``-e`` contradict the checkpoint being resumed or evaluated."""


def typed_set_up_flags(argv: list[str]) -> dict[str, str]:
    """{argument name: value as typed} for the set-up flags present on the command line."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for short, name in SET_UP_FLAGS:
        parser.add_argument(short, f"--{name}", dest=name, default=argparse.SUPPRESS)
    typed, _ = parser.parse_known_args(argv)
    return vars(typed)


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
    typed = typed_set_up_flags(argv)
    differences = [
        f"{short} {typed[name]} (checkpoint: {getattr(args, name, None)})"
        for short, name in SET_UP_FLAGS
        if name in typed and not _same(typed[name], getattr(args, name, None))
    ]
    if differences:
        raise ResumeFlagsMismatch(
            f"-e {args.past_exp} resumes a checkpoint made with other flags: {'; '.join(differences)}. "
            "Drop these flags to continue the checkpoint as it was made, or start a new experiment (-p) to use them."
        )
