"""Which ML-SUPERB utterances make up each split, read from the released data layout.

Layout under ``datarc.root``: ``{dataset}/{lang}/wav/{utt_id}.wav`` with transcripts
``transcript_{10min,1h}_train.txt``, ``transcript_10min_dev.txt`` and
``transcript_10min_test.txt``, one ``utt_id <unused field> text`` line per utterance.

* Mono (ESPnet local/single_lang_data_prep.py): a Mono-1h name such as ``eng1`` trains on
  its selected source's train list, validates on that source's dev list, and tests on
  the language's test list of every source that has the language.
* Multi (ESPnet local/data_prep.py): every ``{dataset}/{lang}`` under the root; reserved
  few-shot languages keep only their five selected training utterances; training
  utterances longer than 20 s are skipped; ``[...]`` spans are removed from the text.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile

from s3prl_fusion.downstreams.ml_superb.benchmark import (
    FEW_SHOT_TRAINING_UTTERANCES,
    MONO_TRAINING_SOURCE,
    MULTI_MAX_TRAIN_SECONDS,
    WORD_LEVEL_MONO_LANGUAGES,
)
from s3prl_fusion.downstreams.ml_superb.text import normalize_transcript
from s3prl_fusion.errors import UserError
from s3prl_fusion.audio.sample_rate import SAMPLE_RATE

SPLITS = ("train", "dev", "test")
MODES = ("mono", "multi")
TRAIN_SETS = ("1h", "10min")


class MlSuperbDataError(UserError, ValueError):
    """The ML-SUPERB data or its ``downstream_expert.datarc`` settings are unusable."""


@dataclass(frozen=True)
class Utterance:
    """One utterance: ``text`` is normalised; ``num_samples`` counts 16 kHz samples."""

    utt_id: str
    wav_path: Path
    text: str
    language: str
    source: str
    num_samples: int


@dataclass(frozen=True)
class TranscriptFile:
    source: str
    language: str
    path: Path


class MlSuperbCorpus:
    """Resolves ``datarc`` settings to the utterances of the train, dev and test splits."""

    def __init__(self, root: str | Path, mode: str, language: str | None = None, train_set: str = "1h"):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise MlSuperbDataError(
                f"ML-SUPERB data root {self.root} does not exist; set downstream_expert.datarc.root "
                "to the folder holding {dataset}/{lang}/ (e.g. -o config.downstream_expert.datarc.root=/data/ml_superb)"
            )
        if mode not in MODES:
            raise MlSuperbDataError(f"downstream_expert.datarc.mode must be one of {MODES}, got {mode!r}")
        if train_set not in TRAIN_SETS:
            raise MlSuperbDataError(f"downstream_expert.datarc.train_set must be one of {TRAIN_SETS}, got {train_set!r}")
        self.mode = mode
        self.train_set = train_set
        self.language = self._checked_mono_language(language) if mode == "mono" else None
        self._transcripts = {split: self._transcript_files(split) for split in SPLITS}
        self._utterances: dict[str, list[Utterance]] = {}

    @property
    def unit(self) -> str:
        """``word`` for Mono jpn / cmn, ``char`` otherwise."""
        return "word" if self.language in WORD_LEVEL_MONO_LANGUAGES else "char"

    @property
    def metric(self) -> str:
        return "wer" if self.unit == "word" else "cer"

    def utterances(self, split: str) -> list[Utterance]:
        """Reads the split's transcripts and audio headers once (a missing wav names its path)."""
        if split not in SPLITS:
            raise MlSuperbDataError(f"unknown ML-SUPERB split {split!r}; the splits are {SPLITS}")
        if split not in self._utterances:
            self._utterances[split] = self._read_utterances(split)
        return self._utterances[split]

    def _read_utterances(self, split: str) -> list[Utterance]:
        utterances = []
        for transcript in self._transcripts[split]:
            for utt_id, raw_text in read_transcript(transcript.path):
                if split == "train" and not self._keeps_for_training(transcript.language, utt_id):
                    continue
                wav_path = transcript.path.parent / "wav" / f"{utt_id}.wav"
                utterance = Utterance(
                    utt_id=utt_id,
                    wav_path=wav_path,
                    text=normalize_transcript(raw_text, remove_bracket_spans=self.mode == "multi"),
                    language=transcript.language,
                    source=transcript.source,
                    num_samples=_num_samples(wav_path),
                )
                if split == "train" and self.mode == "multi" and utterance.num_samples > MULTI_MAX_TRAIN_SECONDS * SAMPLE_RATE:
                    continue
                utterances.append(utterance)
        return utterances

    def _checked_mono_language(self, language: str | None) -> str:
        if language not in MONO_TRAINING_SOURCE:
            raise MlSuperbDataError(
                f"downstream_expert.datarc.language must be one of the Mono-1h names "
                f"{sorted(MONO_TRAINING_SOURCE)} when mode is mono, got {language!r}"
            )
        pair = self.root / MONO_TRAINING_SOURCE[language] / language[:3]
        if not pair.is_dir():
            raise MlSuperbDataError(
                f"Mono-1h {language} trains on {pair}, which does not exist under "
                f"downstream_expert.datarc.root={self.root}"
            )
        return language

    def _language_dirs(self) -> list[Path]:
        """Every ``{dataset}/{lang}`` folder holding a ``wav`` folder, sorted."""
        return sorted(path.parent for path in self.root.glob("*/*/wav") if path.is_dir())

    def _transcript_files(self, split: str) -> list[TranscriptFile]:
        file_name = f"transcript_{self.train_set}_train.txt" if split == "train" else f"transcript_10min_{split}.txt"
        if self.mode == "mono":
            code = self.language[:3]
            if split == "test":
                pairs = [path for path in self._language_dirs() if path.name == code]
            else:
                pairs = [self.root / MONO_TRAINING_SOURCE[self.language] / code]
        else:
            pairs = self._language_dirs()
            if not pairs:
                raise MlSuperbDataError(
                    f"no {{dataset}}/{{lang}}/wav folders under downstream_expert.datarc.root={self.root}"
                )
        files = [TranscriptFile(pair.parent.name, pair.name, pair / file_name) for pair in pairs]
        for transcript in files:
            if not transcript.path.is_file():
                raise MlSuperbDataError(
                    f"missing transcript {transcript.path} (from downstream_expert.datarc.root={self.root}, "
                    f"mode={self.mode}, train_set={self.train_set})"
                )
        return files

    def _keeps_for_training(self, language: str, utt_id: str) -> bool:
        if self.mode != "multi" or language not in FEW_SHOT_TRAINING_UTTERANCES:
            return True
        return utt_id in FEW_SHOT_TRAINING_UTTERANCES[language]


def read_transcript(path: Path) -> list[tuple[str, str]]:
    """``(utt_id, raw text)`` pairs of a transcript; blank lines are skipped."""
    pairs = []
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            fields = line.strip().split(maxsplit=2)
            if not fields:
                continue
            if len(fields) != 3:
                raise MlSuperbDataError(f"{path}:{line_number}: expected 'utt_id <field> text', got {line!r}")
            pairs.append((fields[0], fields[2]))
    return pairs


def _num_samples(wav_path: Path) -> int:
    try:
        header = soundfile.info(str(wav_path))
    except Exception as error:  # soundfile raises RuntimeError / LibsndfileError / OSError
        raise MlSuperbDataError(f"cannot read ML-SUPERB audio {wav_path}: {error}") from error
    if header.samplerate != SAMPLE_RATE:
        raise MlSuperbDataError(f"{wav_path} is {header.samplerate} Hz; ML-SUPERB audio must be {SAMPLE_RATE} Hz")
    return header.frames
