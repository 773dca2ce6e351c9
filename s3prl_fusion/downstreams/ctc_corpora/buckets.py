"""The dataset form s3prl's ``ctc/data.py`` loads: (audio path, token ids) pairs sorted by
transcript length, served one by one or as buckets of neighbours."""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset


class LengthSortedTranscripts(Dataset):
    """``files`` with their token id lists, longest transcript first (shortest with ``ascending``).

    An item is ``(path, token ids)`` when ``bucket_size`` is 1, else a list of ``bucket_size``
    consecutive pairs (the last full bucket for the final indices), as s3prl's bucketing expects.
    """

    def __init__(self, files: list[Path], tokens: list[list[int]], bucket_size: int, ascending: bool = False):
        order = sorted(range(len(files)), key=lambda index: len(tokens[index]), reverse=not ascending)
        self.file_list = [files[index] for index in order]
        self.text = [tokens[index] for index in order]
        self.bucket_size = bucket_size

    def __getitem__(self, index: int):
        if self.bucket_size == 1:
            return self.file_list[index], self.text[index]
        start = max(0, min(len(self.file_list) - self.bucket_size, index))
        return list(zip(self.file_list[start:start + self.bucket_size], self.text[start:start + self.bucket_size]))

    def __len__(self) -> int:
        return len(self.file_list)
