"""Shards: per stored stack (each member's, or the merged one: ``storage``) one ``.npy`` file
holding its utterances' blocks back to back.

A shard's file ``<shard>.m<i>.npy`` holds stored stack ``i``: an array ``(rows, L_i, D_i)``,
utterance after utterance along the first axis, each utterance's block (its frames, after
int8's scale rows) contiguous, so reading one utterance is one contiguous slice of a memory
map. Files are written atomically and their BLAKE2b checksums and stamps ([size, mtime_ns],
``checksums``) recorded in the manifest, with the reconstruction error of what they hold.

Before a shard's first read in a process a reader checks its files: by their stamps alone (one
``stat`` each, nothing read) where the manifest holds settled stamps and they still hold, else
by hashing them in full, once per process. A build hashes every stored shard in full before it
adds to a cache (``verify_and_stamp``), and so does ``cache verify``.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from s3prl_fusion.experiments.atomic_files import write_atomically
from s3prl_fusion.cache.checksums import file_checksum, file_stamp
from s3prl_fusion.cache.storage import ReconstructionError, clipped_count, decode, encode, overflow, stored_rows
from s3prl_fusion.errors import UserError


class CorruptShardError(UserError, RuntimeError):
    """A shard file is missing or its checksum differs from the manifest's."""


class FeatureOverflowError(UserError, OverflowError):
    """Features too large for the cache's storage dtype."""


def shard_file_name(shard_name: str, stack_index: int) -> str:
    return f"{shard_name}.m{stack_index}.npy"


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


def stamps_hold(folder: Path, shard: dict) -> bool:
    """Whether the manifest holds stamps of every file of the shard and each file still has its stamp (nothing read)."""
    stamps = shard.get("stamps")
    paths = [Path(folder) / file_name for file_name in shard["files"]]
    return bool(stamps) and all(stamp and path.is_file() and file_stamp(path) == stamp for stamp, path in zip(stamps, paths))


def verify_and_stamp(folder: Path, shard: dict) -> list[str]:
    """``shard_problems`` (every file hashed in full); an intact shard gets its files' stamps,
    taken before they were read, so a change while they are read is never stamped."""
    paths = [Path(folder) / file_name for file_name in shard["files"]]
    stamps = [file_stamp(path) if path.is_file() else None for path in paths]
    problems = shard_problems(folder, shard)
    if not problems:
        shard["stamps"] = stamps
    return problems


def open_shard(folder: Path, shard: dict) -> list[np.ndarray]:
    """Check a shard (its stamps if they hold, else its checksums), then memory-map its files: one
    array (rows, L_i, D_i) per stored stack (copy-on-write maps: torch reads them without a copy,
    and nothing is ever written back)."""
    problems = [] if stamps_hold(folder, shard) else shard_problems(folder, shard)
    if problems:
        raise CorruptShardError(
            f"cache {folder}: shard {shard['name']} is damaged ({'; '.join(problems)}); run the same "
            f"`s3prl-fusion cache build ... --out {folder}` again: it rebuilds damaged shards"
        )
    return [np.load(Path(folder) / file_name, mmap_mode="c") for file_name in shard["files"]]


class ShardWriter:
    """Collects utterances' stored blocks until about ``shard_bytes``, then writes a shard.

    Args:
        folder: the cache folder.
        dtype: ``"fp16"``, ``"fp32"``, ``"int8"`` or ``"int8-calibrated"`` (``storage.DTYPES``), the stored form of the values.
        shard_bytes: flush once the buffered blocks reach this size.
        scales: for int8-calibrated, the cache's float32 scales (L_i, D_i) of each stored stack.
    """

    def __init__(self, folder: Path, dtype: str, shard_bytes: int, scales: list[np.ndarray] | None = None):
        self.folder = Path(folder)
        self.dtype = dtype
        self.shard_bytes = shard_bytes
        self.scales = scales
        self._arrays: list[list[np.ndarray]] = []
        self._errors: list[ReconstructionError] = []
        self._utterances: list[tuple[str, dict]] = []
        self._buffered = 0

    @property
    def full(self) -> bool:
        return self._buffered >= self.shard_bytes

    @property
    def empty(self) -> bool:
        return not self._utterances

    def add(self, key: str, stacks: list[np.ndarray], samples: int, source: str, source_stamp: list[int] | None = None) -> None:
        """stacks: one utterance's float32 stored stacks (frames, L_i, D_i) (``storage.stored_stacks``);
        source_stamp: the source file's settled stamp when it was read (``checksums``), or None."""
        scales = self.scales or [None] * len(stacks)
        blocks = [encode(stack, self.dtype, scale) for stack, scale in zip(stacks, scales)]
        overflowed = next(filter(None, (overflow(block, self.dtype) for block in blocks)), None)
        if overflowed:
            raise FeatureOverflowError(f"{source}: features overflow {overflowed}; build the cache with --dtype fp32")
        if not self._arrays:
            self._arrays = [[] for _ in blocks]
            self._errors = [ReconstructionError() for _ in blocks]
        for buffer, error, stack, block, scale in zip(self._arrays, self._errors, stacks, blocks, scales):
            buffer.append(block)
            error.add(stack, decode(block, self.dtype, scale), clipped_count(stack, self.dtype, scale))
        self._utterances.append((key, {"frames": int(stacks[0].shape[0]), "samples": int(samples), "source": source, "source_stamp": source_stamp}))
        self._buffered += sum(block.nbytes for block in blocks)

    def flush(self, shard_name: str) -> tuple[dict, dict[str, dict]]:
        """Write the buffered utterances as shard ``shard_name``; returns its manifest entry and
        the index entries of its utterances."""
        shard = {"name": shard_name, "files": [], "checksums": [], "stamps": [], "bytes": [], "errors": [asdict(error) for error in self._errors]}
        for stack_index, arrays in enumerate(self._arrays):
            path = self.folder / shard_file_name(shard_name, stack_index)
            write_atomically(path, lambda handle, arrays=arrays: np.save(handle, np.concatenate(arrays)))
            shard["files"].append(path.name)
            shard["checksums"].append(file_checksum(path))
            shard["stamps"].append(file_stamp(path))
            shard["bytes"].append(path.stat().st_size)
        index, offset = {}, 0
        for key, entry in self._utterances:
            index[key] = {"shard": shard_name, "offset": offset, **entry}
            offset += stored_rows(self.dtype, entry["frames"])
        self._arrays, self._errors, self._utterances, self._buffered = [], [], [], 0
        return shard, index
