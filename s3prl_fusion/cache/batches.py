"""Length-bucketed batches for a cache build: utterances in longest-first order, grouped so that
one member forward holds at most ``utterances`` of them and at most ``seconds`` of padded audio
(the batch's size times its longest utterance), which bounds the forward's memory.

Every member gives an utterance the features it gets alone, so batching trades only speed
against memory. The defaults (``BatchLimits.default_for``) were measured with
``s3prl_fusion.benchmark.cache_measures.timed_build`` on a 2-core CPU, best of 2 builds, fp16, against batch 1:

- the bench's default members (WavLM Base size + Whisper small size, 13 x 768 each) on noise
  utterances, by the seconds bound (16 utterances at most):

      utterances   10 s     20 s     40 s     120 s
      16 x 2 s     1.16x    1.22x    1.15x    1.10x
      8 x 5 s      0.92x    1.00x    0.97x    0.83x
      8 x 10 s     1.05x    1.02x    0.85x    0.75x

  (10 s and 20 s hold one and two 10 s utterances: batch 1's own time, within +-5 % of noise);
- on the bundled LibriSpeech (160 utterances, 120 s), batches of up to 8 / 16 / 32 / 64
  utterances: 1.74x / 2.2x / 2.56x / 1.65x with the demo members, 1.40x / 1.28-1.40x / 1.21x /
  1.02x with one 13 x 768 member.

On a CPU a batch pays only while utterances are short (the per-forward overhead is then a
large part of the time); once both cores are busy with one utterance, larger batches only cost
memory traffic: so 20 s there. On a GPU a batch keeps the device busy; 120 s there, unmeasured
(no GPU was at hand), bounds the memory: a member's forward holds memory in proportion to the
padded audio, 15.7 MiB per second for a 13 x 768 member (1.84 GiB at 120 s, whether 8 x 15 s
or 16 x 7.5 s), so the seconds bound caps it on corpora of long utterances, where the
utterance bound alone would not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

from s3prl_fusion.errors import SettingError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE

T = TypeVar("T")
DEFAULT_BATCH_UTTERANCES = 16
CPU_BATCH_SECONDS = 20.0
ACCELERATOR_BATCH_SECONDS = 120.0


@dataclass(frozen=True)
class BatchLimits:
    """At most ``utterances`` per batch and ``seconds`` of padded audio (None: no bound); an
    utterance longer than ``seconds`` goes alone. A build's defaults depend on its device:
    ``default_for``."""

    utterances: int = DEFAULT_BATCH_UTTERANCES
    seconds: float | None = None

    @classmethod
    def default_for(cls, device_type: str, utterances: int = DEFAULT_BATCH_UTTERANCES, seconds: float | None = None) -> "BatchLimits":
        """``utterances`` and ``seconds`` (None: the default of ``device_type``, see the module docstring)."""
        return cls(utterances, default_batch_seconds(device_type) if seconds is None else seconds)

    def __post_init__(self):
        if self.utterances < 1 or (self.seconds is not None and self.seconds <= 0):
            raise SettingError(f"--batch-size must be 1 or more and --batch-seconds above 0, not {self.utterances} and {self.seconds}")

    def describe(self) -> str:
        seconds = "" if self.seconds is None else f" and {self.seconds:g} s of padded audio"
        return f"batches of at most {self.utterances} utterances{seconds}"

    def fits(self, count: int, longest_samples: int) -> bool:
        """Whether ``count`` utterances padded to ``longest_samples`` make one batch."""
        return count <= self.utterances and (self.seconds is None or count * longest_samples <= self.seconds * SAMPLE_RATE)


def default_batch_seconds(device_type: str) -> float:
    """The default seconds bound of a build on a device of ``device_type`` ("cpu", "cuda", ...)."""
    return CPU_BATCH_SECONDS if device_type == "cpu" else ACCELERATOR_BATCH_SECONDS


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
