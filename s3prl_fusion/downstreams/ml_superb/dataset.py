"""Torch dataset and length-sorted batching for ML-SUPERB utterances.

Batches follow ESPnet's ``batch_type: sorted``: utterances are sorted by length and cut
into batches of ``batch_size``; in training the order of the batches is shuffled anew
each epoch. Under DDP each rank takes every ``world_size``-th batch of the same shuffled
order (as ``DistributedSampler`` shards samples), so the ranks see disjoint batches.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import soundfile
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from s3prl_fusion.downstreams.ml_superb.corpus import Utterance
from s3prl_fusion.downstreams.ml_superb.text import Tokenizer, Vocabulary
from s3prl_fusion.errors import SettingError


class MlSuperbDataset(Dataset):
    """Items are ``(waveform (samples,) float32 at 16 kHz, label ids, Utterance)``."""

    def __init__(self, utterances: Sequence[Utterance], tokenizer: Tokenizer, vocabulary: Vocabulary):
        self.utterances = list(utterances)
        self.labels = [vocabulary.encode(tokenizer.tokens(utterance.text)) for utterance in self.utterances]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> tuple[np.ndarray, list[int], Utterance]:
        utterance = self.utterances[index]
        samples, _ = soundfile.read(str(utterance.wav_path), dtype="float32", always_2d=True)
        return samples.mean(axis=1), self.labels[index], utterance

    @staticmethod
    def collate(items):
        """Returns ``[waveform, ...], [label ids, ...], [Utterance, ...]`` as the runner expects."""
        waveforms, labels, utterances = zip(*items)
        return list(waveforms), list(labels), list(utterances)


class LengthSortedBatches(Sampler):
    """Batches of indices of similar length; shuffled batch order when ``seed`` is given.

    Args:
        lengths: per-utterance lengths (samples).
        batch_size: utterances per batch.
        seed: shuffles the batch order with this seed; ``None`` keeps shortest-first order.
        rank, world_size: this process's share under DDP: the batches at positions
            ``rank, rank + world_size, ...`` of the (shuffled) order. When the batch count is
            not a multiple of ``world_size``, the order is padded with its first batches so
            every rank runs the same number of steps (``DistributedSampler``'s rule).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int | None, rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise SettingError(f"batch size must be at least 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in a world of {world_size} processes")
        order = sorted(range(len(lengths)), key=lambda index: lengths[index])
        self.batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        self.seed = seed
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return math.ceil(len(self.batches) / self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        positions = list(range(len(self.batches)))
        if self.seed is not None:
            generator = torch.Generator().manual_seed(self.seed)
            positions = torch.randperm(len(self.batches), generator=generator).tolist()
        padded_count = len(self) * self.world_size
        positions = (positions * self.world_size)[:padded_count]
        for position in positions[self.rank :: self.world_size]:
            yield self.batches[position]


def make_dataloader(
    dataset: MlSuperbDataset, batch_size: int, num_workers: int, shuffle_seed: int | None, rank: int = 0, world_size: int = 1
) -> DataLoader:
    """``rank`` / ``world_size``: this process's shard of the batches (see :class:`LengthSortedBatches`)."""
    lengths = [utterance.num_samples for utterance in dataset.utterances]
    return DataLoader(
        dataset,
        batch_sampler=LengthSortedBatches(lengths, batch_size, shuffle_seed, rank, world_size),
        num_workers=num_workers,
        collate_fn=MlSuperbDataset.collate,
    )
