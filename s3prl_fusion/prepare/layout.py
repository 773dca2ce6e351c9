"""Checks of a downloaded data set's layout, each failing with the commands that fetch what is missing."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.errors import MissingPathError


def require(path: Path, what: str, how: list[str]) -> Path:
    """``path`` if it exists; else raise MissingPathError naming ``what`` and the commands in ``how``."""
    if not Path(path).exists():
        raise MissingPathError(f"{what} not found at {path}. To get it:\n  " + "\n  ".join(how))
    return Path(path)


def listed_missing(missing: list[str], source: str, root: Path, limit: int = 5) -> None:
    """Raise MissingPathError if any of ``missing`` (files ``source`` lists) is absent under ``root``."""
    if missing:
        shown = ", ".join(missing[:limit]) + (f" and {len(missing) - limit} more" if len(missing) > limit else "")
        raise MissingPathError(f"{len(missing)} file(s) {source} lists are not under {root}: {shown}. Unpack the whole data set there")
