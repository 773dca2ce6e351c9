"""The ranks of a cache build launched by ``torchrun`` (or any launcher that sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``): which files each rank encodes, and how they wait for rank 0.

    torchrun --nproc_per_node 8 -m s3prl_fusion.cli cache build -u ... --data ... --out cache/train

Rank 0 reads the folder first (settings check, damaged shards, parts left by an interrupted
build) and hands the result to every rank; each rank then encodes its share of the files into
its own shards and rank part (see ``manifest``), and rank 0 merges the parts once all ranks are
done. Without a launcher a build is one rank and no process group is started.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
# Ranks wait for rank 0 at the start (it verifies every stored shard) and for the slowest rank at
# the end: that can take hours on a large corpus. A rank that fails ends the launch through torchrun.
COLLECTIVE_TIMEOUT = timedelta(hours=12)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the build: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def share(self, items: list[T]) -> list[T]:
        """Every ``world_size``-th item from position ``rank``: on a longest-first list each rank
        gets nearly the same amount of audio, and every rank computes the same split."""
        return items[self.rank :: self.world_size]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def from_rank_zero(self, compute: Callable[[], T]) -> T:
        """``compute()`` run on rank 0 alone; every rank gets its result, or raises its error."""
        if not self.distributed:
            return compute()
        outcome: list = [None]
        if self.rank == 0:
            try:
                outcome = [(compute(), None)]
            except Exception as error:
                outcome = [(None, error)]
        dist.broadcast_object_list(outcome, src=0)
        result, error = outcome[0]
        if error is not None:
            raise error
        return result

    def log_prefix(self) -> str:
        return f"[rank {self.rank}/{self.world_size}] " if self.distributed else ""


ONE_RANK = Ranks()


def launched_ranks() -> Ranks:
    """The ranks the launcher's environment names; one rank without a launcher."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ONE_RANK
    return Ranks(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def rank_device(ranks: Ranks, device: str) -> torch.device:
    """``device`` for this rank: on CUDA under a launcher, the GPU ``LOCAL_RANK`` (made current)."""
    chosen = torch.device(device)
    if chosen.type == "cuda" and ranks.distributed:
        chosen = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(chosen)
    return chosen


def start_process_group(ranks: Ranks, device: torch.device, backend: str | None = None) -> None:
    """Join the launcher's process group (``backend``, default nccl on CUDA, gloo on the CPU)."""
    if ranks.distributed and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if device.type == "cuda" else "gloo"), timeout=COLLECTIVE_TIMEOUT)


def stop_process_group(ranks: Ranks) -> None:
    if ranks.distributed and dist.is_initialized():
        dist.destroy_process_group()
