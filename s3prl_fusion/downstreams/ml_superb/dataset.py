"""Torch dataset and length-sorted batching for ML-SUPERB utterances.

Batches follow ESPnet's ``batch_type: sorted``: utterances are sorted by length and cut
into batches of ``batch_size``; in training the order of the batches is shuffled anew
each epoch.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import soundfile
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from s3prl_fusion.downstreams.ml_superb.corpus import Utterance
from s3prl_fusion.downstreams.ml_superb.text import Tokenizer, Vocabulary


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
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int | None):
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        order = sorted(range(len(lengths)), key=lambda index: lengths[index])
        self.batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        self.seed = seed

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        if self.seed is None:
            yield from self.batches
            return
        generator = torch.Generator().manual_seed(self.seed)
        for position in torch.randperm(len(self.batches), generator=generator).tolist():
            yield self.batches[position]


def make_dataloader(dataset: MlSuperbDataset, batch_size: int, num_workers: int, shuffle_seed: int | None) -> DataLoader:
    lengths = [utterance.num_samples for utterance in dataset.utterances]
    return DataLoader(
        dataset,
        batch_sampler=LengthSortedBatches(lengths, batch_size, shuffle_seed),
        num_workers=num_workers,
        collate_fn=MlSuperbDataset.collate,
    )
