"""Fingerprints of model weights and checksums of cache files (BLAKE2b)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

CHUNK_BYTES = 16 << 20


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
