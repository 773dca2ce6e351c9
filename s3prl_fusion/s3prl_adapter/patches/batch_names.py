"""The names of the utterances in the runner's batch, so an audio error raised at the upstream's
door names the utterance (``103-1240-0000``), not its place in the batch.

s3prl's task datasets put the utterance names beside the waveforms: ``(wavs, labels, names)``
for asr and emotion, ``(wavs, names, labels)`` for sv_voxceleb1's training set, ``(wavs,
names)`` for its trials, ``(wavs, labels, names)`` for ml_superb. ``NamedBatches`` wraps an
expert's ``get_dataloader`` and keeps the last batch's names: the last sequence of strings
as long as the batch.
"""
from __future__ import annotations

import contextlib
from typing import Callable

from s3prl_fusion.upstreams.input_checks import InvalidAudioError


class NamedBatches:
    """The utterance names of the batch a runner is working on."""

    def __init__(self):
        self.names: list[str] | None = None

    def wrapping(self, get_dataloader: Callable) -> Callable:
        """``get_dataloader`` (an expert's) whose dataloaders record each batch's names here."""

        def named_get_dataloader(*args, **kwargs):
            return _RecordingLoader(get_dataloader(*args, **kwargs), self)

        return named_get_dataloader

    def record(self, batch) -> None:
        wavs, *others = batch
        self.names = next((list(item) for item in reversed(others) if _are_names(item, len(wavs))), None)

    @contextlib.contextmanager
    def naming_audio_errors(self):
        """An InvalidAudioError raised inside gets the names of the batch it was raised on."""
        try:
            yield
        except InvalidAudioError as error:
            if error.names is not None or self.names is None:
                raise
            raise error.with_names(self.names) from error


def _are_names(item, size: int) -> bool:
    return isinstance(item, (list, tuple)) and len(item) == size and all(isinstance(name, str) for name in item)


class _RecordingLoader:
    """A dataloader that is the wrapped one in all but iteration, which records each batch."""

    def __init__(self, loader, batches: NamedBatches):
        self._loader = loader
        self._batches = batches

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def __len__(self):
        return len(self._loader)

    def __iter__(self):
        for batch in self._loader:
            batch = tuple(batch)  # a collate_fn may return a one-pass iterator (sv_voxceleb1: zip)
            self._batches.record(batch)
            yield batch
