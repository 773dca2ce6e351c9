"""``python full_disk.py NAME MODULE ARGS...``: ``python -m MODULE ARGS...`` on a file system that
fills up while the plugin writes a file named NAME (a checkpoint, a cache shard, ...).

The plugin writes every file it keeps through ``atomic.write_atomically``; here the operating
system's side of those writes is replaced: the file NAME's write takes its first ``ROOM`` bytes
and then fails as a full disk's ``write(2)`` does, ``OSError(ENOSPC)``, from the raw file under
Python's buffered writer, whatever library (numpy, torch) is writing. Every other file is
written as usual.
"""
from __future__ import annotations

import errno
import io
import os
import runpy
import sys
from pathlib import Path

import s3prl_fusion.experiments.atomic_files as atomic

ROOM = 4096  # bytes of NAME that reach the disk before it is full


class _FillingFile(io.FileIO):
    """A raw file that holds ``ROOM`` bytes, then fails every write with ENOSPC."""

    room = ROOM

    def write(self, data) -> int:
        if not self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = super().write(memoryview(data)[: self.room])
        self.room -= written
        return written


def main() -> None:
    full_at, module, *arguments = sys.argv[1:]

    def open_on_full_disk(path, mode="r", *args, **kwargs):
        if Path(path).name.startswith(f".{full_at}{atomic.PARTIAL_MARK}") and mode == "wb":
            return io.BufferedWriter(_FillingFile(path, "w"))
        return open(path, mode, *args, **kwargs)

    atomic.open = open_on_full_disk  # the name write_atomically opens its partial file with
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
