"""SNIPS spoken utterances for s3prl's ``ctc`` task (``corpus.name: snips``): text for character
modes, text with slot tags for ``*-slot`` modes, of the speakers each split names."""
from __future__ import annotations

from pathlib import Path

from s3prl_fusion.downstreams.ctc_corpora.buckets import LengthSortedTranscripts
from s3prl_fusion.errors import MissingPathError

TRANSCRIPTS = {"text": "all-trans.txt", "slots": "all.iob.snips.txt"}


def read_transcripts(path: Path) -> dict[str, str]:
    """{utterance id: the rest of the line} of ``all-trans.txt`` / ``all.iob.snips.txt``."""
    if not path.is_file():
        raise MissingPathError(f"SNIPS transcript file {path} not found: set config.downstream_expert.corpus.path to the SNIPS folder")
    return dict(line.strip().split(" ", 1) for line in path.read_text().splitlines() if " " in line.strip())


class SnipsDataset(LengthSortedTranscripts):
    """The ``*.wav`` files under ``path/<split>`` whose id is transcribed and starts with one of the
    split's speakers (``<first split name>_speakers``, e.g. ``train_speakers``, from the corpus config).

    Args:
        split: folder names under ``path``, e.g. ``["train"]``.
        tokenizer: s3prl's character (or character-slot) text encoder.
        bucket_size: pairs per item (1: single pairs).
        path: the SNIPS folder.
    """

    def __init__(self, split: list[str], tokenizer, bucket_size: int, path: str, ascending: bool = False, **kwargs):
        speakers_key = f"{split[0]}_speakers"
        speakers = tuple(kwargs.get(speakers_key) or ())
        if not speakers:
            raise MissingPathError(f"config.downstream_expert.corpus.{speakers_key} lists no speaker")
        transcripts = read_transcripts(Path(path) / TRANSCRIPTS["slots" if "-slot" in tokenizer.token_type else "text"])
        files = []
        for name in split:
            found = [file for file in sorted(Path(path, name).rglob("*.wav")) if file.stem in transcripts and file.stem.startswith(speakers)]
            if not found:
                raise MissingPathError(
                    f"no transcribed .wav of the speakers {', '.join(speakers)} under {Path(path, name)}: "
                    f"set config.downstream_expert.corpus.path to the SNIPS folder, or {speakers_key}"
                )
            files += found
        super().__init__(files, [tokenizer.encode(transcripts[file.stem]) for file in files], bucket_size, ascending)
