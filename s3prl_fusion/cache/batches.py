"""Length-bucketed batches for a cache build: utterances in longest-first order, grouped so that
one member forward holds at most ``utterances`` of them and at most ``seconds`` of padded audio
(the batch's size times its longest utterance), which bounds the forward's memory.

Every member gives an utterance the features it gets alone, so batching trades only speed
against memory. The default was measured with ``measure.timed_build`` on a 2-core CPU over the
bundled LibriSpeech (160 utterances, 120 s; best of 2-3 builds, fp16): against batch 1, batches
of up to 8 / 16 / 32 / 64 utterances built it 1.74x / 2.2x / 2.56x / 1.65x faster with the demo
members and 1.40x / 1.28-1.40x / 1.21x / 1.02x faster with one 13 x 768 member (WavLM Base
size). A member's forward holds memory in proportion to the padded audio: 15.7 MiB per second
for the 13 x 768 member (1.84 GiB at 120 s, whether 8 x 15 s or 16 x 7.5 s), so the seconds
bound caps it on corpora of long utterances, where the utterance bound alone would not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

from s3prl_fusion.errors import SettingError
from s3prl_fusion.sample_rate import SAMPLE_RATE

T = TypeVar("T")
DEFAULT_BATCH_UTTERANCES = 16
DEFAULT_BATCH_SECONDS = 120.0


@dataclass(frozen=True)
class BatchLimits:
    """At most ``utterances`` per batch and ``seconds`` of padded audio (None: no bound); an
    utterance longer than ``seconds`` goes alone."""

    utterances: int = DEFAULT_BATCH_UTTERANCES
    seconds: float | None = DEFAULT_BATCH_SECONDS

    def __post_init__(self):
        if self.utterances < 1 or (self.seconds is not None and self.seconds <= 0):
            raise SettingError(f"--batch-size must be 1 or more and --batch-seconds above 0, not {self.utterances} and {self.seconds}")

    def fits(self, count: int, longest_samples: int) -> bool:
        """Whether ``count`` utterances padded to ``longest_samples`` make one batch."""
        return count <= self.utterances and (self.seconds is None or count * longest_samples <= self.seconds * SAMPLE_RATE)


def length_batches(items: Iterable[T], samples: Callable[[T], int], limits: BatchLimits) -> Iterator[list[T]]:
    """``items`` in the order given (longest first keeps padding small) cut into consecutive
    batches within ``limits``; ``samples(item)`` is an item's length in samples."""
    batch: list[T] = []
    longest = 0
    for item in items:
        length = samples(item)
        if batch and not limits.fits(len(batch) + 1, max(longest, length)):
            yield batch
            batch, longest = [], 0
        batch.append(item)
        longest = max(longest, length)
    if batch:
        yield batch
