"""What each patch of s3prl relies on, checked before the patch is applied.

Every patch of the adapter declares ``PatchTarget`` entries: the s3prl module and attribute
whose behaviour it changes, the parameters it expects that function to take, and the code it
relies on being there. ``check_targets`` runs on the module the moment it is imported, before
anything is patched: an s3prl whose internals differ stops with one message naming each patch
that cannot apply and the versions it was written for, never a half-patched runner.
"""
from __future__ import annotations

import functools
import importlib.metadata
import inspect
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from s3prl_fusion.errors import UserError

TESTED_S3PRL_VERSIONS = ("0.4.17", "0.4.18")  # the s3prl releases every patch was written and tested against


class UnsupportedS3PRLError(UserError, RuntimeError):
    """The installed s3prl lacks a function, parameter or code path a patch was written for."""


@dataclass(frozen=True)
class PatchTarget:
    """One thing of s3prl a patch changes or relies on.

    Args:
        patch: what the plugin changes there, in words (shown when the check fails).
        module: the s3prl module, e.g. ``s3prl.downstream.runner``.
        attribute: dotted name inside the module (``Runner._get_featurizer``, ``torch``), or
            ``""`` for the module itself.
        parameters: the parameter names the function must take, in order (None: not a function).
        source_contains: pieces of code the patch relies on, looked for in the function's
            source (the module's file when ``attribute`` is ``""``).
    """

    patch: str
    module: str
    attribute: str = ""
    parameters: tuple[str, ...] | None = None
    source_contains: tuple[str, ...] = ()

    def problem(self, module: types.ModuleType) -> str | None:
        """What in ``module`` keeps this patch from applying, or None."""
        target = module
        for name in filter(None, self.attribute.split(".")):
            if not hasattr(target, name):
                return f"{self.module} has no {self.attribute}"
            target = getattr(target, name)
        if self.parameters is not None:
            found = tuple(inspect.signature(target).parameters)
            if found != self.parameters:
                return f"{self.module}.{self.attribute} takes ({', '.join(found)}), not ({', '.join(self.parameters)})"
        missing = [code for code in self.source_contains if code not in _source(target)]
        if missing:
            return f"{self.module}.{self.attribute or '<module>'} no longer contains {' / '.join(repr(code) for code in missing)}"
        return None


def _source(target) -> str:
    if isinstance(target, types.ModuleType):
        return Path(target.__file__).read_text()
    return inspect.getsource(target)


def check_targets(module: types.ModuleType, targets: tuple[PatchTarget, ...]) -> None:
    """Raise UnsupportedS3PRLError naming every target ``module`` does not meet; warn once when
    the installed s3prl is not one of ``TESTED_S3PRL_VERSIONS`` but every target is met."""
    problems = [f"{target.patch}: {problem}" for target in targets if (problem := target.problem(module)) is not None]
    if problems:
        raise UnsupportedS3PRLError(
            f"s3prl {installed_s3prl_version()} is not one the plugin's patches were written for "
            f"(tested: {', '.join(TESTED_S3PRL_VERSIONS)}): " + "; ".join(problems) + ". "
            f"Install a tested s3prl (pip install s3prl=={TESTED_S3PRL_VERSIONS[-1]})."
        )
    _warn_if_untested()


@functools.cache
def installed_s3prl_version() -> str:
    try:
        return importlib.metadata.version("s3prl")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown: not installed as a package)"


@functools.cache
def _warn_if_untested() -> None:
    version = installed_s3prl_version()
    if version not in TESTED_S3PRL_VERSIONS:
        print(
            f"[s3prl_fusion] - warning: s3prl {version} is not a tested release ({', '.join(TESTED_S3PRL_VERSIONS)}); "
            "every function the patches change has the expected form",
            file=sys.stderr,
        )
