"""Shards: per member one ``.npy`` file holding its utterances' aligned stacks back to back.

A shard's member file is an array ``(frames, L_i, D_i)``: utterance after utterance along the
first axis, each utterance's frames contiguous, so reading one utterance is one contiguous
slice of a memory map. Files are written atomically and their BLAKE2b checksums recorded in
the manifest; a reader verifies a shard's files before its first read.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from s3prl_fusion.atomic import write_atomically
from s3prl_fusion.cache.checksums import file_checksum
from s3prl_fusion.errors import UserError

STORAGE_DTYPES = {"fp16": np.float16, "fp32": np.float32}


class CorruptShardError(UserError, RuntimeError):
    """A shard file is missing or its checksum differs from the manifest's."""


def shard_file_name(shard_name: str, member_index: int) -> str:
    return f"{shard_name}.m{member_index}.npy"


def shard_problems(folder: Path, shard: dict) -> list[str]:
    """What is wrong with a shard's files (missing, or checksum mismatch); empty when intact."""
    problems = []
    for file_name, checksum in zip(shard["files"], shard["checksums"]):
        path = Path(folder) / file_name
        if not path.is_file():
            problems.append(f"{file_name} is missing")
        elif file_checksum(path) != checksum:
            problems.append(f"{file_name} fails its checksum")
    return problems


def open_shard(folder: Path, shard: dict) -> list[np.ndarray]:
    """Verify a shard, then memory-map its member files: N arrays (frames, L_i, D_i)."""
    problems = shard_problems(folder, shard)
    if problems:
        raise CorruptShardError(
            f"cache {folder}: shard {shard['name']} is damaged ({'; '.join(problems)}); run the same "
            f"`s3prl-fusion cache build ... --out {folder}` again: it rebuilds damaged shards"
        )
    return [np.load(Path(folder) / file_name, mmap_mode="r") for file_name in shard["files"]]


class ShardWriter:
    """Collects utterances' per-member arrays until about ``shard_bytes``, then writes a shard.

    Args:
        folder: the cache folder.
        dtype: ``"fp16"`` or ``"fp32"``, the stored precision.
        shard_bytes: flush once the buffered arrays reach this size.
    """

    def __init__(self, folder: Path, dtype: str, shard_bytes: int):
        self.folder = Path(folder)
        self.dtype = STORAGE_DTYPES[dtype]
        self.shard_bytes = shard_bytes
        self._arrays: list[list[np.ndarray]] = []
        self._utterances: list[tuple[str, dict]] = []
        self._buffered = 0

    @property
    def full(self) -> bool:
        return self._buffered >= self.shard_bytes

    @property
    def empty(self) -> bool:
        return not self._utterances

    def add(self, key: str, member_arrays: list[np.ndarray], samples: int, source: str) -> None:
        """member_arrays: N float arrays (frames, L_i, D_i) of one utterance."""
        stored = [array.astype(self.dtype) for array in member_arrays]
        if not all(np.isfinite(array).all() for array in stored):
            raise OverflowError(f"{source}: features overflow {self.dtype.__name__}; build the cache with --dtype fp32")
        if not self._arrays:
            self._arrays = [[] for _ in stored]
        for buffer, array in zip(self._arrays, stored):
            buffer.append(array)
        self._utterances.append((key, {"frames": int(stored[0].shape[0]), "samples": int(samples), "source": source}))
        self._buffered += sum(array.nbytes for array in stored)

    def flush(self, shard_name: str) -> tuple[dict, dict[str, dict]]:
        """Write the buffered utterances as shard ``shard_name``; returns its manifest entry and
        the index entries of its utterances."""
        shard = {"name": shard_name, "files": [], "checksums": [], "bytes": []}
        for member_index, arrays in enumerate(self._arrays):
            path = self.folder / shard_file_name(shard_name, member_index)
            write_atomically(path, lambda handle, arrays=arrays: np.save(handle, np.concatenate(arrays)))
            shard["files"].append(path.name)
            shard["checksums"].append(file_checksum(path))
            shard["bytes"].append(path.stat().st_size)
        index, offset = {}, 0
        for key, entry in self._utterances:
            index[key] = {"shard": shard_name, "offset": offset, **entry}
            offset += entry["frames"]
        self._arrays, self._utterances, self._buffered = [], [], 0
        return shard, index
