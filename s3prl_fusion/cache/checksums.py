"""Fingerprints of model weights, checksums of cache files (BLAKE2b), and file stamps.

A stamp is a file's [size, mtime_ns]: read from one ``stat``, it tells that a file is still the
one stamped unless it was changed within the same tick of the file system's clock as the stamp's
mtime. A stamp is settled (``settled``) once that tick lies ``STAMP_SETTLE_NS`` in the past: a
change after that moves the mtime, so a settled stamp that still holds proves the file unchanged
through the file system (not against bit rot of the medium: ``cache verify`` hashes in full).
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import torch
from torch import nn

CHUNK_BYTES = 16 << 20
# the coarsest mtime granularity of common file systems (FAT's 2 s; ext4, xfs, tmpfs: a few ms)
STAMP_SETTLE_NS = 2 * 10**9


def weights_fingerprint(module: nn.Module) -> str:
    """Hex digest over every state_dict entry of ``module``: name, dtype, shape and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(module.state_dict().items()):
        if not torch.is_tensor(tensor):
            continue
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def file_checksum(path: Path) -> str:
    """Hex BLAKE2b digest of a file's bytes, read in chunks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def file_stamp(path: Path) -> list[int]:
    """[size in bytes, mtime in ns] of a file (one ``stat``)."""
    facts = os.stat(path)
    return [facts.st_size, facts.st_mtime_ns]


def settled(stamp: list[int]) -> bool:
    """Whether a change of the file after now would move its mtime away from ``stamp``'s."""
    return time.time_ns() - stamp[1] >= STAMP_SETTLE_NS


def settled_stamp(path: Path) -> list[int] | None:
    """``path``'s stamp if settled (``settled``), else None: a file changed in the last
    ``STAMP_SETTLE_NS`` may change again within its mtime's tick."""
    stamp = file_stamp(path)
    return stamp if settled(stamp) else None
