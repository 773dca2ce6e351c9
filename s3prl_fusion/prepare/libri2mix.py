"""Libri2Mix's Kaldi data folders for s3prl's ``diarization`` task, as SUPERB prepares them.

SUPERB's speaker diarization data (s3prl's docs, "SD: Speaker Diarization") is Libri2Mix made
with s3prl's LibriMix fork (https://github.com/s3prl/LibriMix): ``bash generate_librimix_sd.sh
CORPORA_DIR`` writes 16 kHz "max" mixtures of two LibriSpeech utterances with WHAM! noise
(``mix_both``) and their lists ``Libri2Mix/wav16k/max/metadata/mixture_{train-100,dev,test}_mix_both.csv``;
the fork's ``scripts/prepare_diarization.py`` then writes the Kaldi folders from those lists and
from the speech segments of every LibriSpeech utterance, which the fork ships as
``metadata/LibriSpeech/{train_clean_100,dev_clean,test_clean}.rttm``. This command does that step:

    s3prl-fusion prepare libri2mix --root CORPORA_DIR/Libri2Mix --source-rttm LibriMix/metadata/LibriSpeech --out DATA

writes ``DATA/{train,dev,test}/`` with ``wav.scp`` (``<mixture> <absolute wav path>``; a listed
path is re-rooted at its last ``Libri2Mix/`` component, as the fork does), ``segments``
(``<mixture>_<onset ms>_<end ms> <mixture> <onset s> <end s>``, one per speech segment of each
source), ``utt2spk``, ``spk2utt`` (each speaker's segments; s3prl reads only its speakers, and the
fork's script lists mixtures there), ``reco2dur`` (the list's ``length`` in samples / 16000) and
``rttm`` (the same segments as speaker turns: the scoring reference). A segment's times are those
of its source utterance's RTTM, since every source starts at the mixture's start ("max" mode).
Give the folders as ``loaderrc.{train,dev,test}_dir`` (``recipes/sd.sh`` takes ``DATA``).
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from s3prl_fusion.errors import MissingPathError, UserError
from s3prl_fusion.results.rttm import Turn, read_rttm, rttm_line

SAMPLE_RATE = 16000
SPLITS = {  # Kaldi folder -> (mixture list's split, source RTTM's LibriSpeech split)
    "train": ("train-100", "train_clean_100"),
    "dev": ("dev", "dev_clean"),
    "test": ("test", "test_clean"),
}
MIXTURES = ("mix_both", "mix_clean", "mix_single")
LIBRI2MIX_FOLDER = "Libri2Mix/"


class Libri2MixError(UserError, ValueError):
    """A mixture list that does not agree with the source RTTMs."""


def mixture_list(root: Path, split: str, mixture: str) -> list[dict]:
    """The rows of ``<root>/wav16k/max/metadata/mixture_<split>_<mixture>.csv`` (columns mixture_ID, mixture_path, ..., length)."""
    path = Path(root) / "wav16k" / "max" / "metadata" / f"mixture_{split}_{mixture}.csv"
    if not path.is_file():
        raise MissingPathError(
            f"{path} not found: --root is the Libri2Mix folder that s3prl's LibriMix fork generates "
            f"(bash generate_librimix_sd.sh writes wav16k/max/metadata/mixture_*_{mixture}.csv)"
        )
    with open(path, newline="") as listed:
        return list(csv.DictReader(listed))


def source_segments(rttm_dir: Path, librispeech_split: str) -> dict[str, list[Turn]]:
    """{"<chapter>-<utterance>": its speech segments} from ``<rttm_dir>/<librispeech_split>.rttm``."""
    path = Path(rttm_dir) / f"{librispeech_split}.rttm"
    if not path.is_file():
        raise MissingPathError(f"{path} not found: --source-rttm is the metadata/LibriSpeech folder of s3prl's LibriMix fork")
    segments = defaultdict(list)
    for turn in read_rttm(path):
        segments[turn.recording].append(turn)
    return segments


def mixture_wav(root: Path, listed_path: str) -> Path:
    """A listed mixture path re-rooted at ``root`` from its last ``Libri2Mix/`` component (else taken relative to ``root``)."""
    _, found, relative = listed_path.rpartition(LIBRI2MIX_FOLDER)
    return Path(root).resolve() / (relative if found else listed_path)


def kaldi_folder(root: Path, rows: list[dict], segments: dict[str, list[Turn]]) -> dict[str, list[str]]:
    """The lines of each Kaldi file (wav.scp, segments, utt2spk, spk2utt, reco2dur, rttm) for the listed mixtures."""
    files = defaultdict(list)
    speaker_segments = defaultdict(list)
    for row in rows:
        mixture, wav = row["mixture_ID"], mixture_wav(root, row["mixture_path"])
        if not wav.is_file():
            raise MissingPathError(f"{wav}, mixture {mixture} of the list, not found: generate Libri2Mix completely, or give its folder as --root")
        files["wav.scp"].append(f"{mixture} {wav}")
        files["reco2dur"].append(f"{mixture} {int(row['length']) / SAMPLE_RATE}")
        for source in mixture.split("_"):
            speaker, _, utterance = source.partition("-")
            if utterance not in segments:
                raise Libri2MixError(f"source {source} of mixture {mixture} has no speech segments in the source RTTM: give the RTTM folder of the same LibriMix release")
            for turn in segments[utterance]:
                if turn.speaker != speaker:
                    raise Libri2MixError(f"the source RTTM gives {utterance} speaker {turn.speaker}, but mixture {mixture} names speaker {speaker}")
                segment = f"{mixture}_{round(turn.onset * 1000):06d}_{round(turn.end * 1000):06d}"
                files["segments"].append(f"{segment} {mixture} {turn.onset:.3f} {turn.end:.3f}")
                files["utt2spk"].append(f"{segment} {speaker}")
                files["rttm"].append(rttm_line(Turn(mixture, turn.onset, turn.duration, speaker)))
                speaker_segments[speaker].append(segment)
    files["spk2utt"] = [f"{speaker} {' '.join(sorted(names))}" for speaker, names in speaker_segments.items()]
    return {name: sorted(lines) for name, lines in files.items()}


def write_kaldi_folders(root: Path, rttm_dir: Path, out_dir: Path, mixture: str = "mix_both") -> list[Path]:
    """Write ``out_dir/{train,dev,test}/`` (every input is checked before anything is written); returns the folders."""
    folders = {
        name: kaldi_folder(root, mixture_list(root, split, mixture), source_segments(rttm_dir, librispeech_split))
        for name, (split, librispeech_split) in SPLITS.items()
    }
    written = []
    for name, files in folders.items():
        folder = Path(out_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, lines in files.items():
            (folder / file_name).write_text("".join(line + "\n" for line in lines))
        written.append(folder)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--root", required=True, help="the Libri2Mix folder (holding wav16k/max/metadata/)")
    parser.add_argument("--source-rttm", required=True, help="the LibriMix fork's metadata/LibriSpeech folder (train_clean_100.rttm, dev_clean.rttm, test_clean.rttm)")
    parser.add_argument("--out", required=True, help="output folder: its train/, dev/, test/ are the task's loaderrc.*_dir")
    parser.add_argument("--mixture", choices=MIXTURES, default="mix_both", help="which mixtures (default: mix_both, SUPERB's)")


def run(args: argparse.Namespace) -> None:
    for path in write_kaldi_folders(Path(args.root), Path(args.source_rttm), Path(args.out), args.mixture):
        print(path)
