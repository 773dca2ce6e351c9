"""Atomic file writes: a hidden sibling file, fsync, then rename over the target; a write that
finds its file system full (or the user's quota spent) ends as a ``DiskFullError``."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Callable

from s3prl_fusion.errors import UserError

PARTIAL_MARK = ".partial-"
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(UserError, OSError):
    """A write that found no space left on its file system (ENOSPC) or the user's quota spent (EDQUOT)."""


def readable_size(size: float) -> str:
    """``size`` bytes as B, KiB, MiB, GiB or TiB, whichever keeps the number below 1024."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"


def free_space(folder: Path) -> int:
    """Bytes the user can still write on ``folder``'s file system."""
    return shutil.disk_usage(folder).free


def partial_path(path: Path) -> Path:
    """The hidden sibling a write of ``path`` goes to before it is renamed into place."""
    return path.with_name(f".{path.name}{PARTIAL_MARK}{os.getpid()}")


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete what killed writes left in ``folder`` (``.<name>.partial-<pid>``); returns them."""
    leftovers = sorted(Path(folder).glob(f".*{PARTIAL_MARK}*"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


class _RecordingHandle:
    """A binary file handle that remembers the OSError its ``write`` raised: numpy reports a short
    write without the OS's errno, and torch's writer turns the OSError into a RuntimeError."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.failure: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.handle.write(data)
        except OSError as error:
            self.failure = error
            raise

    def flush(self) -> None:
        self.handle.flush()


def _no_space(*errors: BaseException | None) -> OSError | None:
    """The first of ``errors`` (or what they were raised from or during) that is ENOSPC / EDQUOT."""
    for error in errors:
        while error is not None:
            if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
                return error
            error = error.__cause__ or error.__context__
    return None


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(handle)`` on a temporary sibling of ``path`` and rename it into place, so a
    reader sees the old file or the complete new one, never a partial write. A file system
    without space for it raises ``DiskFullError`` (the old file, if any, is left as it was)."""
    path = Path(path)
    partial = partial_path(path)
    recording = None
    try:
        with open(partial, "wb") as handle:
            recording = _RecordingHandle(handle)
            write(recording)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except Exception as error:
        partial.unlink(missing_ok=True)
        full = disk_full(path, error, recording and recording.failure)
        if full is None:
            raise
        raise full from error
    finally:
        partial.unlink(missing_ok=True)


def disk_full(path: Path, *errors: BaseException | None) -> DiskFullError | None:
    """The ``DiskFullError`` for a failed write of ``path`` when one of ``errors`` (or what it
    was raised from or during) is ENOSPC / EDQUOT, naming the space left; else None."""
    no_space = _no_space(*errors)
    if no_space is None:
        return None
    path = Path(path)
    return DiskFullError(f"no space left to write {path} ({os.strerror(no_space.errno)}): {readable_size(free_space(path.parent))} free on its file system")
