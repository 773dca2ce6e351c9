"""Atomic file writes: a hidden sibling file, fsync, then rename over the target."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable

PARTIAL_MARK = ".partial-"


def partial_path(path: Path) -> Path:
    """The hidden sibling a write of ``path`` goes to before it is renamed into place."""
    return path.with_name(f".{path.name}{PARTIAL_MARK}{os.getpid()}")


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete what killed writes left in ``folder`` (``.<name>.partial-<pid>``); returns them."""
    leftovers = sorted(Path(folder).glob(f".*{PARTIAL_MARK}*"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary sibling of ``path`` and rename it into place, so a
    reader sees the old file or the complete new one, never a partial write."""
    path = Path(path)
    partial = partial_path(path)
    try:
        with open(partial, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
